"""Issue 12 (evidence): pairwise accuracy of each scorer on OASST's ranked sibling replies, and broken-output detection.

    python bench/score_oasst.py [--workspace DIR] [--no-ifd] [--bootstrap 2000]

1. `../shared/data/oasst/en_100_tree.jsonl` (100 trees) is ingested into a workspace
   (a temporary one unless `--workspace` keeps it, with its score caches, for a rerun).
   Each record is a root-to-leaf path; every assistant message on a path becomes one
   reply to score (its conversation up to that reply; message id, parent id and rank
   come from the message nodes the oasst format keeps in `messages`). Replies of one
   parent with ranks are siblings; each pair (rank 0, rank k > 0) is one comparison,
   won when the score of the rank-0 reply is higher (a tie counts one half).
2. Scores: output length (characters, and Llama-3 tokens); the flags-only quality
   score (signals at default thresholds); IFD with the bundled SmolLM2-135M-Instruct
   (and its conditional answer loss alone); `learned`: logistic regression on MiniLM
   embeddings of prompt and output, trained to tell rank 0 from the others,
   cross-validated with folds grouped by tree (a tree's replies are never on both
   sides), out-of-fold scores; combined scores (flags gate × a ranker's percentile
   rank, `curation.scorers.combined`). The reward model and the judge need weights or
   an endpoint that this machine does not have: not measured.
3. 95% intervals: bootstrap over trees (pairs of a tree are resampled together); the
   difference to output length is bootstrapped the same way, paired.
4. Broken-output detection: the demo dataset (`curation/demo`) with its planted
   empty, one-word, refusal and truncated outputs against the records it lists as
   clean; ROC AUC of each score for "clean above broken".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from common import ROOT, SHARED, need

sys.path.insert(0, str(ROOT))

from curation.ingest import ingest  # noqa: E402
from curation.scorers import combined, get_scorer  # noqa: E402
from curation.scorers.learned import cross_validated  # noqa: E402
from curation.store import load_records  # noqa: E402
from curation.workspace import Workspace  # noqa: E402

OASST = SHARED / "oasst" / "en_100_tree.jsonl"
BROKEN = ("empty_output", "one_word_output", "refusal", "truncated_output")


def replies(records: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct assistant message: its conversation so far, tree, parent and rank."""
    rows, seen = [], set()
    for rec in records.to_dict("records"):
        messages = json.loads(rec["messages"])
        tree = json.loads(rec["meta"]).get("message_tree_id")
        for i, m in enumerate(messages):
            node = m.get("node") or {}
            mid = node.get("message_id")
            if m["role"] != "assistant" or mid in seen:
                continue
            seen.add(mid)
            users = [x["content"] for x in messages[:i] if x["role"] == "user"]
            rows.append({"record_id": mid, "dataset": "oasst", "system": "", "instruction": users[-1] if users else "", "input": "",
                         "output": m["content"], "messages": json.dumps(messages[: i + 1]), "tree": tree,
                         "parent": node.get("parent_id"), "rank": node.get("rank")})
    return pd.DataFrame(rows)


def sibling_pairs(frame: pd.DataFrame) -> np.ndarray:
    """(index of the rank-0 reply, index of a rank-k sibling) for every parent with ranked replies."""
    ranked = frame[frame["rank"].notna()]
    pairs = []
    for _, group in ranked.groupby("parent"):
        top = group.index[group["rank"] == 0]
        for t in top:
            pairs.extend((t, o) for o in group.index[group["rank"] > 0])
    return np.array(pairs, dtype=int)


