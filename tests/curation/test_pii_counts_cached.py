"""Issue 18: the Records page's redaction counts per source file come from a table of the redacted records made once
per records (`redacted_records`), not from every record's meta on each rerun; the counts are the same."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation import pii
from curation.ingest import ingest
from curation.pii import redacted_records, redactions_per_source
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import write_jsonl


def redacted_workspace(tmp_path) -> pd.DataFrame:
    """Three files: two external (redacted, one with a record of no personal data), one human (not redacted)."""
    ws = Workspace(tmp_path / "ws")
    rows = [{"instruction": "Hi, my name is Sarah Jones, email sarah.jones@example.com", "output": "Thanks Sarah."},
            {"instruction": "My card is 4111 1111 1111 1111", "output": "Noted, we'll mail sarah.jones@example.com."},
            {"instruction": "What is the capital of France?", "output": "Paris."}]
    ingest(ws, write_jsonl(tmp_path / "calls.jsonl", rows), source="external")
    ingest(ws, write_jsonl(tmp_path / "chats.jsonl", rows[::-1] + [{"instruction": "call 555-123-4567", "output": "ok"}]),
           source="external")
    ingest(ws, write_jsonl(tmp_path / "plain.jsonl", rows), source="human")
    return load_records(ws).reset_index(drop=True)


def test_counts_from_the_redacted_records_equal_counting_every_meta(tmp_path):
    frame = redacted_workspace(tmp_path)
    table = redacted_records(frame)
    assert len(table) == 5 and set(table["dataset"]) == {"calls", "chats"}  # the records with a redaction only
    assert redactions_per_source(frame, table) == redactions_per_source(frame) != []
    rng = np.random.default_rng(0)
    for _ in range(30):  # any filter's rows: a part of the frame, its labels kept
        part = frame[rng.random(len(frame)) < 0.5]
        assert redactions_per_source(part, table) == redactions_per_source(part)
    assert redactions_per_source(frame.iloc[:0], table) == []


def test_the_counts_of_a_part_read_no_meta(tmp_path, monkeypatch):
    frame = redacted_workspace(tmp_path)
    table = redacted_records(frame)
    read = []
    real = pii.redaction_counts
    monkeypatch.setattr(pii, "redaction_counts", lambda metas: read.append(1) or real(metas))
    assert redactions_per_source(frame[frame["dataset"] == "calls"], table)[0]["records"] == 2
    assert read == []  # the table answered: no meta parsed again
    redactions_per_source(frame)
    assert len(read) == 5  # without the table, each redacted record's meta is parsed
