"""Grouping against per-pair prediction on the labelled MRPC test pairs (issue 13).

Every sentence of the 1,725 MSR paraphrase test pairs is one record; neighbours
come from bundled-MiniLM cosine (exact search, 32 per record, as the library
does). For each threshold, a labelled pair is predicted a duplicate:

- per pair: its cosine reaches the threshold (what a pair classifier says);
- by a grouping: its two sentences land in one group (what "apply" acts on).

Precision and recall are on the labelled pairs; "pairs together" is the share
of all neighbour pairs at or above the threshold whose two records share a
group (1 for components by construction, and for per-pair prediction).

    python -m bench.dedup_grouping_recall [--workspace DIR]
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np

from bench.common import SHARED, need
from curation.dedup import groups
from curation.dedup.groups import group_labels, pair_recall
from curation.dedup.neighbours import neighbour_pairs
from curation.dedup.pairmodel import read_mrpc
from curation.embed import embed_texts
from curation.signals.duplicates import normalised_hashes
from curation.workspace import Workspace

THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9)
SETTLE = groups.SETTLE_PASSES


def scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = int((predicted & truth).sum())
    return tp / max(int(predicted.sum()), 1), tp / max(int(truth.sum()), 1)


def main() -> None:
    ws = Workspace(sys.argv[sys.argv.index("--workspace") + 1] if "--workspace" in sys.argv else tempfile.mkdtemp())
    a, b, truth = read_mrpc(need(SHARED / "paraphrase" / "msr_paraphrase_test.txt"))
    sentences = sorted(set(a) | set(b))
    row = {s: k for k, s in enumerate(sentences)}
    ia, ib = np.array([row[s] for s in a]), np.array([row[s] for s in b])
    vectors, _ = embed_texts(ws, sentences, model="minilm", text="pairs")
    pairs = neighbour_pairs(vectors, min(THRESHOLDS) - 0.01, "exact")
    hashes = np.array(normalised_hashes(sentences))
    cosine = np.einsum("ij,ij->i", vectors[ia], vectors[ib])
    rank = np.arange(len(sentences))
    print(f"MRPC test: {len(truth):,} labelled pairs ({truth.mean():.0%} paraphrases), {len(sentences):,} sentences, bundled MiniLM\n")
    print("| threshold | prediction | precision | recall | pairs together | largest group |")
    print("|---|---|---|---|---|---|")
    for t in THRESHOLDS:
        p, r = scores(cosine >= t - 1e-6, truth)
        print(f"| {t:.2f} | per pair (cosine ≥ threshold) | {p:.3f} | {r:.3f} | 1.000 | - |")
        for name, ranked, settle in (("components", False, SETTLE), ("star, not settled", True, 0), ("star (default)", True, SETTLE)):
            groups.SETTLE_PASSES = settle
            labels = group_labels(len(sentences), pairs, hashes, t, rank if ranked else None)
            p, r = scores((labels[ia] == labels[ib]) & (labels[ia] > 0), truth)
            largest = int(np.bincount(labels)[1:].max(initial=0))
            print(f"| {t:.2f} | {name} | {p:.3f} | {r:.3f} | {pair_recall(labels, pairs.above(t)):.3f} | {largest} |")
    groups.SETTLE_PASSES = SETTLE


if __name__ == "__main__":
    main()
