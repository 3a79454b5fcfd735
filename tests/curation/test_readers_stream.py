"""Issue 18: a big JSON Lines file is read as a stream (bytes a block at a time), with the whole-file reader's results."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation import jsonl_stream
from curation.errors import CurationError
from curation.jsonl_stream import RowStream, split_blocks
from curation.readers import Rows, read_parts, read_source

GOOD = {"instruction": "naïve café", "output": "Très bien"}


def line(row) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


def streamed(path, **kw) -> RowStream:
    (part,), _ = read_parts(path, stream_above=1, **kw)
    assert isinstance(part, RowStream), "the file should have been streamed"
    return part


def read_both(path) -> tuple[Rows, RowStream, list]:
    whole = read_source(path)
    stream = streamed(path)
    return whole, stream, list(stream.rows())


def assert_same(path):
    whole, stream, rows = read_both(path)
    assert rows == whole.rows
    assert [p.as_dict() for p in stream.problems] == [p.as_dict() for p in whole.problems]
    assert stream.warnings == whole.warnings
    assert (stream.name, stream.unit) == (whole.name, whole.unit)
    return stream


FIRST = line(GOOD) + b"\n"
CASES = {
    "plain": FIRST + line({"instruction": "b", "output": "x"}) + b"\n",
    "no final newline": FIRST + line({"instruction": "b", "output": "x"}),
    "byte-order mark": b"\xef\xbb\xbf" + FIRST + line({"instruction": "b", "output": "ü"}) + b"\n",
    "CRLF and blank lines": b"\r\n\n" + FIRST.replace(b"\n", b"\r\n") + b"   \r\n\n" + line({"a": 1}) + b"\r\n\n\n",
    "unicode blanks": FIRST + "\u00a0\n\u2003 \n\x1c\n".encode() + line({"a": 1}) + b"\n",
    "bad byte, accents elsewhere": FIRST + line({"instruction": "b", "output": "x"}).replace(b'"b"', b'"b\xffd"') + b"\n"
                                   + line({"output": "über"}) + b"\n",
    "latin-1 lines, no accents": line({"a": "plain"}) + b"\n" + line({"instruction": "Café?"}).decode().encode("latin-1")
                                 + b"\n" + "Oui é".encode("latin-1") + b"\n",
    "truncated UTF-8": FIRST + b'{"a": "\xe2\x82"}\n' + b'{"a": "\xed\xa0\x80"}\n',
    "invalid JSON": FIRST + b'{"a": 1,\n' + b"not json\n" + "{\"é\": x}\n".encode() + b"\n" + line({"a": 2}) + b"\n",
    "not objects": FIRST + b"[1, 2]\n3\n\"text\"\nnull\ntrue\n" + line({"a": 2}),
    "nested too deep": FIRST + b'{"m": ' + b"[" * 300 + b"]" * 300 + b"}\n" + b"[" * 300 + b"]" * 300 + b"\n",
    "lone surrogate escape": FIRST + b'{"a": "\\ud800"}\n' + line({"a": "\\ud800"}) + b"\n",
    "duplicate keys": FIRST + b'{"instruction": "a", "output": "1", "output": "2"}\n'
                      + b'{"instruction": "c", "output": "y", "m": {"k": 1, "k": 2}}\n'
                      + b'{"instruction": "\\":", "output": "a\\": \\":"}\n',
    "many duplicate keys": FIRST + b'{"instruction": "a", "output": "1", "output": "2"}\n' * 15,
}


@pytest.mark.parametrize("name", list(CASES))
def test_streamed_rows_problems_and_warnings_are_the_whole_file_readers(tmp_path, name):
    path = tmp_path / "d.jsonl"
    path.write_bytes(CASES[name])
    assert_same(path)


def test_bad_lines_are_reported_with_their_line_and_raw_text(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(CASES["bad byte, accents elsewhere"] + b"oops\n")
    stream = streamed(path)
    assert [n for n, _ in stream.rows()] == [1, 3]
    bad, oops = stream.problems
    assert (bad.file, bad.line, bad.reason) == ("d.jsonl", 2, "not valid UTF-8 (byte 0xff at column 19); re-save the file as UTF-8")
    assert bad.raw == '{"instruction": "b\\xffd", "output": "x"}'
    assert (oops.line, oops.raw) == (4, "oops") and oops.reason.startswith("invalid JSON: ")
    assert stream.warnings == []  # line 3 has UTF-8 accents: the file is UTF-8


def test_latin1_warning_and_duplicate_warnings_come_once_the_stream_is_read(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(CASES["latin-1 lines, no accents"] + b'{"a": 1, "a": 2}\n')
    stream = streamed(path)
    assert stream.warnings == []
    assert len(list(stream.rows())) == 2
    assert "Latin-1" in stream.warnings[0] and "2 line(s) are not UTF-8" in stream.warnings[0]
    assert stream.warnings[1] == "d.jsonl: line 4: duplicate key 'a' in one object; only its last value was kept"


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_lines_running_over_block_ends_are_read_whole(tmp_path, monkeypatch, block):
    monkeypatch.setattr(jsonl_stream, "BLOCK", block)
    path = tmp_path / "d.jsonl"
    path.write_bytes(CASES["bad byte, accents elsewhere"] + b"\n\n" + line({"long": "x" * 300}) + b"\r\n" + CASES["plain"])
    stream = assert_same(path)
    assert len(stream.problems) == 1 and stream.lines_read == 9


@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"\n")), max_size=8))
def test_split_blocks_is_bytes_split(blocks):
    assert list(split_blocks(iter(blocks))) == b"".join(blocks).split(b"\n")


NOT_STREAMED = {
    "a JSON array": (".jsonl", b"[\n" + line(GOOD) + b",\n" + line(GOOD) + b"\n]\n"),
    "one pretty-printed object": (".json", json.dumps({"data": [GOOD, GOOD]}, indent=1).encode()),
    "one object on one line": (".json", line({"data": [GOOD, GOOD]}) + b"\n\n  \n"),
    "a bad first line": (".jsonl", b"oops\n" + line(GOOD) + b"\n"),
    "a first line that is not an object": (".jsonl", b"[1]\n" + line(GOOD) + b"\n"),
    "CSV": (".csv", b"instruction,output\n" + b"a,b\n" * 3),
    "TSV without a suffix": ("", b"instruction\toutput\na\tb\n"),
    "a Parquet suffix": (".parquet", FIRST * 2),
}


@pytest.mark.parametrize("name", list(NOT_STREAMED))
def test_other_files_take_the_whole_file_path(tmp_path, name):
    suffix, data = NOT_STREAMED[name]
    path = tmp_path / f"d{suffix}"
    path.write_bytes(data)
    try:
        (part,), _ = read_parts(path, stream_above=1)
    except CurationError:
        assert suffix == ".parquet"  # not a Parquet file: the whole-file reader says so
        return
    assert isinstance(part, Rows)


def test_a_file_below_the_threshold_is_read_whole(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(FIRST * 3)
    (part,), _ = read_parts(path, stream_above=len(FIRST * 3) + 1)
    assert isinstance(part, Rows)
    (part,), _ = read_parts(path, stream_above=len(FIRST * 3))
    assert isinstance(part, RowStream)
    (part,), _ = read_parts(path)  # no threshold: never streamed (read_source, the dashboard's quick look)
    assert isinstance(part, Rows)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_falls_back_to_the_whole_file_readers_error(tmp_path, encoding):
    path = tmp_path / "wide.jsonl"
    path.write_bytes(("".join(json.dumps(GOOD) + "\n" for _ in range(3))).encode(encoding))
    with pytest.raises(CurationError, match="looks like UTF-16"):
        read_parts(path, stream_above=1)


def test_folder_files_are_streamed_each_with_its_name(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "big.jsonl").write_bytes(FIRST * 3)
    (tmp_path / "small.csv").write_bytes(b"instruction,output\na,b\n")
    parts, _ = read_parts(tmp_path, stream_above=1)
    assert {p.name: type(p) for p in parts} == {"small.csv": Rows, "sub/big.jsonl": RowStream}


def test_ndjson_and_suffixless_json_lines_are_streamed_by_content(tmp_path):
    for name in ("d.ndjson", "d", "d.json", "d.txt"):
        (tmp_path / name).write_bytes(FIRST * 2)
        assert_same(tmp_path / name)


def test_the_first_row_may_be_longer_than_a_block_but_not_than_the_detection_limit(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    path.write_bytes(line({"a": "x" * 1000}) + b"\n" + FIRST)
    monkeypatch.setattr(jsonl_stream, "BLOCK", 16)
    assert len(list(streamed(path).rows())) == 2
    monkeypatch.setattr(jsonl_stream, "FIRST_LINE_LIMIT", 500)
    (part,), _ = read_parts(path, stream_above=1)
    assert isinstance(part, Rows)


def test_a_stream_holds_a_block_and_a_row_never_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_stream, "BLOCK", 2**16)
    row = line({"prompt": "p" * 2000, "completion": "c"}) + b"\n"
    path = tmp_path / "d.jsonl"
    path.write_bytes(row * 2000)  # ~4 MB
    size = path.stat().st_size
    stream = streamed(path)
    tracemalloc.start()
    try:
        count = sum(1 for _ in stream.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2000
    assert peak < size / 10  # the whole-file reader holds the text and every row: twice the file


def test_the_source_file_is_opened_for_reading_only(tmp_path, monkeypatch):
    import builtins

    opened = []
    real_open = builtins.open

    def spy(file, mode="r", *args, **kwargs):
        opened.append((str(file), mode))
        return real_open(file, mode, *args, **kwargs)

    path = tmp_path / "d.jsonl"
    path.write_bytes(CASES["invalid JSON"])
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    monkeypatch.setattr(builtins, "open", spy)
    list(streamed(path).rows())
    monkeypatch.undo()
    assert {mode for file, mode in opened if file == str(path)} == {"rb"}
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_an_unreadable_file_is_one_clear_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(FIRST * 2)
    stream = streamed(path)
    path.unlink()
    with pytest.raises(CurationError, match="d.jsonl: cannot read it"):
        list(stream.rows())


@pytest.mark.parametrize("relative", ["t0/t0_train_55k.jsonl", "oasst/en_100_message.jsonl", "chat/v1_sft_demo.jsonl",
                                      "alpaca/seed_tasks.jsonl"])
def test_real_json_lines_files_stream_to_the_same_rows(shared_data, relative):
    path = shared_data / relative
    if not path.exists():
        pytest.skip(f"{relative} is not in the shared data")
    assert_same(path)
