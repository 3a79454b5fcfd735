"""Decisions: latest wins, undo pops a stack, idempotent, crash- and concurrency-safe."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from curation import decisions
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import dataset_sizes, load_records
from curation.workspace import Workspace
from tests.conftest import write_jsonl


@pytest.fixture
def ids(ws, tmp_path) -> list[str]:
    rows = [{"instruction": f"Q{i}", "output": f"A{i}"} for i in range(6)]
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows), name="d")
    return list(load_records(ws)["record_id"])


def state_of(ws, rid):
    frame = load_records(ws)
    row = frame[frame.record_id == rid].iloc[0]
    return row["decision"], (row["reason"] if row["decision"] != "undecided" else None)


def test_latest_decision_wins_and_undo_restores_each_previous_state(ws, ids):
    rid = ids[0]
    assert decisions.decide(ws, [rid], "reject", "low_quality") == 1
    assert decisions.decide(ws, [rid], "keep", "manual") == 1
    assert state_of(ws, rid) == ("keep", "manual")
    assert decisions.undo(ws, [rid]) == 1
    assert state_of(ws, rid) == ("reject", "low_quality")
    assert decisions.undo(ws, [rid]) == 1
    assert state_of(ws, rid) == ("undecided", None)
    assert decisions.undo(ws, [rid]) == 0
    actions = [e["action"] for e in decisions.history(ws, rid)]
    assert actions == ["reject", "keep", "undo", "undo"]


def test_deciding_twice_changes_nothing(ws, ids):
    assert decisions.decide(ws, ids[:3], "reject", "manual") == 3
    assert decisions.decide(ws, ids[:3], "reject", "manual") == 0
    assert len(decisions.history(ws, ids[0])) == 1


def test_counts_per_dataset_and_by_reason(ws, ids):
    decisions.decide(ws, ids[:2], "reject", "pii")
    decisions.decide(ws, ids[2:3], "keep", "manual")
    per = decisions.counts(ws, dataset_sizes(ws))
    assert per == {"d": {"keep": 1, "reject": 2, "undecided": 3}}
    assert decisions.by_reason(ws) == {"pii": 2, "manual": 1}


def test_bad_decisions_are_clear_errors(ws, ids):
    with pytest.raises(CurationError, match="unknown record id"):
        decisions.decide(ws, ["nope"], "keep", "manual")
    with pytest.raises(CurationError, match="needs a reason"):
        decisions.decide(ws, ids[:1], "keep", " ")
    with pytest.raises(CurationError, match="keep or reject"):
        decisions.decide(ws, ids[:1], "maybe", "manual")


def test_a_failed_bulk_decision_writes_nothing(ws, ids):
    with pytest.raises(CurationError):
        decisions.decide(ws, [*ids[:3], "missing"], "reject", "manual")
    assert set(load_records(ws)["decision"]) == {"undecided"}


def test_decisions_survive_a_new_process_and_the_database_is_wal(ws, ids):
    decisions.decide(ws, ids[:2], "reject", "manual")
    again = Workspace(ws.root)
    assert (load_records(again)["decision"] == "reject").sum() == 2
    assert again.query("PRAGMA journal_mode")[0][0] == "wal"


def _decide_many(root: str, ids: list[str], decision: str, n: int) -> None:
    ws = Workspace(root)
    index = {i: "d" for i in ids}
    for k in range(n):
        decisions.decide(ws, [ids[k % len(ids)]], decision, f"{decision}-{k}", curator=decision, index=index)


def test_two_processes_deciding_at_once_lose_nothing(ws, ids):
    ctx = multiprocessing.get_context("spawn")
    n = 60
    procs = [ctx.Process(target=_decide_many, args=(str(ws.root), ids, d, n)) for d in ("keep", "reject")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert ws.query("SELECT count(*) FROM log")[0][0] == 2 * n
    assert ws.query("PRAGMA integrity_check")[0][0] == "ok"
    # The current state of each record is its last logged decision.
    last = dict(ws.query("SELECT record_id, reason FROM log WHERE seq IN (SELECT max(seq) FROM log GROUP BY record_id)"))
    assert dict(ws.query("SELECT record_id, reason FROM state")) == last


def test_a_crash_mid_transaction_leaves_the_previous_state(ws, ids):
    decisions.decide(ws, ids[:1], "keep", "manual")
    with pytest.raises(RuntimeError):
        with ws.transaction() as conn:
            conn.execute("DELETE FROM state")
            raise RuntimeError("crash")
    assert state_of(ws, ids[0]) == ("keep", "manual")
    conn = sqlite3.connect(ws.db_path)
    assert conn.execute("SELECT count(*) FROM state").fetchone()[0] == 1


def test_counts_leave_out_decisions_of_records_that_no_longer_exist(ws, ids, tmp_path):
    from curation.doctor import doctor
    from curation.query import stats

    other = write_jsonl(tmp_path / "e.jsonl", [{"instruction": "Qe", "output": "Ae"}])
    ingest(ws, other, name="e")
    gone = next(r for r in load_records(ws)["record_id"] if r not in ids)
    decisions.decide(ws, [gone], "keep", "manual")
    decisions.decide(ws, ids[:2], "reject", "low_quality")
    [part] = ws.parts("e")
    part.write_bytes(part.read_bytes()[:100])
    doctor(ws.root)  # quarantines e's part: its record and its decision's record are gone
    out = stats(ws)
    assert out["records"] == 6 and out["decisions"] == {"keep": 0, "reject": 2, "undecided": 4}
    assert out["by_reason"] == {"low_quality": 2} and out["per_dataset"]["d"] == {"keep": 0, "reject": 2, "undecided": 4}
    assert decisions.totals(decisions.counts(ws, dataset_sizes(ws))) == {"keep": 0, "reject": 2, "undecided": 4}
    assert decisions.by_reason(ws) == {"low_quality": 2}
    ingest(ws, other, name="e")  # the record is back: so is its decision
    assert stats(ws)["decisions"] == {"keep": 1, "reject": 2, "undecided": 4}
