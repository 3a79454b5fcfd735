"""`learned`: a classifier trained on the curator's own keep/reject decisions, over the cached embeddings.

Features: the record's embeddings (by default of its prompt and of its output,
side by side), with the workspace's embedding model and its vector cache, so
records embedded for the map are not embedded again. Labels: every record the
curator kept (1) or rejected (0); rejections as a duplicate
(`near_duplicate_of:…`, `exact_duplicate`) are left out, because a copy is as
good as its original. Model: standardised features, L2-regularised logistic
regression with balanced classes.

The score is the predicted probability of "keep". `info` carries the
cross-validated ROC AUC (stratified k-fold, k = min(5, the smaller class); the
out-of-fold predictions of every decided record) and `uncertain`: the undecided
records (of those scored) whose probability is nearest 0.5, the ones whose
decision would teach the model most ("ask me about the 20 most uncertain").
It needs at least `min_each` decisions of each kind.

Not cached by content like the other scorers: the scores change with every
decision, and the work is the embedding (cached) plus a fit that takes seconds.
The latest run's scores are kept (`scores/learned/latest.parquet`, replaced by
each run): `cached()` reads them, so the quality score can rank by the last
model trained, until the next run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from curation.errors import CurationError
from curation.progress import Progress
from curation.scorers.base import Cancel, Cancelled, Scorer, sampled
from curation.workspace import Workspace, write_atomically

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DUPLICATE_REASONS = ("near_duplicate_of:", "exact_duplicate")


def cross_validated(features, labels, groups=None, *, folds: int = 5, seed: int = 0, C: float = 1.0):
    """Out-of-fold probabilities of label 1, the ROC AUC over them, and the number of folds used.

    With `groups`, records of one group are never split between training and test (StratifiedGroupKFold)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(labels, dtype=int)
    smaller = int(min((y == 0).sum(), (y == 1).sum()))
    k = min(folds, smaller)
    if groups is not None:
        g = np.asarray(groups)
        k = min(k, len(set(g[y == 0])), len(set(g[y == 1])))
    if k < 2:
        raise CurationError(f"cross-validation needs at least 2 examples of each label, got {int((y == 1).sum())} and "
                            f"{int((y == 0).sum())}")
    split = (StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(features, y, groups) if groups is not None
             else StratifiedKFold(k, shuffle=True, random_state=seed).split(features, y))
    oof = np.full(len(y), np.nan)
    for train, test in split:
        if len(set(y[train])) < 2:
            continue
        oof[test] = classifier(C).fit(features[train], y[train]).predict_proba(features[test])[:, 1]
    done = ~np.isnan(oof)
    auc = float(roc_auc_score(y[done], oof[done])) if len(set(y[done])) == 2 else float("nan")
    return oof, auc, k


def classifier(C: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=2000))


def features(ws: Workspace, frame: pd.DataFrame, model: str, texts: tuple[str, ...], progress: Progress | None = None) -> np.ndarray:
    """The frame's embeddings for each text choice, side by side (embedding only texts not cached)."""
    import numpy as np

    from curation.embed import embed_records

    blocks = [embed_records(ws, frame, model=model, text=choice, progress=progress)[0] for choice in texts]
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.float32)


def training_set(ws: Workspace) -> pd.DataFrame:
    """Every decided record (its text columns and `label`: 1 keep, 0 reject), duplicates' rejections left out."""
    from curation.store import read_records

    state = ws.query("SELECT record_id, decision, reason FROM state WHERE decision IN ('keep', 'reject')")
    labels = {rid: int(decision == "keep") for rid, decision, reason in state
              if not (decision == "reject" and str(reason or "").startswith(DUPLICATE_REASONS))}
    records = read_records(ws)
    records = records[records["record_id"].isin(set(labels))].reset_index(drop=True)
    return records.assign(label=records["record_id"].map(labels).astype(int))


def enough_decisions(train: pd.DataFrame, need: int) -> tuple[int, int]:
    """(keeps, rejects) of the training set, or a CurationError when either is under `need`."""
    keeps, rejects = int(train["label"].sum()), int((train["label"] == 0).sum())
    if keeps < need or rejects < need:
        raise CurationError(f"the learned scorer learns from your decisions: decide at least {need} keep and {need} reject "
                            f"(not as duplicates) first; there are {keeps} keep and {rejects} reject")
    return keeps, rejects


