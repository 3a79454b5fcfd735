"""Export: the records not rejected, rendered with a template, shaped, split without leakage, written with a manifest.

The same workspace, decisions and options give byte-identical files: rows keep
the load order within each split, JSON keys keep a fixed order, and the manifest
holds no time stamp.

Export streams (issue 18): the plan holds the records as columns (ids, decisions, groups, the text for the policy and
the splits), never their rendered texts. Records are rendered `SLICE_ROWS` at a time into a spill file of JSON lines
beside the export (token lengths kept); once the lengths say which records are too long, the splits are assigned and
each split's file is written from the spill in load order. `prepare` renders every record in memory: the Export
page's preview.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from curation import names
from curation.errors import CurationError
from curation.export.folder import MARKER, WRITER, WRITTEN_BY, check_out, remove_stale, swap_in, temp_prefix, writer
from curation.export.manifest import breakdown, decisions_snapshot, highest_similarity, sha256_file, sha256_lines, versions
from curation.export.policy import CONTAMINATED, exclusions, selection
from curation.export.shapes import SHAPES, rendered
from curation.export.splits import STRATIFY, assign_splits, parse_splits
from curation.export.templates import Limits, Template, get_template
from curation.texts import record_texts
from curation.workspace import Workspace

OVER = {"drop": "records over the maximum are left out (reason too_long)", "keep": "kept, and counted in the manifest"}
END_MARKERS = {"strip": "answers lose the end-of-text markers that close them (<|endoftext|>, </s>…; the template adds its own)",
               "keep": "answers are written as stored"}
MANIFEST = "manifest.json"
SPLIT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
RESERVED = {MANIFEST: "its manifest", "dataset_dict.json": "the hf format's index"}  # names a split's folder (hf) would clash with
SLICE_ROWS = 20_000  # records turned into Python rows, rendered and spilled at a time
SPILL = "rendered.jsonl"  # in export's temporary folder, beside the new export (not in it)
ROW_COLUMNS = ("record_id", "system", "instruction", "input", "output", "messages", "meta")  # what rendering reads of a record


@dataclass
class Options:
    template: str = "alpaca"
    shape: str = "text"
    format: str = "jsonl"
    split: str = "train=0.9,test=0.1"
    seed: int = 0
    stratify: str = "none"
    max_tokens: int | None = None
    over: str = "drop"
    kept_only: bool = False
    tokenizer: str | None = None
    similarity: bool = True
    template_source: str | None = field(default=None, repr=False)
    limits: Limits | dict | None = None  # of each render (templates.Limits; None: the defaults)
    end_markers: str = "strip"  # strip: outputs lose the end-of-text markers that close them (the template adds its own)
    blocking: tuple[str, ...] | None = None  # flags whose records are left out (None: the workspace's, see policy.py)
    keep_blocked: bool = False  # export the records of blocking flags all the same
    contaminated: str = "drop"  # training records matching a protected evaluation item: drop (default) or keep

    def check(self) -> None:
        for name, value, allowed in (("shape", self.shape, SHAPES), ("format", self.format, FORMATS),
                                     ("stratify", self.stratify, STRATIFY), ("over", self.over, OVER),
                                     ("end_markers", self.end_markers, END_MARKERS), ("contaminated", self.contaminated, CONTAMINATED)):
            if value not in allowed:
                raise CurationError(f"unknown {name} {value!r}: choose one of {', '.join(allowed)}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise CurationError("--max-tokens must be a positive number of tokens")
        seen: dict[str, str] = {}
        for name in parse_splits(self.split):
            check_split_name(name)
            if name.casefold() in seen:  # train.jsonl and Train.jsonl are one file on macOS and Windows
                raise CurationError(f"split names {seen[name.casefold()]!r} and {name!r} differ only in case: name them apart")
            seen[name.casefold()] = name


def check_split_name(name: str) -> None:
    """A split name is a file name (NAME.jsonl, NAME.parquet) or a folder (hf) inside the export: raise unless it is a safe one."""
    if not SPLIT_NAME.fullmatch(name):
        if not SPLIT_NAME.match(name):
            why = f"it must start with a letter, a digit or '_', not {name[0]!r}" + (" (it would be hidden)" if name[0] == "." else "")
        else:
            bad = sorted({c for c in name if not SPLIT_NAME.fullmatch("_" + c)})
            why = f"{' '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not allowed: use only letters, digits, '_', '-' and '.'"
        raise CurationError(f"split name {name!r} cannot be a file name: {why}")
    if name.casefold() in RESERVED:
        raise CurationError(f"split name {name!r} is reserved: export writes {RESERVED[name.casefold()]} there; choose another name")


def exclusion_reason(decision: str, reason) -> str | None:
    from curation.dedup import DUPLICATE_REASON

    if decision != "reject":
        return None
    reason = str(reason or "rejected")
    return DUPLICATE_REASON.rstrip(":") if reason.startswith(DUPLICATE_REASON) else reason


def token_lengths(texts: list[str], template: Template, counter) -> np.ndarray:
    """Tokens of each rendered text (`counter`: curation.tokenize's); the template's special markers count one token each."""
    markers = [m for m in template.special if m]
    stripped, extra = [], np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        for m in markers:
            extra[i] += text.count(m)
            text = text.replace(m, " ")
        stripped.append(text)
    return counter.count(stripped) + extra


def duplicate_groups(ws: Workspace, frame: pd.DataFrame, taken: tuple) -> tuple[pd.Series, dict]:
    """Duplicate group per record: the groups saved by the last dedup (or export) under the same inputs (`taken`:
    `saved_groups.inputs`, before the records were read), else those of the cached pairs (saved for the next export),
    else exact copies only."""
    from curation import dedup
    from curation.annotated import find_duplicates
    from curation.dedup import saved_groups

    name = saved_groups.key(ws, taken, frame)
    ids = frame["record_id"].astype(str).to_numpy(object)
    saved = saved_groups.load(ws, name, ids)
    if saved is not None:
        groups, info = saved
        return groups, {**info, "note": None}
    found = find_duplicates(ws, frame, compute=("signals",))  # the pairs only from the cache; the rule's signal computed if missing
    if found is not None:
        info = saved_groups.group_info(found)
        saved_groups.save(ws, name, ids, found.table["dup_group"], info)
        return found.table["dup_group"], {**info, "note": None}
    found = dedup.find(ws, frame, method="exact", rule="first_seen")
    note = "near-duplicate groups were not computed (run dedup first); exact copies are kept together"
    return found.table["dup_group"], {**saved_groups.group_info(found), "note": note}


def with_clusters(ws: Workspace, frame: pd.DataFrame, needed: bool) -> pd.DataFrame:
    """The records plus their map columns (cluster, cluster_label, x, y) when the map is cached."""
    from curation.annotated import find_map

    found = find_map(ws, frame)
    if found is not None:  # joined by id: a merge would copy every text column (issue 18)
        new = [c for c in found.points.columns if c != "record_id" and c not in frame]
        joined = frame[["record_id"]].merge(found.points[["record_id", *new]], on="record_id", how="left")
        frame = frame.assign(**{c: joined[c].set_axis(frame.index) for c in new})
    if needed and "cluster" not in frame:
        raise CurationError("stratifying by cluster needs the map: build it first (python -m curation map)")
    return frame


def leakage(ws: Workspace, frame: pd.DataFrame, split: pd.Series, names: list[str], threads=None) -> dict:
    """The highest similarity between a record of any other split and a train record (embeddings of the prompts).
    `threads`: how many OpenMP threads its index search may take, asked as it goes (`neighbours.ivf_search`)."""
    from curation.dedup.calibration import embedding_threshold
    from curation.embed import EmbedSettings, embed_records

    train = "train" if "train" in names else names[0]
    model = EmbedSettings.load(ws).model
    vectors, _ = embed_records(ws, frame, model=model, text="prompt")  # a slice of texts at a time (issue 18)
    is_train = (split == train).to_numpy()
    threshold, calibrated = embedding_threshold(model)
    out = {"model": model, "text": "prompt", "against": train, "near_duplicate_threshold": threshold,
           "threshold_calibrated": calibrated, "splits": {}}
    ids = frame["record_id"].to_numpy()
    for name in names:
        if name == train:
            continue
        rows = np.flatnonzero((split == name).to_numpy())
        if not len(rows) or not is_train.any():
            out["splits"][name] = None
            continue
        found = highest_similarity(vectors[is_train], vectors[rows], threads=threads)
        check = {"max_similarity": round(found["max_similarity"], 6), "record": str(ids[rows][found["row"]]),
                 "train_record": str(ids[is_train][found["train_row"]]), "method": found["method"]}
        if "recall" in found:
            check["recall"] = found["recall"]
        out["splits"][name] = check
    return out


def leakage_lines(leak: dict | None) -> list[str]:
    """Each checked split's highest similarity to a train record, and what it means: at or above the model's
    near-duplicate threshold a record of that split has a near copy in train."""
    lines = []
    for name, check in ((leak or {}).get("splits") or {}).items():
        if not check:
            continue
        value, threshold = check["max_similarity"], leak.get("near_duplicate_threshold")
        line = f"{name}: highest similarity to a train record {value:.3f} ({check['record']} ~ {check['train_record']})"
        if check.get("recall") is not None:
            line += f", found with {check['method']}; it found {check['recall']:.0%} of a sample's nearest train records exactly"
        if threshold is not None:
            basis = "calibrated on labelled paraphrase pairs" if leak.get("threshold_calibrated") else "not calibrated for this model"
            if value >= threshold:
                line += (f". That is at or above {threshold:.2f}, the near-duplicate threshold of {leak['model']} ({basis}): "
                         f"a {name} record has a near copy in train. Export keeps each duplicate group in one split: run dedup "
                         "if it has not run, else look at the pair (records of one template that differ only in their "
                         "values are not grouped, and a star group holds only records near its representative: a record "
                         "near a member alone stays out; grouping by components keeps such chains whole)")
            else:
                line += (f". Below {threshold:.2f}, the near-duplicate threshold of {leak['model']} ({basis}): "
                         "no near copy crosses the splits")
        lines.append(line)
    return lines


def write_jsonl(path: Path, lines) -> None:
    """Each row's JSON line (bytes, as `row_line` gives it) into the file."""
    with open(path, "wb") as fh:
        for line in lines:
            fh.write(line)


def row_line(row: dict) -> bytes:
    return orjson.dumps(row) + b"\n"


def by_column(rows: list[dict]) -> dict[str, list]:
    """The rows as columns, every key any row has (None where a row lacks it): `from_pylist` and `Dataset.from_list`
    take the first row's keys only, and dropped the history and system of the alpaca shape's later rows."""
    keys = dict.fromkeys(k for row in rows for k in row)
    return {k: [row.get(k) for row in rows] for k in keys}


def write_parquet(path: Path, rows: list[dict], columns) -> None:
    """`columns`: the columns of an empty split (a list, or a function giving it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if rows:
        table = pa.Table.from_pydict(by_column(rows))
    else:
        table = pa.table({c: pa.array([], type=pa.string()) for c in (columns() if callable(columns) else columns)})
    pq.write_table(table, path)


def write_hf(folder: Path, rendered: Rendered) -> None:
    from datasets import Dataset, DatasetDict

    def part(name: str):
        rows = rendered.rows(name)
        return Dataset.from_dict(by_column(rows) if rows else {c: [] for c in rendered.columns()})

    DatasetDict({name: part(name) for name in rendered.names}).save_to_disk(str(folder))
    for state in folder.glob("*/state.json"):  # the fingerprint is random: make it the content's, so exports are reproducible
        body = json.loads(state.read_text())
        body["_fingerprint"] = sha256_lines(sha256_file(p) for p in sorted(state.parent.glob("*.arrow")))[:16]
        state.write_text(json.dumps(body, indent=2, sort_keys=True))


def jsonl_files(folder: Path, rendered: Rendered) -> None:
    for name in rendered.names:
        write_jsonl(folder / f"{name}.jsonl", rendered.lines(name))


def parquet_files(folder: Path, rendered: Rendered) -> None:
    for name in rendered.names:  # one split's rows in memory at a time
        write_parquet(folder / f"{name}.parquet", rendered.rows(name), rendered.columns)


class Rendered:
    """The rendered rows of an export, split by split in load order, read back from the spill file: one JSON line per
    rendered record, `split_of` its split's number in `names` (-1: left out, too long)."""

    def __init__(self, names: list[str], spill: Path, split_of: np.ndarray):
        self.names, self.spill, self.split_of = list(names), spill, split_of

    def numbered(self):
        with open(self.spill, "rb") as fh:
            yield from zip(fh, self.split_of)

    def lines(self, name: str):
        """The JSON lines of split `name`, in load order."""
        k = self.names.index(name)
        return (line for line, split in self.numbered() if split == k)

    def rows(self, name: str) -> list[dict]:
        return [orjson.loads(line) for line in self.lines(name)]

    def columns(self) -> list[str]:
        """The keys of the first exported row in load order (what an empty split's columns are)."""
        return next((list(orjson.loads(line)) for line, split in self.numbered() if split >= 0), [])


@dataclass(frozen=True)
class ExportFormat:
    """A file format of the export: `write(folder, rendered)` writes every split's rows (a `Rendered`) into the empty folder."""

    name: str
    description: str
    write: Callable[[Path, Rendered], None]


FORMATS: dict[str, ExportFormat] = names.registry(names.EXPORT_FORMATS, (
    ExportFormat("jsonl", "one JSON object per line, a file per split", jsonl_files),
    ExportFormat("parquet", "a Parquet file per split", parquet_files),
    # the folder itself is the DatasetDict: load_from_disk(out) opens it
    ExportFormat("hf", "a Hugging Face DatasetDict folder (save_to_disk; datasets.load_from_disk opens it)", write_hf),
))


def plan_export(ws: Workspace, opts: Options) -> dict:
    """Everything before rendering, as columns: the records to export (`frame`), why the others are left out, the policy,
    the duplicate groups and the tools. Used by `prepare` (the preview) and by `export`."""
    from curation.dedup import saved_groups
    from curation.signals.compute import tokenizer_name
    from curation.store import load_records

    opts.check()
    ratios = parse_splits(opts.split)
    template = get_template(opts.template, opts.template_source)
    taken = saved_groups.inputs(ws)  # before the records are read
    frame = load_records(ws)
    if frame.empty:
        raise CurationError("no records to export: ingest some first")
    frame = with_clusters(ws, frame, opts.stratify == "cluster")
    groups, grouping = duplicate_groups(ws, frame, taken)
    frame = frame.assign(dup_group=groups.to_numpy())
    excluded: dict[str, int] = {}
    reasons = [exclusion_reason(d, r) for d, r in zip(frame["decision"], frame["reason"])]
    reasons, policy = exclusions(ws, frame, reasons, opts)  # protected, blocking flags, contaminated (policy.py)
    if opts.kept_only:
        reasons = [r or ("undecided" if d == "undecided" else None) for r, d in zip(reasons, frame["decision"])]
    keep = np.array([r is None for r in reasons])
    for r in reasons:
        if r is not None:
            excluded[r] = excluded.get(r, 0) + 1
    pool = frame[["reason"]]  # all the records' reasons, for the selection's counts
    frame = frame[keep].reset_index(drop=True)
    tools = tools_plan(frame, template, policy["warnings"])
    return {"template": template, "frame": frame, "pool": pool, "excluded": excluded, "grouping": grouping, "ratios": ratios,
            "tokenizer": opts.tokenizer or tokenizer_name(ws),  # the workspace's tokenizer unless one is given
            "policy": policy, "tools": tools, "cleaning": {"end_markers": opts.end_markers, "outputs_changed": 0}}


def frame_chars(frame) -> int:
    """Characters of text the records hold (every column rendering reads but the id)."""
    return int(sum(frame[c].fillna("").astype(str).str.len().sum() for c in ROW_COLUMNS if c != "record_id" and c in frame))


def render_slices(plan: dict, opts: Options, rows_at_a_time: int | None = None):
    """(rows, texts, shaped rows, token lengths) of the plan's records, `rows_at_a_time` (SLICE_ROWS) records at a time, in
    load order; counts the outputs cleaned into the plan. The render limits hold for all the slices together.

    A slice's tokens are counted on another thread while the next slice renders (issue 18: tiktoken counts outside the
    GIL, rendering holds it; one after the other, a 1M export left a core idle for ~1.5 min)."""
    from concurrent.futures import ThreadPoolExecutor

    from curation.export.sandbox import Budget
    from curation.tokenize import get_counter

    frame, template = plan["frame"], plan["template"]
    step = rows_at_a_time or SLICE_ROWS
    limits = opts.limits if opts.limits is not None else Limits.for_batch(len(frame), frame_chars(frame))
    budget, counter = Budget.start(limits), get_counter(plan["tokenizer"])
    with ThreadPoolExecutor(1, thread_name_prefix="export-tokens") as counting:
        held = None  # the slice rendered before, its tokens being counted
        for lo in range(0, len(frame), step):
            rows = frame.iloc[lo : lo + step][list(ROW_COLUMNS)].to_dict("records")  # only what rendering reads: to_dict is slow
            if opts.end_markers == "strip":
                plan["cleaning"]["outputs_changed"] += strip_end_markers(rows)
            # in a child process, within the limits
            texts, shaped_rows = rendered(template, rows, opts.shape, limits, budget=budget, first=lo)
            if plan["tools"]["records"]:
                add_tools(rows, shaped_rows)
            if held is not None:
                yield *held[:3], held[3].result()
            held = rows, texts, shaped_rows, counting.submit(token_lengths, texts, template, counter)
        if held is not None:
            yield *held[:3], held[3].result()


def settle(ws: Workspace, plan: dict, opts: Options, lengths: np.ndarray, ahead=None) -> np.ndarray:
    """With every record's token length known: leave out those too long (when asked), assign the splits. Returns the
    rendered records' mask of those left out (too long). `ahead`: a future of `splits_and_leakage`, started while the
    records rendered (only when no record can be left out for its length)."""
    over = lengths > opts.max_tokens if opts.max_tokens else np.zeros(len(lengths), dtype=bool)
    frame, excluded = plan["frame"], plan["excluded"]
    if lengths_decide(opts) and over.any():
        excluded["too_long"] = int(over.sum())
        frame, lengths = frame[~over].reset_index(drop=True), lengths[~over]
    if frame.empty:
        raise CurationError("every record is excluded: nothing to export")
    ratios = plan["ratios"]
    if ahead is not None:
        split, plan["leakage"] = ahead.result()
    else:
        split = splits_of(frame, ratios, opts)
    codes = pd.Categorical(split, categories=list(ratios)).codes
    by_split = {name: np.flatnonzero(codes == k).tolist() for k, name in enumerate(ratios)}
    plan.update(frame=frame, lengths=lengths, split=split, by_split=by_split, excluded=dict(sorted(excluded.items())),
                over_max=int(over.sum()) if opts.max_tokens else 0, selection=selection(ws, plan.pop("pool"), frame))
    return over if lengths_decide(opts) else np.zeros(len(over), dtype=bool)


def splits_of(frame: pd.DataFrame, ratios: dict, opts: Options) -> pd.Series:
    return assign_splits(frame, ratios, opts.seed, opts.stratify, frame["dup_group"], record_texts(frame, "prompt"))


def lengths_decide(opts: Options) -> bool:
    """Whether a record's token length can leave it out (and so change the splits)."""
    return bool(opts.max_tokens) and opts.over == "drop"


def splits_and_leakage(ws: Workspace, plan: dict, opts: Options, rendered=None) -> tuple[pd.Series, dict | None]:
    """The splits of the plan's records and their leakage check (None when not asked for): what `export` finds beside
    the rendering when no record can be left out for its length (issue 18: at 1M records ~2 min, mostly outside the GIL
    in faiss and reading the cached vectors, while rendering holds it).

    faiss runs on one OpenMP thread here (the setting is this thread's own) until `rendered` (a threading.Event) is
    set: beside the rendering and the token counting, its threads spun waiting for a core and made the 1M export
    slower, not faster; once the records are rendered the search takes every core again."""
    import faiss

    cores = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    frame, ratios = plan["frame"], plan["ratios"]
    split = splits_of(frame, ratios, opts)
    checked = opts.similarity and len(ratios) > 1

    def threads() -> int:
        return cores if rendered is not None and rendered.is_set() else 1

    return split, (leakage(ws, frame, split, list(ratios), threads) if checked else None)


def prepare(ws: Workspace, opts: Options) -> dict:
    """Everything but the writing, every record rendered in memory: rows per split, excluded counts, lengths, and each
    exported record's row, rendered text and shaped row (`rows`, `texts`, `shaped`). The Export page's preview."""
    plan = plan_export(ws, opts)
    rows, texts, shaped_rows, lengths = [], [], [], []
    for part in render_slices(plan, opts, rows_at_a_time=max(len(plan["frame"]), 1)):  # one batch
        for held, new in zip((rows, texts, shaped_rows, lengths), part):
            held.extend(new)
    dropped = settle(ws, plan, opts, np.array(lengths, dtype=np.int64))
    if dropped.any():
        rows, texts, shaped_rows = ([x for x, o in zip(xs, dropped) if not o] for xs in (rows, texts, shaped_rows))
    return {**plan, "rows": rows, "texts": texts, "shaped": shaped_rows}


def preview_plan(ws: Workspace, opts: Options) -> dict:
    """`prepare` without holding the rendered records: every record is rendered a slice at a time for its token length
    (the splits and the too-long records depend on it) and let go; `preview_rows` renders the few the page shows
    (issue 18: the Export page held every rendered text, row and shaped row of a million records)."""
    plan = plan_export(ws, opts)
    lengths = [part[3] for part in render_slices(plan, opts)]
    settle(ws, plan, opts, np.concatenate(lengths).astype(np.int64) if lengths else np.zeros(0, np.int64))
    return plan


def preview_rows(plan: dict, opts: Options, indices: list[int]) -> list[tuple[dict, str]]:
    """(row, rendered text) of the records at `indices` of a settled plan's frame, rendered as the export renders them."""
    from curation.export.sandbox import Budget

    chosen = plan["frame"].iloc[list(indices)]
    rows = chosen[list(ROW_COLUMNS)].to_dict("records")
    if opts.end_markers == "strip":
        strip_end_markers(rows)
    limits = opts.limits if opts.limits is not None else Limits.for_batch(len(chosen), frame_chars(chosen))
    texts, _ = rendered(plan["template"], rows, opts.shape, limits, budget=Budget.start(limits), first=0)
    return list(zip(rows, texts))


def spill_rendered(plan: dict, opts: Options, spill: Path) -> np.ndarray:
    """Render the plan's records a slice at a time, each shaped row's JSON line into `spill`; their token lengths."""
    lengths = []
    with open(spill, "wb") as fh:
        for _, _, shaped_rows, part_lengths in render_slices(plan, opts):
            fh.write(b"".join(map(row_line, shaped_rows)))
            lengths.append(part_lengths)
    return np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)


