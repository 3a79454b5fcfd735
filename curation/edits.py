"""Edits: change a record's text instead of rejecting it, versioned, with bulk fixes through the same path.

    edit(ws, rid, {"output": "Paris."}, curator="ana")   # version 1
    edit_history(ws, rid)                                 # version 0 (the original), 1, …: who changed what, when, why
    revert_edit(ws, rid)                                  # back one version (itself a version: nothing is lost)
    bulk_fix(ws, "strip_end_marker", dry_run=True)        # what a fix would change, then without dry_run: one transaction

Storage: the workspace database's append-only `edits` table, one row per version (`changes`: JSON
`{field: [before, after]}`); the record's Parquet part is never rewritten, and its `record_id` stays. The latest
version is what everything downstream reads: `store.read_columns` lays the edited fields over the stored ones
(`overlay`), so signals (recomputed for edited records, `signals.compute`), embeddings (keyed by the text), the map,
duplicates, selection and export all see the edited text; `annotated.stamp("records")` changes with every edit.

A record with a conversation (`messages`) keeps both views in step: editing `output` (`instruction`, `system`) edits
the last assistant turn (the user turn before it, the system turn) too, and editing `messages` refills the tuple
fields from its last exchange (as ingest does).

Bulk fixes (`FIXES`): a registry of mechanical repairs, each with a name, a description, `match(record)` and
`apply(record, value) -> changes`: `strip_end_marker`, `strip_ai_opening`, `fill_placeholder`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from curation.errors import CurationError
from curation.workspace import Workspace

FIELDS = ("system", "instruction", "input", "output", "messages")
ROLES = ("system", "user", "assistant")
REVERT = "revert"  # the reason of a version that reverts another: "revert:<version>"


# --- reading the edits ------------------------------------------------------------------------------------------------

_OVERLAY: dict = {}  # db path -> (stamp, fold, overlay): folded once, then only the versions added since


def stamp(ws: Workspace) -> tuple:
    """Changes whenever an edit is made, reverted, removed or restored: part of the records' freshness stamp."""
    try:
        return tuple(ws.query("SELECT count(*), max(seq), total(seq) FROM edits")[0])
    except Exception as exc:  # noqa: BLE001 - a database from before edits: no table yet
        if "no such table" in str(exc):
            return (0, None, 0.0)
        raise


def _rows(ws: Workspace, record_id: str | None = None) -> list[tuple]:
    sql = "SELECT seq, record_id, dataset, version, changes, curator, reason, ts, undoes FROM edits"
    if record_id is not None:
        return ws.query(sql + " WHERE record_id = ? ORDER BY seq", (record_id,))
    return ws.query(sql + " ORDER BY seq")


def _fold(rows, out: dict[str, dict] | None = None) -> dict[str, dict]:
    """record_id -> {"original": {field: text}, "current": {field: text}, "version": n} from its versions in order
    (`out`: a fold of the versions before these, continued)."""
    out = {} if out is None else out
    for _, rid, _, version, changes, *_ in rows:
        entry = out.setdefault(rid, {"original": {}, "current": {}, "version": 0})
        for field, (before, after) in json.loads(changes).items():
            entry["original"].setdefault(field, before)
            entry["current"][field] = after
        entry["version"] = max(entry["version"], version)
    return out


def overlay(ws: Workspace) -> dict[str, dict[str, str]]:
    """record_id -> {field: edited text} for every record whose latest version differs from its original (a field
    reverted to the original is not listed; a record reverted whole is not either)."""
    key = str(ws.db_path.resolve())
    now = stamp(ws)
    cached = _OVERLAY.get(key)
    if cached is not None and cached[0] == now:
        return cached[2]
    folded, touched = None, None
    if cached is not None and cached[0][0] and now[0] > cached[0][0]:  # versions only added since: fold just those
        new = ws.query("SELECT seq, record_id, dataset, version, changes, curator, reason, ts, undoes FROM edits "
                       "WHERE seq > ? ORDER BY seq", (cached[0][1],))
        if cached[0][0] + len(new) == now[0] and cached[0][2] + sum(r[0] for r in new) == now[2]:  # nothing else moved
            folded, touched = _fold(new, cached[1]), {r[1] for r in new}
    if folded is None:
        folded = _fold(_rows(ws)) if now[0] else {}
    out = dict(cached[2]) if touched is not None else {}
    for rid in (touched if touched is not None else folded):
        entry = folded[rid]
        changed = {f: v for f, v in entry["current"].items() if v != entry["original"][f]}
        if changed:
            out[rid] = changed
        else:
            out.pop(rid, None)
    _OVERLAY[key] = (now, folded, out)
    return out


