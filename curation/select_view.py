"""The trade-off of a selection, before it is applied: coverage against budget, the chosen set's quality and mix, and
what is chosen and left out at the margin.

Coverage is the mean cosine similarity of every candidate record (kept or undecided: not rejected, not protected) to its nearest chosen
record: 1 when each one has a copy in the set. On a large pool it is measured on a seeded sample of `EVAL` records
(the standard error of such a mean is about 0.001). The share of clusters represented counts the map's clusters
holding at least one chosen record (when a map is cached). A strategy's picks are in the order of choice, so the
curve reads prefixes of one run: the first b picks are what a budget of b chooses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation.select import Pool, Selection
from curation.select_strategies import max_similarity

EVAL = 10_000
POINTS = 12


def eval_rows(pool: Pool, sample: int | None = EVAL, seed: int = 0) -> np.ndarray:
    """The pool rows coverage is measured on: every kept and candidate record, or a seeded sample of them."""
    rows = np.flatnonzero(pool.eligible)
    if sample is not None and len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=sample, replace=False))
    return rows


def coverage(pool: Pool, chosen: np.ndarray, *, rows: np.ndarray | None = None) -> float:
    """Mean similarity of the records (`rows`, default: a sample of the pool) to their nearest chosen record."""
    rows = eval_rows(pool) if rows is None else rows
    if not len(chosen):
        return 0.0
    return float(max_similarity(pool.vectors[rows], pool.vectors[chosen]).mean())


def budgets(sel: Selection, points: int = POINTS) -> list[int]:
    start = max(int(sel.info["kept"]), 1)
    return sorted({int(round(b)) for b in np.linspace(start, sel.chosen_n, points)} - {0})


def curve(sel: Selection, *, rows: np.ndarray | None = None, points: int = POINTS) -> pd.DataFrame:
    """Coverage (and the share of clusters represented, with a map) at budgets up to the selection's, from its order."""
    pool = sel.pool
    rows = eval_rows(pool) if rows is None else rows
    x = pool.vectors[rows]
    cur = np.full(len(rows), -1.0, dtype=np.float32)
    clusters = pool.frame["cluster"].to_numpy() if "cluster" in pool.frame else None
    total = len(set(clusters[pool.eligible])) if clusters is not None else 0
    out, done = [], 0
    for b in budgets(sel, points):
        if b > done:
            cur = np.maximum(cur, max_similarity(x, pool.vectors[sel.order[done:b]]))
            done = b
        row = {"strategy": sel.strategy, "budget": b, "coverage": float(cur.mean())}
        if clusters is not None:
            row["clusters"] = len(set(clusters[sel.order[:b]])) / max(total, 1)
        out.append(row)
    return pd.DataFrame(out)


def quality(sel: Selection) -> pd.DataFrame:
    """The quality score's distribution: the chosen set beside the pool (kept and candidate records)."""
    frame = sel.pool.frame
    rows = []
    for name, part in (("chosen", frame.iloc[sel.chosen]), ("pool", frame[sel.pool.eligible])):
        s = part["score"]
        rows.append({"set": name, "records": len(part), "mean": float(s.mean()) if len(s) else None,
                     **{f"p{q}": float(s.quantile(q / 100)) if len(s) else None for q in (10, 50, 90)},
                     "broken": int(part["broken"].sum())})
    return pd.DataFrame(rows)


def mix(sel: Selection, by: str) -> pd.DataFrame:
    """Records per group (`by`: dataset, source, cluster, language): chosen and pool counts and shares."""
    frame = sel.pool.frame
    pool = frame.loc[sel.pool.eligible, by].value_counts()
    chosen = frame.iloc[sel.chosen][by].value_counts()
    out = pd.DataFrame({by: pool.index.astype(str), "pool": pool.to_numpy()})
    out["chosen"] = out[by].map(chosen.rename(index=str)).fillna(0).astype(int)
    out["pool share"] = out["pool"] / max(out["pool"].sum(), 1)
    out["chosen share"] = out["chosen"] / max(out["chosen"].sum(), 1)
    if by == "cluster" and "cluster_label" in frame:
        labels = frame.drop_duplicates("cluster").set_index("cluster")["cluster_label"]
        out.insert(1, "label", out[by].map(labels))
    return out.sort_values(["chosen", "pool"], ascending=False, kind="stable").reset_index(drop=True)


def margin(sel: Selection, n: int = 5) -> pd.DataFrame:
    """The last records chosen and the first left out (what the strategy takes next), each with its score and its
    nearest other chosen record (what it is close to)."""
    frame = sel.pool.frame
    picks = sel.order[int(sel.info["kept"]) : sel.chosen_n]
    last, nxt = picks[-n:][::-1], sel.margin[:n]
    rows = np.concatenate([last, nxt]).astype(np.int64)
    if not len(rows):
        return pd.DataFrame(columns=["side", "record_id", "dataset", "score", "nearest chosen", "similarity", "instruction"])
    chosen = sel.chosen
    sims = sel.pool.vectors[rows] @ sel.pool.vectors[chosen].T if len(chosen) else np.zeros((len(rows), 0))
    for k, r in enumerate(rows):  # a chosen record is not its own nearest chosen
        sims[k, chosen == r] = -np.inf
    best = sims.argmax(axis=1) if sims.shape[1] else np.zeros(len(rows), dtype=int)
    ids = frame["record_id"].to_numpy()
    return pd.DataFrame({
        "side": ["chosen (last in)"] * len(last) + ["left out (next in line)"] * len(nxt),
        "record_id": ids[rows], "dataset": frame["dataset"].to_numpy()[rows], "score": frame["score"].to_numpy()[rows],
        "nearest chosen": ids[chosen[best]] if sims.shape[1] else None,
        "similarity": sims[np.arange(len(rows)), best] if sims.shape[1] else np.nan,
        "instruction": frame["instruction"].to_numpy()[rows]})


def compare(pool: Pool, plans: list[Selection], *, rows: np.ndarray | None = None) -> pd.DataFrame:
    """One row per strategy: coverage, clusters represented, mean quality, records chosen, seconds."""
    rows = eval_rows(pool) if rows is None else rows
    clusters = pool.frame["cluster"].to_numpy() if "cluster" in pool.frame else None
    total = len(set(clusters[pool.eligible])) if clusters is not None else 0
    out = []
    for sel in plans:
        row = {"strategy": sel.strategy, "chosen": sel.chosen_n, "coverage": coverage(pool, sel.chosen, rows=rows),
               "mean quality": float(pool.frame["score"].to_numpy()[sel.chosen].mean()) if sel.chosen_n else None,
               "broken": int(pool.frame["broken"].to_numpy()[sel.chosen].sum()), "seconds": sel.info["seconds"]}
        if clusters is not None:
            row["clusters"] = len(set(clusters[sel.chosen])) / max(total, 1)
        out.append(row)
    return pd.DataFrame(out)
