"""The shipped demo dataset: regenerable, varied, and its planted list is accurate."""

from __future__ import annotations

import json
from collections import Counter

from curation.demo import DEMO_PATH, PLANTED_PATH, load_demo, planted
from curation.demo.generate import write
from curation.store import load_records


def rows() -> list[dict]:
    return [json.loads(line) for line in DEMO_PATH.read_text(encoding="utf-8").splitlines()]


def test_shipped_files_match_the_generator(tmp_path):
    write(tmp_path)
    assert (tmp_path / "demo.jsonl").read_bytes() == DEMO_PATH.read_bytes()
    assert (tmp_path / "planted.json").read_bytes() == PLANTED_PATH.read_bytes()


def test_demo_covers_topics_task_types_and_sources():
    data = rows()
    assert 200 <= len(data) <= 500
    topics = Counter(r["topic"] for r in data if r["topic"] != "misc")
    assert len(topics) >= 8 and min(topics.values()) >= 10
    assert {"open_qa", "brainstorming", "classification", "extraction", "rewriting", "code", "math", "multi_turn_chat"} <= {
        r["task_type"] for r in data}
    assert {"human", "synthetic"} <= {r["source"] for r in data}


def test_planted_problems_are_really_there():
    by_id = {r["demo_id"]: r for r in rows()}
    p = planted()
    assert all(not by_id[i]["output"].strip() for i in p["empty_output"])
    assert all(len(by_id[i]["output"].split()) == 1 for i in p["one_word_output"])
    assert all("sorry" in by_id[i]["output"].lower() for i in p["refusal"])
    assert all(by_id[i]["input"] for i in p["placeholder_input"])
    assert all("@" in by_id[i]["output"] or "555" in by_id[i]["output"] for i in p["pii"])
    assert any("<script>" in by_id[i]["output"] for i in p["html"])
    for a, b in p["exact_duplicate"]:
        strip = lambda r: {k: v for k, v in r.items() if k != "demo_id"}  # noqa: E731
        assert strip(by_id[a]) == strip(by_id[b])
    for a, b in p["near_duplicate"]:
        assert by_id[a]["instruction"] != by_id[b]["instruction"] and by_id[a]["topic"] == by_id[b]["topic"]
    assert set(p["clean"]).isdisjoint({i for k, v in p.items() if k != "clean" for x in v for i in (x if isinstance(x, list) else [x])})


def test_demo_loads_completely_with_both_formats(ws):
    result = load_demo(ws)
    assert result["added"] == len(rows()) and not result["errors"]
    frame = load_records(ws)
    assert {"alpaca", "sharegpt"} == set(frame["format"])
    assert load_demo(ws)["added"] == 0
