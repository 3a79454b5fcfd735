"""Issue 18: a big JSON Lines file is ingested from a stream, a slice at a time, to the very records of the whole-file path."""

from __future__ import annotations

import hashlib
import json

import pytest

from curation import ingest as ingest_module
from curation import jsonl_stream
from curation.errors import UnknownFormat
from curation.ingest import ingest
from curation.jsonl_stream import RowStream
from curation.store import read_records
from curation.workspace import Workspace


def rows_file(path, n, *, bad=True, mixed=False, source=None):
    """n prompt-completion rows; with `bad`, some broken lines among them; with `mixed`, some alpaca rows."""
    out = []
    for i in range(n):
        row = {"prompt": f"question {i} é", "completion": f"answer {i}", "rank": i}
        if mixed and i % 4 == 3:
            row = {"instruction": f"do {i}", "input": "", "output": f"done {i}"}
        if source:
            row["source"] = source
        out.append(json.dumps(row, ensure_ascii=False).encode())
        if bad and i % 7 == 5:
            out.append(b'{"prompt": "cut short')  # invalid JSON
            out.append(b'{"prompt": "caf\xe9", "completion": "x"}')  # not UTF-8
            out.append(b'{"prompt": "no completion"}')  # a row that does not convert
            out.append(b'{"prompt": "p", "completion": "1", "completion": "2"}')  # duplicate key
            out.append(b"")
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def ingest_whole_and_streamed(tmp_path, monkeypatch, path, **kwargs):
    """The same file through the whole-file path and the streamed one (forced with a threshold of 1 byte)."""
    whole = Workspace(tmp_path / "whole")
    a = ingest(whole, path, name="d", **kwargs)
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 7)
    streamed = Workspace(tmp_path / "streamed")
    b = ingest(streamed, path, name="d", **kwargs)
    return (whole, a), (streamed, b)


def records(ws) -> list[dict]:
    frame = read_records(ws).sort_values(["file", "row", "record_id"])
    return json.loads(frame.astype(object).to_json(orient="records"))


def rejects(result) -> list[dict]:
    with open(result["rejects_file"], encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.parametrize("fmt", [None, "prompt-completion"])
def test_streamed_ingest_gives_the_whole_file_paths_records_ids_errors_and_rejects(tmp_path, monkeypatch, fmt):
    path = rows_file(tmp_path / "d.jsonl", 50)
    (whole, a), (streamed, b) = ingest_whole_and_streamed(tmp_path, monkeypatch, path, fmt=fmt)
    assert a["added"] == b["added"] == 57 and b["skipped"] == 0  # 50 rows and 7 with a duplicate key
    assert sorted(read_records(whole)["record_id"]) == sorted(read_records(streamed)["record_id"])  # the same ids
    assert records(whole) == records(streamed)  # every column: texts, meta, rows, where
    assert b["errors"] == a["errors"] and len(a["errors"]) == 3 * 7
    assert {e["line"] for e in b["errors"] if "UTF-8" in e["reason"]} == {8 + 12 * i for i in range(7)}
    assert rejects(b) == rejects(a)
    assert b["warnings"] == a["warnings"] and any("duplicate key 'completion'" in w for w in b["warnings"])
    assert b["format"] == a["format"] == "prompt-completion"
    assert len(streamed.parts("d")) == 10  # 64 objects read (7 do not convert), 7 a slice: a part each
    assert len(whole.parts("d")) == 1


def test_mixed_formats_stream_to_the_same_records(tmp_path, monkeypatch):
    path = rows_file(tmp_path / "d.jsonl", 40, mixed=True)
    (whole, a), (streamed, b) = ingest_whole_and_streamed(tmp_path, monkeypatch, path)
    assert a["added"] == b["added"] == 45
    assert records(whole) == records(streamed)
    assert sorted(b["errors"], key=str) == sorted(a["errors"], key=str)
    assert b["format"] == a["format"] == "prompt-completion+alpaca"


def test_reingest_adds_nothing_through_either_path(tmp_path, monkeypatch):
    path = rows_file(tmp_path / "d.jsonl", 30)
    (whole, _), (streamed, _) = ingest_whole_and_streamed(tmp_path, monkeypatch, path)
    for ws in (whole, streamed):  # the streamed path now: into a workspace filled by either path
        again = ingest(ws, path, name="d")
        assert (again["added"], again["skipped"]) == (0, 34)
    assert len(read_records(whole)) == len(read_records(streamed)) == 34


def test_the_source_file_is_unchanged(tmp_path, monkeypatch):
    path = rows_file(tmp_path / "d.jsonl", 20)
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size)
    ingest_whole_and_streamed(tmp_path, monkeypatch, path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, path.stat().st_size) == before


