"""Ingest: bad input gets a clear error with file and line and loses nothing."""

from __future__ import annotations

import hashlib
import json

import pytest

from curation.errors import CurationError
from curation.ingest import ingest, parse_mapping
from curation.store import load_records
from tests.conftest import write_jsonl

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


def test_latin1_file_loads_with_a_warning(ws, tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps({"instruction": "Café?", "output": "Oui"}, ensure_ascii=False).encode("latin-1") + b"\n")
    result = ingest(ws, path)
    assert result["added"] == 1 and "Latin-1" in result["warnings"][0]
    assert load_records(ws).iloc[0]["instruction"] == "Café?"


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


def test_hub_id_goes_through_datasets_and_fails_cleanly_offline(ws, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CurationError, match="could not load as a Hugging Face dataset"):
        ingest(ws, "someone/not-cached-dataset")


def test_parse_mapping():
    assert parse_mapping(["instruction=q", "output = a"]) == {"instruction": "q", "output": "a"}
    with pytest.raises(CurationError, match="FIELD=COLUMN"):
        parse_mapping(["instruction"])
    with pytest.raises(CurationError, match="bad column mapping"):
        from curation.formats import get_format

        get_format("", {"answer": "a"})
