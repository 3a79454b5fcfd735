"""Read source files into rows, reporting every unreadable part with its line.

A reader never raises for a bad row: it returns the rows it could read and a
`Problem` for each part it could not, so the rest of the file still loads.
Source files are only ever opened for reading.

What a path names, in order: a `save_to_disk` folder; any other folder (its
.json/.jsonl/.csv/.tsv/.parquet files, each read with the readers below); a
file; a Hugging Face hub id (`owner/name` or `hf://owner/name`) when it does
not exist locally and does not look like a path. A missing path-like argument
fails at once with "no such file or directory", never by trying the hub.
"""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import io
import json
import os
import re
import shlex
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import orjson

from curation.errors import CurationError

BOM = b"\xef\xbb\xbf"
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
FOLDER_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".parquet")
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
MAX_DEPTH = 254  # deepest nesting of lists/objects a row may have: orjson stores no deeper
TOO_DEEP = f"the row is nested more than {MAX_DEPTH} levels of lists/objects deep; flatten it"
# Every object key ends with a quote and a colon; so, rarely, does a quote inside a
# string (\":) or one opening a value that starts with a colon. The count of these
# is thus at least the count of keys, and equal to the keys parsed unless a key repeats.
KEY_END = re.compile(r'"[ \t\r\n]*:')
JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # a string, or a bracket outside strings
SURROGATE = re.compile("[\udc80-\udcff]")  # an undecodable byte, kept by surrogateescape
HUB_ID_PART = re.compile(r"[A-Za-z0-9][\w.-]*")
FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")  # .json, .csv, .gz; not the .5 of OpenHermes-2.5
WARNINGS_PER_KIND = 10  # repeated warnings (duplicate keys) per file, then one summary line


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


# --- where a path leads -------------------------------------------------------------


def read_parts(path: str | Path, skip: Path | None = None, stream_above: int | None = None) -> tuple[list, list[str]]:
    """The rows of every file a path names (one for a file, several for a folder) and
    warnings about the whole source (files of a folder that were skipped). A folder
    inside a folder read is left out when it is `skip` (the workspace).

    With `stream_above` (bytes), a JSON Lines file at least that big comes as a
    `curation.jsonl_stream.RowStream` (rows read as they are taken, issue 18) instead
    of `Rows`; without it every part is `Rows`."""
    p = Path(str(path)).expanduser()
    try:
        is_dir, exists = p.is_dir(), p.exists()
    except OSError as exc:  # e.g. a parent folder we may not enter
        raise CurationError(unreadable(str(path), exc)) from None
    if is_dir:
        if any((p / m).exists() for m in HF_MARKERS):
            return [read_saved(p)], []
        return read_folder(p, skip, stream_above)
    if exists:
        return [read_file(p, p.name, stream_above)], []
    if is_hub_id(str(path)):
        return [read_hub(str(path))], []
    raise CurationError(f"{path}: no such file or directory")


def read_source(path: str | Path) -> Rows:
    """All rows of a path as one `Rows` (a folder's files one after another): for a
    quick look at the columns. Ingest reads the parts, so each file keeps its name."""
    parts, warnings = read_parts(path)
    if len(parts) == 1:
        parts[0].warnings[:0] = warnings
        return parts[0]
    every = Rows(Path(str(path)).name, "row", [], [], list(warnings))
    for part in parts:
        every.rows.extend(part.rows)
        every.problems.extend(part.problems)
        every.warnings.extend(part.warnings)
    return every


