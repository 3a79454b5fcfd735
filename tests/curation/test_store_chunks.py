"""Issue 18: records read from several parts come back with each column in one Arrow chunk (fast row takes)."""

from __future__ import annotations

import pyarrow as pa

from curation.ingest import ingest
from curation.query import Filter
from curation.store import one_chunk, read_records
from curation.workspace import Workspace


def test_records_of_several_parts_are_one_chunk_per_column(tmp_path):
    ws = Workspace(tmp_path / "ws")
    for k in range(3):
        data = tmp_path / f"d{k}.jsonl"
        data.write_text("".join(f'{{"prompt": "q{k} {i}", "completion": "a{i}"}}\n' for i in range(4)))
        ingest(ws, data, name="d")
    assert len(ws.parts("d")) == 3
    frame = read_records(ws)
    assert len(frame) == 12
    for column in ("record_id", "instruction", "output"):
        assert frame[column].array._pa_array.num_chunks == 1
    assert list(Filter(search="q2").apply(frame)["instruction"]) == [f"q2 {i}" for i in range(4)]


def test_one_chunk_keeps_the_values():
    t = pa.concat_tables([pa.table({"a": ["x", None]}), pa.table({"a": ["y"]})])
    assert t.column("a").num_chunks == 2
    out = one_chunk(t)
    assert out.column("a").num_chunks == 1 and out.column("a").to_pylist() == ["x", None, "y"]
