"""Precision and recall of PII redaction on a hand-labelled sample (issue 16).

    python bench/pii.py --build     # bench/data/pii_{labelled,heldout}.txt (inline [[kind:value]] marks) -> .jsonl
    python bench/pii.py [--json]    # score curation.pii and a bare baseline on both samples

pii_labelled is the development sample (the detector was tuned on it); pii_heldout was written afterwards and
never used for tuning.

Span-level scores per kind and overall, two ways: exact (same kind, start and end) and overlap (same kind, the
spans share a character; one prediction matches one label). Two settings: each text alone (a fresh Redactor per
text) and per source (one Redactor per category, as ingest uses one per file: a name found in one text is then
redacted in the others). The baseline is what a quick script would do: an e-mail regex plus every run of 7+ digits
(with spaces, dashes, dots, parentheses) as "some number", scored without kinds.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data"
SOURCE = DATA / "pii_labelled.txt"
LABELLED = DATA / "pii_labelled.jsonl"
# Written after the detector was frozen and never used to tune it: the fairer estimate.
HELDOUT_SOURCE = DATA / "pii_heldout.txt"
HELDOUT = DATA / "pii_heldout.jsonl"
MARK = re.compile(r"\[\[(email|phone|card|iban|account|ssn|ip|name):(.+?)\]\]")


def build(source: Path = SOURCE, out: Path = LABELLED) -> int:
    """The marked-up texts as JSONL records {id, category, text, spans: [{kind, start, end}]}; card and IBAN labels
    must pass their checksums (a typo in the sample would otherwise score as a miss)."""
    from curation.pii.detect import iban_valid, luhn

    rows = []
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        category, _, marked = line.partition("\t")
        marked = marked.replace("\\n", "\n")
        text, spans, last = [], [], 0
        length = 0
        for m in MARK.finditer(marked):
            plain = marked[last:m.start()]
            text.append(plain)
            length += len(plain)
            kind, value = m.group(1), m.group(2)
            digits = re.sub(r"\D", "", value)
            if kind == "card" and not luhn(digits):
                raise SystemExit(f"{source}:{n}: card {value} fails the Luhn check")
            if kind == "iban" and not iban_valid(value.replace(" ", "")):
                raise SystemExit(f"{source}:{n}: IBAN {value} fails the mod-97 check")
            spans.append({"kind": kind, "start": length, "end": length + len(value)})
            text.append(value)
            length += len(value)
            last = m.end()
        text.append(marked[last:])
        rows.append({"id": len(rows), "line": n, "category": category, "text": "".join(text), "spans": spans})
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def load(path: Path = LABELLED) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predict(rows: list[dict], *, per_source: bool) -> list[list[dict]]:
    """Predicted spans in each text's own offsets, from curation.pii."""
    from curation.pii import Redactor

    out: list[list[dict]] = [[] for _ in rows]
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["category"] if per_source else str(i), []).append(i)
    for members in groups.values():
        redactor = Redactor()
        for i in members:  # learn the whole source first, as redact_records does
            redactor.learn(rows[i]["text"])
        for i in members:
            out[i] = [{"kind": s.kind, "start": s.start, "end": s.end} for s in redactor.findings(rows[i]["text"])]
    return out


BASE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
BASE_DIGITS = re.compile(r"\+?\(?\d[\d ().\-]{5,}\d")


def baseline(rows: list[dict]) -> list[list[dict]]:
    out = []
    for r in rows:
        spans = [{"kind": "email", "start": m.start(), "end": m.end()} for m in BASE_EMAIL.finditer(r["text"])]
        spans += [{"kind": "number", "start": m.start(), "end": m.end()} for m in BASE_DIGITS.finditer(r["text"])
                  if sum(c.isdigit() for c in m.group()) >= 7]
        out.append(spans)
    return out


def match(gold: list[dict], pred: list[dict], *, exact: bool, kinds: bool) -> tuple[list[bool], list[bool]]:
    """(gold found?, prediction correct?) with one-to-one matching."""
    found = [False] * len(gold)
    correct = [False] * len(pred)
    for j, p in enumerate(pred):
        for i, g in enumerate(gold):
            if found[i] or (kinds and g["kind"] != p["kind"]):
                continue
            hit = (g["start"], g["end"]) == (p["start"], p["end"]) if exact else g["start"] < p["end"] and p["start"] < g["end"]
            if hit:
                found[i] = correct[j] = True
                break
    return found, correct


def pr(tp_gold: int, n_gold: int, tp_pred: int, n_pred: int) -> dict:
    p = tp_pred / n_pred if n_pred else None
    r = tp_gold / n_gold if n_gold else None
    f = 2 * p * r / (p + r) if p and r else 0.0
    return {"precision": p, "recall": r, "f1": f, "labels": n_gold, "predicted": n_pred}


def score(rows: list[dict], preds: list[list[dict]], *, exact: bool, kinds: bool = True) -> dict:
    """{"overall": {precision, recall, f1, labels, predicted}, "by_kind": {kind: …}}, plus the misses and false alarms."""
    tallies: dict[str, list[int]] = {}
    misses, false_alarms = [], []
    for r, pred in zip(rows, preds):
        found, correct = match(r["spans"], pred, exact=exact, kinds=kinds)
        for g, ok in zip(r["spans"], found):
            t = tallies.setdefault(g["kind"], [0, 0, 0, 0])
            t[0] += ok
            t[1] += 1
            if not ok:
                misses.append({"id": r["id"], "kind": g["kind"], "value": r["text"][g["start"]:g["end"]]})
        for p, ok in zip(pred, correct):
            t = tallies.setdefault(p["kind"], [0, 0, 0, 0])
            t[2] += ok
            t[3] += 1
            if not ok:
                false_alarms.append({"id": r["id"], "kind": p["kind"], "value": r["text"][p["start"]:p["end"]]})
    total = [sum(t[i] for t in tallies.values()) for i in range(4)]
    return {"overall": pr(*total), "by_kind": {k: pr(*t) for k, t in sorted(tallies.items())},
            "misses": misses, "false_alarms": false_alarms}


