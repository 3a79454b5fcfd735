"""Readers: every bad part of a source is a problem with its file and line; the rest is read unchanged."""

from __future__ import annotations

import datetime
import decimal
import json
import socket
from pathlib import Path

import pytest

from curation import readers
from curation.errors import CurationError
from curation.readers import is_hub_id, read_parts, read_source

GOOD = {"instruction": "naïve café", "output": "Très bien"}


def line(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


BAD_LINE = line({"instruction": "b", "output": "x"}).replace(b'"b"', b'"b\xffd"')  # 0xff never occurs in UTF-8
UTF8_REASON = "not valid UTF-8 (byte 0xff at column 19); re-save the file as UTF-8"


def only_rows(rows) -> list[dict]:
    return [r for _, r in rows.rows]


# --- UTF-8, line by line ----------------------------------------------------------------


def test_one_bad_byte_in_jsonl_rejects_only_its_line_and_keeps_accents(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(line(GOOD) + b"\n" + BAD_LINE + b"\n" + line({**GOOD, "output": "über"}) + b"\n")
    rows = read_source(path)
    assert only_rows(rows) == [GOOD, {**GOOD, "output": "über"}]  # not "naÃ¯ve cafÃ©"
    (problem,) = rows.problems
    assert (problem.file, problem.line, problem.reason) == ("a.jsonl", 2, UTF8_REASON)
    assert problem.raw == '{"instruction": "b\\xffd", "output": "x"}'


def test_bad_byte_in_a_json_array_rejects_the_item_holding_it(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b"[\n" + line(GOOD) + b",\n" + BAD_LINE + b",\n" + line({**GOOD, "output": "über"}) + b"\n]\n")
    rows = read_source(path)
    assert rows.rows == [(1, GOOD), (3, {**GOOD, "output": "über"})]
    (problem,) = rows.problems
    assert (problem.line, problem.reason) == (3, f"item 2: {UTF8_REASON}")
    assert problem.raw == '{"instruction": "b\\xffd", "output": "x"}'  # the item's text, its bad byte shown


@pytest.mark.parametrize("suffix, sep", [(".csv", b","), (".tsv", b"\t")])
def test_bad_byte_in_csv_and_tsv_rejects_only_that_row(tmp_path, suffix, sep):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(sep.join([b"instruction", b"output"]) + b"\n" + sep.join(["naïve café".encode(), b"ok"]) + b"\n"
                     + sep.join([b"b\xffd", b"x"]) + b"\n" + sep.join(["über".encode(), b"ok"]) + b"\n")
    rows = read_source(path)
    assert only_rows(rows) == [{"instruction": "naïve café", "output": "ok"}, {"instruction": "über", "output": "ok"}]
    (problem,) = rows.problems
    assert (problem.file, problem.line) == (path.name, 3)
    assert problem.reason == "not valid UTF-8 (byte 0xff at column 2); re-save the file as UTF-8"
    assert problem.raw == sep.decode().join(["b\\xffd", "x"])


def test_a_latin1_file_is_not_guessed_each_accented_line_is_reported(tmp_path):
    path = tmp_path / "latin.jsonl"
    latin1 = line({"instruction": "Café?", "output": "Oui"}).decode().encode("latin-1")
    path.write_bytes(latin1 + b"\n" + line({"instruction": "Hi", "output": "Yo"}) + b"\n")
    rows = read_source(path)
    assert only_rows(rows) == [{"instruction": "Hi", "output": "Yo"}]
    assert rows.problems[0].line == 1 and "byte 0xe9 at column 21" in rows.problems[0].reason
    assert "Latin-1" in rows.warnings[0] and "re-save it as UTF-8" in rows.warnings[0]


@pytest.mark.parametrize("encoding, named", [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16BE"), ("utf-16-le", "UTF-16LE")])
def test_a_utf16_file_is_named_as_such_with_the_iconv_line(tmp_path, encoding, named):
    path = tmp_path / "wide.jsonl"
    text = line({"instruction": "Café?", "output": "Oui"}).decode() + "\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # with its byte-order mark: iconv reads the order from it
        named = "UTF-16"
    path.write_bytes(data)
    with pytest.raises(CurationError) as err:
        read_source(path)
    message = str(err.value)
    assert "looks like UTF-16" in message and f"iconv -f {named} -t UTF-8 {path} > {tmp_path / 'wide-utf8.jsonl'}" in message
    assert "cp1252" not in message and "Latin-1" not in message


def test_a_utf16_file_in_a_folder_is_a_problem_and_the_others_load(tmp_path):
    (tmp_path / "wide.json").write_bytes("[{\"instruction\": \"a\", \"output\": \"b\"}]".encode("utf-16"))
    (tmp_path / "ok.jsonl").write_bytes(line({"instruction": "Hi", "output": "Yo"}) + b"\n")
    parts, _ = read_parts(tmp_path)
    wide = next(p for p in parts if p.name == "wide.json")
    assert [p.name for p in parts if p.rows] == ["ok.jsonl"] and "iconv -f UTF-16 -t UTF-8" in wide.problems[0].reason


def test_ndjson_files_in_a_folder_are_read(tmp_path):
    (tmp_path / "a.ndjson").write_bytes(line({"instruction": "Hi", "output": "Yo"}) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(line({"instruction": "Ho", "output": "Ya"}) + b"\n")
    parts, warnings = read_parts(tmp_path)
    assert sorted(p.name for p in parts if p.rows) == ["a.ndjson", "b.jsonl"] and warnings == []


def test_a_folder_holding_the_workspace_leaves_it_out(tmp_path):
    (tmp_path / "ok.jsonl").write_bytes(line({"instruction": "Hi", "output": "Yo"}) + b"\n")
    (tmp_path / "ws" / "records" / "d").mkdir(parents=True)
    (tmp_path / "ws" / "records" / "d" / "x.jsonl").write_bytes(line({"instruction": "no", "output": "no"}) + b"\n")
    parts, warnings = read_parts(tmp_path, skip=tmp_path / "ws")
    assert [p.name for p in parts] == ["ok.jsonl"] and warnings == [f"{tmp_path.name}: left out ws/, the workspace itself"]


# --- nesting --------------------------------------------------------------------------------


def deep(kind: str, n: int) -> str:
    return "[" * n + "]" * n if kind == "lists" else '{"a":' * n + "1" + "}" * n


@pytest.mark.parametrize("kind", ["lists", "objects"])
def test_a_jsonl_line_nested_100k_deep_is_a_problem(tmp_path, kind):
    path = tmp_path / "deep.jsonl"
    path.write_text(f'{line(GOOD).decode()}\n{{"instruction": "x", "output": "y", "m": {deep(kind, 100_000)}}}\n{line(GOOD).decode()}\n',
                    encoding="utf-8")
    rows = read_source(path)
    assert [n for n, _ in rows.rows] == [1, 3]
    (problem,) = rows.problems
    assert problem.line == 2 and "nested more than 254 levels" in problem.reason


@pytest.mark.parametrize("kind", ["lists", "objects"])
def test_a_json_array_item_nested_100k_deep_is_skipped_and_the_rest_loads(tmp_path, kind):
    path = tmp_path / "deep.json"
    path.write_text(f'[{line(GOOD).decode()},\n{{"m": {deep(kind, 100_000)}}},\n{line(GOOD).decode()}]', encoding="utf-8")
    rows = read_source(path)
    assert rows.rows == [(1, GOOD), (3, GOOD)]
    (problem,) = rows.problems
    assert problem.line == 2 and problem.reason.startswith("item 2: the row is nested more than 254")
    assert problem.raw == '{"m": ' + deep(kind, 100_000) + "}"  # the item's own text, for the rejects file


def test_dumps_raw_writes_values_deeper_than_orjson_and_python_json_allow():
    value = json.loads(deep("lists", 900))
    value = {"m": value}
    raw = readers.dumps_raw(value)
    assert raw == '{"m":' + deep("lists", 900) + "}"


# --- duplicate keys and columns ---------------------------------------------------------


def test_duplicate_json_keys_are_warned_with_file_and_line(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"instruction": "a", "output": "1", "output": "2"}\n{"instruction": "b", "output": "x"}\n'
                     '{"instruction": "c", "output": "y", "m": {"k": 1, "k": 2}}\n', encoding="utf-8")
    rows = read_source(jsonl)
    assert rows.rows[0][1]["output"] == "2"
    assert rows.warnings == [
        "d.jsonl: line 1: duplicate key 'output' in one object; only its last value was kept",
        "d.jsonl: line 3: duplicate key 'k' in one object; only its last value was kept",
    ]
    array = tmp_path / "d.json"
    array.write_text('[\n{"instruction": "b", "output": "x"},\n{"instruction": "a",\n "output": "1", "output": "2"}\n]', encoding="utf-8")
    rows = read_source(array)
    assert len(rows.rows) == 2
    assert rows.warnings == ["d.json: line 3 (item 2): duplicate key 'output' in one object; only its last value was kept"]


def test_quotes_and_colons_inside_strings_are_not_duplicate_keys(tmp_path):
    rows = [{"prompt": ":Spoilers: yes", "completion": 'He said \\"no\\": fine'}, {"prompt": '":"', "completion": '" : "'}]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_source(path).warnings == []
    array = tmp_path / "t.json"
    array.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    got = read_source(array)
    assert got.warnings == [] and only_rows(got) == rows


def test_a_one_object_file_with_a_duplicate_key_is_warned(tmp_path):
    (tmp_path / "one.json").write_text('{"instruction": "a", "output": "1", "output": "2"}', encoding="utf-8")
    assert read_source(tmp_path / "one.json").warnings == [
        "one.json: line 1: duplicate key 'output' in one object; only its last value was kept"]
    (tmp_path / "wrapped.json").write_text('{"data": [\n {"instruction": "a",\n  "output": "1", "output": "2"}\n]}', encoding="utf-8")
    assert read_source(tmp_path / "wrapped.json").warnings[0] == (
        "wrapped.json: duplicate key 'output' in one object; only its last value was kept")


def test_many_duplicate_lines_are_summarised(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "a", "output": "1", "output": "2"}\n' * 15, encoding="utf-8")
    warnings = read_source(path).warnings
    assert len(warnings) == 11 and warnings[-1] == "d.jsonl: … and 5 more lines with duplicate keys"


def test_duplicate_csv_headers_keep_both_values(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("instruction,output,output,output_2\na,1,2,3\n", encoding="utf-8")
    rows = read_source(path)
    assert only_rows(rows) == [{"instruction": "a", "output": "1", "output_3": "2", "output_2": "3"}]
    assert rows.warnings == ["d.csv: line 1: column 'output' appears more than once; the repeat is read as 'output_3'"]


# --- Parquet ---------------------------------------------------------------------------------


def test_parquet_timestamps_decimals_and_binary_become_json_values(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({
        "instruction": ["a", "b"],
        "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None], pa.timestamp("us", tz="UTC")),
        "price": pa.array([decimal.Decimal("12.30"), decimal.Decimal("-1.50")], pa.decimal128(10, 2)),
        "took": pa.array([datetime.timedelta(seconds=90), None]),
        "blob": pa.array([b"hi", b"\xff\x00"]),
        "events": pa.array([[{"at": datetime.date(2020, 1, 1)}], []]),
    }), tmp_path / "t.parquet")
    rows = read_source(tmp_path / "t.parquet")
    assert only_rows(rows) == [
        {"instruction": "a", "ts": "2024-01-02T03:04:05+00:00", "price": "12.30", "took": 90.0, "blob": "hi",
         "events": [{"at": "2020-01-01"}]},
        {"instruction": "b", "ts": None, "price": "-1.50", "took": None, "blob": "base64:/wA=", "events": []},
    ]
    assert "ts, price, took, blob, events" in rows.warnings[0]


def test_empty_parquet_files_are_problems(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "zero.parquet").write_bytes(b"")
    pq.write_table(pa.table({"instruction": pa.array([], pa.string())}), tmp_path / "none.parquet")
    assert [p.reason for p in read_source(tmp_path / "zero.parquet").problems] == ["the file is empty (0 bytes)"]
    assert [p.reason for p in read_source(tmp_path / "none.parquet").problems] == ["the Parquet file has no rows (columns: instruction)"]


# --- unreadable files and folders ------------------------------------------------------------


def deny(monkeypatch, name: str) -> None:
    """Reading `name` fails as with chmod 000 (tests run as root, who may read anything)."""
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_an_unreadable_file_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "locked.jsonl"
    path.write_bytes(line(GOOD) + b"\n")
    deny(monkeypatch, "locked.jsonl")
    with pytest.raises(CurationError, match="locked.jsonl: permission denied; make it readable"):
        read_source(path)


def test_a_folder_of_mixed_files_is_read_file_by_file(tmp_path, monkeypatch):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "b.jsonl").write_bytes(line(GOOD) + b"\n{oops\n")
    (folder / "a.csv").write_text("instruction,output\nx,y\n", encoding="utf-8")
    (folder / "sub" / "c.json").write_text(json.dumps([GOOD]), encoding="utf-8")
    (folder / "broken.parquet").write_bytes(b"not parquet")
    (folder / "locked.tsv").write_text("instruction\toutput\nx\ty\n", encoding="utf-8")
    (folder / "README.md").write_text("about", encoding="utf-8")
    (folder / ".hidden.jsonl").write_bytes(b"{oops\n")
    (folder / ".git" / "config.json").write_bytes(b"{oops\n")
    deny(monkeypatch, "locked.tsv")
    parts, warnings = read_parts(folder)
    assert [p.name for p in parts] == ["a.csv", "b.jsonl", "broken.parquet", "locked.tsv", "sub/c.json"]
    assert [len(p.rows) for p in parts] == [1, 1, 0, 0, 1]
    problems = [(p.file, p.line) for part in parts for p in part.problems]
    assert problems == [("b.jsonl", 2), ("broken.parquet", None), ("locked.tsv", None)]
    assert "not a readable Parquet file" in parts[2].problems[0].reason
    assert "permission denied" in parts[3].problems[0].reason
    assert warnings == ["mixed: skipped 1 file(s) that are not .json, .jsonl, .ndjson, .csv, .tsv, .parquet: README.md"]


def test_a_save_to_disk_folder_inside_a_folder_is_not_read_as_records(tmp_path):
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "dataset_info.json").write_text("{}", encoding="utf-8")
    (tmp_path / "saved" / "state.json").write_text('{"_data_files": []}', encoding="utf-8")
    (tmp_path / "a.jsonl").write_bytes(line(GOOD) + b"\n")
    parts, warnings = read_parts(tmp_path)
    assert [p.name for p in parts] == ["a.jsonl"]
    assert warnings == [f"{tmp_path.name}: skipped 1 file(s) that are not .json, .jsonl, .ndjson, .csv, .tsv, .parquet: "
                        "saved/ (a save_to_disk folder: ingest it on its own)"]


def test_a_folder_without_data_files_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CurationError, match=r"no \.json, \.jsonl, .* files in this folder \(it holds notes.txt\)"):
        read_parts(tmp_path)


# --- paths and the hub ------------------------------------------------------------------------


@pytest.fixture
def no_hub(monkeypatch):
    """Fail the test if anything tries the hub: the probe or the loader."""
    def called(*args, **kwargs):
        raise AssertionError("the hub was tried")

    monkeypatch.setattr(readers, "hub_reachable", called)
    monkeypatch.setattr(readers, "load_hub", called)


@pytest.mark.parametrize("arg", ["data/missing", "missing.jsonl", "data/train.jsonl", "./x/y", "../x", "/abs/x",
                                 "~/nope/x", "a/b/c", "a\\b", "one word/x", "missing"])
def test_a_missing_path_like_argument_never_tries_the_hub(tmp_path, monkeypatch, no_hub, arg):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CurationError, match=r"^.*: no such file or directory$"):
        read_parts(arg)


def test_which_arguments_are_hub_ids(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    assert is_hub_id("tatsu-lab/alpaca") and is_hub_id("teknium/OpenHermes-2.5") and is_hub_id("hf://data/x")
    assert not any(is_hub_id(a) for a in ["data/x", "owner/x.jsonl", "owner/x.parquet", "a/b/c", "./a/b", "owner/", "hf://a/b/c"])


def test_hub_id_when_the_hub_cannot_be_reached_fails_without_loading(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(readers, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(readers, "load_hub", lambda repo: pytest.fail("the hub loader was called"))
    with pytest.raises(CurationError, match="hub cannot be reached .* local path that exists"):
        read_parts("someone/dataset")


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_hub_id_offline_and_not_cached_fails_without_probe_or_loader(tmp_path, monkeypatch, no_hub, var):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(CurationError, match=f"hub cannot be reached \\({var} is set\\).*a local path must exist"):
        read_parts("someone/dataset")


def test_hub_id_offline_and_cached_is_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    (tmp_path / "hub" / "datasets--someone--dataset").mkdir(parents=True)
    monkeypatch.setattr(readers, "hub_reachable", lambda timeout=3.0: pytest.fail("probed the network while offline"))
    monkeypatch.setattr(readers, "load_hub", lambda repo: [{"instruction": repo, "output": "cached"}])
    (part,), _ = read_parts("hf://someone/dataset")
    assert part.rows == [(1, {"instruction": "someone/dataset", "output": "cached"})]


def test_the_hub_probe_connects_to_the_endpoint(monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"https://127.0.0.1:{port}")
    assert readers.hub_reachable()
    server.close()
    assert not readers.hub_reachable()  # nothing listens there now: refused


def test_a_file_of_one_conversation_is_one_record_not_a_list_of_turns(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}\n', encoding="utf-8")
    rows = read_source(path)
    assert [r for _, r in rows.rows] == [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}]
    assert not rows.warnings
    wrapper = tmp_path / "wrapped.json"
    wrapper.write_text('{"data": [{"instruction": "a", "output": "b"}]}', encoding="utf-8")
    assert [r for _, r in read_source(wrapper).rows] == [{"instruction": "a", "output": "b"}]
