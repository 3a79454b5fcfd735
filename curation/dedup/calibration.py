"""Default near-duplicate thresholds, calibrated per model, and the rule that calibrates them.

Each similarity has its own scale: the static fast model puts unrelated texts
far closer than MiniLM does, and the cross-encoder's scores are probabilities.
So each carries its own default, chosen on the labelled MRPC *train* pairs as
the threshold with the best F0.5 (precision weighted twice as much as recall:
rejecting a good record costs more than keeping a redundant one), with MRPC's
two classes weighed equally: two thirds of MRPC's pairs are paraphrases, while
nearly every pair of a real data set is not a duplicate, and precision measured
at MRPC's base rate rewards low thresholds (the static model's F0.5-best
threshold at MRPC's base rate, 0.82, still proposes rejecting 22% of a mix of
GSM8K, Alpaca and role-play records; see bench/RESULTS.md). Each is reported on
the MRPC *test* pairs in bench/RESULTS.md. The numbers below were produced by
`python -m bench.dedup_paraphrase` (2026-12-01); re-run it after changing a
model, and copy its "calibrated" lines here.
"""

from __future__ import annotations

import numpy as np

GRID = tuple(round(0.30 + 0.01 * i, 2) for i in range(70))  # 0.30 … 0.99: the thresholds calibration chooses from
BETA = 0.5

# embedder name -> cosine threshold (bench/dedup_paraphrase.py, F0.5-best on MRPC train)
EMBEDDING_THRESHOLDS = {"minilm": 0.79, "static": 0.89}
UNCALIBRATED = 0.8  # any other embedding model (a folder or hub id): not calibrated, said so where it is shown

# the second stage (curation/dedup/pairmodel.py): candidates at or above the embedder's floor (the highest cosine that
# keeps 80% of the MRPC train paraphrases: re-scoring costs CPU time per pair, and lower floors gained at most 0.01 of
# precision at recall 0.6) are re-scored by the pair model, whose probability is compared with CROSS_THRESHOLD
# (F0.5-best, classes balanced, on the MRPC train pairs held out from its training); bench/dedup_paraphrase.py
CANDIDATE_FLOORS = {"minilm": 0.74, "static": 0.8}
CROSS_THRESHOLD = 0.74

# the `surface` second stage (curation/dedup/rescore.py): a logistic model of the pair's surface features alone
# (curation/dedup/pairfeatures.py), fitted on all MRPC train pairs; its threshold F0.5-best there (classes balanced).
# bench/dedup_paraphrase.py prints these lines.
SURFACE_WEIGHTS = {"word_jaccard": 5.895, "bigram_jaccard": -3.143, "same_numbers": 0.626, "length_ratio": 2.861,
                   "char_ratio": 3.981, "token_set_ratio": 1.059}
SURFACE_BIAS = -7.62
SURFACE_THRESHOLD = 0.77
RESCORE_THRESHOLDS = {"cross": CROSS_THRESHOLD, "surface": SURFACE_THRESHOLD}


def embedding_threshold(model: str) -> tuple[float, bool]:
    """(the default cosine threshold of an embedder, whether it was calibrated)."""
    return EMBEDDING_THRESHOLDS.get(model, UNCALIBRATED), model in EMBEDDING_THRESHOLDS


def candidate_floor(model: str) -> float:
    """The cosine at or above which the second stage re-scores a pair (a recall-oriented floor)."""
    return CANDIDATE_FLOORS.get(model, min(CANDIDATE_FLOORS.values()))


def precision_recall(scores: np.ndarray, truth: np.ndarray, threshold: float, balanced: bool = False) -> tuple[float, float]:
    """Precision and recall of "a duplicate when the score reaches the threshold"; `balanced` weighs the negatives as
    if there were as many as positives (precision at a base rate of one half)."""
    said = scores >= threshold - 1e-6
    tp, fp = int((said & truth).sum()), int((said & ~truth).sum())
    weight = truth.sum() / max((~truth).sum(), 1) if balanced else 1.0
    return tp / max(tp + weight * fp, 1e-12) if tp + fp else 0.0, tp / max(int(truth.sum()), 1)


def f_beta(precision: float, recall: float, beta: float = BETA) -> float:
    b2 = beta * beta
    return (1 + b2) * precision * recall / max(b2 * precision + recall, 1e-12)


def calibrate(scores: np.ndarray, truth: np.ndarray, grid=GRID, beta: float = BETA, balanced: bool = True) -> float:
    """The threshold of the grid with the best F-beta (the lowest of ties), the classes weighed equally unless not `balanced`."""
    values = [f_beta(*precision_recall(scores, truth, t, balanced), beta) for t in grid]
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
