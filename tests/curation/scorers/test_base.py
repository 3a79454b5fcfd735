"""What every scorer shares: the scored exchange, the content-keyed cache, samples, progress, cancellation."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from curation.errors import CurationError
from curation.scorers import SCORERS, Cancelled, Scorer, combined, distribution, exchanges, get_scorer
from curation.scorers import base as scorer_base
from tests.conftest import ROOT


class Counting(Scorer):
    """A scorer whose score is the answer's length; records what it was asked and can fail on a marker."""

    name = "counting"
    options = {"version": 1, "batch_size": 2}

    def __init__(self):
        self.seen: list[str] = []

    def identity(self, ws, opts):
        return {"version": opts["version"]}

    def load(self, ws, opts):
        return "state"

    def compute(self, state, items, opts):
        assert state == "state"
        self.seen.extend(it.answer for it in items)
        return [{"score": math.nan, "reason": "boom", "failed": True} if "FAIL" in it.answer
                else {"score": float(len(it.answer)), "reason": f"{len(it.answer)} chars", "chars": len(it.answer)} for it in items]


def frame(rows):
    base = {"record_id": None, "system": "", "instruction": "", "input": "", "output": "", "messages": None}
    return pd.DataFrame([{**base, "record_id": f"r{i}", **r} for i, r in enumerate(rows)])


def test_exchanges_of_tuples_and_conversations():
    f = frame([
        {"instruction": "Translate", "input": "Hallo", "output": "Hello", "system": "Be brief."},
        {"instruction": "Say hi", "input": "N/A", "output": "Hi"},
        {"messages": json.dumps([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                 {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}])},
        {"messages": json.dumps([{"role": "user", "content": "only a question"}])},
    ])
    ex = exchanges(f)
    assert ex[0].turns == (("system", "Be brief."), ("user", "Translate\n\nHallo")) and ex[0].answer == "Hello"
    assert ex[0].prompt == "Translate\n\nHallo" and ex[0].system == "Be brief."
    assert ex[1].turns == (("user", "Say hi"),)  # a placeholder input counts as none
    assert ex[2].turns == (("user", "a"), ("assistant", "b"), ("user", "c")) and ex[2].answer == "d"
    assert ex[2].prompt == "User: a\n\nAssistant: b\n\nUser: c"
    assert ex[3].answer == "" and ex[3].turns == (("user", "only a question"),)
    assert len({e.key for e in ex}) == 4
    same = exchanges(frame([{"instruction": "Say hi", "output": "Hi"}]))[0]
    assert same.key == ex[1].key  # the key is the content, not the record


def test_scores_are_cached_by_content_and_reused(ws):
    scorer = Counting()
    f = frame([{"instruction": "q", "output": "aaa"}, {"instruction": "q", "output": "bb"}, {"instruction": "q", "output": "aaa"},
               {"instruction": "q", "output": ""}])
    out = scorer.score(ws, f)
    assert list(out["record_id"]) == ["r0", "r1", "r2", "r3"]
    assert out["score"].tolist()[:3] == [3.0, 2.0, 3.0] and math.isnan(out["score"].iat[3])
    assert out["reason"].tolist() == ["3 chars", "2 chars", "3 chars", "empty output"]
    assert out["chars"].tolist()[:3] == [3.0, 2.0, 3.0]
    assert sorted(scorer.seen) == ["aaa", "bb"]  # the same text twice is scored once; an empty answer never
    assert out.attrs["info"] | {"seconds": 0} == {"scorer": "counting", "cache": out.attrs["info"]["cache"], "records": 4, "scored": 3,
                                                  "computed": 2, "cached": 0, "failed": 0, "empty": 1, "sample": None, "seconds": 0}
    again = Counting().score(ws, f)  # a new process would find the shards on disk
    assert again.attrs["info"]["computed"] == 0 and again.attrs["info"]["cached"] == 3
    pd.testing.assert_frame_equal(again, out, check_like=True)
    other = Counting()
    other.score(ws, f, version=2)  # another configuration: another cache
    assert sorted(other.seen) == ["aaa", "bb"]
    assert len(list((ws.root / "scores").iterdir())) == 2
    identity = json.loads(next((ws.root / "scores").glob("counting-*/identity.json")).read_text())
    assert identity["scorer"] == "counting" and identity["format"] == scorer_base.FORMAT_VERSION


def test_failed_rows_are_not_cached(ws):
    f = frame([{"output": "FAIL here"}, {"output": "fine"}])
    first = Counting().score(ws, f)
    assert first.attrs["info"]["failed"] == 1 and first["reason"].tolist() == ["boom", "4 chars"]
    second = Counting()
    second.score(ws, f)
    assert second.seen == ["FAIL here"]  # asked again; the good one came from the cache


