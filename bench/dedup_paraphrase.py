"""Precision, recall and F1 of "is a duplicate" per method on the labelled MSR paraphrase pairs.

MSRP's negatives are themselves close pairs and two thirds of its pairs are
paraphrases, so F1 peaks at a low threshold that barely beats saying "duplicate"
to everything. Removing a good record costs more than keeping a redundant one,
so the default is the threshold of the method's sweep that maximises F0.5 (precision weighted twice
as much as recall) on the train split; the test split reports it, the F1-best
threshold and the trivial all-duplicates baseline.

    python -m bench.dedup_paraphrase [--workspace DIR]
"""

from __future__ import annotations

import csv
import sys
import tempfile

import numpy as np

from bench.common import SHARED, need
from curation.dedup.detect import DEFAULT_THRESHOLDS, SWEEPS
from curation.embed import embed_texts
from curation.workspace import Workspace


def read_pairs(name: str) -> tuple[list[str], list[str], np.ndarray]:
    path = need(SHARED / "paraphrase" / f"msr_paraphrase_{name}.txt")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    rows = [r for r in rows if len(r) == 5]
    return [r[3] for r in rows], [r[4] for r in rows], np.array([r[0] == "1" for r in rows])


def pair_similarity(ws: Workspace, a: list[str], b: list[str], method: str, model: str = "minilm") -> np.ndarray:
    """Similarity of each (a[k], b[k]) pair under a method: what the threshold is compared with."""
    from curation.signals.duplicates import normalised_hashes

    if method == "exact":
        return (np.asarray(normalised_hashes(a)) == np.asarray(normalised_hashes(b))).astype(np.float32)
    if method == "minhash":
        from curation.dedup.minhash import signatures

        sa, sb = signatures(a), signatures(b)
        return (sa == sb).mean(axis=1).astype(np.float32)
    va, _ = embed_texts(ws, a, model=model, text="pairs")
    vb, _ = embed_texts(ws, b, model=model, text="pairs")
    return np.einsum("ij,ij->i", va, vb).astype(np.float32)


def scores(sims: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    said = sims >= threshold - 1e-6
    tp = int((said & truth).sum())
    precision = tp / max(int(said.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    f05 = 1.25 * precision * recall / max(0.25 * precision + recall, 1e-12)
    return {"threshold": float(threshold), "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "f0.5": round(f05, 3)}


def best(sims: np.ndarray, truth: np.ndarray, grid, metric: str) -> float:
    return max((scores(sims, truth, t) for t in grid), key=lambda s: s[metric])["threshold"]


def main() -> None:
    ws = Workspace(sys.argv[sys.argv.index("--workspace") + 1] if "--workspace" in sys.argv else tempfile.mkdtemp())
    train, test = read_pairs("train"), read_pairs("test")
    print(f"MSR paraphrase corpus: {len(train[2])} train pairs ({train[2].mean():.0%} paraphrases), {len(test[2])} test pairs\n")
    print("| method | threshold | chosen by | test precision | test recall | test F1 | test F0.5 |")
    print("|---|---|---|---|---|---|---|")
    base = scores(np.ones(len(test[2])), test[2], 0.5)
    print(f"| (everything is a duplicate) | - | baseline | {base['precision']:.3f} | {base['recall']:.3f} | {base['f1']:.3f} | "
          f"{base['f0.5']:.3f} |")
    for method in ("embedding", "minhash", "exact"):
        tr = pair_similarity(ws, train[0], train[1], method)
        te = pair_similarity(ws, test[0], test[1], method)
        wide = [1.0] if method == "exact" else [round(0.30 + 0.01 * i, 2) for i in range(70)]
        choices = {"train F1 best, 0.30-0.99": best(tr, train[2], wide, "f1"),
                   "train F0.5 best, 0.30-0.99": best(tr, train[2], wide, "f0.5"),
                   "train F0.5 best in the sweep (the default)": best(tr, train[2], SWEEPS[method], "f0.5"),
                   "library default": DEFAULT_THRESHOLDS[method]}
        for label, t in choices.items():
            s = scores(te, test[2], t)
            print(f"| {method} | {t:.2f} | {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['f0.5']:.3f} |")


if __name__ == "__main__":
    main()
