"""Read source files into rows, reporting every unreadable part with its line.

A reader never raises for a bad row: it returns the rows it could read and a
`Problem` for each part it could not, so the rest of the file still loads.
Source files are only ever opened for reading.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from curation.errors import CurationError

BOM = b"\xef\xbb\xbf"
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


@dataclass
class Problem:
    file: str
    line: int | None
    reason: str
    raw: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Rows:
    """What a reader got out of one source: rows as (number, dict), and the problems."""

    name: str
    unit: str  # what a row number counts: "line", "item" or "row"
    rows: list[tuple[int, dict]]
    problems: list[Problem]
    warnings: list[str]


def decode(data: bytes, name: str, warnings: list[str]) -> str:
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        warnings.append(f"{name}: not valid UTF-8 (first bad byte on line {line}); read as Latin-1")
        return data.decode("latin-1")


def read_source(path: str | Path) -> Rows:
    """Rows of a file, a `save_to_disk` folder, a data-files folder or a hub dataset id."""
    p = Path(path)
    if p.is_dir():
        return read_hf(str(p))
    if not p.exists():
        if looks_like_hub_id(str(path)):
            return read_hf(str(path))
        raise CurationError(f"{path}: no such file or directory")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(p)
    data = p.read_bytes()
    warnings: list[str] = []
    if not data.strip(b" \t\r\n" + BOM):
        return Rows(p.name, "line", [], [Problem(p.name, None, "the file is empty")], warnings)
    text = decode(data, p.name, warnings)
    if suffix in TABLE_SUFFIXES:
        return read_table(p.name, text, TABLE_SUFFIXES[suffix], warnings)
    first_line = text.lstrip().split("\n", 1)[0]
    if suffix not in (".json", ".jsonl") and "\t" in first_line and not first_line.startswith(("{", "[")):
        return read_table(p.name, text, "\t", warnings)
    return read_json_text(p.name, text, warnings)


def looks_like_hub_id(path: str) -> bool:
    parts = path.removeprefix("hf://").split("/")
    return len(parts) == 2 and all(parts) and not path.startswith((".", "/", "~"))


def read_json_text(name: str, text: str, warnings: list[str]) -> Rows:
    stripped = text.lstrip()
    if stripped.startswith("["):
        return read_json_array(name, text, warnings)
    if stripped.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return read_jsonl(name, text, warnings)  # several objects: JSON Lines
        return rows_from_object(name, value, warnings)
    return read_jsonl(name, text, warnings)


def rows_from_object(name: str, value: dict, warnings: list[str]) -> Rows:
    """A single JSON object: a wrapper such as {"data": [...]} or one record."""
    lists = [k for k, v in value.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    if len(lists) == 1 and len(value) <= 3:
        key = lists[0]
        warnings.append(f"{name}: records read from the {key!r} list of the top-level object")
        return array_rows(name, value[key], warnings)
    return Rows(name, "item", [(1, value)], [], warnings)


def array_rows(name: str, items: list, warnings: list[str]) -> Rows:
    rows, problems = [], []
    for i, item in enumerate(items, 1):
        if isinstance(item, dict):
            rows.append((i, item))
        else:
            problems.append(Problem(name, i, f"item {i} is {type(item).__name__}, expected an object", dumps_raw(item)))
    return Rows(name, "item", rows, problems, warnings)


def read_json_array(name: str, text: str, warnings: list[str]) -> Rows:
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return read_json_array_partially(name, text, warnings)
    return array_rows(name, items, warnings)


def read_json_array_partially(name: str, text: str, warnings: list[str]) -> Rows:
    """A broken JSON array (cut short, a bad item): keep every item before the break."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    items: list = []
    problem = None
    start = pos
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            problem = "the JSON array is cut short (no closing ']')"
            break
        if text[pos] == "]":
            break
        start = pos
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON in item {len(items) + 1}: {exc.msg}"
            pos = exc.pos
            break
        items.append(item)
    rows = array_rows(name, items, warnings)
    if problem:
        line = text.count("\n", 0, pos) + 1
        rows.problems.append(Problem(name, line, f"{problem}; {len(items)} items before it were read", text[start:]))
    return rows


def read_jsonl(name: str, text: str, warnings: list[str]) -> Rows:
    rows, problems = [], []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(Problem(name, number, f"invalid JSON: {exc}", line))
            continue
        if isinstance(value, dict):
            rows.append((number, value))
        else:
            problems.append(Problem(name, number, f"line is {type(value).__name__}, expected an object", line))
    return Rows(name, "line", rows, problems, warnings)


def read_table(name: str, text: str, delimiter: str, warnings: list[str]) -> Rows:
    # TSV files carry quotes literally (no quoting); CSV follows RFC 4180 quoting.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    rows, problems = [], []
    try:
        header = next(reader)
    except StopIteration:
        return Rows(name, "line", [], [Problem(name, 1, "no header row")], warnings)
    header = [h.strip() for h in header]
    line = reader.line_num
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raw = delimiter.join(values)
                problems.append(Problem(name, start, f"{len(values)} fields, expected {len(header)}", raw))
                continue
            rows.append((start, dict(zip(header, values))))
    except csv.Error as exc:
        problems.append(Problem(name, line + 1, f"unreadable {name.rsplit('.', 1)[-1].upper()}: {exc}; rows after it were not read"))
    return Rows(name, "line", rows, problems, warnings)


def read_parquet(p: Path) -> Rows:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise CurationError(f"{p.name}: not a readable Parquet file ({exc})") from None
    return Rows(p.name, "row", list(enumerate(table.to_pylist(), 1)), [], [])


def read_hf(path: str) -> Rows:
    """A Hugging Face dataset: a `save_to_disk` folder, a folder of data files, or a hub id."""
    import datasets

    p = Path(path)
    try:
        if p.is_dir() and any((p / m).exists() for m in HF_MARKERS):
            ds = datasets.load_from_disk(str(p))
        else:
            ds = datasets.load_dataset(path.removeprefix("hf://"))
    except Exception as exc:  # datasets raises many types; all mean "cannot load"
        raise CurationError(f"{path}: could not load as a Hugging Face dataset ({type(exc).__name__}: {exc})") from None
    name = p.name if p.exists() else path
    if isinstance(ds, datasets.DatasetDict):
        every = ({**row, "split": split} for split in ds for row in ds[split])
        rows = list(enumerate(every, 1))  # numbered across splits: a row number names one row
    else:
        rows = list(enumerate(ds, 1))
    return Rows(name, "row", rows, [], [])


def dumps_raw(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)
