"""The optional second stage of the embedding method: candidate pairs re-scored by a stronger pair model.

- `none` (default): pairs are compared by their cosine similarity;
- `surface`: candidate pairs (cosine at or above the embedder's floor,
  `calibration.candidate_floor`) are re-scored by a logistic model of their surface
  features (`pairfeatures`; weights fitted on MRPC, in `calibration`): thousands
  of pairs a second, no model to train;
- `cross`: the candidates are re-scored by the pair model of `pairmodel` (a
  cross-encoder trained once into the workspace, plus those features; scores
  cached by content): a little more precise on MRPC, a few pairs a second on CPU.

With a second stage the threshold and the sweep are on its probability scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from curation import names
from curation.dedup.neighbours import Pairs
from curation.progress import Progress
from curation.workspace import Workspace


@dataclass(frozen=True)
class Rescorer:
    """`rescore(ws, texts, pairs, floor, progress, compute)`: the candidate pairs at or above the floor with new
    similarities (None when compute=False and they are not cached); None for no second stage."""

    name: str
    description: str
    rescore: Callable | None = None


def cross_rescore(ws: Workspace, texts: list[str], pairs: Pairs, floor: float, progress: Progress | None = None,
                  compute: bool = True) -> Pairs | None:
    from curation.dedup import pairmodel

    candidates = pairs.above(floor)
    scored = pairmodel.pair_scores(ws, [texts[i] for i in candidates.i], [texts[j] for j in candidates.j], progress=progress,
                                   compute=compute)
    if scored is None:
        return None
    sims, info = scored
    return Pairs(candidates.i, candidates.j, sims, {**pairs.info, **info, "rescore": "cross", "candidates": len(candidates),
                                                   "cosine_floor": floor})


def surface_rescore(ws: Workspace, texts: list[str], pairs: Pairs, floor: float, progress: Progress | None = None,
                    compute: bool = True) -> Pairs:
    from curation.dedup import calibration
    from curation.dedup.pairfeatures import NAMES, features

    candidates = pairs.above(floor)
    inputs = features([texts[i] for i in candidates.i], [texts[j] for j in candidates.j])
    z = inputs @ np.array([calibration.SURFACE_WEIGHTS[name] for name in NAMES]) + calibration.SURFACE_BIAS
    sims = (1 / (1 + np.exp(-z))).astype(np.float32)
    return Pairs(candidates.i, candidates.j, sims, {**pairs.info, "rescore": "surface", "candidates": len(candidates),
                                                   "cosine_floor": floor})


RESCORERS: dict[str, Rescorer] = names.registry(names.RESCORERS, (
    Rescorer("none", "no second stage: pairs are compared by their embeddings' cosine similarity"),
    Rescorer("surface", "candidate pairs re-scored by their word overlap and character similarity (a logistic model fitted on "
             "MRPC; fast, no model to train)", surface_rescore),
    Rescorer("cross", "candidate pairs re-scored by a cross-encoder fine-tuned from MiniLM on the MRPC pairs at first use "
             "(kept in the workspace; needs the shared MRPC file; slower, more precise)", cross_rescore),
))
CROSS_SWEEP = tuple(round(0.50 + 0.02 * i, 2) for i in range(25))  # probability thresholds swept with a second stage


def rescore(ws: Workspace, texts: list[str], pairs: Pairs, conf: dict, floor: float, progress: Progress | None = None,
            compute: bool = True) -> Pairs | None:
    """The pairs as the method and the chosen second stage compare them."""
    chosen = names.lookup(RESCORERS, conf.get("rescore", "none"), "rescore")
    if chosen.rescore is None or conf["method"] != "embedding":
        return pairs
    return chosen.rescore(ws, texts, pairs, floor, progress, compute)
