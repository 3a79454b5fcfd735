"""Decontamination recall on planted benchmark-style prompts, and false hits on the rest of a real pool.

Protected (the "evaluation set"): 150 GSM8K problems held out of gsm_8k_train.json (GSM8K-test-like) and 150
Alpaca prompts of alpaca_data_cleaned_1000.json that occur nowhere else in the pool.
Training pool: the rest of both files, alpaca_en_demo, GPTeacher role-play, the chat files (ShareGPT, messages,
glaive tool calls), and with --t0 the 55k T0 records, plus three planted copies of every protected prompt:

- verbatim: the prompt inside a wrapper ("Question: … Answer step by step.") with a different answer;
- reformatted: the prompt upper-cased, its punctuation dropped, its spacing changed;
- paraphrased: words swapped for synonyms ("how many" -> "what number of", "buys" -> "purchases"…) and a polite
  lead-in, so that few of its 13-grams survive.

Reported per model: recall of each kind by the n-gram check, the embedding check and both, the false hits (pool
records not planted that are flagged), the similarity of the paraphrases and of the closest unplanted records
(what the threshold is judged by), and the time of each check.

    python -m bench.decontaminate [--model minilm|static] [--t0] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, T0, need
from curation import decontaminate as dc
from curation.embed import EmbedSettings
from curation.ingest import ingest
from curation.store import load_records
from curation.texts import record_texts
from curation.workspace import Workspace

N_ITEMS = 150
SYNONYMS = {"how many": "what number of", "how much": "what amount of", "buys": "purchases", "bought": "purchased",
            "each": "every", "total": "overall", "has": "owns", "have": "own", "gets": "receives", "makes": "earns",
            "spends": "pays", "wants": "would like", "needs": "requires", "week": "7-day week", "cost": "price",
            "costs": "is priced at", "altogether": "in all", "left": "remaining", "write": "compose", "describe": "explain",
            "give": "provide", "list": "name", "explain": "describe", "create": "make", "generate": "produce",
            "find": "determine", "identify": "point out", "suggest": "propose", "summarize": "sum up", "what": "which",
            "tell": "inform", "short": "brief", "good": "great", "important": "key", "example": "instance",
            "people": "persons", "different": "distinct", "the": "a", "is": "happens to be", "are": "happen to be"}
LEADS = ("Could you help me with this? ", "I have a question for you. ", "Please work this out: ")


def paraphrase(text: str, rng: random.Random) -> str:
    out = text
    for a, b in SYNONYMS.items():
        out = re.sub(rf"\b{re.escape(a)}\b", b, out, flags=re.IGNORECASE)
    return rng.choice(LEADS) + out


def reformat(text: str) -> str:
    return re.sub(r"\s+", "  ", re.sub(r"[^\w\s]", " ", text)).upper().strip()


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def prompt_of(row: dict) -> str:
    return f"{row['instruction']}\n{row.get('input') or ''}".strip()


def build(ws: Workspace, tmp: Path, with_t0: bool, seed: int = 0) -> dict:
    rng = random.Random(seed)
    gsm = json.loads(need(SHARED / "gsm8k" / "gsm_8k_train.json").read_text())
    cleaned = json.loads(need(SHARED / "alpaca" / "alpaca_data_cleaned_1000.json").read_text())
    demo = json.loads((SHARED / "alpaca" / "alpaca_en_demo.json").read_text())
    in_demo = {" ".join(w for *_, w in dc.words(prompt_of(r))) for r in demo}
    fresh = [r for r in cleaned if " ".join(w for *_, w in dc.words(prompt_of(r))) not in in_demo]
    rng.shuffle(fresh)
    protected = gsm[-N_ITEMS:] + fresh[:N_ITEMS]
    planted = []
    for item, row in enumerate(protected):
        p = prompt_of(row)
        planted += [{"instruction": f"Question: {p}\nAnswer step by step.", "input": "", "output": "A different answer.",
                     "kind": "verbatim", "item": item},
                    {"instruction": reformat(p), "input": "", "output": "Another answer.", "kind": "reformatted", "item": item},
                    {"instruction": paraphrase(p, rng), "input": "", "output": "A third answer.", "kind": "paraphrased",
                     "item": item}]
    ingest(ws, write(tmp / "bench.jsonl", [{**r, "item": i} for i, r in enumerate(protected)]), name="bench")
    ingest(ws, write(tmp / "gsm_rest.jsonl", gsm[:-N_ITEMS]), name="gsm8k")
    ingest(ws, write(tmp / "alpaca_rest.jsonl", fresh[N_ITEMS:] + [r for r in cleaned if r not in fresh]), name="alpaca_rest")
    for name, path in (("alpaca_en_demo", SHARED / "alpaca" / "alpaca_en_demo.json"),
                       ("roleplay", SHARED / "gpteacher" / "roleplay-simple-deduped-roleplay-dataset.json"),
                       ("sharegpt", SHARED / "chat" / "dummy_conversation.json"), ("messages", SHARED / "chat" / "v1_sft_demo.jsonl"),
                       ("glaive", SHARED / "chat" / "glaive_toolcall_en_demo.json")):
        ingest(ws, str(path), name=name)
    if with_t0:
        ingest(ws, str(need(T0)), name="t0")
    ingest(ws, write(tmp / "planted.jsonl", planted), name="planted")
    dc.protect(ws, ["bench"])
    return {"protected": len(protected), "planted": len(planted)}


def evaluate(ws: Workspace, found: dict) -> dict:
    frame = load_records(ws)
    meta = {rid: json.loads(m) for rid, m in zip(frame["record_id"], frame["meta"]) if m}
    item_of = {rid: meta[rid]["item"] for rid in frame.loc[frame["dataset"] == "bench", "record_id"]}
    matches = found["matches"]
    out: dict = {"kinds": {}, "false_hits": [], "wrong_item": 0}
    planted = frame[frame["dataset"] == "planted"]
    for kind in ("verbatim", "reformatted", "paraphrased"):
        ids = [r for r in planted["record_id"] if meta[r]["kind"] == kind]
        hit = matches[matches["record_id"].isin(ids)]
        right = [item_of[p] == meta[r]["item"] for r, p in zip(hit["record_id"], hit["protected_id"])]
        out["wrong_item"] += right.count(False)
        by = hit["match"]
        out["kinds"][kind] = {"n": len(ids), "ngram": int(by.str.contains("ngram").sum()),
                              "embedding": int(by.str.contains("embedding").sum()), "either": int(len(hit))}
    rest = matches[matches["dataset"] != "planted"]
    text = frame.set_index("record_id")
    for r in rest.to_dict("records"):
        out["false_hits"].append({"record": r["record_id"], "dataset": r["dataset"], "match": r["match"],
                                  "similarity": r["similarity"], "text": record_texts(text.loc[[r["record_id"]]], "prompt")[0][:120],
                                  "item": record_texts(text.loc[[r["protected_id"]]], "prompt")[0][:120]})
    return out


def similarities(ws: Workspace) -> dict:
    """Cosine of each paraphrase to its item and of every unplanted record to its closest item, with the share of the
    item's words each holds (dc.shared_share): recall and unplanted hits at each threshold, with and without that guard."""
    from curation.embed import embed_texts

    frame = load_records(ws)
    model = EmbedSettings.load(ws).model
    evals, planted = frame[frame["dataset"] == "bench"], frame[frame["dataset"] == "planted"]
    rest = frame[~frame["dataset"].isin(["bench", "planted"])]
    items = record_texts(evals, "prompt")
    ev, _ = embed_texts(ws, items, model=model)
    meta = [json.loads(m) for m in planted["meta"]]
    para_rows = [i for i, m in enumerate(meta) if m["kind"] == "paraphrased"]
    texts = record_texts(planted, "prompt")
    pv, _ = embed_texts(ws, texts, model=model)
    para = np.array([float(pv[i] @ ev[meta[i]["item"]]) for i in para_rows])
    para_shared = np.array([dc.shared_share(items[meta[i]["item"]], texts[i]) for i in para_rows])
    rest_texts = record_texts(rest, "prompt")
    rv, _ = embed_texts(ws, rest_texts, model=model)
    sims = [rv[lo : lo + 4096] @ ev.T for lo in range(0, len(rv), 4096)]
    best, arg = np.concatenate([s.max(axis=1) for s in sims]), np.concatenate([s.argmax(axis=1) for s in sims])
    close = np.flatnonzero(best >= 0.7)
    rest_shared = np.zeros(len(best))
    rest_shared[close] = [dc.shared_share(items[arg[i]], rest_texts[i]) for i in close]
    sweep = {}
    for t in (0.75, 0.79, 0.8, 0.85, 0.89, 0.9, 0.92, 0.94, 0.98):
        sweep[t] = {"paraphrase_recall": round(float((para >= t).mean()), 3), "unplanted_hits": int((best >= t).sum()),
                    "paraphrase_recall_shared": round(float(((para >= t) & (para_shared >= dc.SHARED)).mean()), 3),
                    "unplanted_hits_shared": int(((best >= t) & (rest_shared >= dc.SHARED)).sum())}
    return {"paraphrase_min": round(float(para.min()), 3), "paraphrase_p05": round(float(np.quantile(para, 0.05)), 3),
            "paraphrase_p50": round(float(np.median(para)), 3), "paraphrase_shared_p05": round(float(np.quantile(para_shared, 0.05)), 3),
            "unplanted_max": round(float(best.max()), 3), "unplanted_records": len(rest), "sweep": sweep}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--t0", action="store_true", help="add the 55k T0 records to the pool")
    parser.add_argument("--workspace", help="keep the workspace here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ws = Workspace(args.workspace or tmp / "ws")
        EmbedSettings.save(ws, model=args.model)
        sizes = build(ws, tmp, args.t0)
        start = time.perf_counter()
        ngram = dc.find(ws, embedding=False)
        t_ngram = time.perf_counter() - start
        start = time.perf_counter()
        full = dc.find(ws)  # embeds what is not cached
        t_embed_first = time.perf_counter() - start
        start = time.perf_counter()
        full = dc.find(ws)
        t_cached = time.perf_counter() - start
        result = {"model": args.model, "t0": args.t0, **sizes, "records": len(load_records(ws)),
                  "threshold": full["summary"]["threshold"], "ngram_only": evaluate(ws, ngram), "both": evaluate(ws, full),
                  "similarity": similarities(ws),
                  "seconds": {"ngram": round(t_ngram, 2), "first_run_with_embedding": round(t_embed_first, 2),
                              "cached_embeddings": round(t_cached, 2)}}
        print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
