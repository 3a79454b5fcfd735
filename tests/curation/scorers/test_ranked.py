"""The quality score in force: the broken-flags gate over the ranker the workspace keeps."""

from __future__ import annotations

import numpy as np
import pytest

from curation.annotated import annotate
from curation.errors import CurationError
from curation.scorers.base import Scorer
from curation.scorers.ranked import LENGTH, RANKERS, ScoreSettings, quality_score


def signals_of(ws):
    return annotate(ws, compute=("signals",))


def test_default_ranks_acceptable_records_by_length_and_puts_broken_ones_last(ws, records):
    frame = signals_of(ws)
    scored = quality_score(ws, frame)
    assert ScoreSettings.load(ws).ranker == LENGTH and scored.attrs["info"]["ranker"] == LENGTH
    ok = scored[~scored["broken"]]
    broken = scored[scored["broken"]]
    assert len(broken) >= 1 and "" in set(broken["output"])  # the empty output is under the gate
    assert broken["score"].max() < 0.5 <= ok["score"].min()
    by_score = ok.sort_values("score")["output_words"].to_numpy()
    assert (np.diff(by_score) >= 0).all()  # longer answer, higher score
    assert "length" in scored.attrs["info"]["describe"] and "0.720" in scored.attrs["info"]["describe"]


def test_a_model_ranker_reads_its_cache_and_unscored_records_get_the_median(ws, records, monkeypatch):
    from curation.scorers import SCORERS

    class Fixed(Scorer):  # a unit-test double for the cache read; every real scorer has its own real test
        name = "ifd"
        options = {"model": None}

        def cached(self, ws, frame, **options):
            import pandas as pd

            values = {"Paris is the capital of France.": 0.9, "2 + 3 = 5.": 0.1}
            return pd.DataFrame({"record_id": frame["record_id"], "score": [values.get(o, np.nan) for o in frame["output"]]})

    monkeypatch.setitem(SCORERS, "ifd", Fixed())
    ScoreSettings.save(ws, ranker="ifd", options={"ifd": {"model": "/some/folder"}})
    frame = signals_of(ws)
    scored = quality_score(ws, frame).set_index("output")
    assert scored.attrs["info"]["ranked"] == 2
    haiku = "Soft rain on the roof,\nthe garden drinks in silence,\nclouds move on at dusk."  # not scored: the median
    assert scored.at["Paris is the capital of France.", "score"] > scored.at[haiku, "score"] > scored.at["2 + 3 = 5.", "score"]
    assert "ifd" in scored.attrs["info"]["describe"]


def test_settings_keep_options_per_ranker_and_refuse_unknown_names(ws, records):
    ScoreSettings.save(ws, ranker="reward", options={"reward": {"model": "/models/rm"}})
    ScoreSettings.save(ws, ranker="judge", options={"judge": {"endpoint": "http://127.0.0.1:9/v1"}})
    conf = ScoreSettings.load(ws)
    assert conf.ranker == "judge" and conf.of() == {"endpoint": "http://127.0.0.1:9/v1"}
    assert conf.of("reward") == {"model": "/models/rm"}  # kept while another ranker is in force
    with pytest.raises(CurationError, match="unknown ranker 'bleu'"):
        ScoreSettings.save(ws, ranker="bleu")
    with pytest.raises(CurationError, match="has no option temperature"):
        ScoreSettings.save(ws, options={"judge": {"temperature": 0.1}})
    assert set(RANKERS) == {"length", "reward", "judge", "ifd", "learned"}


def test_the_score_needs_the_signals(ws, records):
    with pytest.raises(CurationError, match="quality signals"):
        quality_score(ws, records)