def read_folder(folder: Path, skip: Path | None = None, stream_above: int | None = None) -> tuple[list, list[str]]:
    """Each data file of a folder and its subfolders, sorted, hidden ones skipped, and the folder `skip` (the workspace)."""
    entries = [e for e in sorted(folder.rglob("*")) if not any(part.startswith(".") for part in e.relative_to(folder).parts)]
    inside = []
    if skip is not None and skip.is_dir():
        skip = skip.resolve()
        inside = [e for e in entries if e.is_dir() and e.resolve() == skip]
        entries = [e for e in entries if not any(e == d or d in e.parents for d in inside)]
    saved = [e for e in entries if e.is_dir() and any((e / m).exists() for m in HF_MARKERS)]
    files, skipped = [], []
    for f in entries:
        if not f.is_file() or any(d in f.parents for d in saved):
            continue
        (files if f.suffix.lower() in FOLDER_SUFFIXES else skipped).append(f)
    skipped_names = [f.relative_to(folder).as_posix() for f in skipped]
    skipped_names += [f"{d.relative_to(folder).as_posix()}/ (a save_to_disk folder: ingest it on its own)" for d in saved]
    kinds = ", ".join(FOLDER_SUFFIXES)
    if not files:
        found = f" (it holds {', '.join(skipped_names[:5])}{' …' if len(skipped_names) > 5 else ''})" if skipped_names else ""
        raise CurationError(f"{folder}: no {kinds} files in this folder{found}; name a data file or a save_to_disk folder")
    warnings = [f"{folder.name}: left out {d.relative_to(folder).as_posix()}/, the workspace itself" for d in inside]
    if skipped_names:
        listed = ", ".join(skipped_names[:10]) + (f" and {len(skipped_names) - 10} more" if len(skipped_names) > 10 else "")
        warnings.append(f"{folder.name}: skipped {len(skipped_names)} file(s) that are not {kinds}: {listed}")
    parts = []
    for f in files:
        name = f.relative_to(folder).as_posix()
        try:
            parts.append(read_file(f, name, stream_above))
        except CurationError as exc:  # one unreadable file: reported, the others load
            parts.append(Rows(name, "line", [], [Problem(name, None, str(exc))], []))
    return parts, warnings


def read_file(p: Path, name: str, stream_above: int | None = None):
    """The `Rows` of one file; a `RowStream` for a JSON Lines file of at least `stream_above` bytes (see `read_parts`)."""
    if stream_above is not None:
        from curation.jsonl_stream import open_stream

        stream = open_stream(p, name, stream_above)
        if stream is not None:
            return stream
    data = read_bytes(p)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(name, data)
    warnings: list[str] = []
    if not data.strip(b" \t\r\n" + BOM):
        return Rows(name, "line", [], [Problem(name, None, "the file is empty")], warnings)
    utf16 = utf16_encoding(data)
    if utf16:
        raise CurationError(f"{name}: the file looks like UTF-16 text, not UTF-8; re-save it as UTF-8 (e.g. "
                            f"iconv -f {utf16} -t UTF-8 {shlex.quote(str(p))} > {shlex.quote(utf8_name(str(p)))}) and ingest that file")
    text, bad = decode(data, name, warnings)
    del data  # issue 18: the bytes are not needed once decoded (a 1 GB file would otherwise be held twice)
    if suffix in TABLE_SUFFIXES:
        return read_table(name, text, TABLE_SUFFIXES[suffix], warnings, bad)
    first_line = text.lstrip().split("\n", 1)[0]
    if suffix not in (".json", ".jsonl", ".ndjson") and "\t" in first_line and not first_line.startswith(("{", "[")):
        return read_table(name, text, "\t", warnings, bad)
    return read_json_text(name, text, warnings, bad)