def split_numbers(plan: dict, dropped: np.ndarray) -> np.ndarray:
    """Each rendered record's split, as its number in the plan's ratios (-1: left out)."""
    out = np.full(len(dropped), -1, dtype=np.int16)
    kept = np.flatnonzero(~dropped)
    for k, idx in enumerate(plan["by_split"].values()):
        out[kept[idx]] = k
    return out


def tools_plan(frame: pd.DataFrame, template: Template, warnings: list[str]) -> dict:
    """Whether exported rows get the `tools` column: yes when any record has tool definitions (tools.py); what the
    manifest says."""
    from curation.export.tools import template_uses_tools, tools_of

    n = sum(tools_of(m) is not None for m in frame["meta"] if not isinstance(m, str) or "tools" in m or "functions" in m)
    uses = template_uses_tools(template.source)
    if n and not uses:
        warnings.append(f"{n:,} records carry tool definitions: template {template.name!r} does not write them into the "
                        "text; they are in the tools column")
    return {"records": n, "column": "tools" if n else None, "template_uses_tools": uses}


def add_tools(rows: list[dict], shaped_rows: list[dict]) -> None:
    """The `tools` column of every shaped row: the record's tool definitions as JSON text, None without."""
    from curation.export.tools import column, tools_of

    for row, shaped_row in zip(rows, shaped_rows):
        shaped_row["tools"] = column(tools_of(row.get("meta")))


