"""Computing signals: per Parquet part, cached on disk, then flags and quality.

Record parts are immutable, so a part's signals are cached in
`signals/<part>.<key>.parquet`, where the key covers the signals' version and
the tokenizer. Adding records adds a part and computes only that part; a new
tokenizer or signal version never reuses stale columns. Exact duplicates are
found across all parts from the cached text hashes (cheap). Flags and the
quality score are derived at read time from the thresholds in force.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time

import numpy as np
import pandas as pd

from curation import settings
from curation.errors import CurationError
from curation.progress import Progress
from curation.signals import SIGNALS, by_reason
from curation.signals.base import Texts
from curation.signals.duplicates import mark_duplicates, text_hashes
from curation.signals.lengths import lengths
from curation.signals.quality import quality
from curation.tokenize import DEFAULT, get_counter
from curation.workspace import Workspace, write_atomically

VERSION = 3  # 2: structured evidence (`found__<signal>`); 3: task-aware flags (issue 12), end_marker
CHUNK = 10_000
TEXT_COLUMNS = ["record_id", "system", "instruction", "input", "output", "messages", "meta"]  # meta: only whether tools are declared


@dataclasses.dataclass(frozen=True)
class SignalSettings(settings.StageSettings):
    """The thresholds in force (each signal's own where none was chosen) and the tokenizer lengths are counted in."""

    stage = "signals"
    thresholds: dict = dataclasses.field(default_factory=dict)  # signal name -> threshold
    tokenizer: str = DEFAULT  # llama-3, a tokenizer.json folder or file, or a hub id

    @classmethod
    def stored(cls, read) -> dict:
        raw = read(cls.stage)
        if raw is None:  # a workspace from before signals had its own settings kept them under these keys
            return {key: value for key in ("thresholds", "tokenizer") if (value := read(key)) is not None}
        return dict(raw)

    @classmethod
    def from_stored(cls, raw: dict) -> SignalSettings:
        chosen = raw.get("thresholds") or {}
        return cls({name: chosen.get(name, s.threshold) for name, s in SIGNALS.items()}, raw.get("tokenizer") or DEFAULT)

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        """New thresholds join the ones chosen before; only chosen thresholds are kept (the others follow their signal)."""
        if "thresholds" in changes:
            changes = {**changes, "thresholds": {**(raw.get("thresholds") or {}), **changes["thresholds"]}}
        return {**raw, **changes}

    @classmethod
    def save(cls, ws: Workspace, *, thresholds: dict | None = None, tokenizer: str | None = None) -> SignalSettings:
        """Validate every new threshold (by signal name or reason code) and the tokenizer (it must load), then keep
        them all, or none."""
        chosen = {}
        for name, value in (thresholds or {}).items():
            signal = SIGNALS.get(name) or by_reason(name)
            if signal.direction == "flag":
                raise CurationError(f"signal {signal.name!r} has no threshold: it flags every match")
            if signal.direction != "differs":
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise CurationError(f"threshold for {signal.name!r} must be a number, got {value!r}") from None
            chosen[signal.name] = value
        if tokenizer is not None:
            get_counter(tokenizer)  # fails here, clearly, if it cannot be loaded
        return super().save(ws, thresholds=chosen or None, tokenizer=tokenizer)


def tokenizer_name(ws: Workspace) -> str:
    return SignalSettings.load(ws).tokenizer


def cache_key(tokenizer: str) -> str:
    return hashlib.blake2b(f"signals-v{VERSION}|{tokenizer}".encode(), digest_size=5).hexdigest()


def compute_frame(frame: pd.DataFrame, tokenizer: str = DEFAULT) -> pd.DataFrame:
    """Every signal's score and evidence (the line people read, and as JSON: `found__<signal>`), the length columns and
    the text hash for a frame of records."""
    from concurrent.futures import ThreadPoolExecutor

    texts = Texts(frame)
    counter = get_counter(tokenizer)
    # Token counting runs in native code without the GIL: overlap it with the Python-bound signals.
    with ThreadPoolExecutor(max_workers=1) as pool:
        length_columns = pool.submit(lengths, Texts(frame), counter)
        out = {"record_id": texts.frame["record_id"].astype(str).to_numpy(), "text_hash": text_hashes(texts)}
        for name, signal in SIGNALS.items():
            if name == "exact_duplicate":
                continue
            res = signal.compute(texts)
            out[f"score__{name}"] = res["score"].to_numpy()
            out[f"evidence__{name}"] = res["evidence"].to_numpy()
            out[f"found__{name}"] = res["found"].to_numpy()
        table = pd.DataFrame(out)
        return pd.concat([table, length_columns.result()], axis=1)


def signal_table(ws: Workspace, progress: Progress | None = None) -> tuple[pd.DataFrame, dict]:
    """Signals of every record (computing only parts not cached yet) and what was done."""
    from curation.store import part_rows, read_part

    tokenizer = tokenizer_name(ws)
    key = cache_key(tokenizer)
    cache_dir = ws.root / "signals"
    cache_dir.mkdir(exist_ok=True)
    parts = ws.parts()
    total = sum(part_rows(ws, p) for p in parts)  # a damaged part: an error that names it
    tables, done, computed = [], 0, 0
    start = time.perf_counter()
    for part in parts:
        cached = cache_dir / f"{part.stem}.{key}.parquet"
        if cached.exists():
            table = pd.read_parquet(cached)
            done += len(table)
        else:
            from curation.executor import chunks, current

            frame = read_part(ws, part, TEXT_COLUMNS).to_pandas()

            def finished(_, chunk, part=part) -> None:
                nonlocal done
                done += len(chunk)
                if progress:
                    progress(done, total, f"signals for {part.parent.name}")

            # chunks of the part, run where the executor says (issue 18); the driver writes the cache
            pieces = current().map(compute_frame, [frame.iloc[lo:hi] for lo, hi in chunks(len(frame), CHUNK)],
                                   shared=tokenizer, done=finished)
            table = pd.concat(pieces, ignore_index=True)
            write_atomically(cached, functools.partial(table.to_parquet, index=False))
            computed += len(table)
        tables.append(table)
        if progress:
            progress(done, total, "signals")
    if not tables:
        empty = compute_frame(pd.DataFrame({c: pd.Series(dtype=object) for c in TEXT_COLUMNS}), tokenizer)
        return mark_duplicates(empty), {"computed": 0, "reused": 0, "seconds": 0.0, "tokenizer": tokenizer}
    # A record id stored twice (a workspace from before the ingest lock) counts once, as the record readers do.
    table = pd.concat(tables, ignore_index=True).drop_duplicates("record_id", ignore_index=True)
    table, recomputed = with_edited(ws, table, tokenizer, key)
    computed += recomputed
    table = mark_duplicates(table)
    info = {"computed": computed, "reused": len(table) - computed, "seconds": time.perf_counter() - start, "tokenizer": tokenizer}
    return table, info


def edit_hashes(edits: dict[str, dict]) -> dict[str, str]:
    """record_id -> a hash of its edited text: a cached row of an edited record counts only for that text."""
    import json

    return {rid: hashlib.blake2b(json.dumps([rid, changed], sort_keys=True).encode(), digest_size=8).hexdigest()
            for rid, changed in edits.items()}


def with_edited(ws: Workspace, table: pd.DataFrame, tokenizer: str, key: str) -> tuple[pd.DataFrame, int]:
    """The signal table with every edited record's row computed from its latest version (issue 17; `curation.edits`):
    cached in `signals/edited.<key>.parquet` by the hash of the edited text (only the current versions are kept).
    Returns the table and how many rows were computed now."""
    from curation.edits import overlay
    from curation.store import read_columns

    edits = overlay(ws)
    path = ws.root / "signals" / f"edited.{key}.parquet"
    if not edits:
        return table, 0
    hashes = edit_hashes({rid: c for rid, c in edits.items() if rid in set(table["record_id"])})
    cached = pd.read_parquet(path) if path.exists() else None
    have = set(cached["edit_hash"]) if cached is not None else set()
    missing = [rid for rid, h in hashes.items() if h not in have]
    rows = cached[cached["edit_hash"].isin(set(hashes.values()))] if cached is not None else None
    if missing:
        frame = read_columns(ws, TEXT_COLUMNS)
        frame = frame[frame["record_id"].isin(missing)].astype(object).reset_index(drop=True)
        new = compute_frame(frame, tokenizer)
        new["edit_hash"] = [hashes[str(r)] for r in new["record_id"]]
        rows = new if rows is None or rows.empty else pd.concat([rows, new], ignore_index=True)
        write_atomically(path, functools.partial(rows.to_parquet, index=False))
    if rows is None or rows.empty:
        return table, 0
    rows = rows.drop(columns=["edit_hash"]).drop_duplicates("record_id", keep="last")
    keep = ~table["record_id"].isin(set(rows["record_id"]))
    out = pd.concat([table[keep], rows[table.columns]], ignore_index=True)
    order = {rid: i for i, rid in enumerate(table["record_id"])}
    out = out.iloc[out["record_id"].map(order).argsort(kind="stable")].reset_index(drop=True)
    return out, len(missing)


def pending(ws: Workspace) -> int:
    """How many records still need their signals computed (0: everything is cached), edited records included."""
    from curation.edits import overlay
    from curation.store import part_rows

    key = cache_key(tokenizer_name(ws))
    parts = sum(
        part_rows(ws, p) for p in ws.parts() if not (ws.root / "signals" / f"{p.stem}.{key}.parquet").exists()
    )
    edits = overlay(ws)
    if not edits:
        return parts
    path = ws.root / "signals" / f"edited.{key}.parquet"
    have = set(pd.read_parquet(path, columns=["edit_hash"])["edit_hash"]) if path.exists() else set()
    missing = [rid for rid, h in edit_hashes(edits).items() if h not in have]
    if missing:  # an edited record whose part is gone (quarantined, removed) needs nothing
        from curation.store import read_columns

        present = set(read_columns(ws, ["record_id"])["record_id"])
        missing = [rid for rid in missing if rid in present]
    return parts + len(missing)


def thresholds(ws: Workspace) -> dict:
    return SignalSettings.load(ws).thresholds


def set_thresholds(ws: Workspace, values: dict) -> None:
    """Validate every new threshold, then keep them all (or none) in the workspace settings."""
    SignalSettings.save(ws, thresholds=values)


def flags(table: pd.DataFrame, limits: dict) -> pd.DataFrame:
    """One boolean column per signal: does it flag the record at these thresholds?"""
    return pd.DataFrame(
        {name: s.flagged(table[f"score__{name}"], table[f"evidence__{name}"], limits.get(name)).to_numpy() for name, s in SIGNALS.items()},
        index=table.index,
    )


def annotate(table: pd.DataFrame, limits: dict) -> pd.DataFrame:
    """The signal table plus `flags` (reason codes per record) and `quality`."""
    flagged = flags(table, limits)
    reasons = np.array([SIGNALS[n].reason for n in flagged.columns], dtype=object)
    matrix = flagged.to_numpy()
    out = table.copy()
    out["flags"] = [list(reasons[row]) for row in matrix]
    out["quality"] = quality(flagged, {n: s.severity for n, s in SIGNALS.items()}).to_numpy()
    for name in flagged.columns:
        out[f"flag__{name}"] = flagged[name].to_numpy()
    return out


def annotated_signals(ws: Workspace, progress: Progress | None = None) -> pd.DataFrame:
    """Every record's flags, quality and lengths at the thresholds in force (signals computed where not cached)."""
    table, _ = signal_table(ws, progress)
    return annotate(table, thresholds(ws)).drop(columns=["text_hash"])


def with_signals(ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None) -> pd.DataFrame:
    """Records plus their flags, quality and lengths (signals computed where not cached)."""
    return frame.merge(annotated_signals(ws, progress), on="record_id", how="left")


def summary(ws: Workspace, progress: Progress | None = None) -> dict:
    """What `signals --json` prints: flag counts and length percentiles (in tokens)."""
    table, info = signal_table(ws, progress)
    flagged = flags(table, thresholds(ws))
    counts = {SIGNALS[n].reason: int(flagged[n].sum()) for n in flagged.columns}
    stats = {}
    for field in ("instruction", "input", "output", "record"):
        col = table[f"{field}_tokens"] if len(table) else pd.Series([0])
        stats[field] = {"p50": float(np.percentile(col, 50)), "p90": float(np.percentile(col, 90)), "max": int(col.max())}
    return {
        "records": len(table),
        "flags": counts,
        "lengths": stats,
        "length_unit": f"tokens ({info['tokenizer']})",
        "computed": info["computed"],
        "reused": info["reused"],
        "seconds": round(info["seconds"], 3),
    }