def edited_ids(ws: Workspace) -> set[str]:
    """The records whose current text differs from their original."""
    return set(overlay(ws))


def versions(ws: Workspace) -> dict[str, int]:
    """record_id -> its latest version number (records never edited are not listed: version 0)."""
    return {rid: int(v) for rid, v in ws.query("SELECT record_id, max(version) FROM edits GROUP BY record_id")}


def changed_since(ws: Workspace, ts: float) -> set[str]:
    """The records with a version written after `ts` (a map built before it placed them by their old text)."""
    return {r for (r,) in ws.query("SELECT DISTINCT record_id FROM edits WHERE ts > ?", (ts,))}


def apply_overlay(table, edits: dict[str, dict[str, str]]):
    """An Arrow table of records with the edited fields laid over the stored ones (only the columns it has)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = [f for f in FIELDS if f in table.column_names]
    if not edits or not fields or "record_id" not in table.column_names:
        return table
    ids = table.column("record_id")
    hit = pc.is_in(ids, value_set=pa.array(list(edits), type=pa.string()))
    if not pc.any(hit).as_py():
        return table
    hit = hit.combine_chunks() if isinstance(hit, pa.ChunkedArray) else hit
    rows = [str(r) for r in pc.filter(ids, hit).to_pylist()]
    for field in fields:
        if not any(field in edits[r] for r in rows):
            continue
        column = table.column(field).combine_chunks()
        stored = pc.filter(column, hit).to_pylist()
        new = pa.array([edits[r].get(field, old) for r, old in zip(rows, stored)], type=column.type)
        table = table.set_column(table.column_names.index(field), field, pc.replace_with_mask(column, hit, new))
    return table


# --- reading records ----------------------------------------------------------------------------------------------------


def current_records(ws: Workspace, ids: list[str] | None = None) -> dict[str, dict]:
    """record_id -> {record_id, dataset, system, instruction, input, output, messages} as they read now (edited)."""
    from curation.store import read_columns

    if ids is None:
        frame = read_columns(ws, ["record_id", "dataset", *FIELDS])
    else:  # the few records asked for: filtered before the edits are laid over them (a whole part is read all the same)
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        from curation.store import read_part

        wanted = pa.array([str(i) for i in ids], type=pa.string())
        tables = []
        for part in ws.parts():
            table = read_part(ws, part, ["record_id", "dataset", *FIELDS])
            if table is not None:
                table = table.filter(pc.is_in(table.column("record_id"), value_set=wanted))
                if table.num_rows:
                    tables.append(table)
        if not tables:
            return {}
        table = apply_overlay(pa.concat_tables(tables), overlay(ws))
        frame = table.to_pandas(types_mapper=pd.ArrowDtype).drop_duplicates("record_id")
    out = {}
    for row in frame.to_dict("records"):
        out[str(row["record_id"])] = {k: (None if _missing(v) else v) for k, v in row.items()}
    return out


def _missing(value) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


# --- writing ------------------------------------------------------------------------------------------------------------


def _messages_text(value) -> str | None:
    """A conversation as stored (JSON text), checked: a list of {role, content} with roles system/user/assistant."""
    from curation.records import dumps

    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise CurationError(f"messages must be a JSON list of {{role, content}} turns: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise CurationError("messages must be a list of {role, content} turns")
    for i, m in enumerate(value):
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise CurationError(f"turn {i} of messages needs a role ({', '.join(ROLES)}) and a text content")
    return dumps(value)


def _sync(record: dict, changes: dict) -> dict:
    """The changes plus what keeps a conversation and its tuple fields in step (see the module doc)."""
    from curation.formats.base import last_exchange
    from curation.records import dumps, loads

    out = dict(changes)
    if "messages" in out:
        turns = loads(out["messages"])
        if turns:
            for field, value in last_exchange(turns).items():
                if field != "input" and field not in changes:
                    out[field] = value
        return out
    turns = loads(record.get("messages"))
    if not turns:
        return out
    turns = [dict(m) for m in turns]
    last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=None)
    user = max((i for i, m in enumerate(turns[:last] if last is not None else turns) if m.get("role") == "user"), default=None)
    system = next((i for i, m in enumerate(turns) if m.get("role") == "system"), None)
    for field, at in (("output", last), ("instruction", user), ("system", system)):
        if field in out and at is not None:
            turns[at]["content"] = out[field]
    if "system" in out and system is None and out["system"]:
        turns.insert(0, {"role": "system", "content": out["system"]})
    text = dumps(turns)
    if text != record.get("messages"):
        out["messages"] = text
    return out


def _checked(changes: dict) -> dict:
    if not isinstance(changes, dict) or not changes:
        raise CurationError(f"an edit needs at least one field to change: one of {', '.join(FIELDS)}")
    unknown = [f for f in changes if f not in FIELDS]
    if unknown:
        raise CurationError(f"unknown field {unknown[0]!r}: a record's editable fields are {', '.join(FIELDS)}")
    out = {}
    for field, value in changes.items():
        if field == "messages":
            out[field] = _messages_text(value)
        elif value is None or isinstance(value, str):
            out[field] = value or ""
        else:
            raise CurationError(f"{field} must be text, got {type(value).__name__}")
    return out


def _diff(record: dict, changes: dict) -> dict:
    """{field: [before, after]} of the fields that really change."""
    out = {}
    for field, after in _sync(record, changes).items():
        before = record.get(field)
        before = None if field == "messages" and not before else (before if field == "messages" else before or "")
        if after != before:
            out[field] = [before, after]
    return out


LATEST = "SELECT coalesce(max(version), 0) FROM edits WHERE record_id = ?"


def _latest(conn, rid: str) -> int:
    """The record's latest version (0: never edited), inside a transaction."""
    return int(conn.execute(LATEST, (rid,)).fetchone()[0])


