"""Ingest: bad input gets a clear error with file and line and loses nothing."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from curation.errors import CurationError, UnknownFormat
from curation.ingest import ingest, parse_mapping
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.test_readers import deny

GOOD = {"instruction": "Say hi.", "input": "", "output": "Hi!"}


def rejects(result) -> list[dict]:
    with open(result["rejects_file"], encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_malformed_jsonl_line_is_reported_kept_aside_and_the_rest_loads(ws, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n" + json.dumps({**GOOD, "output": "Hello!"}) + "\n", encoding="utf-8")
    result = ingest(ws, path)
    assert result["added"] == 2
    assert result["errors"] == [{"file": "data.jsonl", "line": 2, "reason": result["errors"][0]["reason"]}]
    assert "invalid JSON" in result["errors"][0]["reason"]
    (kept,) = rejects(result)
    assert kept["raw"] == "{not json" and kept["line"] == 2


def test_json_array_cut_short_loads_the_complete_items(ws, tmp_path):
    items = [{**GOOD, "output": f"Hi {i}"} for i in range(3)]
    text = json.dumps(items, indent=1)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.rindex("Hi 2")], encoding="utf-8")
    result = ingest(ws, path)
    assert result["added"] == 2
    (err,) = result["errors"]
    assert err["file"] == "cut.json" and err["line"] > 1
    assert "2 items before it were read" in err["reason"]
    raw = rejects(result)[0]["raw"]
    assert raw.lstrip().startswith("{") and '"instruction"' in raw  # the broken item, from its start


@pytest.mark.parametrize("row, reason", [
    ({"instruction": "no output here"}, "missing required field 'output'"),
    ({"instruction": "x", "output": None}, "null"),
    ({"instruction": "x", "output": {"nested": True}}, "nested object"),
])
def test_bad_rows_are_reported_with_line_and_cause(ws, tmp_path, row, reason):
    path = write_jsonl(tmp_path / "rows.jsonl", [GOOD, row])
    result = ingest(ws, path)
    assert result["added"] == 1
    assert result["errors"][0]["line"] == 2 and reason in result["errors"][0]["reason"]
    assert json.loads(rejects(result)[0]["raw"]) == row


def test_number_field_loads_as_text(ws, tmp_path):
    result = ingest(ws, write_jsonl(tmp_path / "n.jsonl", [{"instruction": "6*7?", "input": None, "output": 42}]))
    assert result["added"] == 1 and not result["errors"]
    assert load_records(ws).iloc[0]["output"] == "42"


def test_utf8_bom_is_ignored(ws, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([GOOD]).encode())
    assert ingest(ws, path)["added"] == 1


def test_one_bad_byte_rejects_its_line_only_and_keeps_it_with_escapes(ws, tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = json.dumps({"instruction": "naïve café?", "output": "Oui"}, ensure_ascii=False).encode()
    path.write_bytes(good + b"\n" + good.replace("café".encode(), b"caf\xe9") + b"\n")
    result = ingest(ws, path)
    assert result["added"] == 1 and load_records(ws).iloc[0]["instruction"] == "naïve café?"  # not "naÃ¯ve cafÃ©?"
    assert result["errors"] == [{"file": "mixed.jsonl", "line": 2,
                                 "reason": "not valid UTF-8 (byte 0xe9 at column 27); re-save the file as UTF-8"}]
    assert rejects(result)[0]["raw"] == '{"instruction": "naïve caf\\xe9?", "output": "Oui"}'


def test_empty_file_is_reported(ws, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    result = ingest(ws, path)
    assert result["added"] == 0 and result["errors"][0]["reason"] == "the file is empty"


def test_missing_path_and_unknown_format_are_clear_errors(ws, tmp_path):
    with pytest.raises(CurationError, match="no such file"):
        ingest(ws, tmp_path / "nope.jsonl")
    with pytest.raises(CurationError, match="unknown format 'yaml'"):
        ingest(ws, write_jsonl(tmp_path / "a.jsonl", [GOOD]), fmt="yaml")
    with pytest.raises(CurationError, match="could not detect the format"):
        ingest(ws, write_jsonl(tmp_path / "b.jsonl", [{"q": 1, "a": 2}]))


def test_five_megabyte_field_loads_whole(ws, tmp_path):
    big = "x" * 5_000_000
    result = ingest(ws, write_jsonl(tmp_path / "big.jsonl", [{"instruction": "Repeat x.", "output": big}]))
    assert result["added"] == 1 and load_records(ws).iloc[0]["output"] == big


def test_mixed_schemas_in_one_file_load_each_row_in_its_own_format(ws, tmp_path):
    rows = [GOOD, {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
            {"prompt": "p", "completion": "c"}, {"unrelated": 1}]
    result = ingest(ws, write_jsonl(tmp_path / "mixed.jsonl", rows))
    assert result["added"] == 3
    assert set(result["format"].split("+")) == {"alpaca", "sharegpt", "prompt-completion"}
    assert result["errors"][0]["line"] == 4 and "missing required field" in result["errors"][0]["reason"]


def test_reingest_adds_nothing_and_keeps_ids_stable(ws, tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, {**GOOD, "output": "Hey"}])
    first = ingest(ws, path)
    ids = list(load_records(ws)["record_id"])
    second = ingest(ws, path)
    assert (first["added"], second["added"], second["skipped"]) == (2, 0, 2)
    assert list(load_records(ws)["record_id"]) == ids


def test_exact_duplicate_rows_in_one_file_stay_separate_records(ws, tmp_path):
    result = ingest(ws, write_jsonl(tmp_path / "dup.jsonl", [GOOD, GOOD]))
    assert result["added"] == 2


def test_source_files_are_never_written(ws, tmp_path):
    path = write_jsonl(tmp_path / "src.jsonl", [GOOD, {"bad": 1}])
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    ingest(ws, path)
    ingest(ws, path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_source_kind_from_argument_then_data_then_unknown(ws, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{**GOOD, "source": "human"}, {**GOOD, "output": "Yo"}])
    ingest(ws, path, name="auto")
    ingest(ws, path, name="forced", source="synthetic")
    frame = load_records(ws)
    assert sorted(frame[frame.dataset == "auto"]["source"]) == ["human", "unknown"]
    assert set(frame[frame.dataset == "forced"]["source"]) == {"synthetic"}
    with pytest.raises(CurationError, match="unknown source"):
        ingest(ws, path, source="robots")


def test_csv_tsv_and_parquet(ws, tmp_path):
    import pandas as pd

    (tmp_path / "t.csv").write_text('instruction,input,output\n"Say, hi",,"Hi\nthere"\nbroken,row\n', encoding="utf-8")
    result = ingest(ws, tmp_path / "t.csv")
    assert result["added"] == 1 and result["errors"][0]["line"] == 4 and "2 fields, expected 3" in result["errors"][0]["reason"]
    (tmp_path / "t.tsv").write_text("question\tanswer\nWhy?\tBecause.\n", encoding="utf-8")
    assert ingest(ws, tmp_path / "t.tsv", mapping={"instruction": "question", "output": "answer"})["added"] == 1
    pd.DataFrame([GOOD, {**GOOD, "output": "Hey"}]).to_parquet(tmp_path / "t.parquet")
    assert ingest(ws, tmp_path / "t.parquet")["added"] == 2
    frame = load_records(ws)
    assert "Say, hi" in set(frame["instruction"]) and "Hi\nthere" in set(frame["output"])


def test_hugging_face_save_to_disk_and_data_files_folders(ws, tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list([GOOD] * 2), "test": datasets.Dataset.from_list([GOOD])})
    dd.save_to_disk(tmp_path / "saved")
    result = ingest(ws, tmp_path / "saved", name="saved")
    assert result["added"] == 3
    frame = load_records(ws)
    assert sorted(json.loads(m)["split"] for m in frame["meta"]) == ["test", "train", "train"]
    folder = tmp_path / "files"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [GOOD, {**GOOD, "output": "Hey"}])
    assert ingest(ws, folder, name="files")["added"] == 2


def test_hub_id_offline_fails_fast_with_a_clear_error(ws, tmp_path, monkeypatch):
    from curation import readers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setattr(readers, "load_hub", lambda repo: pytest.fail("the hub loader was called"))
    with pytest.raises(CurationError, match="hub cannot be reached .*a local path must exist"):
        ingest(ws, "someone/not-cached-dataset")


def test_missing_path_like_argument_is_no_such_file_without_trying_the_hub(ws, tmp_path, monkeypatch):
    from curation import readers

    def hub(*args, **kwargs):
        raise AssertionError("the hub was tried")

    monkeypatch.setattr(readers, "load_hub", hub)
    monkeypatch.setattr(readers, "hub_reachable", hub)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    for arg in ("data/missing", "data/missing.jsonl", "owner/name.json", "./a/b"):
        with pytest.raises(CurationError, match=f"^{re.escape(arg)}: no such file or directory$"):
            ingest(ws, arg)


def test_a_folder_of_mixed_files_loads_each_file_with_its_own_name(ws, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [GOOD, {"bad": 1}])
    (folder / "b.json").write_text(json.dumps([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]),
                                   encoding="utf-8")
    (folder / "c.csv").write_text("instruction,output\nx,y\n", encoding="utf-8")
    (folder / "d.parquet").write_bytes(b"")
    write_jsonl(folder / "e.jsonl", [{"q": 1, "a": 2}])
    (folder / "notes.md").write_text("about", encoding="utf-8")
    result = ingest(ws, folder)
    assert (result["dataset"], result["added"], result["format"]) == ("mixed", 3, "alpaca+sharegpt")
    assert [(e["file"], e["line"]) for e in result["errors"]] == [("a.jsonl", 2), ("d.parquet", None), ("e.jsonl", None)]
    assert "could not detect the format" in result["errors"][2]["reason"]
    assert result["warnings"] == ["mixed: skipped 1 file(s) that are not .json, .jsonl, .ndjson, .csv, .tsv, .parquet: notes.md"]
    frame = load_records(ws)
    assert sorted(zip(frame["file"], frame["row"])) == [("a.jsonl", 1), ("b.json", 1), ("c.csv", 2)]
    assert ingest(ws, folder)["skipped"] == 3  # ids stable across re-ingest


def test_a_folder_where_no_file_has_a_known_format_asks_for_a_mapping(ws, tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"q": "1", "a": "2"}])
    with pytest.raises(CurationError, match="could not detect the format"):
        ingest(ws, tmp_path)
    assert ingest(ws, tmp_path, mapping={"instruction": "q", "output": "a"})["added"] == 1


def test_an_unrecognised_file_raises_unknown_format_with_its_columns(ws, tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Why?", "answer": "Because."}, {"question": "How?", "hint": "x"}])
    with pytest.raises(UnknownFormat, match="could not detect the format") as caught:
        ingest(ws, path)
    assert isinstance(caught.value, CurationError)  # the CLI and the pages still show it as a one-line error
    assert caught.value.columns == ["answer", "hint", "question"]
    with pytest.raises(CurationError) as caught:  # any other failure is not the unknown-format case
        ingest(ws, tmp_path / "missing.jsonl")
    assert not isinstance(caught.value, UnknownFormat)


@pytest.mark.parametrize("depth", [300, 1000, 100_000])
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_deeply_nested_rows_are_problems_and_the_rest_loads(ws, tmp_path, depth, suffix):
    nested = '{"instruction": "x", "output": "y", "m": ' + "[" * depth + "]" * depth + "}"
    good = json.dumps(GOOD)
    path = tmp_path / f"deep{suffix}"
    path.write_text(f"{good}\n{nested}\n{good}\n" if suffix == ".jsonl" else f"[{good},\n{nested},\n{good}]", encoding="utf-8")
    result = ingest(ws, path)
    assert result["added"] == 2
    (error,) = result["errors"]
    assert error["line"] == 2 and "nested more than 254 levels of lists/objects deep; flatten it" in error["reason"]
    assert rejects(result)[0]["raw"].replace(" ", "") == nested.replace(" ", "")


def test_parquet_with_timestamps_and_decimals_loads_json_safe_meta(ws, tmp_path):
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({
        "instruction": ["Price?"], "output": ["12.30"],
        "at": pa.array([datetime.datetime(2024, 5, 6, 7, 8, 9)], pa.timestamp("ns")),
        "price": pa.array([decimal.Decimal("12.30")], pa.decimal128(6, 2)),
    }), tmp_path / "t.parquet")
    result = ingest(ws, tmp_path / "t.parquet")
    assert result["added"] == 1 and not result["errors"]
    assert json.loads(load_records(ws).iloc[0]["meta"]) == {"at": "2024-05-06T07:08:09", "price": "12.30"}


def test_empty_parquet_files_are_reported(ws, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "zero.parquet").write_bytes(b"")
    pq.write_table(pa.table({"instruction": pa.array([], pa.string()), "output": pa.array([], pa.string())}), tmp_path / "none.parquet")
    assert ingest(ws, tmp_path / "zero.parquet")["errors"][0]["reason"] == "the file is empty (0 bytes)"
    assert ingest(ws, tmp_path / "none.parquet")["errors"][0]["reason"] == "the Parquet file has no rows (columns: instruction, output)"


def test_duplicate_keys_and_columns_are_warned(ws, tmp_path):
    (tmp_path / "d.jsonl").write_text('{"instruction": "b", "output": "x"}\n{"instruction": "a", "output": "1", "output": "2"}\n',
                                      encoding="utf-8")
    result = ingest(ws, tmp_path / "d.jsonl")
    assert result["warnings"] == ["d.jsonl: line 2: duplicate key 'output' in one object; only its last value was kept"]
    (tmp_path / "d.csv").write_text("instruction,output,source,source\na,b,human,web\n", encoding="utf-8")
    result = ingest(ws, tmp_path / "d.csv")
    assert "column 'source' appears more than once" in result["warnings"][0]
    frame = load_records(ws)
    assert json.loads(frame[frame.file == "d.csv"].iloc[0]["meta"]) == {"source": "human", "source_2": "web"}


def test_unreadable_file_is_a_clear_error(ws, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "locked.jsonl", [GOOD])
    deny(monkeypatch, "locked.jsonl")
    with pytest.raises(CurationError, match="locked.jsonl: permission denied"):
        ingest(ws, path)


def test_cli_ingest_goes_on_after_a_failed_source(capsys, tmp_path, monkeypatch):
    from curation.cli import main

    a = write_jsonl(tmp_path / "a.jsonl", [GOOD])
    b = write_jsonl(tmp_path / "locked.jsonl", [GOOD])
    c = write_jsonl(tmp_path / "c.jsonl", [{**GOOD, "output": "Hey"}])
    deny(monkeypatch, "locked.jsonl")
    ws = str(tmp_path / "ws")
    code = main(["ingest", str(a), str(b), str(tmp_path / "missing.jsonl"), str(c), "--workspace", ws, "--json"])
    out, err = capsys.readouterr()
    out = json.loads(out)
    assert code == 0 and err == ""
    assert out["added"] == 2 and [f["dataset"] for f in out["files"]] == ["a", "c"]
    assert [f["path"] for f in out["failed"]] == [str(b), str(tmp_path / "missing.jsonl")]
    assert "permission denied" in out["failed"][0]["error"] and "no such file" in out["failed"][1]["error"]
    code = main(["ingest", str(a), str(b), "--workspace", ws])
    out, err = capsys.readouterr()
    assert code == 0 and f"failed: {b}: permission denied" in out
    code = main(["ingest", str(b), str(tmp_path / "missing.jsonl"), "--workspace", ws, "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and len(json.loads(out)["failed"]) == 2 and err == "error: nothing could be loaded\n"


def test_parse_mapping():
    assert parse_mapping(["instruction=q", "output = a"]) == {"instruction": "q", "output": "a"}
    with pytest.raises(CurationError, match="FIELD=COLUMN"):
        parse_mapping(["instruction"])
    with pytest.raises(CurationError, match="bad column mapping"):
        from curation.formats import get_format

        get_format("", {"answer": "a"})


def test_the_workspace_never_ingests_itself(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", [GOOD]))
    [part] = ws.parts()
    (ws.rejects_dir).mkdir(exist_ok=True)
    (ws.rejects_dir / "d-1.jsonl").write_text(json.dumps({"file": "d.jsonl", "line": 2, "reason": "x", "raw": "{}"}) + "\n")
    for inside in (ws.root, part, part.parent, ws.rejects_dir, ws.rejects_dir / "d-1.jsonl", ws.db_path):
        with pytest.raises(CurationError, match=r"ingest reads your source files, never the workspace's own data"):
            ingest(ws, inside)
    assert [p.name for p in ws.rejects_dir.iterdir()] == ["d-1.jsonl"] and len(ws.parts()) == 1
    ws.uploads_dir.mkdir()
    upload = write_jsonl(ws.uploads_dir / "u.jsonl", [{**GOOD, "output": "Yo"}])
    assert ingest(ws, upload)["added"] == 1  # the dashboard's uploads are source files
    own = write_jsonl(ws.root / "mine.jsonl", [{**GOOD, "output": "Hey"}])  # a user's file kept beside the workspace's data
    assert ingest(ws, own)["added"] == 1


def test_a_folder_holding_the_workspace_is_read_without_it(tmp_path):
    from curation.workspace import Workspace

    write_jsonl(tmp_path / "d.jsonl", [GOOD])
    ws = Workspace(tmp_path / "ws")
    ingest(ws, tmp_path / "d.jsonl")
    result = ingest(ws, tmp_path, name="all")
    assert result["added"] == 1 and not result["errors"] and "left out ws/, the workspace itself" in result["warnings"][0]


def test_ingest_text_says_format_not_detected_and_problems_without_a_line(capsys, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.cli import main

    pq.write_table(pa.table({"instruction": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    code = main(["ingest", str(tmp_path / "empty.parquet"), "--workspace", str(tmp_path / "ws")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[:2] == ["empty: 0 added, 0 already present (format not detected)",
                                "  empty.parquet: the Parquet file has no rows (columns: instruction)"]