def strip_end_markers(rows: list[dict]) -> int:
    """Remove the end-of-text markers that close each answer (the output, and every assistant turn); how many records changed."""
    from curation.records import dumps, loads
    from curation.signals.cleaning import clean_output

    changed = 0
    for row in rows:
        before = (row.get("output"), row.get("messages"))
        if isinstance(row.get("output"), str):
            row["output"] = clean_output(row["output"])
        turns = loads(row.get("messages"))
        if turns:
            new = [{**m, "content": clean_output(m["content"])} if m.get("role") == "assistant" and isinstance(m.get("content"), str)
                   else m for m in turns]
            if new != turns:
                row["messages"] = dumps(new)
        changed += (row.get("output"), row.get("messages")) != before
    return changed


def edits_snapshot(ws: Workspace, ids) -> dict:
    """How many exported records are edited (written as their latest version) and the workspace's edit versions."""
    from curation.edits import edited_ids, stamp

    edited = edited_ids(ws)
    return {"edited_records": int(sum(str(i) in edited for i in ids)), "versions": int(stamp(ws)[0])}


def write_files(ws: Workspace, folder: Path, opts: Options, plan: dict, rendered: Rendered) -> dict:
    """The split files, `manifest.json` and, last, the marker, written into the empty `folder`; returns the manifest."""
    template = plan["template"]
    FORMATS[opts.format].write(folder, rendered)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    frame, split = plan["frame"], plan["split"]
    lengths = plan["lengths"]
    manifest = {
        "options": {k: v for k, v in asdict(opts).items() if k != "template_source"},
        "template": {"name": template.name, "sha256": sha256_lines([template.source]), "bos_token": template.bos_token,
                     "eos_token": template.eos_token, **({"source": template.source} if opts.template_source else {})},
        "splits": {name: len(idx) for name, idx in plan["by_split"].items()},
        "ratios": plan["ratios"],
        "cleaning": plan["cleaning"],
        "counts": breakdown(frame, split),
        "excluded": plan["excluded"],
        "over_max_tokens": plan["over_max"],
        "tokenizer": plan["tokenizer"],
        "tokens": {name: ({"p50": int(np.median(lengths[idx])), "max": int(lengths[idx].max()), "total": int(lengths[idx].sum())}
                          if idx else None) for name, idx in plan["by_split"].items()},
        "duplicate_groups": plan["grouping"],
        "record_ids": {name: sha256_lines(frame["record_id"].iloc[idx]) for name, idx in plan["by_split"].items()},
        "decisions": decisions_snapshot(ws),
        "edits": edits_snapshot(ws, frame["record_id"]),  # issue 17: exported records written as their latest version
        "records": {"total": int(len(frame) + sum(plan["excluded"].values())), "exported": len(frame)},
        "files": [{"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files],
        "versions": versions(),
        "policy": plan["policy"]["policy"],
        "warnings": plan["policy"]["warnings"],
        "decontamination": plan["policy"]["decontamination"],
        "selection": plan["selection"],
        "tools": plan["tools"],
    }
    if opts.similarity and len(plan["ratios"]) > 1:
        manifest["leakage"] = plan["leakage"] if "leakage" in plan else leakage(ws, frame, split, list(plan["ratios"]))
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
                                   encoding="utf-8")
    written = {f["path"]: {"bytes": f["bytes"], "sha256": f["sha256"]} for f in manifest["files"]}
    written[MANIFEST] = {"bytes": (folder / MANIFEST).stat().st_size, "sha256": sha256_file(folder / MANIFEST)}
    marker = {"written_by": WRITTEN_BY, "note": "export replaces this folder only while it holds just these files",
              "files": written}
    (folder / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def export(ws: Workspace, out: str | Path, opts: Options | None = None, progress=None) -> dict:
    """Write the splits, `manifest.json` and the marker into `out`; returns what the CLI prints.

    `out` may be new, empty, or an earlier export holding only the files export wrote there (it is replaced whole).
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    opts = opts or Options()
    opts.check()
    target = check_out(ws, out)
    remove_stale(target)
    plan = plan_export(ws, opts)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=temp_prefix(target)))
    except OSError as exc:
        raise CurationError(f"cannot export to {out}: {exc.strerror or exc}; name a folder you can write") from None
    tmp = work / "new"  # a plain folder (not mkdtemp's private one), so the export gets the usual permissions
    spill = work / SPILL  # the rendered rows, beside the new export (not in it)
    moved = False
    try:
        (work / WRITER).write_text(json.dumps(writer()) + "\n", encoding="utf-8")
        tmp.mkdir()
        beside = ThreadPoolExecutor(1, thread_name_prefix="export-splits")
        try:
            rendered = threading.Event()
            ahead = None if lengths_decide(opts) else beside.submit(splits_and_leakage, ws, plan, opts, rendered)
            lengths = spill_rendered(plan, opts, spill)  # within the render limits
            rendered.set()
            dropped = settle(ws, plan, opts, lengths, ahead)
        finally:
            beside.shutdown(wait=False, cancel_futures=True)  # a failed render does not wait for the leakage check
        manifest = write_files(ws, tmp, opts, plan, Rendered(list(plan["ratios"]), spill, split_numbers(plan, dropped)))
        spill.unlink()
        swap_in(tmp, target, work / "old", out)
        moved = True
    except OSError as exc:
        raise CurationError(f"cannot export to {out}: {exc.strerror or exc}; name a folder you can write") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder only (gone once moved in)
        spill.unlink(missing_ok=True)
        if not moved:  # an earlier export that could not be put back stays in there, and no later export removes it
            (work / WRITER).unlink(missing_ok=True)
        try:
            work.rmdir()  # fails, and so keeps it, while an earlier export that could not be put back is in there
        except OSError:
            pass
    shutil.rmtree(work, ignore_errors=True)  # the earlier export, moved aside and checked to hold only export's files
    out = Path(str(out).strip()).expanduser()
    return {"out": str(out), "splits": manifest["splits"], "files": [str(out / f["path"]) for f in manifest["files"]],
            "manifest": str(out / MANIFEST), "excluded": plan["excluded"], "leakage": manifest.get("leakage"),
            "warnings": manifest["warnings"], "policy": manifest["policy"], "selection": manifest["selection"],
            "contaminated": len(plan["policy"]["contaminated"]), "tools": manifest["tools"],
            "seconds": round(time.perf_counter() - start, 3)}


def zip_folder(folder: str | Path) -> bytes:
    """The export folder as a zip (fixed time stamps: the same files give the same bytes)."""
    import io
    import zipfile

    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder)}", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