def wins(score: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    a, b = score[pairs[:, 0]], score[pairs[:, 1]]
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def bootstrap(values_by_tree: list[np.ndarray], n: int, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean over pairs, resampling trees."""
    rng = np.random.default_rng(seed)
    sums = np.array([v.sum() for v in values_by_tree])
    counts = np.array([len(v) for v in values_by_tree])
    draws = rng.integers(0, len(sums), size=(n, len(sums)))
    means = sums[draws].sum(1) / counts[draws].sum(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def by_tree(values: np.ndarray, trees: np.ndarray) -> list[np.ndarray]:
    return [values[trees == t] for t in np.unique(trees)]


def flags_and_lengths(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """Flags-only quality and token lengths at the default thresholds, as `records`/`signals` compute them."""
    from curation.signals.compute import annotate, compute_frame, thresholds
    from curation.signals.duplicates import mark_duplicates

    table = annotate(mark_duplicates(compute_frame(frame.reset_index(drop=True))), thresholds(ws))
    return table[["record_id", "quality", "output_tokens", "flags"]]


def learned_oof(ws: Workspace, frame: pd.DataFrame, labelled: np.ndarray, label: np.ndarray, groups: np.ndarray,
                extra: np.ndarray | None = None) -> np.ndarray:
    from curation.scorers.learned import features

    x = features(ws, frame, "minilm", ("prompt", "output"))
    if extra is not None:
        x = np.hstack([x, extra.reshape(len(frame), -1)])
    out = np.full(len(frame), np.nan)
    oof, auc, k = cross_validated(x[labelled], label, groups, folds=5, seed=0)
    out[labelled] = oof
    print(f"learned{' + extra' if extra is not None else ''}: {k}-fold grouped CV AUC (rank 0 vs others) {auc:.3f}",
          file=sys.stderr)
    return out


def word_counts(texts) -> np.ndarray:
    return np.array([len(str(t).split()) for t in texts], dtype=float)


def rank_mean(*scores: np.ndarray) -> np.ndarray:
    """The mean of several scores' percentile ranks (NaN ranks as the median)."""
    return np.mean([pd.Series(s).rank(pct=True).fillna(0.5).to_numpy() for s in scores], axis=0)


def progress(done, total, what):
    print(f"\r{what}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", help="keep the workspace (and its score caches) here")
    parser.add_argument("--no-ifd", action="store_true", help="skip IFD (the slow part on a CPU)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args()
    need(OASST)
    tmp = None if args.workspace else tempfile.TemporaryDirectory()
    ws = Workspace(args.workspace or tmp.name)
    if "oasst" not in ws.datasets():
        ingest(ws, OASST, name="oasst")
    if "demo" not in ws.datasets():
        ingest(ws, ROOT / "curation" / "demo" / "demo.jsonl", name="demo")
    records = load_records(ws)
    frame = replies(records[records["dataset"] == "oasst"]).reset_index(drop=True)
    pairs = sibling_pairs(frame)
    trees = frame["tree"].to_numpy()[pairs[:, 0]]
    used = np.unique(pairs.ravel())
    print(f"{len(records[records['dataset'] == 'oasst'])} records, {len(frame)} assistant replies, {len(pairs)} pairs "
          f"from {frame.loc[pairs[:, 0], 'parent'].nunique()} parents in {len(np.unique(trees))} trees", file=sys.stderr)

    scores: dict[str, np.ndarray] = {}
    sig = flags_and_lengths(ws, frame)
    scores["output length (words)"] = word_counts(frame["output"])
    scores["output length (characters)"] = np.array([len(str(t)) for t in frame["output"]], dtype=float)
    scores["output length (Llama-3 tokens)"] = sig["output_tokens"].to_numpy(dtype=float)
    scores["flags-only quality (signals, default thresholds)"] = sig["quality"].to_numpy(dtype=float)
    seconds = {}
    if not args.no_ifd:
        start = time.perf_counter()
        out = get_scorer("ifd").score(ws, frame.loc[used], progress)
        seconds["ifd"] = round(time.perf_counter() - start, 1)
        ifd = np.full(len(frame), np.nan)
        loss = np.full(len(frame), np.nan)
        ifd[used] = out["score"].to_numpy()
        loss[used] = -out["loss_given_prompt"].to_numpy()
        scores["IFD, SmolLM2-135M (higher = better, as the paper ranks)"] = ifd
        scores["answer loss given the prompt, SmolLM2-135M (lower = better)"] = loss
    labelled = used
    label = (frame.loc[used, "rank"].to_numpy() == 0).astype(int)
    start = time.perf_counter()
    scores["learned: MiniLM prompt+output embeddings, 5-fold CV grouped by tree"] = learned_oof(
        ws, frame, labelled, label, frame.loc[used, "tree"].to_numpy())
    seconds["learned"] = round(time.perf_counter() - start, 1)
    words = scores["output length (words)"]
    scores["learned + log words: the same, with log(1 + output words) as one more feature"] = learned_oof(
        ws, frame, labelled, label, frame.loc[used, "tree"].to_numpy(), extra=np.log1p(words))
    learned = next(k for k in scores if k.startswith("learned:"))
    ifd_key = next((k for k in scores if k.startswith("IFD")), None)
    for name, key in (("learned", learned), ("IFD", ifd_key)):
        if key:
            sub = np.full(len(frame), np.nan)
            sub[used] = rank_mean(words[used], scores[key][used])
            scores[f"mean rank of length and {name}"] = sub
    quality = scores["flags-only quality (signals, default thresholds)"]
    for name, key in (("length", "output length (words)"), ("learned", learned), ("IFD", ifd_key),
                      ("learned + log words", next(k for k in scores if k.startswith("learned + log words"))),
                      ("mean rank of length and learned", "mean rank of length and learned"),
                      ("mean rank of length and IFD", "mean rank of length and IFD" if ifd_key else None)):
        if key:
            sub = np.full(len(frame), np.nan)
            sub[used] = combined(quality[used], scores[key][used])
            scores[f"combined: broken-flags gate × {name} rank"] = sub
    every = np.full(len(frame), np.nan)  # the first design: every flag multiplies (mild ones reorder too)
    every[used] = quality[used] * (1 + pd.Series(scores["output length (words)"][used]).rank(pct=True).to_numpy()) / 2
    scores["every flag × length rank (quality × (1 + rank) / 2)"] = every

    length = wins(scores["output length (words)"], pairs)
    print("\n| score | pairwise accuracy | 95% interval | minus length (95% interval) | pairs |\n|---|---|---|---|---|")
    for name, s in scores.items():
        w = wins(s, pairs)
        lo, hi = bootstrap(by_tree(w, trees), args.bootstrap)
        d = w - length
        dlo, dhi = bootstrap(by_tree(d, trees), args.bootstrap)
        ties = int((w == 0.5).sum())
        tie_note = f" ({ties} ties)" if ties else ""
        diff = "—" if name == "output length (words)" else f"{d.mean():+.3f} ({dlo:+.3f}, {dhi:+.3f})"
        print(f"| {name} | {w.mean():.3f}{tie_note} | {lo:.3f}–{hi:.3f} | {diff} | {len(w)} |")
    print("| reward model | not measured: no reward-model weights offline | | | |")
    print("| LLM judge | not measured: no endpoint offline (SmolLM2 through `transformers serve` proves plumbing, not quality) | | | |")
    print(f"\nseconds: {seconds}")

    # Broken-output detection on the demo dataset's planted records.
    from curation.demo import planted

    demo = records[records["dataset"] == "demo"].reset_index(drop=True)
    ids = {json.loads(m).get("demo_id"): r for r, m in zip(demo["record_id"], demo["meta"])}
    plants = planted()
    broken = {ids[d] for kind in BROKEN for d in plants[kind] if d in ids}
    clean = {ids[d] for d in plants["clean"] if d in ids}
    demo = demo[demo["record_id"].isin(broken | clean)].reset_index(drop=True)
    y = (~demo["record_id"].isin(broken)).to_numpy().astype(int)  # 1: clean
    dsig = flags_and_lengths(ws, demo)
    dscores = {"output length (words)": word_counts(demo["output"]),
               "flags-only quality": dsig["quality"].to_numpy(dtype=float)}
    if not args.no_ifd:
        dout = get_scorer("ifd").score(ws, demo, progress)
        dscores["IFD"] = dout["score"].to_numpy()
        dscores["combined: broken-flags gate × IFD rank"] = combined(dscores["flags-only quality"], dscores["IFD"])
    dscores["combined: broken-flags gate × length rank"] = combined(dscores["flags-only quality"], dscores["output length (words)"])
    from sklearn.metrics import roc_auc_score

    print(f"\nBroken-output detection, demo dataset: {int((y == 0).sum())} planted broken ({', '.join(BROKEN)}) vs "
          f"{int(y.sum())} clean records\n")
    n_broken = int((y == 0).sum())
    print(f"| score | ROC AUC clean above broken | broken among the lowest {n_broken} |\n|---|---|---|")
    for name, s in dscores.items():
        filled = np.where(np.isnan(s), np.nanmedian(s), s)  # an empty output gets no IFD: the median, not a free win
        lowest = np.argsort(filled, kind="stable")[:n_broken]
        print(f"| {name} | {roc_auc_score(y, filled):.3f} | {int((y[lowest] == 0).sum())} |")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