def test_the_format_is_detected_from_the_first_rows_only(tmp_path, monkeypatch):
    seen = []
    real = ingest_module.detect

    def spy(rows):
        seen.append(len(rows))
        return real(rows)

    monkeypatch.setattr(ingest_module, "detect", spy)
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    path = rows_file(tmp_path / "d.jsonl", 500, bad=False)
    got = ingest(Workspace(tmp_path / "ws"), path, name="d")
    assert got["format"] == "prompt-completion" and got["added"] == 500
    assert seen == [ingest_module.DETECT_ROWS]  # the whole-file path detects from a list of all 500 rows


def test_an_undetected_format_stops_reading_and_raises_as_before(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps({"q": i, "a": i}) + "\n" for i in range(1000)), encoding="utf-8")
    read = []
    real_rows = RowStream.rows

    def spy(self):
        for item in real_rows(self):
            read.append(item[0])
            yield item

    monkeypatch.setattr(RowStream, "rows", spy)
    with pytest.raises(UnknownFormat, match=r"columns are \['a', 'q'\]"):
        ingest(Workspace(tmp_path / "ws"), path)
    assert len(read) == ingest_module.DETECT_ROWS


def test_a_folder_streams_its_big_file_and_reads_the_small_ones(tmp_path, monkeypatch):
    folder = tmp_path / "src"
    folder.mkdir()
    rows_file(folder / "big.jsonl", 30, bad=False)
    (folder / "small.csv").write_text("instruction,output\na,b\nc,d\n", encoding="utf-8")
    streams = []
    real = RowStream.__init__

    def spy(self, *args):
        streams.append(args[1])
        real(self, *args)

    monkeypatch.setattr(RowStream, "__init__", spy)
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 200)
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 7)
    ws = Workspace(tmp_path / "ws")
    got = ingest(ws, folder, name="d")
    assert streams == ["big.jsonl"]
    assert got["added"] == 32 and got["format"] == "prompt-completion+alpaca"
    assert sorted(set(read_records(ws)["file"])) == ["big.jsonl", "small.csv"]


def test_records_to_redact_wait_for_the_files_one_redactor(tmp_path, monkeypatch):
    path = rows_file(tmp_path / "e.jsonl", 20, bad=False, source="external")
    (whole, a), (streamed, b) = ingest_whole_and_streamed(tmp_path, monkeypatch, path)
    assert a["added"] == b["added"] == 20 and b["redactions"] == a["redactions"]
    assert len(streamed.parts("d")) == 1  # stored together once the one redactor has seen them all
    assert records(whole) == records(streamed)


def test_a_real_file_past_the_threshold_is_streamed_by_default(shared_data, tmp_path, monkeypatch):
    path = shared_data / "t0" / "t0_train_55k.jsonl"
    if not path.exists():
        pytest.skip("t0/t0_train_55k.jsonl is not in the shared data")
    assert path.stat().st_size >= jsonl_stream.STREAM_ABOVE
    streams = []
    real = ingest_module.ingest_stream

    def spy(ws, stream, *args):
        streams.append(stream.name)
        return real(ws, stream, *args)

    monkeypatch.setattr(ingest_module, "ingest_stream", spy)
    ws = Workspace(tmp_path / "ws")
    got = ingest(ws, path, name="t0")
    assert streams == ["t0_train_55k.jsonl"] and got["added"] > 50_000 and got["format"] == "prompt-completion"
    assert ingest(ws, path, name="t0")["added"] == 0


