"""Issue 18: a big file is converted and stored a slice at a time (a part per slice), with the same records."""

from __future__ import annotations

import json

from curation import ingest as ingest_module
from curation.ingest import ingest
from curation.store import read_records
from curation.workspace import Workspace


def _write(path, n, source=None):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            row = {"prompt": f"question {i}", "completion": f"answer {i}"}
            if source:
                row["source"] = source
            f.write(json.dumps(row) + "\n")
    return path


def test_big_file_is_stored_in_slices_with_the_same_records(tmp_path, monkeypatch):
    data = _write(tmp_path / "d.jsonl", 10)
    whole = Workspace(tmp_path / "whole")
    ingest(whole, data, name="d")
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 3)
    sliced = Workspace(tmp_path / "sliced")
    got = ingest(sliced, data, name="d")
    assert got["added"] == 10 and got["skipped"] == 0
    assert len(sliced.parts("d")) == 4  # 3 + 3 + 3 + 1 rows: a part each, never one list of the whole file
    assert len(whole.parts("d")) == 1
    a, b = read_records(whole), read_records(sliced)
    assert list(a["record_id"]) == list(b["record_id"])
    assert list(a["instruction"]) == list(b["instruction"])
    again = ingest(sliced, data, name="d")
    assert again["added"] == 0 and again["skipped"] == 10


def test_records_to_redact_wait_for_the_files_one_redactor(tmp_path, monkeypatch):
    data = _write(tmp_path / "e.jsonl", 7, source="external")
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 3)
    ws = Workspace(tmp_path / "ws")
    got = ingest(ws, data, name="e")
    assert got["added"] == 7
    assert len(ws.parts("e")) == 1
