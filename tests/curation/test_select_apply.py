"""A selection applied as decisions, undone as one action; protected records left alone; the `select` command."""

from __future__ import annotations

import json

import pytest

from curation import decisions, embed, select
from curation.cli import main
from curation.decontaminate import protect
from curation.ingest import ingest
from curation.store import load_records
from tests.curation.test_map_place import TOPICS, rows, topic_embedder


@pytest.fixture
def topics(ws, tmp_path, monkeypatch):
    """60 records on four topics (a fake model whose neighbours mean something), answers of growing length."""
    monkeypatch.setattr(embed, "get_embedder", topic_embedder)
    data = rows(0, 60)
    for i, r in enumerate(data):
        r["output"] = " ".join(["word"] * (3 + i))  # the length ranker: later records score higher
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(data))
    ingest(ws, path, name="topics")
    return ws


def state(ws) -> dict[str, tuple[str, str]]:
    frame = load_records(ws)
    return dict(zip(frame["record_id"], zip(frame["decision"], frame["reason"].fillna(""))))


def test_a_selection_is_applied_as_decisions_and_undone_as_one_action(topics):
    ws = topics
    pool = select.load_pool(ws)
    assert pool.info["candidate"] == 60 and "cluster" in pool.info["notes"]  # no map: clusters neither limited nor counted
    first = select.plan(pool, 8, "coverage")
    covered = {int(t.split()[1]) % TOPICS for t in pool.frame["instruction"].to_numpy()[first.chosen]}
    assert covered == set(range(TOPICS))
    out = select.apply(ws, first)
    assert out == {"changed": 60, "kept": 8, "rejected": 52}
    after_first = state(ws)
    assert sorted(after_first.values()).count(("keep", "selected:coverage")) == 8
    assert sum(v == ("reject", select.NOT_SELECTED) for v in after_first.values()) == 52
    assert select.last(ws)["strategy"] == "coverage" and select.last(ws)["budget"] == 8

    # The curator keeps one record the selection left out; a second selection replaces the first.
    left_out = next(rid for rid, v in after_first.items() if v[0] == "reject")
    decisions.decide(ws, [left_out], "keep", "manual")
    second = select.plan(select.load_pool(ws), 10, "quality")
    assert left_out in set(second.pool.frame["record_id"].to_numpy()[second.chosen])  # kept: always in
    select.apply(ws, second)
    assert sum(v == ("keep", "selected:quality") for v in state(ws).values()) == 9

    changed = select.undo_last(ws)
    assert changed > 0 and select.last(ws) is None
    undone = state(ws)
    assert undone[left_out] == ("keep", "manual")  # a decision made since the first selection stays
    assert {k: v for k, v in undone.items() if k != left_out} == {k: v for k, v in after_first.items() if k != left_out}

    select.undo_last(ws)  # and the first selection
    assert set(state(ws).values()) == {("undecided", ""), ("keep", "manual")}
    with pytest.raises(Exception, match="no selection to undo"):
        select.undo_last(ws)


def test_protected_records_are_neither_chosen_nor_rejected(topics, tmp_path):
    ws = topics
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(rows(500, 6)))
    ingest(ws, path, name="eval")
    protect(ws, ["eval"])
    pool = select.load_pool(ws)
    assert pool.info["protected"] == 6
    sel = select.plan(pool, 5, "quality")
    select.apply(ws, sel)  # decisions refuse to reject a protected record: none is in the batch
    frame = load_records(ws)
    assert set(frame.loc[frame["dataset"] == "eval", "decision"]) == {"undecided"}
    assert (frame["decision"] == "keep").sum() == 5


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


def test_select_command_previews_applies_and_undoes(topics, capsys):
    ws = str(topics.root)
    code, out, _ = run(capsys, "select", "--workspace", ws, "--n", "6", "--compare", "--cap", "dataset:topics=20", "--json")
    assert code == 0 and out["applied"] is None and out["chosen"] == 6 and out["to_reject"] == 54
    assert [c["strategy"] for c in out["compare"]] == ["quality", "coverage", "random"]
    assert 0 < out["coverage"] <= 1 and out["mix"]["dataset"][0]["chosen"] == 6 and len(out["margin"]) == 10
    assert set(state(topics).values()) == {("undecided", "")}  # a preview decides nothing
    code, out, _ = run(capsys, "select", "--workspace", ws, "--share", "0.1", "--strategy", "random", "--apply", "--json")
    assert code == 0 and out["applied"]["kept"] == 6 and out["applied"]["rejected"] == 54
    code, text, _ = run(capsys, "select", "--workspace", ws, "--undo")
    assert code == 0 and "60 record(s)" in text and set(state(topics).values()) == {("undecided", "")}
    code, text, _ = run(capsys, "select", "--workspace", ws, "--n", "4")
    assert code == 0 and "not applied: 4 would be kept, 56 rejected" in text


@pytest.mark.parametrize("args, message", [
    ([], "--n N or --share S"),
    (["--n", "5", "--cap", "dataset=3"], "BY:GROUP=AMOUNT"),
    (["--n", "5", "--floor", "cluster:1=2"], "no map cached"),
    (["--share", "2"], "--share is between 0 and 1"),
    (["--undo"], "no selection to undo"),
])
def test_select_command_errors_are_one_line(topics, capsys, args, message):
    code, out, err = run(capsys, "select", "--workspace", str(topics.root), "--json", *args)
    assert code == 1 and err.count("\n") == 1 and message in err


def test_clusters_of_the_map_are_limited_and_counted(topics):
    from curation.atlas import build, save_settings
    from curation.select_view import compare, curve, mix

    save_settings(topics, k=TOPICS)
    build(topics, load_records(topics))
    pool = select.load_pool(topics)
    assert "cluster" in pool.frame and "cluster" not in pool.info["notes"] and pool.frame["cluster"].nunique() == TOPICS
    sel = select.plan(pool, 8, "quality", limits=[select.parse_limit("cluster:*=2", "cap")])
    assert mix(sel, "cluster")["chosen"].tolist() == [2] * TOPICS and "label" in mix(sel, "cluster")
    assert compare(pool, [sel])["clusters"].iloc[0] == 1.0 and curve(sel)["clusters"].iloc[-1] == 1.0
    assert set(pool.frame["language"]) <= {"en", "unknown"}  # the language signal's code, a group to limit by