@pytest.mark.parametrize("relative", ["oasst/en_100_message.jsonl", "chat/v1_sft_demo.jsonl", "alpaca/seed_tasks.jsonl"])
def test_real_files_stream_to_the_same_records(shared_data, tmp_path, monkeypatch, relative):
    path = shared_data / relative
    if not path.exists():
        pytest.skip(f"{relative} is not in the shared data")
    (whole, a), (streamed, b) = ingest_whole_and_streamed(tmp_path, monkeypatch, path)
    assert b["added"] == a["added"] > 0 and b["errors"] == a["errors"] and b["format"] == a["format"]
    assert records(whole) == records(streamed)


def test_an_ingest_stopped_midway_keeps_its_slices_and_the_next_one_adds_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 7)
    path = rows_file(tmp_path / "d.jsonl", 30, bad=False)
    real_store, calls = ingest_module.store, []

    def store_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user stops a long ingest
        return real_store(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "store", store_then_stop)
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(KeyboardInterrupt):
        ingest(ws, path, name="d")
    assert len(read_records(ws)) == 14  # two slices of 7 were stored before it stopped
    monkeypatch.setattr(ingest_module, "store", real_store)
    again = ingest(ws, path, name="d")
    assert (again["added"], again["skipped"]) == (16, 14)
    assert sorted(read_records(ws)["row"]) == list(range(1, 31))


def test_a_streamed_file_reports_progress_after_each_slice(tmp_path, monkeypatch):
    """Megabytes read of the file after each stored slice, ending at the whole file (issue 18: a 1M-record file takes a
    minute; the command line and the Load page show how far it is)."""
    path = rows_file(tmp_path / "big.jsonl", 3000, bad=False)
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    monkeypatch.setattr(ingest_module, "STORE_EVERY", 1000)
    monkeypatch.setattr(jsonl_stream, "BLOCK", 4096)
    calls = []
    monkeypatch.setattr(ingest_module, "MB", 1)  # bytes, for a small file
    ingest(Workspace(tmp_path / "ws"), path, name="d", progress=lambda done, total, what: calls.append((done, total, what)))
    size = path.stat().st_size
    assert len(calls) == 3 and all(total == size and what == "MB of big.jsonl loaded" for _, total, what in calls)
    assert calls[0][0] < calls[1][0] < calls[2][0] == size


def test_a_file_of_one_slice_reports_progress_while_it_is_read(tmp_path, monkeypatch):
    """A streamed file that fits in one slice still moves the bar while it is read (issue 18: a 100k-row file showed
    no progress until it was loaded), then ends with the whole file loaded."""
    path = rows_file(tmp_path / "big.jsonl", 3000, bad=False)
    monkeypatch.setattr(jsonl_stream, "STREAM_ABOVE", 1)
    monkeypatch.setattr(jsonl_stream, "BLOCK", 4096)
    monkeypatch.setattr(ingest_module, "READ_REPORT_EVERY", 250)
    monkeypatch.setattr(ingest_module, "MB", 1)  # bytes, for a small file
    calls = []
    ingest(Workspace(tmp_path / "ws"), path, name="d", progress=lambda done, total, what: calls.append((done, what)))
    read = [done for done, what in calls if what == "MB of big.jsonl read"]
    assert len(read) == 12 and read == sorted(read) and 0 < read[0] < read[-1] <= path.stat().st_size
    assert calls[-1] == (path.stat().st_size, "MB of big.jsonl loaded")