def test_sample_is_seeded_and_in_order(ws):
    f = frame([{"output": "x" * (i + 1)} for i in range(20)])
    a = Counting().score(ws, f, sample=5, seed=3)
    b = Counting().score(ws, f, sample=5, seed=3)
    c = Counting().score(ws, f, sample=5, seed=4)
    assert len(a) == 5 and a["record_id"].tolist() == b["record_id"].tolist() != c["record_id"].tolist()
    assert a["record_id"].tolist() == sorted(a["record_id"], key=lambda r: int(r[1:]))
    assert a.attrs["info"]["sample"] == 5 and b.attrs["info"]["computed"] == 0
    assert len(Counting().score(ws, f, sample=100)) == 20
    with pytest.raises(CurationError, match="at least 1"):
        Counting().score(ws, f, sample=0)


def test_progress_and_cancellation_between_batches(ws):
    f = frame([{"output": "x" * (i + 1)} for i in range(7)])
    calls = []
    Counting().score(ws, f, progress=lambda done, total, what: calls.append((done, total, what)))
    assert calls == [(2, 7, "scoring with counting"), (4, 7, "scoring with counting"), (6, 7, "scoring with counting"),
                     (7, 7, "scoring with counting")]

    g = frame([{"output": "y" * (i + 1)} for i in range(7)])
    asked = []

    def cancel():
        asked.append(1)
        return len(asked) > 2  # cancel before the third batch

    scorer = Counting()
    with pytest.raises(Cancelled, match="after 4 of 7"):
        scorer.score(ws, g, cancel=cancel)
    assert len(scorer.seen) == 4
    resumed = Counting()
    out = resumed.score(ws, g)
    assert len(resumed.seen) == 3 and out.attrs["info"]["cached"] == 4  # the cancelled run's scores were kept


def test_many_shards_are_compacted(ws, monkeypatch):
    monkeypatch.setattr(scorer_base, "FLUSH_ROWS", 1)
    monkeypatch.setattr(scorer_base, "COMPACT_SHARDS", 3)
    f = frame([{"output": "z" * (i + 1)} for i in range(6)])
    first = Counting().score(ws, f)
    folder = next((ws.root / "scores").glob("counting-*"))
    assert len(list(folder.glob("shard-*.parquet"))) == 3  # batches of 2, a shard per batch
    extra = frame([{"output": "w" * (i + 1)} for i in range(2)])
    Counting().score(ws, extra)
    assert len(list(folder.glob("shard-*.parquet"))) == 4
    again = Counting()
    out = again.score(ws, f)
    assert again.seen == [] and out["score"].tolist() == first["score"].tolist()
    assert len(list(folder.glob("shard-*.parquet"))) == 1


def test_a_damaged_shard_is_scored_again(ws):
    f = frame([{"output": "abc"}, {"output": "de"}])
    Counting().score(ws, f)
    shard = next((ws.root / "scores").glob("counting-*/shard-*.parquet"))
    shard.write_bytes(b"PAR1 not really parquet")
    again = Counting()
    out = again.score(ws, f)
    assert sorted(again.seen) == ["abc", "de"] and out["score"].tolist() == [3.0, 2.0] and not shard.exists()


def test_unknown_options_and_names_are_errors():
    with pytest.raises(CurationError, match="no option colour"):
        Counting().resolve({"colour": "red"})
    with pytest.raises(CurationError, match="choose one of reward, judge, ifd, learned"):
        get_scorer("oracle")
    assert all(s.description and s.name == name for name, s in SCORERS.items())


def test_scorer_registry_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SCORERS:
        assert f"`{name}`" in readme, name
    from curation.scorers.judge import RUBRIC

    assert RUBRIC.splitlines()[3] in readme  # the rubric is published


def test_the_registry_imports_no_numpy():
    code = ("import sys, curation.cli; curation.cli.build_parser(); import curation.scorers; "
            "print(sorted(m for m in ('numpy', 'pandas', 'torch', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_combined_keeps_broken_outputs_below_clean_ones():
    quality = np.array([1.0, 1.0, 1.0, 0.0, 0.1, 0.9, 0.4, 0.6])  # clean ×3, empty, refusal, mild flag, truncated, boilerplate
    ranker = np.array([1.0, 2.0, 3.0, 99.0, 98.0, np.nan, 97.0, 0.5])
    score = combined(quality, ranker)
    assert score[2] > score[1] > score[0]  # the ranker orders the records that are not broken
    assert max(score[[3, 4, 6]]) < min(score[[0, 1, 2, 5, 7]])  # broken ones stay below, whatever the ranker says
    assert score[3] == 0.0 and score[6] > score[4]  # among broken ones: the less broken first
    assert score[5] == pytest.approx(0.75)  # not scored: the median rank; a mild flag does not reorder
    assert score[7] < score[0]  # lowest rank, mild flag: last of the records that are not broken
    assert (0 <= score).all() and (score <= 1).all()


def test_distribution():
    d = distribution([1.0, 2.0, np.nan, 3.0, 4.0, 5.0])
    assert d["count"] == 5 and d["min"] == 1.0 and d["p50"] == 3.0 and d["max"] == 5.0 and d["mean"] == 3.0
    assert distribution([np.nan]) == {"count": 0}
