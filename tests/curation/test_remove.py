"""Removing a dataset (issue 17): everything to the trash, restored exactly, purged only from the trash."""

from __future__ import annotations

import hashlib
import json

import pytest

from curation import decisions, edits, remove
from curation.annotated import annotate, stamps
from curation.doctor import doctor
from curation.errors import CurationError
from curation.ingest import ingest
from curation.query import stats
from curation.store import load_records
from tests.conftest import write_jsonl


def rows(n, prefix):
    return [{"instruction": f"{prefix} question {i}?", "output": f"{prefix} answer {i}.<|endoftext|>"} for i in range(n)]


@pytest.fixture
def filled(ws, tmp_path):
    sources = {}
    for name, n in (("alpha", 6), ("beta", 4)):
        sources[name] = write_jsonl(tmp_path / f"{name}.jsonl", rows(n, name))
        ingest(ws, sources[name], name=name)
    annotate(ws, compute=("signals",))
    frame = load_records(ws)
    alpha = sorted(frame.loc[frame["dataset"] == "alpha", "record_id"])
    beta = sorted(frame.loc[frame["dataset"] == "beta", "record_id"])
    decisions.decide(ws, alpha[:2], "reject", "manual", curator="ana")
    decisions.decide(ws, alpha[:1], "keep", "second_look", curator="bob")
    decisions.decide(ws, beta[:1], "reject", "manual", curator="ana")
    edits.edit(ws, alpha[3], {"output": "edited alpha"}, curator="ana")
    edits.edit(ws, beta[2], {"output": "edited beta"}, curator="bob")
    return {"sources": sources, "alpha": alpha, "beta": beta}