def evaluate(path: Path = LABELLED) -> dict:
    rows = load(path)
    ours_text, ours_source, base = predict(rows, per_source=False), predict(rows, per_source=True), baseline(rows)
    return {
        "texts": len(rows),
        "labels": sum(len(r["spans"]) for r in rows),
        "hard_negatives": sum(1 for r in rows if not r["spans"]),
        "per_source": {"exact": score(rows, ours_source, exact=True), "overlap": score(rows, ours_source, exact=False)},
        "per_text": {"exact": score(rows, ours_text, exact=True), "overlap": score(rows, ours_text, exact=False)},
        # kinds ignored on both sides, so the baseline's "number" can match a phone, card, IBAN…
        "any_kind": {"ours": score(rows, ours_source, exact=False, kinds=False),
                     "baseline": score(rows, base, exact=False, kinds=False)},
    }


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def report(result: dict) -> str:
    lines = [f"{result['texts']} texts, {result['labels']} labelled spans, {result['hard_negatives']} texts without any.", "",
             "| kind | labels | P exact | R exact | P overlap | R overlap | R overlap, each text alone |",
             "|---|---|---|---|---|---|---|"]
    src, alone = result["per_source"], result["per_text"]["overlap"]
    for kind in [*sorted(src["overlap"]["by_kind"]), "overall"]:
        e = src["exact"]["overall"] if kind == "overall" else src["exact"]["by_kind"].get(kind, {})
        o = src["overlap"]["overall"] if kind == "overall" else src["overlap"]["by_kind"].get(kind, {})
        a = alone["overall"] if kind == "overall" else alone["by_kind"].get(kind, {})
        lines.append(f"| {kind} | {o.get('labels', 0)} | {fmt(e.get('precision'))} | {fmt(e.get('recall'))} | "
                     f"{fmt(o.get('precision'))} | {fmt(o.get('recall'))} | {fmt(a.get('recall'))} |")
    ours, base = result["any_kind"]["ours"]["overall"], result["any_kind"]["baseline"]["overall"]
    lines += ["", "Kinds ignored (overlap): curation.pii P " + fmt(ours["precision"]) + ", R " + fmt(ours["recall"]) +
              f" ({ours['predicted']} predicted); baseline (e-mail regex + 7-digit runs) P {fmt(base['precision'])}, "
              f"R {fmt(base['recall'])} ({base['predicted']} predicted)."]
    return "\n".join(lines)


def real_texts() -> list[str]:
    """Real record texts from ../shared/data (OASST messages, Alpaca records, Glaive tool-call turns)."""
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        raise SystemExit(f"skipped: {shared} is not present")
    texts: list[str] = []

    def walk(message: dict) -> None:
        texts.append(message["text"])
        for reply in message.get("replies", []):
            walk(reply)

    for line in (shared / "oasst" / "en_100_message.jsonl").read_text(encoding="utf-8").splitlines():
        walk(json.loads(line))
    for r in json.loads((shared / "alpaca" / "alpaca_data_cleaned_1000.json").read_text(encoding="utf-8")):
        texts.append(" ".join([r["instruction"], r["input"], r["output"]]))
    for r in json.loads((shared / "chat" / "glaive_toolcall_en_demo.json").read_text(encoding="utf-8")):
        texts.extend(t["value"] for t in r["conversations"])
    return texts


def speed(runs: int = 3) -> dict:
    """Seconds to redact the real texts as one source (redact_records' two passes), median of `runs`, against the
    baseline's two regexes over the same texts in the same run."""
    import statistics
    import time

    from curation.pii import Redactor, redact_records

    texts = real_texts()
    ours, base = [], []
    for _ in range(runs):
        records = [{"instruction": t, "meta": "{}"} for t in texts]
        start = time.perf_counter()
        redact_records(records, Redactor())
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        baseline([{"text": t} for t in texts])
        base.append(time.perf_counter() - start)
    chars = sum(len(t) for t in texts)
    ours_s, base_s = statistics.median(ours), statistics.median(base)
    return {"texts": len(texts), "chars": chars, "seconds": round(ours_s, 3), "baseline_seconds": round(base_s, 3),
            "chars_per_second": round(chars / ours_s), "ratio_to_baseline": round(ours_s / base_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="store_true", help="rebuild pii_labelled.jsonl from pii_labelled.txt")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--errors", action="store_true", help="list the misses and false alarms")
    parser.add_argument("--speed", action="store_true", help="time redaction of real records from ../shared/data")
    args = parser.parse_args()
    if args.speed:
        print(json.dumps(speed()))
        return
    if args.build:
        print(f"{build()} texts written to {LABELLED}")
        print(f"{build(HELDOUT_SOURCE, HELDOUT)} texts written to {HELDOUT}")
    results = {"development": evaluate(LABELLED), "heldout": evaluate(HELDOUT)}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for name, result in results.items():
        print(f"## {name}\n\n{report(result)}\n")
        if args.errors:
            print("misses:", *result["per_source"]["overlap"]["misses"], sep="\n  ")
            print("\nfalse alarms:", *result["per_source"]["overlap"]["false_alarms"], sep="\n  ")
            print()


if __name__ == "__main__":
    main()