def _write(conn, items: list[tuple[dict, dict]], curator: str, reason: str, undoes: dict | None = None,
           seen: dict | None = None) -> list[dict]:
    """One new version per (record, diff), inside the caller's transaction. `seen`: record_id -> the version the diff
    was computed from; a record edited meanwhile (by another curator, another process) is an error, not a lost edit."""
    now = time.time()
    written = []
    for record, diff in items:
        rid = record["record_id"]
        last = _latest(conn, rid)
        if seen is not None and rid in seen and seen[rid] != last:
            raise CurationError(f"record {rid} was edited meanwhile (now version {last}): reload it and edit again")
        conn.execute(
            "INSERT INTO edits(record_id, dataset, version, changes, curator, reason, ts, undoes) VALUES (?,?,?,?,?,?,?,?)",
            (rid, record["dataset"], last + 1, json.dumps(diff, ensure_ascii=False), curator, reason, now,
             (undoes or {}).get(rid)),
        )
        written.append({"record_id": rid, "version": last + 1})
    return written


def _curator(curator: str | None) -> str:
    from curation.decisions import default_curator

    return (curator or "").strip() or default_curator()


def _refuse_protected(ws: Workspace, records: list[dict]) -> None:
    from curation.decontaminate import protected_datasets

    protected = set(protected_datasets(ws))
    hit = [r for r in records if r["dataset"] in protected]
    if hit:
        raise CurationError(f"record {hit[0]['record_id']} belongs to the protected evaluation set {hit[0]['dataset']!r}: "
                            "an evaluation item is compared as it is, never edited (unprotect the set first)")


def edit(ws: Workspace, record_id: str, changes: dict, *, curator: str | None = None, reason: str = "manual") -> dict:
    """Change fields of one record as a new version; returns {"record_id", "version"}. An unknown field or record id,
    or changes that change nothing, are errors."""
    changes = _checked(changes)
    if not reason or not str(reason).strip():
        raise CurationError("an edit needs a reason, e.g. manual")
    seen = int(ws.query(LATEST, (record_id,))[0][0])
    record = current_records(ws, [record_id]).get(record_id)
    if record is None:
        raise CurationError(f"unknown record id: {record_id}")
    _refuse_protected(ws, [record])
    diff = _diff(record, changes)
    if not diff:
        raise CurationError(f"no change: record {record_id} already reads so")
    with ws.transaction() as conn:
        [out] = _write(conn, [(record, diff)], _curator(curator), str(reason).strip(), seen={record_id: seen})
    return out


def edit_history(ws: Workspace, record_id: str) -> list[dict]:
    """Every version of a record, oldest first: version 0 is the original (`text`: every editable field as stored),
    each later one what it changed (`changes`: {field: {"before", "after"}}, `fields`), who (`curator`), when (`ts`)
    and why (`reason`; a revert says `revert:<version>`)."""
    record = current_records(ws, [record_id]).get(record_id)
    rows = _rows(ws, record_id)
    if record is None and not rows:
        raise CurationError(f"unknown record id: {record_id}")
    if record is None:  # its dataset is gone: the original is what the versions say it was
        record = {}
    folded = _fold(rows).get(record_id, {"current": {}, "original": {}})
    original = {f: record.get(f) for f in FIELDS}
    for field in folded["current"]:  # read back through the edits: undo them
        original[field] = folded["original"][field]
    out = [{"version": 0, "fields": [], "changes": {}, "text": original, "curator": None, "ts": None, "reason": "original",
            "reverts": None}]
    by_seq = {r[0]: r[3] for r in rows}
    for _, _, _, version, changes, curator, reason, ts, undoes in rows:
        diff = json.loads(changes)
        out.append({"version": version, "fields": list(diff), "changes": {f: {"before": b, "after": a} for f, (b, a) in diff.items()},
                    "curator": curator, "ts": ts, "reason": reason, "reverts": by_seq.get(undoes)})
    return out


