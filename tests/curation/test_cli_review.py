"""The review commands (issue 17): edit, remove, curators, and the review filters of records."""

from __future__ import annotations

import pytest

from curation.cli import main
from tests.conftest import write_jsonl
from tests.curation.test_cli import run


@pytest.fixture
def ws(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    root = str(tmp_path / "ws")
    rows = [{"instruction": f"Question {i}?", "output": f"Answer {i}.<|endoftext|>"} for i in range(3)]
    rows += [{"instruction": f"Other {i}?", "output": f"Fine answer {i}."} for i in range(3)]
    assert main(["ingest", str(write_jsonl(tmp_path / "main.jsonl", rows)), "--workspace", root, "--json"]) == 0
    assert main(["ingest", str(write_jsonl(tmp_path / "extra.jsonl", rows[:2])), "--name", "extra", "--workspace", root,
                 "--json"]) == 0
    capsys.readouterr()
    return root


def ids_of(capsys, ws, *filters) -> list[str]:
    code, out, err = run(capsys, "records", "--workspace", ws, "--json", "--limit", "100", *filters)
    assert code == 0, err
    return sorted(r["record_id"] for r in out["records"])


def test_edit_history_revert(capsys, ws):
    rid = ids_of(capsys, ws, "--search", "Other 0?", "--dataset", "main")[0]
    code, out, _ = run(capsys, "edit", rid, "--field", "output", "--text", "Better answer.", "--curator", "ana",
                       "--workspace", ws, "--json")
    assert code == 0 and out == {"record_id": rid, "version": 1}
    code, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--search", "Better answer.")
    assert out["total"] == 1 and out["records"][0]["edited"] is True and out["records"][0]["edit_version"] == 1
    code, out, _ = run(capsys, "edit", rid, "--history", "--workspace", ws, "--json")
    assert [v["version"] for v in out["versions"]] == [0, 1] and out["versions"][1]["curator"] == "ana"
    code, out, _ = run(capsys, "edit", rid, "--revert", "--workspace", ws, "--json")
    assert code == 0 and out["reverted"] == 1 and out["version"] == 2
    code, text, _ = run(capsys, "edit", rid, "--history", "--workspace", ws)
    assert "v1 by ana" in text and "v2 by anonymous (revert:1)" in text


def test_edit_errors_are_one_line(capsys, ws):
    rid = ids_of(capsys, ws, "--search", "Other 0?", "--dataset", "main")[0]
    for args, message in ((["edit", rid, "--field", "answer", "--text", "x"], "unknown field 'answer'"),
                          (["edit", "nope", "--field", "output", "--text", "x"], "unknown record id"),
                          (["edit", rid, "--field", "output"], "needs --field FIELD and --text"),
                          (["edit", "--fix", "nope"], "unknown fix 'nope'"),
                          (["edit", rid, "--revert"], "no edit")):
        code, out, err = run(capsys, *args, "--workspace", ws)
        assert code == 1 and out == "" and err.count("\n") == 1 and message in err, (args, err)


def test_edit_text_file(capsys, ws, tmp_path):
    rid = ids_of(capsys, ws, "--search", "Other 1?", "--dataset", "main")[0]
    (tmp_path / "new.txt").write_text("Line one.\nLine two.", encoding="utf-8")
    code, _, _ = run(capsys, "edit", rid, "--field", "output", "--text-file", str(tmp_path / "new.txt"), "--workspace", ws, "--json")
    assert code == 0
    assert ids_of(capsys, ws, "--search", "Line two.") == [rid]


def test_bulk_fix_by_flag_dry_run_then_for_real(capsys, ws):
    code, out, _ = run(capsys, "edit", "--fix", "strip_end_marker", "--flag", "end_marker", "--dry-run", "--workspace", ws, "--json")
    assert code == 0 and out["matched"] == 5 and out["changed"] == 5 and out["dry_run"]
    assert ids_of(capsys, ws, "--edited") == []
    marked = ids_of(capsys, ws, "--flag", "end_marker")
    assert len(marked) == 5
    code, out, _ = run(capsys, "edit", "--fix", "strip_end_marker", "--flag", "end_marker", "--curator", "bob",
                       "--workspace", ws, "--json")
    assert code == 0 and out["changed"] == 5
    assert ids_of(capsys, ws, "--edited") == marked
    assert ids_of(capsys, ws, "--flag", "end_marker") == []  # signals recomputed on the edited text
    assert len(ids_of(capsys, ws, "--not-edited")) == 3


def test_bulk_fix_on_ids_with_a_value(capsys, ws, tmp_path):
    rid = ids_of(capsys, ws, "--search", "Other 2?", "--dataset", "main")[0]
    run(capsys, "edit", rid, "--field", "output", "--text", "Dear {{name}}, hi.", "--workspace", ws, "--json")
    code, out, _ = run(capsys, "edit", "--fix", "fill_placeholder", "--ids", rid, "--value", "name=Sam", "--workspace", ws, "--json")
    assert code == 0 and out["changed"] == 1 and out["sample"][0]["after"] == "Dear Sam, hi."


def test_remove_needs_yes_then_restore_and_list(capsys, ws):
    code, out, err = run(capsys, "remove", "extra", "--workspace", ws, "--json")
    assert code != 0 and out["removed"] is False and out["records"] == 2 and "--yes" in err
    assert set(run(capsys, "stats", "--workspace", ws, "--json")[1]["datasets"]) == {"main", "extra"}  # nothing happened
    code, text, err = run(capsys, "remove", "extra", "--workspace", ws)
    assert code != 0 and "would remove extra: 2 records" in text
    code, text, _ = run(capsys, "remove", "extra", "--yes", "--curator", "ana", "--workspace", ws)
    assert code == 0 and text.startswith("removed extra: 2 records") and "remove --restore extra" in text
    code, out, _ = run(capsys, "remove", "extra", "--restore", "--workspace", ws, "--json")
    code, out, _ = run(capsys, "remove", "extra", "--yes", "--curator", "ana", "--workspace", ws, "--json")
    assert code == 0 and out["removed"] and out["curator"] == "ana"
    assert set(run(capsys, "stats", "--workspace", ws, "--json")[1]["datasets"]) == {"main"}
    code, out, _ = run(capsys, "remove", "--list", "--workspace", ws, "--json")
    assert [r["dataset"] for r in out["removed"]] == ["extra"] and out["window_days"] == 7
    code, out, _ = run(capsys, "remove", "extra", "--restore", "--workspace", ws, "--json")
    assert code == 0 and out["restored"] and out["records"] == 2
    assert set(run(capsys, "stats", "--workspace", ws, "--json")[1]["datasets"]) == {"main", "extra"}


def test_remove_purge(capsys, ws):
    run(capsys, "remove", "extra", "--yes", "--workspace", ws, "--json")
    code, out, _ = run(capsys, "remove", "--purge", "--workspace", ws, "--json")
    assert code == 0 and out["purged"] == []  # inside the 7-day window
    code, out, err = run(capsys, "remove", "--purge", "--all", "--workspace", ws, "--json")
    assert code != 0 and [r["dataset"] for r in out["would_purge"]] == ["extra"] and "--yes" in err
    code, out, _ = run(capsys, "remove", "--purge", "--all", "--yes", "--workspace", ws, "--json")
    assert code == 0 and [p["dataset"] for p in out["purged"]] == ["extra"]
    code, _, err = run(capsys, "remove", "extra", "--restore", "--workspace", ws)
    assert code == 1 and "no removed dataset" in err


def test_remove_protected_needs_force(capsys, ws):
    assert run(capsys, "decontaminate", "--protect", "extra", "--no-embedding", "--workspace", ws, "--json")[0] == 0
    code, _, err = run(capsys, "remove", "extra", "--yes", "--workspace", ws)
    assert code == 1 and "protected evaluation set" in err and "--force" in err
    code, out, _ = run(capsys, "remove", "extra", "--yes", "--force", "--workspace", ws, "--json")
    assert code == 0 and out["protected"] is True


def test_curators_and_curator_filter(capsys, ws, monkeypatch):
    ids = ids_of(capsys, ws, "--dataset", "main")
    run(capsys, "decide", "--reject", "--reason", "manual", "--ids", *ids[:3], "--curator", "ana", "--workspace", ws, "--json")
    monkeypatch.setenv("CURATION_CURATOR", "bob")
    run(capsys, "decide", "--reject", "--reason", "manual", "--ids", *ids[:2], "--workspace", ws, "--json")
    run(capsys, "decide", "--keep", "--reason", "manual", "--ids", ids[2], "--workspace", ws, "--json")
    assert ids_of(capsys, ws, "--curator", "bob") == ids[:3]
    assert ids_of(capsys, ws, "--curator", "ana") == []  # bob's decisions are the current ones now
    code, out, _ = run(capsys, "curators", "--agreement", "ana", "bob", "--workspace", ws, "--json")
    assert code == 0 and out["default"] == "bob"
    assert {c["curator"]: c["decisions"] for c in out["curators"]} == {"ana": 3, "bob": 3}
    a = out["agreement"]
    assert a["n"] == 3 and a["agreement"] == pytest.approx(2 / 3) and a["disagree"] == [ids[2]]
    code, text, _ = run(capsys, "curators", "--workspace", ws)
    assert "ana: 3 decisions" in text and "$CURATION_CURATOR" in text
    code, _, err = run(capsys, "curators", "--agreement", "ana", "zed", "--workspace", ws)
    assert code == 1 and "no decisions by 'zed'" in err


def test_default_curator_is_not_the_os_user(capsys, ws):
    rid = ids_of(capsys, ws, "--dataset", "main")[0]
    run(capsys, "decide", "--reject", "--reason", "manual", "--ids", rid, "--workspace", ws, "--json")
    code, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--decision", "reject")
    assert out["records"][0]["curator"] == "anonymous"


def test_reason_prefix_filter(capsys, ws):
    ids = ids_of(capsys, ws, "--dataset", "main")
    run(capsys, "decide", "--reject", "--reason", f"near_duplicate_of:{ids[0]}", "--ids", ids[1], "--workspace", ws, "--json")
    run(capsys, "decide", "--reject", "--reason", f"near_duplicate_of:{ids[3]}", "--ids", ids[2], "--workspace", ws, "--json")
    run(capsys, "decide", "--reject", "--reason", "manual", "--ids", ids[4], "--workspace", ws, "--json")
    assert ids_of(capsys, ws, "--reason", "near_duplicate_of") == sorted(ids[1:3])
    assert ids_of(capsys, ws, "--reason", "near_duplicate_of", "--reason", "manual") == sorted(ids[1:3] + [ids[4]])
    assert ids_of(capsys, ws, "--reason", "manual") == [ids[4]]


def test_dup_group_filter_needs_dedup(capsys, ws):
    code, _, err = run(capsys, "records", "--dup-group", "0", "--workspace", ws)
    assert code == 1 and "dedup" in err
    assert run(capsys, "dedup", "--method", "exact", "--workspace", ws, "--json")[0] == 0
    _, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--limit", "100")
    groups = {r["dup_group"] for r in out["records"] if r["dup_group"] is not None}
    assert groups  # extra copies two records of main
    group = sorted(groups)[0]
    members = sorted(r["record_id"] for r in out["records"] if r["dup_group"] == group)
    assert len(members) == 2 and ids_of(capsys, ws, "--dup-group", str(group)) == members
