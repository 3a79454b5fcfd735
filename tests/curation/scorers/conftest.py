"""Shared fixtures of the scorer tests: a workspace holding a few records."""

from __future__ import annotations

import pytest

from curation.ingest import ingest
from curation.store import load_records
from tests.conftest import write_jsonl

ROWS = [
    {"instruction": "Name the capital of France.", "input": "", "output": "Paris is the capital of France."},
    {"instruction": "Add 2 and 3.", "input": "", "output": "2 + 3 = 5."},
    {"instruction": "Translate to German.", "input": "Good morning", "output": "Guten Morgen."},
    {"instruction": "Write a haiku about rain.", "input": "<noinput>",
     "output": "Soft rain on the roof,\nthe garden drinks in silence,\nclouds move on at dusk."},
    {"instruction": "Summarise the text.", "input": "The cat sat on the mat all day.", "output": "A cat spent the day on a mat."},
    {"instruction": "Give a synonym of happy.", "input": "", "output": ""},
]


@pytest.fixture
def records(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "small.jsonl", ROWS), name="small")
    return load_records(ws)
