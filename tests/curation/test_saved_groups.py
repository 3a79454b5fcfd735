"""The duplicate groups dedup saves for the export (curation/dedup/saved_groups.py, issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import annotated, dedup
from curation.cli import main as cli
from curation.decisions import decide
from curation.decontaminate import protect
from curation.dedup import saved_groups
from curation.export import Options, export
from curation.ingest import ingest
from curation.store import load_records
from tests.conftest import write_jsonl

TOPICS = ("harbours", "caravans", "orchards", "beacons", "glaciers", "lichens")
ROWS = [{"instruction": f"Describe {w} briefly", "output": f"About {w}."}
        for w in ("rivers", "stars", "bread", "jazz", "tides", "comets", "yeast", "violins", "pumice", "sonnets")]
ROWS += [{"instruction": text, "output": "An answer."} for topic in TOPICS
         for text in (f"Explain how {topic} shape our world and culture", f"Explain how {topic} shape our world and our culture",
                      f"Please explain how {topic} shape our world and culture")]


@pytest.fixture
def grouped(ws, tmp_path):
    """A workspace of distinct records and groups of near copies, with signals and then dedup run from the command line
    (the real default model): dedup saves the groups (keyed on the signals: the rule chooses by quality)."""
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", ROWS)), name="a")
    assert cli(["signals", "--workspace", str(ws.root), "--json"]) == 0
    assert cli(["dedup", "--workspace", str(ws.root), "--threshold", "0.8", "--json"]) == 0
    return ws


@pytest.fixture
def finds(monkeypatch):
    """Counts the finds the export makes (the groups found again from the cached pairs)."""
    calls = []
    real = annotated.find_duplicates

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(annotated, "find_duplicates", counted)
    return calls


@pytest.fixture
def export_groups(monkeypatch):
    """Exports into a folder; returns (the manifest's duplicate_groups, dup_group per record id as the export used it)."""
    from curation.export import write

    seen = []
    real = write.duplicate_groups

    def spied(ws, frame, taken):
        groups, info = real(ws, frame, taken)
        seen.append(dict(zip(frame["record_id"], groups.astype(object).where(groups.notna(), None))))
        return groups, info

    monkeypatch.setattr(write, "duplicate_groups", spied)

    def run(ws, out) -> tuple[dict, dict]:
        export(ws, out, Options(similarity=False))
        return json.loads((out / "manifest.json").read_text())["duplicate_groups"], seen[-1]

    return run


def found_groups(ws) -> dict:
    """dup_group per record id, found now from the cached pairs."""
    table = dedup.find(ws, compute=False).table
    return dict(zip(table["record_id"], table["dup_group"].astype(object).where(table["dup_group"].notna(), None)))


def test_the_export_reads_the_groups_dedup_saved_instead_of_finding_them_again(grouped, finds, export_groups, tmp_path):
    info, groups = export_groups(grouped, tmp_path / "out")
    assert finds == []  # the saved groups answered
    assert len(groups) == len(ROWS) and groups == found_groups(grouped)
    assert sum(g is not None for g in groups.values()) == 3 * len(TOPICS)
    assert info == {"method": "embedding", "threshold": 0.8, "text": "prompt", "groups": len(TOPICS), "note": None}


def test_dedup_apply_keeps_them_and_a_curator_decision_finds_them_again(grouped, finds, export_groups, tmp_path):
    assert cli(["dedup", "--workspace", str(grouped.root), "--apply", "--json"]) == 0  # its own rejections: same groups
    export_groups(grouped, tmp_path / "one")
    assert finds == []
    table = dedup.find(grouped, compute=False).table
    member = table[(table["representative"] == False) & table["dup_group"].notna()]["record_id"].iloc[0]  # noqa: E712
    decide(grouped, [member], "keep", reason="the better wording")  # a curator's keep: it represents its group now
    _, groups = export_groups(grouped, tmp_path / "two")
    assert len(finds) == 1 and groups == found_groups(grouped)
    export_groups(grouped, tmp_path / "three")  # saved by the export that found them
    assert len(finds) == 1


@pytest.mark.parametrize("change", ["protect", "records", "settings"])
def test_what_the_groups_depend_on_finds_them_again(grouped, finds, export_groups, tmp_path, change):
    if change == "protect":
        ingest(grouped, str(write_jsonl(tmp_path / "eval.jsonl", ROWS[-3:])), name="eval")
        assert cli(["signals", "--workspace", str(grouped.root), "--json"]) == 0
        assert cli(["dedup", "--workspace", str(grouped.root), "--json"]) == 0
        export_groups(grouped, tmp_path / "first")
        assert finds == []
        protect(grouped, ["eval"])  # its records represent their groups now
    elif change == "records":  # new records: their pairs are not cached, so only exact copies are grouped
        ingest(grouped, str(write_jsonl(tmp_path / "b.jsonl", [{"instruction": "Name a colour", "output": "Red."}])), name="b")
    else:
        dedup.save_settings(grouped, threshold=0.95)
    info, groups = export_groups(grouped, tmp_path / "out")
    assert len(finds) == 1
    if change == "records":
        assert info["method"] == "exact" and "run dedup first" in info["note"]
    else:
        assert info["note"] is None and groups == found_groups(grouped)


def test_a_damaged_saved_file_is_found_again_and_written_anew(grouped, finds, export_groups, tmp_path):
    (saved,) = (grouped.root / saved_groups.FOLDER).glob("*.parquet")
    saved.write_bytes(b"not parquet")
    _, groups = export_groups(grouped, tmp_path / "out")
    assert len(finds) == 1 and groups == found_groups(grouped)
    assert saved_groups.load(grouped, saved.stem, load_records(grouped)["record_id"].to_numpy(object)) is not None


def test_only_the_newest_saved_files_stay_and_nothing_else_is_removed(ws):
    ids = np.array(["a", "b"], dtype=object)
    folder = ws.root / saved_groups.FOLDER
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    names = [f"{i:024x}" for i in range(saved_groups.KEEP + 2)]
    for i, name in enumerate(names):
        saved_groups.save(ws, name, ids, [1, None], {"groups": 1})
        stamp = 1_000_000_000 + i
        import os

        os.utime(folder / f"{name}.parquet", (stamp, stamp))
    saved_groups.prune(folder)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(["notes.txt", *(f"{n}.parquet" for n in names[-saved_groups.KEEP:])])
    groups, info = saved_groups.load(ws, names[-1], ids)
    assert list(groups.astype(object).where(groups.notna(), None)) == [1, None] and info == {"groups": 1}
    assert saved_groups.load(ws, names[-1], np.array(["b", "a"], dtype=object)) is None  # other records, other order