def snapshot(ws):
    """Everything a removal must bring back: records as read, decisions, audit log, edits, counts, files."""
    db = {t: ws.query(f"SELECT * FROM {t} ORDER BY 1") for t in ("datasets", "parts", "ingests", "state", "log", "edits")}
    files = {p.relative_to(ws.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in ws.root.rglob("*") if p.is_file() and p.parts[-2] != "locks" and not p.name.startswith("curation.db")}
    frame = load_records(ws).sort_values("record_id").reset_index(drop=True)
    return {"db": db, "files": files, "records": frame.astype(str).to_dict("records"), "stats": stats(ws),
            "edited": edits.edited_ids(ws), "datasets": ws.datasets()}


def test_remove_then_restore_is_an_exact_round_trip(ws, filled):
    before = snapshot(ws)
    source_bytes = filled["sources"]["alpha"].read_bytes()
    plan = remove.plan_removal(ws, "alpha")
    assert plan["records"] == 6 and plan["decisions"] == 2 and plan["log_entries"] == 3 and plan["edits"] == 1
    assert snapshot(ws) == before  # a plan changes nothing
    out = remove.remove_dataset(ws, "alpha", curator="ana")
    assert out["removed"] and out["curator"] == "ana"
    gone = snapshot(ws)
    assert gone["datasets"] == ["beta"] and set(gone["stats"]["datasets"]) == {"beta"}
    assert gone["stats"]["records"] == 4 and gone["stats"]["decisions"] == {"keep": 0, "reject": 1, "undecided": 3}
    assert not any(r["dataset"] == "alpha" for r in gone["records"])
    assert gone["edited"] == {filled["beta"][2]}
    assert all(row[1] != "alpha" for row in gone["db"]["log"]) and all(row[2] != "alpha" for row in gone["db"]["edits"])
    assert not any(path.startswith("records/alpha") for path in gone["files"])
    assert filled["sources"]["alpha"].read_bytes() == source_bytes  # the source file is never touched
    [listed] = remove.removed_datasets(ws)
    assert listed["dataset"] == "alpha" and listed["curator"] == "ana" and listed["records"] == 6
    assert listed["restorable_until"] == pytest.approx(listed["removed_at"] + remove.WINDOW)
    back = remove.restore_dataset(ws, "alpha")
    assert back["restored"] and back["records"] == 6
    assert snapshot(ws) == before
    assert remove.removed_datasets(ws) == [] and not (ws.root / "trash").exists()


def test_nothing_shows_a_ghost_and_doctor_leaves_the_trash_alone(ws, filled):
    remove.remove_dataset(ws, "alpha")
    assert "alpha" not in ws.datasets()
    frame = annotate(ws, compute=("signals",))
    assert set(frame["dataset"]) == {"beta"} and len(frame) == 4
    report = doctor(ws.root)
    assert report["action"] == [] and report["lost"] == [] and report["parts"]["quarantined"] == []
    assert report["reingest"] == []
    assert "alpha" not in ws.datasets()  # doctor did not register the trashed parts again
    assert remove.restore_dataset(ws, "alpha")["records"] == 6
    assert len(load_records(ws)) == 10


def test_stamps_change_on_removal_and_restore(ws, filled):
    first = stamps(ws)
    remove.remove_dataset(ws, "alpha")
    removed = stamps(ws)
    assert removed["records"] != first["records"] and removed["decisions"] != first["decisions"]
    remove.restore_dataset(ws, "alpha")
    assert stamps(ws)["records"] != removed["records"]


def test_purge_deletes_only_the_trash_after_the_window(ws, filled):
    out = remove.remove_dataset(ws, "alpha")
    trash = ws.root / out["trash"]
    assert trash.is_dir()
    assert remove.purge(ws) == []  # inside the window: kept
    assert trash.is_dir()
    purged = remove.purge(ws, now=out["restorable_until"] + 1)
    assert [p["dataset"] for p in purged] == ["alpha"]
    assert not trash.exists() and remove.removed_datasets(ws) == []
    assert ws.query("SELECT count(*) FROM removed_rows")[0][0] == 0
    assert filled["sources"]["alpha"].exists() and len(load_records(ws)) == 4  # sources and the other dataset stay
    with pytest.raises(CurationError, match="no removed dataset"):
        remove.restore_dataset(ws, "alpha")


def test_purge_on_demand_by_name_or_everything(ws, filled):
    remove.remove_dataset(ws, "alpha")
    remove.remove_dataset(ws, "beta")
    assert [p["dataset"] for p in remove.purge(ws, name="beta")] == ["beta"]
    assert [r["dataset"] for r in remove.removed_datasets(ws)] == ["alpha"]
    assert [p["dataset"] for p in remove.purge(ws, everything=True)] == ["alpha"]
    assert not (ws.root / "trash").exists()


def test_a_protected_dataset_is_removed_only_with_force_and_restored_protected(ws, filled):
    from curation.decontaminate import protect, protected_datasets

    protect(ws, ["beta"])
    with pytest.raises(CurationError, match="protected evaluation set.*force"):
        remove.remove_dataset(ws, "beta")
    assert "beta" in ws.datasets()
    remove.remove_dataset(ws, "beta", force=True)
    assert protected_datasets(ws) == ()
    remove.restore_dataset(ws, "beta")
    assert protected_datasets(ws) == ("beta",)


def test_errors_unknown_already_removed_and_exists_again(ws, filled, tmp_path):
    with pytest.raises(CurationError, match="no dataset named 'nope'.*alpha"):
        remove.remove_dataset(ws, "nope")
    remove.remove_dataset(ws, "alpha")
    with pytest.raises(CurationError, match="already removed.*--restore alpha"):
        remove.remove_dataset(ws, "alpha")
    ingest(ws, filled["sources"]["alpha"], name="alpha")  # a new load under the same name
    with pytest.raises(CurationError, match="exists again"):
        remove.restore_dataset(ws, "alpha")
    assert len(remove.removed_datasets(ws)) == 1


def test_the_manifest_lists_every_moved_file(ws, filled):
    out = remove.remove_dataset(ws, "alpha")
    manifest = json.loads((ws.root / out["trash"] / "manifest.json").read_text())
    assert manifest["dataset"] == "alpha" and manifest["counts"]["records"] == 6
    for original, trashed in manifest["files"]:
        assert not (ws.root / original).exists() and (ws.root / trashed).is_file()
    assert any(o.startswith("signals/") for o, _ in manifest["files"])  # the signals cached for its parts went too