class Learned(Scorer):
    name = "learned"
    description = ("a classifier on the cached embeddings trained on the curator's keep/reject decisions; shows its "
                   "cross-validated AUC and the most uncertain undecided records to decide next")
    options = {"embed_model": None, "texts": "prompt,output", "folds": 5, "min_each": 5, "uncertain": 20, "C": 1.0}

    def score(self, ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None, *, sample: int | None = None,
              seed: int = 0, cancel: Cancel | None = None, **options) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        from curation.embed import EmbedSettings

        start = time.perf_counter()
        opts = self.resolve(options)
        model = opts["embed_model"] or EmbedSettings.load(ws).model
        texts = tuple(t.strip() for t in str(opts["texts"]).split(",") if t.strip())
        train = training_set(ws)
        keeps, rejects = enough_decisions(train, int(opts["min_each"]))

        def check_cancel(step: str):
            if cancel is not None and cancel():
                raise Cancelled(f"learned scoring cancelled {step}; the embeddings computed so far are cached")

        check_cancel("before embedding")
        x_train = features(ws, train, model, texts, progress)
        y = train["label"].to_numpy()
        check_cancel("before cross-validation")
        oof, auc, k = cross_validated(x_train, y, folds=int(opts["folds"]), seed=seed, C=float(opts["C"]))
        fitted = classifier(float(opts["C"])).fit(x_train, y)
        frame = sampled(frame, sample, seed)
        check_cancel("before scoring")
        proba = fitted.predict_proba(features(ws, frame, model, texts, progress))[:, 1] if len(frame) else np.zeros(0)
        decided = dict(zip(train["record_id"], np.where(y == 1, "keep", "reject")))
        held_out = dict(zip(train["record_id"], oof))
        ids = frame["record_id"].astype(str).to_numpy()
        reasons = [f"decided {decided[r]}; held-out p(keep) {held_out[r]:.2f}" if r in decided else None for r in ids]
        out = pd.DataFrame({"record_id": ids, "score": proba.astype(float), "reason": pd.Series(reasons, dtype=object)})
        open_ = [i for i, r in enumerate(ids) if r not in decided]
        nearest = sorted(open_, key=lambda i: (abs(proba[i] - 0.5), ids[i]))[: int(opts["uncertain"])]
        out.attrs["info"] = {"scorer": self.name, "records": len(out), "scored": len(out), "computed": len(out), "cached": 0,
                             "failed": 0, "empty": 0, "sample": sample, "embed_model": model, "texts": list(texts),
                             "trained_on": {"keep": keeps, "reject": rejects}, "folds": k,
                             "auc": round(auc, 4) if np.isfinite(auc) else None,
                             "uncertain": [ids[i] for i in nearest], "seconds": round(time.perf_counter() - start, 3)}
        keep_latest(ws, out)
        return out

    def estimate(self, ws: Workspace, frame: pd.DataFrame, *, sample: int | None = None, seed: int = 0, **options) -> dict:
        opts = self.resolve(options)
        keeps, rejects = enough_decisions(training_set(ws), int(opts["min_each"]))
        n = len(sampled(frame, sample, seed))
        return {"scorer": self.name, "records": n, "cached": 0, "to_compute": n, "empty": 0,
                "trained_on": {"keep": keeps, "reject": rejects}}

    def cached(self, ws: Workspace, frame: pd.DataFrame, **options) -> pd.DataFrame:
        """The latest run's scores of the frame's records (NaN for a record that run did not score)."""
        import pandas as pd

        latest = latest_path(ws)
        known = pd.read_parquet(latest) if latest.exists() else pd.DataFrame({"record_id": [], "score": [], "reason": []})
        ids = frame[["record_id"]].astype(str)
        out = ids.merge(known.drop_duplicates("record_id"), on="record_id", how="left")
        out["reason"] = out["reason"].astype(object).where(out["reason"].notna(), None)
        return out[["record_id", "score", "reason"]].astype({"score": float})


def latest_path(ws: Workspace):
    return ws.root / "scores" / "learned" / "latest.parquet"


def keep_latest(ws: Workspace, scores: pd.DataFrame) -> None:
    """The run's scores replace the previous run's, whole (records the run did not score keep none)."""
    path = latest_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = scores[["record_id", "score", "reason"]]
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


SCORER = Learned()