def revert_edit(ws: Workspace, record_id: str, *, curator: str | None = None) -> dict:
    """Back one version: a new version that undoes the latest edit not reverted yet (a second revert undoes the one
    before). Returns {"record_id", "version", "reverted"}."""
    seen = int(ws.query(LATEST, (record_id,))[0][0])
    record = current_records(ws, [record_id]).get(record_id)
    if record is None:
        raise CurationError(f"unknown record id: {record_id}")
    with ws.transaction() as conn:
        if _latest(conn, record_id) != seen:
            raise CurationError(f"record {record_id} was edited meanwhile: reload it and revert again")
        live = conn.execute(
            "SELECT seq, version, changes FROM edits WHERE record_id = ? AND undoes IS NULL "
            "AND seq NOT IN (SELECT undoes FROM edits WHERE record_id = ? AND undoes IS NOT NULL) ORDER BY seq DESC LIMIT 1",
            (record_id, record_id),
        ).fetchone()
        if live is None:
            raise CurationError(f"no edit of record {record_id} to revert")
        seq, version, changes = live
        diff = {f: [record.get(f), before] for f, (before, _) in json.loads(changes).items()}
        diff = {f: pair for f, pair in diff.items() if pair[0] != pair[1]} or {f: [b, b] for f, (b, _) in json.loads(changes).items()}
        [out] = _write(conn, [(record, diff)], _curator(curator), f"{REVERT}:{version}", undoes={record_id: seq})
    return {**out, "reverted": version}


# --- bulk fixes ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    name: str
    description: str
    match: Callable[[dict], bool]  # does the fix change this record?
    apply: Callable[[dict, object], dict]  # (record, value) -> changes (fields and new text)
    needs_value: bool = False


def _turns(record: dict) -> list[dict] | None:
    from curation.records import loads

    return loads(record.get("messages"))


def _answers(record: dict, clean: Callable[[str], str]) -> dict:
    """Changes that clean the output and every assistant turn."""
    from curation.records import dumps

    out = {}
    output = record.get("output") or ""
    if clean(output) != output:
        out["output"] = clean(output)
    turns = _turns(record)
    if turns:
        new = [{**m, "content": clean(m["content"])} if m.get("role") == "assistant" and isinstance(m.get("content"), str) else m
               for m in turns]
        if new != turns:
            out["messages"] = dumps(new)
    return out


def _strip_marker(text: str) -> str:
    """The text without the end-of-text markers that close it; unchanged when nothing would remain (a marker-only
    answer has no answer: `empty_output` flags it, reject it instead)."""
    from curation.signals.cleaning import clean_output

    cleaned = clean_output(text)
    return cleaned.rstrip() if cleaned != text and cleaned.strip() else text


AI_OPENING = re.compile(
    r"^\s*(?:(?:well|sure|certainly|of course|unfortunately|sorry|i'?m sorry)[,!.]?\s+)?"
    r"(?:as an ai(?: language model| assistant| model| chatbot| system)?|as a (?:large )?language model|"
    r"as an artificial intelligence(?: language model| assistant)?|i am an ai(?: language model| assistant)?|"
    r"i'?m an ai(?: language model| assistant)?)"
    r"(?:,[^.!?\n]*?(?:[.!?](?=\s|$)|\n)|[^,.!?\n]*?[.!?](?=\s|$))\s*",
    re.IGNORECASE,
)


def _strip_opening(text: str) -> str:
    """The text without a leading "As an AI language model, …" sentence; unchanged when nothing would be left."""
    m = AI_OPENING.match(text or "")
    if not m:
        return text
    rest = text[m.end():]
    if not rest.strip():
        return text
    return rest[0].upper() + rest[1:]


PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|\{([A-Za-z_][\w.]*)\}|\[([A-Z][A-Z_ ]*[A-Z]|[A-Z])\]")


def _placeholders(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in PLACEHOLDER.finditer(text or "")]