def utf16_encoding(data: bytes) -> str | None:
    """The iconv name of the UTF-16 encoding the bytes look like (a byte-order mark, or a NUL in most pairs of bytes),
    or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"  # iconv reads the byte order from the mark
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2 or sample.count(0) < pairs // 2:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    return "UTF-16LE" if odd >= even else "UTF-16BE"  # ASCII text: "a\0" little-endian, "\0a" big-endian


def utf8_name(name: str) -> str:
    path = Path(name)
    return path.with_name(f"{path.stem}-utf8{path.suffix}").as_posix()


def read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as exc:
        raise CurationError(unreadable(str(p), exc)) from None


def unreadable(path: str, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied; make it readable (chmod +r) or copy it somewhere you can read"
    return f"{path}: cannot read it ({exc.strerror or exc})"


# --- the Hugging Face hub and save_to_disk folders ---------------------------------------


def is_hub_id(path: str) -> bool:
    """`owner/name` or `hf://owner/name`; anything that looks like a path is not.

    Path-like: a file suffix, a start of . / ~, a backslash, more than one
    slash, or a first component that exists here as a folder."""
    if path.startswith("hf://"):
        return looks_like_owner_name(path.removeprefix("hf://"))
    if path.startswith((".", "/", "~")) or "\\" in path or not looks_like_owner_name(path):
        return False
    owner, name = path.split("/")
    return not FILE_SUFFIX.search(name) and not Path(owner).is_dir()


def looks_like_owner_name(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 2 and all(HUB_ID_PART.fullmatch(part) for part in parts)


def hub_offline() -> str | None:
    """The environment variable that puts the hub offline, if one does."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return var
    return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub (or the HTTPS proxy in the way) opens in `timeout` s."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlparse(proxy or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def hub_cached(repo: str) -> bool:
    """Whether the local Hugging Face caches may hold this dataset (its namespace is there)."""
    owner, name = repo.split("/")
    home = Path(os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "huggingface").expanduser()
    hub = Path(os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE") or home / "hub").expanduser()
    if (hub / f"datasets--{owner}--{name}").is_dir():
        return True
    cache = Path(os.environ.get("HF_DATASETS_CACHE") or home / "datasets").expanduser()
    prefix = f"{owner}___".lower()  # datasets names its folders namespace___snake_case_name
    return cache.is_dir() and any(d.name.lower().startswith(prefix) for d in cache.iterdir())


def load_hub(repo: str):
    import datasets

    return datasets.load_dataset(repo)


def read_hub(path: str) -> Rows:
    repo = path.removeprefix("hf://")
    offline = hub_offline()
    cannot = f"{path}: no such local file or folder, and the Hugging Face hub cannot be reached"
    if not offline and not hub_reachable():
        raise CurationError(f"{cannot} (no connection to huggingface.co:443); give a local path that exists, "
                            "or set HF_HUB_OFFLINE=1 to use a dataset already in the local cache")
    not_cached = (f"{cannot} ({offline} is set) and the dataset is not in the local cache; "
                  "a local path must exist (could not load as a Hugging Face dataset)")
    if offline and not hub_cached(repo):
        raise CurationError(not_cached)
    try:
        ds = load_hub(repo)  # offline: from the local cache only, which is quick
    except Exception as exc:  # datasets raises many types; all mean "cannot load"
        if offline:
            raise CurationError(not_cached) from None
        raise CurationError(f"{path}: could not load as a Hugging Face dataset ({type(exc).__name__}: {exc})") from None
    return hf_rows(path, ds)


def read_saved(p: Path) -> Rows:
    import datasets

    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as exc:  # datasets raises many types; all mean "cannot load"
        raise CurationError(f"{p}: could not load as a Hugging Face dataset ({type(exc).__name__}: {exc})") from None
    return hf_rows(p.name, ds)


def hf_rows(name: str, ds) -> Rows:
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        every = ({**row, "split": split} for split in ds for row in ds[split])
        rows = list(enumerate(every, 1))  # numbered across splits: a row number names one row
    else:
        rows = list(enumerate(ds, 1))
    return Rows(name, "row", rows, [], [])


# --- text: UTF-8, line by line ------------------------------------------------------------


def decode(data: bytes, name: str, warnings: list[str]) -> tuple[str, dict[int, str]]:
    """The text, and the lines that are not valid UTF-8 with why.

    A bad line is decoded with its bad bytes as lone surrogates (surrogateescape),
    so readers can find it (`SURROGATE`) and show it (`shown`); every other line
    is exactly its UTF-8 text."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8"), {}
    except UnicodeDecodeError:
        pass
    bad, accented = {}, 0
    for number, chunk in enumerate(data.split(b"\n"), 1):
        if chunk.isascii():
            continue
        try:
            chunk.decode("utf-8")
            accented += 1
        except UnicodeDecodeError as exc:
            bad[number] = utf8_reason(chunk, exc)
    if not accented:
        warnings.append(latin1_warning(name, len(bad)))
    return data.decode("utf-8", "surrogateescape"), bad


def utf8_reason(line: bytes, exc: UnicodeDecodeError) -> str:
    """Why a line is not UTF-8: its first bad byte and the column it is in."""
    column = len(line[: exc.start].decode("utf-8")) + 1
    return f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {column}); re-save the file as UTF-8"


def latin1_warning(name: str, bad_lines: int) -> str:
    """The warning for a file with lines that are not UTF-8 and none with UTF-8 accents."""
    return (f"{name}: {bad_lines} line(s) are not UTF-8 and no line has UTF-8 accents: the file may be "
            "Latin-1 or Windows-1252; re-save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8) and ingest it again")


def shown(text: str) -> str:
    """Text with its undecodable bytes written as \\xff escapes (storable as JSON)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape such as "\\ud800"
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class LineCounter:
    """Line numbers of increasing positions in a text, counted once."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


# --- JSON and JSON Lines ----------------------------------------------------------------


def read_json_text(name: str, text: str, warnings: list[str], bad: dict[int, str] | None = None) -> Rows:
    bad = bad or {}
    stripped = text.lstrip()
    if stripped.startswith("["):
        return read_json_array(name, text, warnings, bad)
    if stripped.startswith("{") and not bad:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return read_jsonl(name, text, warnings, bad)  # several objects: JSON Lines
        return rows_from_object(name, text, value, warnings)
    return read_jsonl(name, text, warnings, bad)


def is_conversation(items: list[dict]) -> bool:
    """Turns of one conversation ({role, content} or ShareGPT's {from, value}): one record, not a list of records."""
    return all(set(x) <= {"role", "content", "name", "weight", "tool_calls"} and "role" in x
               or set(x) <= {"from", "value", "weight"} and "from" in x for x in items)


def rows_from_object(name: str, text: str, value: dict, warnings: list[str]) -> Rows:
    """A single JSON object: a wrapper such as {"data": [...]} or one record."""
    if key_marks(text, 0, len(text), count_keys([value])):
        keys = duplicate_keys(text)
        if keys:  # the hook cannot say where, unless the whole object is one line
            warn_duplicates(name, [("line 1" if "\n" not in text.strip() else "", keys)], warnings)
    lists = [k for k, v in value.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    if len(lists) == 1 and len(value) <= 3 and not is_conversation(value[lists[0]]):
        key = lists[0]
        warnings.append(f"{name}: records read from the {key!r} list of the top-level object")
        return array_rows(name, list(enumerate(value[key], 1)), [], warnings)
    return Rows(name, "item", [(1, value)], [], warnings)


def array_rows(name: str, items: list[tuple[int, object]], problems: list[Problem], warnings: list[str]) -> Rows:
    rows = []
    for i, item in items:
        if isinstance(item, dict):
            rows.append((i, item))
        else:
            problems.append(Problem(name, i, f"item {i} is {type(item).__name__}, expected an object", dumps_raw(item)))
    return Rows(name, "item", rows, problems, warnings)


def read_json_array(name: str, text: str, warnings: list[str], bad: dict[int, str]) -> Rows:
    if bad:
        return read_json_array_partially(name, text, warnings, bad)
    try:
        items = orjson.loads(text)
    except orjson.JSONDecodeError:
        return read_json_array_partially(name, text, warnings, bad)
    if not isinstance(items, list):  # e.g. "[1] [2]" fails above; kept for safety
        return read_json_array_partially(name, text, warnings, bad)
    if key_marks(text, 0, len(text), count_keys(items)):  # a key may repeat: find where, item by item
        return read_json_array_partially(name, text, warnings, bad)
    return array_rows(name, list(enumerate(items, 1)), [], warnings)


def read_json_array_partially(name: str, text: str, warnings: list[str], bad: dict[int, str]) -> Rows:
    """A JSON array item by item: a bad item (undecodable bytes, nested too deeply) is
    reported and skipped; a break in the syntax keeps every item before it."""
    decoder = json.JSONDecoder()
    line_of = LineCounter(text)
    pos = text.index("[") + 1
    items: list[tuple[int, object]] = []
    problems: list[Problem] = []
    duplicates: list[tuple[str, list[str]]] = []
    problem = None
    start, number = pos, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            problem = "the JSON array is cut short (no closing ']')"
            break
        if text[pos] == "]":
            break
        start, number = pos, number + 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            end = skip_value(text, start)
            if end is None:
                problem = f"the JSON array is cut short in item {number}"
                break
            problems.append(Problem(name, line_of(start), f"item {number}: {TOO_DEEP}", shown(text[start:end])))
            pos = end
            continue
        except json.JSONDecodeError as exc:
            line = line_of(exc.pos)
            problem = f"item {number}: {bad[line]}" if line in bad else f"invalid JSON in item {number}: {exc.msg}"
            pos = exc.pos
            break
        if bad and SURROGATE.search(text, start, pos):
            first, last = line_of(start), text.count("\n", start, pos)
            line = next(n for n in range(first, first + last + 1) if n in bad)
            problems.append(Problem(name, line, f"item {number}: {bad[line]}", shown(text[start:pos])))
            continue
        if isinstance(item, dict | list) and key_marks(text, start, pos, count_keys([item])):
            keys = duplicate_keys(text[start:pos])
            if keys:
                duplicates.append((f"line {line_of(start)} (item {number})", keys))
        items.append((number, item))
    warn_duplicates(name, duplicates, warnings)
    rows = array_rows(name, items, problems, warnings)
    if problem:
        line = line_of(pos)
        rows.problems.append(Problem(name, line, f"{problem}; {len(items)} items before it were read", shown(text[start:])))
    return rows


def skip_value(text: str, pos: int) -> int | None:
    """The end of the JSON list or object that starts at `pos`, found without parsing it."""
    depth = 0
    for m in JSON_TOKEN.finditer(text, pos):
        token = m.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
            if depth == 0:
                return m.end()
    return None


def split_lines(text: str):
    """The lines of `text` one at a time, exactly as `text.split("\\n")` gives them, without a list holding a copy of
    the whole text (issue 18: a 1 GB JSON Lines file)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def read_jsonl(name: str, text: str, warnings: list[str], bad: dict[int, str] | None = None) -> Rows:
    rows, problems, duplicates = [], [], []
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        if bad and number in bad:
            problems.append(Problem(name, number, bad[number], shown(line)))
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            reason = TOO_DEEP if "depth limit" in str(exc) else f"invalid JSON: {exc}"
            problems.append(Problem(name, number, reason, line))
            continue
        if type(value) is dict:
            rows.append((number, value))
            marks = len(KEY_END.findall(line))
            if marks > len(value) and key_marks(line, 0, len(line), count_keys([value]), marks):
                keys = duplicate_keys(line)
                if keys:
                    duplicates.append((f"line {number}", keys))
        else:
            problems.append(Problem(name, number, f"line is {type(value).__name__}, expected an object", line))
    warn_duplicates(name, duplicates, warnings)
    return Rows(name, "line", rows, problems, warnings)


def key_marks(text: str, start: int, end: int, keys: int, marks: int | None = None) -> bool:
    """Whether text[start:end] has more key ends (`KEY_END`) than `keys`, the keys parsed
    from it: then a key may repeat. Quotes escaped with one backslash (\\":) are in
    strings, not key ends, and are not counted."""
    if marks is None:
        marks = len(KEY_END.findall(text, start, end))
    if marks <= keys:
        return False
    return marks - (text.count('\\":', start, end) - text.count('\\\\":', start, end)) > keys


def count_keys(values: list) -> int:
    """Keys of every object in `values`, at any depth."""
    n, stack = 0, list(values)
    while stack:
        v = stack.pop()
        if type(v) is dict:
            n += len(v)
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)
    return n


def duplicate_keys(text: str) -> list[str]:
    """Keys that repeat within one object of a JSON text (orjson keeps the last silently)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                found.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    return found


def warn_duplicates(name: str, duplicates: list[tuple[str, list[str]]], warnings: list[str]) -> None:
    for where, keys in duplicates[:WARNINGS_PER_KIND]:
        listed = ", ".join(map(repr, dict.fromkeys(keys)))
        warnings.append(f"{name}: {where + ': ' if where else ''}duplicate key {listed} in one object; only its last value was kept")
    if len(duplicates) > WARNINGS_PER_KIND:
        warnings.append(f"{name}: … and {len(duplicates) - WARNINGS_PER_KIND} more lines with duplicate keys")


# --- CSV and TSV ----------------------------------------------------------------------


def read_table(name: str, text: str, delimiter: str, warnings: list[str], bad: dict[int, str] | None = None) -> Rows:
    # TSV files carry quotes literally (no quoting); CSV follows RFC 4180 quoting.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    rows, problems = [], []
    bad = bad or {}
    try:
        header = next(reader)
    except StopIteration:
        return Rows(name, "line", [], [Problem(name, 1, "no header row")], warnings)
    line = reader.line_num
    if any(n in bad for n in range(1, line + 1)):
        warnings.append(f"{name}: the header is {bad[min(bad)]}; column names show the bad bytes as \\x escapes")
    header = unique_columns(name, [shown(h.strip()) for h in header], warnings)
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if bad and any(n in bad for n in range(start, line + 1)):
                first = next(n for n in range(start, line + 1) if n in bad)
                problems.append(Problem(name, first, bad[first], shown(delimiter.join(values))))
                continue
            if len(values) != len(header):
                raw = delimiter.join(values)
                problems.append(Problem(name, start, f"{len(values)} fields, expected {len(header)}", raw))
                continue
            rows.append((start, dict(zip(header, values))))
    except csv.Error as exc:
        problems.append(Problem(name, line + 1, f"unreadable {name.rsplit('.', 1)[-1].upper()}: {exc}; rows after it were not read"))
    return Rows(name, "line", rows, problems, warnings)


def unique_columns(name: str, header: list[str], warnings: list[str]) -> list[str]:
    """Column names made unique: a repeated `name` becomes `name_2` (then `name_3`…), with a warning."""
    taken = set(header)
    seen: set[str] = set()
    out = []
    for column in header:
        if column in seen:
            n = 2
            while f"{column}_{n}" in taken:
                n += 1
            new = f"{column}_{n}"
            taken.add(new)
            warnings.append(f"{name}: line 1: column {column!r} appears more than once; the repeat is read as {new!r}")
            column = new
        seen.add(column)
        out.append(column)
    return out


# --- Parquet --------------------------------------------------------------------------


def read_parquet(name: str, data: bytes) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not data:
        return Rows(name, "row", [], [Problem(name, None, "the file is empty (0 bytes)")], [])
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise CurationError(f"{name}: not a readable Parquet file ({exc})") from None
    if table.num_rows == 0:
        columns = ", ".join(table.column_names) or "none"
        return Rows(name, "row", [], [Problem(name, None, f"the Parquet file has no rows (columns: {columns})")], [])
    rows = table.to_pylist()
    converted = [f.name for f in table.schema if not json_native(f.type)]
    for column in converted:
        for row in rows:
            row[column] = json_safe(row[column])
    warnings = []
    if converted:
        warnings.append(f"{name}: column(s) {', '.join(converted)} read as JSON values: dates and times as ISO 8601 text, "
                        "decimals as exact text, durations as seconds, binary as text (base64 when not UTF-8)")
    return Rows(name, "row", list(enumerate(rows, 1)), [], warnings)


def json_native(t) -> bool:
    """Whether every value of an Arrow type comes out of `to_pylist` as a JSON value."""
    import pyarrow.types as pt

    if pt.is_struct(t):
        return all(json_native(t.field(i).type) for i in range(t.num_fields))
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        return json_native(t.value_type)
    if pt.is_map(t):
        return json_native(t.key_type) and json_native(t.item_type)
    if pt.is_dictionary(t):
        return json_native(t.value_type)
    return (pt.is_null(t) or pt.is_boolean(t) or pt.is_integer(t) or pt.is_floating(t)
            or pt.is_string(t) or pt.is_large_string(t))


def json_safe(value):
    """A value as JSON can hold it: see `read_parquet`'s warning for the rules."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(data).decode()
    return str(value)


# --- raw text for the rejects file ---------------------------------------------------


class _Token(str):
    """Literal JSON punctuation on `dumps_raw`'s stack."""


def dumps_raw(value) -> str:
    """A value as JSON text for the rejects file; never fails (deep or odd values too)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        pass
    out, stack = [], [value]  # without recursion: a value may be nested 1,000 levels deep
    while stack:
        v = stack.pop()
        if type(v) is _Token:
            out.append(v)
        elif isinstance(v, dict):
            items = list(v.items())
            stack.append(_Token("}"))
            for i in range(len(items) - 1, -1, -1):
                stack.append(items[i][1])
                stack.append(_Token(("," if i else "") + json.dumps(str(items[i][0]), ensure_ascii=False) + ":"))
            out.append("{")
        elif isinstance(v, list | tuple):
            stack.append(_Token("]"))
            for i in range(len(v) - 1, -1, -1):
                stack.append(v[i])
                if i:
                    stack.append(_Token(","))
            out.append("[")
        else:
            try:
                out.append(orjson.dumps(json_safe(v)).decode())
            except TypeError:
                out.append(json.dumps(shown(str(v)), ensure_ascii=False))
    return "".join(out)
