"""`python -m curation score`: JSON shapes, the cost estimate first, one-line errors."""

from __future__ import annotations

import pytest

from curation import decisions, embed
from curation.store import load_records
from tests.curation.scorers.test_judge import Stub
from tests.curation.scorers.test_learned import fake_embedder
from tests.curation.scorers.test_reward import tiny_reward_model
from tests.curation.test_cli import run


@pytest.fixture
def stub():
    s = Stub()
    yield s
    s.close()


def test_score_with_the_judge_prints_the_estimate_first(capsys, ws, records, stub):
    root = str(ws.root)
    code, out, err = run(capsys, "score", "--workspace", root, "--scorer", "judge", "--endpoint", stub.url, "--model", "m",
                         "--price-per-1k", "0.25", "--dry-run", "--json")
    assert code == 0 and stub.requests == []
    est = out["estimate"]
    assert (est["records"], est["to_compute"], est["empty"]) == (6, 5, 1) and est["cost"] > 0 and est["price_per_1k"] == 0.25
    assert err == ""  # the estimate is the output

    code, out, err = run(capsys, "score", "--workspace", root, "--scorer", "judge", "--endpoint", stub.url, "--model", "m",
                         "--concurrency", "2", "--json")
    assert code == 0 and len(stub.requests) == 5
    assert (out["scorer"], out["records"], out["scored"], out["computed"], out["empty"]) == ("judge", 6, 5, 5, 1)
    assert out["distribution"]["count"] == 5 and out["distribution"]["p50"] == 4.0
    assert err.startswith("judge: 6 records, 0 cached, 5 to compute; about ")  # printed before running
    assert "estimated cost 0.0000 at 0.0 per 1k tokens" in err  # no price given: the tokens still show

    code, out, err = run(capsys, "score", "--workspace", root, "--scorer", "judge", "--endpoint", stub.url, "--model", "m",
                         "--sample", "3", "--seed", "1")
    assert code == 0 and out.startswith("judge: 3 of 3 records scored (0 computed, 3 cached") and "p50 4.000" in out


def test_score_with_a_reward_model_by_dataset(capsys, ws, records, tmp_path):
    tiny_reward_model(tmp_path / "rm")
    code, out, _ = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "reward", "--model", str(tmp_path / "rm"),
                       "--dataset", "small", "--batch-size", "2", "--json")
    assert code == 0 and out["computed"] == 5 and out["distribution"]["count"] == 5
    code, _, err = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "reward", "--model", str(tmp_path / "rm"),
                       "--dataset", "other")
    assert code == 1 and err == "error: no records to score: ingest some first\n"


def test_one_line_errors(capsys, ws, records, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", fake_embedder)
    code, _, err = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "learned")
    assert code == 1 and err.startswith("error: the learned scorer learns from your decisions") and err.count("\n") == 1
    code, _, err = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "ifd", "--endpoint", "http://127.0.0.1:9")
    assert code == 1 and err == "error: --endpoint, --api-key-env, --price-per-1k and --concurrency go with --scorer judge\n"
    code, _, err = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "reward")
    assert code == 1 and "needs a model: --model PATH_OR_HUB_ID" in err
    code, _, err = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "judge", "--endpoint", "ftp://x", "--model", "m")
    assert code == 1 and err.startswith("error: bad --endpoint")


def test_learned_from_the_command_line(capsys, ws, tmp_path, monkeypatch):
    from curation.ingest import ingest
    from tests.conftest import write_jsonl

    monkeypatch.setattr(embed, "get_embedder", fake_embedder)
    rows = [{"instruction": f"q{i}", "output": f"{'good' if i % 2 else 'bad'} answer {i}"} for i in range(16)]
    ingest(ws, write_jsonl(tmp_path / "l.jsonl", rows), name="l")
    frame = load_records(ws)
    good = [r for r, o in zip(frame["record_id"], frame["output"]) if o.startswith("good")]
    bad = [r for r, o in zip(frame["record_id"], frame["output"]) if o.startswith("bad")]
    decisions.decide(ws, good[:6], "keep", "manual")
    decisions.decide(ws, bad[:6], "reject", "manual")
    code, out, _ = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "learned", "--json")
    assert code == 0 and out["auc"] == 1.0 and out["trained_on"] == {"keep": 6, "reject": 6}
    assert set(out["uncertain"]) == set(good[6:] + bad[6:])
    code, text, _ = run(capsys, "score", "--workspace", str(ws.root), "--scorer", "learned")
    assert "cross-validated AUC 1.0 (5 folds)" in text and "most uncertain (decide these next): " in text


def test_score_use_makes_the_judge_the_ranker_and_records_sort_by_the_score(capsys, ws, records, stub):
    from curation.scorers.ranked import ScoreSettings

    root = str(ws.root)
    code, out, _ = run(capsys, "records", "--workspace", root, "--sort", "score-desc", "--json")
    assert code == 0 and ScoreSettings.load(ws).ranker == "length"
    words = [len(r["output"].split()) for r in out["records"]]
    assert words[:-1] == sorted(words[:-1], reverse=True) and words[-1] == 0  # longest first; the empty output last
    code, out, _ = run(capsys, "score", "--workspace", root, "--scorer", "judge", "--endpoint", stub.url, "--model", "m",
                       "--use", "--json")
    assert code == 0 and "the `judge` scorer's cached scores" in out["ranker"]
    conf = ScoreSettings.load(ws)
    assert conf.ranker == "judge" and conf.of() == {"endpoint": stub.url, "model": "m"}
    code, out, _ = run(capsys, "records", "--workspace", root, "--sort", "score", "--json")
    assert code == 0 and out["records"][0]["output"] == ""  # worst first: under the gate
    code, out, _ = run(capsys, "score", "--workspace", root, "--scorer", "length")
    assert code != 0
    code, out, _ = run(capsys, "score", "--workspace", root, "--scorer", "length", "--use", "--json")
    assert code == 0 and ScoreSettings.load(ws).ranker == "length"


def test_records_sorted_by_score_carry_it(capsys, ws, records):
    code, out, _ = run(capsys, "records", "--workspace", str(ws.root), "--sort", "score", "--json")
    scores = [r["score"] for r in out["records"]]
    assert code == 0 and scores == sorted(scores) and scores[0] < 0.5 <= scores[1]
    assert out["records"][1]["ranked_by"] == len(out["records"][1]["output"].split())