def _fill(text: str, value) -> str:
    def one(m: re.Match) -> str:
        name = next(g for g in m.groups() if g)
        if isinstance(value, dict):
            for key in (name, name.lower(), name.strip().lower().replace(" ", "_")):
                if key in value:
                    return str(value[key])
            return m.group(0)
        return str(value)

    return PLACEHOLDER.sub(one, text)


def _fill_changes(record: dict, value) -> dict:
    if value is None or value == "" or value == {}:
        raise CurationError("fill_placeholder needs a value: a text for every placeholder, or NAME=VALUE pairs")
    from curation.records import dumps

    out = {}
    for field in ("system", "instruction", "input", "output"):
        text = record.get(field) or ""
        if _fill(text, value) != text:
            out[field] = _fill(text, value)
    turns = _turns(record)
    if turns:
        new = [{**m, "content": _fill(m["content"], value)} if isinstance(m.get("content"), str) else m for m in turns]
        if new != turns:
            out["messages"] = dumps(new)
    return out


def _has_placeholder(record: dict) -> bool:
    return any(_placeholders(record.get(f) or "") for f in ("system", "instruction", "input", "output", "messages"))


FIXES: dict[str, Fix] = {f.name: f for f in (
    Fix("strip_end_marker", "remove the end-of-text markers (<|endoftext|>, </s>, <|im_end|>, <|eot_id|>…) that close the "
        "output and every assistant turn (a marker-only answer is left alone: it has no answer to keep)",
        lambda r: bool(_answers(r, _strip_marker)), lambda r, v: _answers(r, _strip_marker)),
    Fix("strip_ai_opening", "remove a leading \"As an AI language model, …\" sentence from the output and every assistant turn "
        "(left alone when nothing else would remain)",
        lambda r: bool(_answers(r, _strip_opening)), lambda r, v: _answers(r, _strip_opening)),
    Fix("fill_placeholder", "fill template placeholders ({{name}}, {name}, [NAME]) with a value: one text for all, or "
        "NAME=VALUE pairs (a mapping) for each by name",
        _has_placeholder, _fill_changes, needs_value=True),
)}


def get_fix(name: str) -> Fix:
    if name not in FIXES:
        raise CurationError(f"unknown fix {name!r}: choose one of {', '.join(FIXES)}")
    return FIXES[name]


def parse_value(value):
    """A fill value from the command line: "NAME=VALUE,OTHER=VALUE" (or a JSON object) is a mapping, else one text."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            return parsed
    pairs = [p.partition("=") for p in text.split(",")] if "=" in text else []
    if pairs and all(sep and re.fullmatch(r"[A-Za-z_][\w. ]*", k.strip()) for k, sep, _ in pairs):
        return {k.strip(): v.strip() for k, _, v in pairs}
    return value


SAMPLE = 5


def bulk_fix(ws: Workspace, fix: str, *, ids: list[str] | None = None, value=None, curator: str | None = None,
             dry_run: bool = False, reason: str | None = None, sample: int = SAMPLE) -> dict:
    """Apply a fix to every record it matches (of `ids`, else of the workspace) as new versions of those records, in one
    transaction. Returns {"fix", "matched", "changed", "sample": [{record_id, field, before, after}], "dry_run"}."""
    chosen = get_fix(fix)
    seen = versions(ws)  # before reading: a record edited meanwhile fails the fix instead of losing that edit
    value = parse_value(value)
    if chosen.needs_value and (value is None or value == "" or value == {}):
        raise CurationError(f"{fix} needs a value (--value TEXT, or NAME=VALUE pairs)",
                            dashboard=f"{fix} needs a value: fill the Value box (a text, or NAME=VALUE pairs)")
    records = current_records(ws, ids)
    if ids is not None:
        unknown = [i for i in ids if i not in records]
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise CurationError(f"unknown record id(s): {', '.join(unknown[:5])}{more}")
    from curation.decontaminate import protected_datasets

    protected = set(protected_datasets(ws))
    items = []
    matched = 0
    for record in records.values():
        if record["dataset"] in protected or not chosen.match(record):
            continue
        matched += 1
        diff = _diff(record, _checked(chosen.apply(record, value)))
        if diff:
            items.append((record, diff))
    sample = [{"record_id": r["record_id"], "field": f, "before": b, "after": a}
              for r, diff in items[:sample] for f, (b, a) in diff.items() if f != "messages" or len(diff) == 1]
    out = {"fix": fix, "matched": matched, "changed": len(items), "sample": sample, "dry_run": dry_run}
    if dry_run or not items:
        return out
    with ws.transaction() as conn:
        _write(conn, items, _curator(curator), reason or f"fix:{fix}", seen={r["record_id"]: seen.get(r["record_id"], 0)
                                                                              for r, _ in items})
    return out
