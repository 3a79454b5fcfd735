"""Default near-duplicate thresholds, calibrated per model, and the rule that calibrates them.

Each similarity has its own scale: the static fast model puts unrelated texts
far closer than MiniLM does, and the cross-encoder's scores are probabilities.
So each carries its own default, chosen on the labelled MRPC *train* pairs as
the threshold with the best F0.5 (precision weighted twice as much as recall:
rejecting a good record costs more than keeping a redundant one) and reported
on the MRPC *test* pairs in bench/RESULTS.md. The numbers below were produced by
`python -m bench.dedup_paraphrase` (2026-12-01); re-run it after changing a
model, and copy its "calibrated" lines here.
"""

from __future__ import annotations

import numpy as np

GRID = tuple(round(0.30 + 0.01 * i, 2) for i in range(70))  # 0.30 … 0.99: the thresholds calibration chooses from
BETA = 0.5

# embedder name -> cosine threshold (bench/dedup_paraphrase.py, F0.5-best on MRPC train)
EMBEDDING_THRESHOLDS = {"minilm": 0.8, "static": 0.8}
UNCALIBRATED = 0.8  # any other embedding model (a folder or hub id): not calibrated, said so where it is shown

# the second stage (curation/dedup/pairmodel.py): candidates at or above the embedder's floor are re-scored by the
# cross-encoder, and its probability is compared with CROSS_THRESHOLD (bench/dedup_paraphrase.py, F0.5-best on
# the MRPC train pairs held out from its training)
CANDIDATE_FLOORS = {"minilm": 0.6, "static": 0.6}
CROSS_THRESHOLD = 0.5


def embedding_threshold(model: str) -> tuple[float, bool]:
    """(the default cosine threshold of an embedder, whether it was calibrated)."""
    return EMBEDDING_THRESHOLDS.get(model, UNCALIBRATED), model in EMBEDDING_THRESHOLDS


def candidate_floor(model: str) -> float:
    """The cosine at or above which the second stage re-scores a pair (a recall-oriented floor)."""
    return CANDIDATE_FLOORS.get(model, min(CANDIDATE_FLOORS.values()))


def precision_recall(scores: np.ndarray, truth: np.ndarray, threshold: float) -> tuple[float, float]:
    said = scores >= threshold - 1e-6
    tp = int((said & truth).sum())
    return tp / max(int(said.sum()), 1), tp / max(int(truth.sum()), 1)


def f_beta(precision: float, recall: float, beta: float = BETA) -> float:
    b2 = beta * beta
    return (1 + b2) * precision * recall / max(b2 * precision + recall, 1e-12)


def calibrate(scores: np.ndarray, truth: np.ndarray, grid=GRID, beta: float = BETA) -> float:
    """The threshold of the grid with the best F-beta (the lowest of ties)."""
    values = [f_beta(*precision_recall(scores, truth, t), beta) for t in grid]
    return float(grid[int(np.argmax(values))])


def precision_at_recall(scores: np.ndarray, truth: np.ndarray, recall: float) -> float:
    """The best precision among thresholds whose recall is at least `recall` (0 when none reaches it)."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    said = np.arange(1, len(scores) + 1)
    last = np.r_[scores[order][1:] != scores[order][:-1], True]  # only cut between distinct scores
    prec, rec = hits[last] / said[last], hits[last] / max(int(truth.sum()), 1)
    ok = rec >= recall - 1e-12
    return float(prec[ok].max()) if ok.any() else 0.0
