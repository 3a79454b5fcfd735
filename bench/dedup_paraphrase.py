"""Near-duplicate thresholds per model, and the second stage, on the labelled MSR paraphrase (MRPC) pairs.

MRPC's negatives are themselves close pairs and two thirds of its pairs are
paraphrases, so F1 peaks at a low threshold that barely beats saying "duplicate"
to everything. Removing a good record costs more than keeping a redundant one,
so each similarity's default is the threshold with the best F0.5 on the train
split with the two classes weighed equally (`curation.dedup.calibration.calibrate`:
real data holds far fewer duplicates than MRPC's two thirds); the test split
reports it (precision and recall on the test pairs as they are).

1. Per method and embedder: the calibrated threshold (train) and its test precision / recall;
   the constants in curation/dedup/calibration.py must equal the "calibrated" lines.
2. The second stage: the cross-encoder of curation/dedup/pairmodel.py is fine-tuned (timed) on
   the MRPC train pairs minus a held-out fifth, its threshold calibrated on that fifth; on the
   test pairs, candidates (cosine at or above the embedder's floor) are re-scored by it.
   Reported: test precision / recall at the calibrated thresholds and the best precision at
   several recalls, for bare cosine and for the two stages.

    python -m bench.dedup_paraphrase [--workspace DIR] [--no-cross]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import numpy as np

from bench.common import SHARED, need
from curation.dedup import calibration as cal
from curation.dedup import pairmodel
from curation.embed import embed_texts
from curation.workspace import Workspace

RECALLS = (0.5, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95)


def read_pairs(name: str) -> tuple[list[str], list[str], np.ndarray]:
    return pairmodel.read_mrpc(need(SHARED / "paraphrase" / f"msr_paraphrase_{name}.txt"))


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
    p, r = cal.precision_recall(sims, truth, threshold)
    f1 = 2 * p * r / max(p + r, 1e-12)
    return {"threshold": float(threshold), "precision": p, "recall": r, "f1": f1, "f0.5": cal.f_beta(p, r)}


def line(label: str, t, s: dict) -> str:
    shown = "-" if t is None else f"{t:.2f}"
    return f"| {label} | {shown} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['f0.5']:.3f} |"


def two_stage(cosine: np.ndarray, cross: np.ndarray, floor: float) -> np.ndarray:
    """One score per pair for the pipeline: candidates (cosine >= floor) by the cross-encoder, in (1, 2];
    the rest below them by cosine (never proposed by the pipeline; ranked only to draw the whole curve)."""
    return np.where(cosine >= floor - 1e-6, 1.0 + cross, np.minimum(cosine, floor))


def methods_table(ws: Workspace, train, test) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    print("| method | threshold | test precision | test recall | test F1 | test F0.5 |\n|---|---|---|---|---|---|")
    print(line("(everything is a duplicate)", None, scores(np.ones(len(test[2])), test[2], 0.5)))
    cosines = {}
    for model in ("minilm", "static"):
        tr, te = pair_similarity(ws, train[0], train[1], "embedding", model), pair_similarity(ws, test[0], test[1], "embedding", model)
        cosines[model] = (tr, te)
        chosen = cal.calibrate(tr, train[2])
        f1_best = cal.calibrate(tr, train[2], beta=1.0, balanced=False)
        plain = cal.calibrate(tr, train[2], balanced=False)
        print(line(f"embedding {model}, train F1 best", f1_best, scores(te, test[2], f1_best)))
        print(line(f"embedding {model}, train F0.5 best at MRPC's base rate", plain, scores(te, test[2], plain)))
        print(line(f"**embedding {model}, train F0.5 best, classes balanced (calibrated)**", chosen, scores(te, test[2], chosen)))
        old = 0.80
        print(line(f"embedding {model}, the old default for every model", old, scores(te, test[2], old)))
    for method in ("minhash", "exact"):
        tr, te = pair_similarity(ws, train[0], train[1], method), pair_similarity(ws, test[0], test[1], method)
        chosen = 1.0 if method == "exact" else cal.calibrate(tr, train[2])
        print(line(f"{method}, train F0.5 best, classes balanced", chosen, scores(te, test[2], chosen)))
    return cosines


def candidate_floors(cosines, train, recall: float) -> dict[str, float]:
    """Per embedder: the highest cosine (grid) keeping at least `recall` of the train paraphrases as candidates."""
    out = {}
    for model, (tr, _) in cosines.items():
        ok = [t for t in cal.GRID if cal.precision_recall(tr, train[2], t)[1] >= recall]
        out[model] = max(ok) if ok else cal.GRID[0]
    return out


def surface_stage(train, test) -> tuple[np.ndarray, float]:
    """The `surface` second stage: a logistic model of the surface features fitted on every train pair (no cross-encoder),
    its calibrated threshold, and its scores on the test pairs."""
    from sklearn.linear_model import LogisticRegression

    from curation.dedup.pairfeatures import NAMES, features

    x = features(train[0], train[1])
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(x, train[2])
    threshold = cal.calibrate(fitted.predict_proba(x)[:, 1], train[2])
    weights = dict(zip(NAMES, fitted.coef_[0].round(3).tolist()))
    print(f"calibrated: SURFACE_WEIGHTS = {weights}, SURFACE_BIAS = {float(fitted.intercept_[0]):.2f}, "
          f"SURFACE_THRESHOLD = {threshold} (in code: {cal.SURFACE_WEIGHTS}, {cal.SURFACE_BIAS}, {cal.SURFACE_THRESHOLD})\n")
    return fitted.predict_proba(features(test[0], test[1]))[:, 1], threshold


def second_stage(ws: Workspace, cosines, train, test) -> None:
    start = time.perf_counter()
    folder = pairmodel.ensure_model(ws)
    trained = json.loads((folder / "training.json").read_text())
    print(f"\nPair model {folder.name}: cross-encoder fine-tuned on {trained['pairs']} train pairs, {trained['steps']} steps, "
          f"recipe {trained['recipe']}, in {trained['train_seconds']:.0f} s; combiner fitted on "
          f"{trained['combiner']['fitted_on']} held-out pairs in {trained['combine_seconds']:.0f} s "
          f"(weights {dict(zip(trained['combiner']['features'], trained['combiner']['weights']))}); "
          f"{trained['threads']} thread(s), load average {trained['load_average']} at the end "
          f"(this run: {time.perf_counter() - start:.0f} s including loading)")
    rows = pairmodel.held_out(len(train[2]), pairmodel.RECIPE)
    held = ([train[0][r] for r in rows], [train[1][r] for r in rows], train[2][rows])
    start = time.perf_counter()
    cross_held, _ = pairmodel.pair_scores(ws, held[0], held[1])
    cross_test, info = pairmodel.pair_scores(ws, test[0], test[1])
    seconds = time.perf_counter() - start
    print(f"Scored {len(rows) + len(test[2])} pairs in {seconds:.0f} s ({info['reused']} of the test pairs from the cache)\n")
    threshold = cal.calibrate(cross_held, held[2])
    by_recall = {r: candidate_floors(cosines, train, r) for r in (0.95, 0.9, 0.8)}
    print(f"calibrated: CROSS_THRESHOLD = {threshold} (F0.5-best, classes balanced, on the {len(rows)} held-out train pairs); "
          f"candidate floors keeping 95% / 90% / 80% of the train paraphrases: {by_recall}; in code: "
          f"{cal.CROSS_THRESHOLD}, {cal.CANDIDATE_FLOORS}\n")
    print("| scores | threshold | test precision | test recall | test F1 | test F0.5 |\n|---|---|---|---|---|---|")
    curves = {}
    for model, (tr, te) in cosines.items():
        bare = cal.calibrate(tr, train[2])
        print(line(f"{model} cosine alone (calibrated)", bare, scores(te, test[2], bare)))
        curves[f"{model} cosine"] = (te, te)
        for recall, floors in by_recall.items():
            combined = two_stage(te, cross_test, floors[model])
            name = f"{model} cosine >= {floors[model]:.2f} (train recall {recall}), then the pair model"
            print(line(f"{name} ({np.mean(te >= floors[model]):.0%} of the test pairs re-scored)", threshold,
                       scores(combined, test[2], 1 + threshold)))
            curves[name] = (combined, te)
    print(line("the pair model on every pair", threshold, scores(cross_test, test[2], threshold)))
    curves["the pair model on every pair"] = (cross_test, cosines["minilm"][1])
    surface, surface_threshold = surface_stage(train, test)
    for model, (_, te) in cosines.items():
        floor = cal.CANDIDATE_FLOORS[model]
        combined = two_stage(te, surface, floor)
        name = f"{model} cosine >= {floor:.2f}, then surface"
        print(line(name, surface_threshold, scores(combined, test[2], 1 + surface_threshold)))
        curves[name] = (combined, te)
    curves["surface on every pair (minilm cosine as the baseline)"] = (surface, cosines["minilm"][1])
    print("\nBest test precision at a recall of at least R, and the worst difference to the cosine it re-scores over "
          "recalls 0.01 to 1 in steps of 0.01:\n")
    print("| scores | " + " | ".join(f"R {r}" for r in RECALLS) + " | worst difference to cosine |")
    print("|---|" + "---|" * (len(RECALLS) + 1))
    grid = np.linspace(0.01, 1.0, 100)
    for name, (s, base) in curves.items():
        gap = min(cal.precision_at_recall(s, test[2], r) - cal.precision_at_recall(base, test[2], r) for r in grid)
        print(f"| {name} | " + " | ".join(f"{cal.precision_at_recall(s, test[2], r):.3f}" for r in RECALLS) + f" | {gap:+.3f} |")


def main() -> None:
    ws = Workspace(sys.argv[sys.argv.index("--workspace") + 1] if "--workspace" in sys.argv else tempfile.mkdtemp())
    train, test = read_pairs("train"), read_pairs("test")
    print(f"MSR paraphrase corpus: {len(train[2])} train pairs ({train[2].mean():.0%} paraphrases), {len(test[2])} test pairs\n")
    cosines = methods_table(ws, train, test)
    for model, (tr, _) in cosines.items():
        print(f"\ncalibrated: EMBEDDING_THRESHOLDS[{model!r}] = {cal.calibrate(tr, train[2])} "
              f"(in code: {cal.EMBEDDING_THRESHOLDS[model]})", end="")
    print()
    if "--no-cross" not in sys.argv:
        second_stage(ws, cosines, train, test)


if __name__ == "__main__":
    main()
