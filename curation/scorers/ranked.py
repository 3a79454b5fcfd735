"""The quality score in force: the broken-flags gate over one ranker, and what makes it up.

`ScoreSettings.ranker` (kept in the workspace) names the ranker:

- `length`, the default: the answer's length in words. It is the best ranker measured on this machine: 0.725
  pairwise accuracy on OASST's ranked sibling replies, which no offline model beat (bench/RESULTS.md,
  "Model-based scorers on OASST ranks"); it needs no model and scores every record at once.
- a model scorer of `curation.scorers` (`reward`, `judge`, `ifd`, `learned`), run beforehand (a sample first, then
  all): the score reads its cached scores; a record it has not scored yet gets the median rank.

`quality_score(ws, frame)` reads caches only (it never runs a model): `combined()` puts every broken record
(flags-only quality under `GATE`: empty, refusal, truncated, repetition…) below every other record, and the ranker
orders the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from curation.errors import CurationError
from curation.scorers import SCORERS
from curation.scorers.base import combined
from curation.settings import StageSettings
from curation.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

LENGTH = "length"
GATE = 0.5
RANKERS = (LENGTH, *SCORERS)
DESCRIPTIONS = {LENGTH: "the answer's length in words: no model; the best ranker measured offline on OASST ranks",
                **{name: s.description for name, s in SCORERS.items()}}
# Pairwise accuracy of "broken-flags gate × this ranker" on OASST's ranked sibling replies (429 pairs, 100 trees),
# from bench/score_oasst.py; None: not measurable on this machine (no reward weights, no endpoint offline).
OASST_ACCURACY = {LENGTH: 0.720, "ifd": 0.527, "learned": 0.558, "reward": None, "judge": None}
LENGTH_ALONE = 0.725


@dataclass(frozen=True)
class ScoreSettings(StageSettings):
    """Which ranker orders the records that are not broken, and each ranker's options (model folder, endpoint…)."""

    stage: ClassVar[str] = "score"
    ranker: str = LENGTH
    options: dict = field(default_factory=dict)  # ranker name -> its options, as given to `Scorer.score`

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        """Options are kept per ranker: changing one ranker's options leaves the others' as they were."""
        options = {**raw.get("options", {}), **changes.get("options", {})}
        return {**raw, **changes, "options": options}

    def check(self) -> None:
        if self.ranker not in RANKERS:
            raise CurationError(f"unknown ranker {self.ranker!r}: choose one of {', '.join(RANKERS)}")
        for name, opts in self.options.items():
            if name in SCORERS:
                SCORERS[name].resolve(dict(opts))  # names an unknown option

    def of(self, ranker: str | None = None) -> dict:
        """The options kept for a ranker (the one in force by default), without empty values."""
        return {k: v for k, v in self.options.get(ranker or self.ranker, {}).items() if v not in (None, "")}


def describe(settings: ScoreSettings) -> str:
    """One sentence on what makes up the score in force, with its measured accuracy."""
    acc = OASST_ACCURACY.get(settings.ranker)
    measured = (f"measured {acc:.3f} pairwise on OASST ranks (length alone {LENGTH_ALONE:.3f})" if acc is not None
                else "not measured on this machine (no model or endpoint offline)")
    ranker = "answer length in words" if settings.ranker == LENGTH else f"the `{settings.ranker}` scorer's cached scores"
    return (f"Score = flags gate × rank by {ranker}. A record whose flags-only quality is under {GATE} (empty, refusal, "
            f"truncated, repetition…) scores under 0.5, below every other record; the others are ordered by {ranker} "
            f"between 0.5 and 1; {measured}.")


def ranker_values(ws: Workspace, frame: pd.DataFrame, settings: ScoreSettings) -> pd.Series:
    """The ranker's raw value per record (NaN where a model has not scored it), indexed like `frame`."""
    import pandas as pd

    if settings.ranker == LENGTH:
        if "output_words" not in frame:
            raise CurationError("the length ranker needs the quality signals: compute them first (Quality page or `signals`)")
        return frame["output_words"].astype(float)
    cached = SCORERS[settings.ranker].cached(ws, frame, **settings.of())
    return pd.Series(cached["score"].to_numpy(dtype=float), index=frame.index)


def quality_score(ws: Workspace, frame: pd.DataFrame, settings: ScoreSettings | None = None) -> pd.DataFrame:
    """`frame` (records with their signal columns) with `score` (the combined score in [0, 1]), `ranked_by` (the
    ranker's raw value, NaN where not scored) and `broken` (under the flags gate). `attrs["info"]` says what makes up
    the score and how many records the ranker has scored."""
    settings = settings or ScoreSettings.load(ws)
    if "quality" not in frame:
        raise CurationError("the score needs the quality signals: compute them first (Quality page or `signals`)")
    values = ranker_values(ws, frame, settings)
    out = frame.assign(score=combined(frame["quality"].to_numpy(dtype=float), values.to_numpy(), gate=GATE),
                       ranked_by=values, broken=frame["quality"].to_numpy(dtype=float) < GATE)
    out.attrs["info"] = {"ranker": settings.ranker, "gate": GATE, "records": len(out),
                         "ranked": int(values.notna().sum()), "broken": int(out["broken"].sum()),
                         "oasst_accuracy": OASST_ACCURACY.get(settings.ranker), "describe": describe(settings)}
    return out
