"""Personal data: detect and redact it with consistent placeholders (issue 16).

One `Redactor` per source (a file, a query): the same value gets the same placeholder everywhere in that source
(`[EMAIL_1]` in every record of one file), and a name found once is redacted wherever else it appears. The original
values are never kept: not in the text, not in the redaction list, not in the counts.

Kinds: email, phone, card (Luhn), iban (mod-97), account (account / routing numbers and sort codes, by context),
ssn, ip, name (offline evidence: see curation/pii/people.py). On by default for `external` records (ingest).
"""

from __future__ import annotations

from collections.abc import Iterable

from curation.pii.detect import DETECTORS, Span
from curation.pii.people import People

KINDS = ("email", "phone", "card", "iban", "account", "ssn", "ip", "name")
# When two findings overlap, the longer wins; on a tie, the earlier kind in this order.
PRIORITY = {kind: i for i, kind in enumerate(("email", "iban", "card", "ssn", "account", "phone", "ip", "name"))}
TEXT_FIELDS = ("system", "instruction", "input", "output")


def find(text: str, people: People | None = None) -> list[Span]:
    """Every finding in `text`, overlaps resolved (longest first, then PRIORITY), in text order."""
    found: list[Span] = []
    for detector in DETECTORS:
        found.extend(detector(text))
    if people is not None:
        found.extend(Span("name", s, e, str(p)) for s, e, p in people.spans(text))
    found.sort(key=lambda s: (-(s.end - s.start), PRIORITY[s.kind], s.start))
    taken: list[Span] = []
    for span in found:
        if all(span.end <= t.start or span.start >= t.end for t in taken):
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


class Redactor:
    """Redacts one source's texts; placeholders are numbered per kind in the order values are first met."""

    def __init__(self, known_names: Iterable[str] = ()):
        self.people = People(known_names)
        self.counts: dict[str, int] = {}
        self._placeholders: dict[tuple[str, str], str] = {}
        self._numbers: dict[str, int] = {}
        self._learned: set[int] = set()  # hashes of texts already read for names (redact_records reads each twice)

    def learn(self, text: str) -> None:
        """Take the names this text gives evidence of, so mentions elsewhere in the source are redacted too."""
        if text and hash(text) not in self._learned:
            self._learned.add(hash(text))
            self.people.learn(text)

    def placeholder(self, kind: str, key: str) -> str:
        got = self._placeholders.get((kind, key))
        if got is None:
            self._numbers[kind] = self._numbers.get(kind, 0) + 1
            got = self._placeholders[(kind, key)] = f"[{kind.upper()}_{self._numbers[kind]}]"
        return got

    def findings(self, text: str) -> list[Span]:
        """What `redact` would replace in `text`: (kind, start, end, key) in the original text."""
        if not isinstance(text, str) or not text:
            return []
        self.learn(text)
        return find(text, self.people)

    def redact(self, text: str) -> tuple[str, list[dict]]:
        """`text` with each finding replaced by its placeholder, and the findings as {kind, start, end, placeholder}
        where start/end are offsets in the new text."""
        if not isinstance(text, str) or not text:
            return text, []
        pieces: list[str] = []
        found: list[dict] = []
        last = position = 0
        for span in self.findings(text):
            pieces.append(text[last:span.start])
            position += span.start - last
            placeholder = self.placeholder(span.kind, span.key)
            found.append({"kind": span.kind, "start": position, "end": position + len(placeholder), "placeholder": placeholder})
            pieces.append(placeholder)
            position += len(placeholder)
            last = span.end
            self.counts[span.kind] = self.counts.get(span.kind, 0) + 1
        pieces.append(text[last:])
        return "".join(pieces), found


def _message_texts(messages) -> list[str]:
    return [m.get("content") for m in messages or () if isinstance(m, dict) and isinstance(m.get("content"), str)]


def _meta_strings(value, path: str):
    """(path, string) of every string inside a meta value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):  # keys too: a transcript's `roles` map is keyed by speaker name
                yield path, k
            yield from _meta_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _meta_strings(v, f"{path}[{i}]")


def _redact_meta(value, path: str, redactor: Redactor, log: list[dict]):
    if isinstance(value, str):
        new, found = redactor.redact(value)
        log.extend({"field": path, "kind": f["kind"], "placeholder": f["placeholder"]} for f in found)
        return new
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str):
                new_key, found = redactor.redact(k)
                log.extend({"field": f"{path} (key)", "kind": f["kind"], "placeholder": f["placeholder"]} for f in found)
            else:
                new_key = k
            out[new_key] = _redact_meta(v, f"{path}.{new_key}", redactor, log)
        return out
    if isinstance(value, list):
        return [_redact_meta(v, f"{path}[{i}]", redactor, log) for i, v in enumerate(value)]
    return value


def known_names_of(records: list[dict]) -> list[str]:
    """Speaker names that records carry in their meta (`speaker`, `speakers`, or a `speakers` map of label to name)."""
    from curation.records import loads

    out: list[str] = []
    for rec in records:
        meta = rec.get("meta")
        meta = loads(meta) if isinstance(meta, str) else meta
        if not isinstance(meta, dict):
            continue
        for key in ("speaker", "speakers", "speaker_names"):
            value = meta.get(key)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, list):
                out.extend(v for v in value if isinstance(v, str))
            elif isinstance(value, dict):
                out.extend(v for v in value.values() if isinstance(v, str))
    return list(dict.fromkeys(out))


def redact_records(records: list[dict], redactor: Redactor) -> dict[str, int]:
    """Redact records in place: system, instruction, input, output, every message's content and every string in meta.
    Each record's meta gains `redactions`: [{field, kind, placeholder}] (never the original value). `messages` and
    `meta` keep their type (JSON text stays JSON text; a record without meta that had something redacted gets one, as
    JSON text like a stored record's). Returns the counts per kind made here."""
    from curation.records import dumps, loads

    before = dict(redactor.counts)
    decoded = []
    for rec in records:  # first learn every name of the source, so mentions before the evidence are redacted too
        messages = rec.get("messages")
        messages = loads(messages) if isinstance(messages, str) else messages
        meta = rec.get("meta")
        meta_value = loads(meta) if isinstance(meta, str) else meta
        decoded.append((messages, meta_value))
        for text in [*(rec.get(f) for f in TEXT_FIELDS), *_message_texts(messages)]:
            if isinstance(text, str):
                redactor.learn(text)
        for _, text in _meta_strings(meta_value, "meta"):
            redactor.learn(text)
    for rec, (messages, meta) in zip(records, decoded):
        log: list[dict] = []
        for field in TEXT_FIELDS:
            if isinstance(rec.get(field), str):
                rec[field], found = redactor.redact(rec[field])
                log.extend({"field": field, "kind": f["kind"], "placeholder": f["placeholder"]} for f in found)
        if isinstance(messages, list):
            for i, m in enumerate(messages):
                if isinstance(m, dict) and isinstance(m.get("content"), str):
                    m["content"], found = redactor.redact(m["content"])
                    log.extend({"field": f"messages[{i}].content", "kind": f["kind"], "placeholder": f["placeholder"]}
                               for f in found)
            if isinstance(rec.get("messages"), str):
                rec["messages"] = dumps(messages)
        if isinstance(meta, dict):
            earlier = meta.pop("redactions", None)
            meta = _redact_meta(meta, "meta", redactor, log)
            meta["redactions"] = (earlier if isinstance(earlier, list) else []) + log if (log or earlier) else []
            if not meta["redactions"]:
                del meta["redactions"]
        elif meta is None and log:
            meta = {"redactions": log}
        if meta is not None:
            rec["meta"] = dumps(meta) if isinstance(rec.get("meta"), str) or rec.get("meta") is None else meta
    return {k: n - before.get(k, 0) for k, n in redactor.counts.items() if n - before.get(k, 0)}


def redact_for_ingest(records: list[dict], redact: bool | None) -> dict[str, int]:
    """Ingest's hook, before `store`: redact with one Redactor per source file (the records' `file`), its known names
    the speakers the records carry. `redact` None: only records whose source is `external`; True: all; False: none.
    Returns the counts per kind."""
    if redact is False:
        return {}
    by_file: dict[str, list[dict]] = {}
    for rec in records:
        if redact or rec.get("source") == "external":
            by_file.setdefault(str(rec.get("file") or ""), []).append(rec)
    total: dict[str, int] = {}
    for group in by_file.values():
        for kind, n in redact_records(group, Redactor(known_names_of(group))).items():
            total[kind] = total.get(kind, 0) + n
    return dict(sorted(total.items()))


def log_counts(conn, ingest_id: int, dataset: str, counts: dict[str, int]) -> None:
    """Keep an ingest's counts per kind in the ingest log (table ingest_redactions)."""
    conn.executemany("INSERT INTO ingest_redactions(ingest, dataset, kind, count) VALUES (?,?,?,?)",
                     [(ingest_id, dataset, kind, int(n)) for kind, n in counts.items() if n])


def redaction_counts(meta_values: Iterable) -> tuple[dict[str, int], int]:
    """({kind: redactions}, records with any redaction) over the records' meta (JSON text or dicts)."""
    from curation.records import loads

    counts: dict[str, int] = {}
    records = 0
    for meta in meta_values:
        try:
            meta = loads(meta) if isinstance(meta, str) else meta
        except ValueError:
            continue
        entries = meta.get("redactions") if isinstance(meta, dict) else None
        if not isinstance(entries, list) or not entries:
            continue
        records += 1
        for e in entries:
            if isinstance(e, dict) and isinstance(e.get("kind"), str):
                counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    return counts, records


def redactions_per_source(frame, redacted=None) -> list[dict]:
    """One row per source file (dataset, file) with redactions: `records` with any, then the count of each kind.

    `redacted`: `redacted_records` of a frame that `frame` is a part of (same index labels), made once; then only
    its rows whose label is in `frame` are counted, without reading every record's meta again (issue 18: ~2 s at 1M
    records on every rerun of the Records page)."""
    if frame is None or not len(frame):
        return []
    table = redacted_records(frame) if redacted is None else redacted
    if not len(table):
        return []
    if redacted is not None:
        table = table[table.index.isin(frame.index)]
    keys = [c for c in ("dataset", "file") if c in table]
    rows = []
    for group, part in table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]:
        names = group if isinstance(group, tuple) else (group,)
        counts = {kind: int(part[kind].sum()) for kind in KINDS if kind in part}
        rows.append({**{k: str(v) for k, v in zip(keys, names)}, "records": len(part),
                     **{kind: n for kind, n in counts.items() if n}})
    return rows


def redacted_records(frame):
    """One row per record with any redaction (index: the record's label in `frame`): its record_id, dataset and file
    where `frame` has them, and the count of each kind (a column per kind, a pandas DataFrame). Empty without meta."""
    import numpy as np
    import pandas as pd

    keys = [c for c in ("dataset", "file") if c in frame]
    if "meta" not in frame or not len(frame):
        return pd.DataFrame(columns=[*(["record_id"] if "record_id" in frame else []), *keys, *KINDS])
    metas = frame["meta"]
    try:  # the text search in Arrow where the column is text (issue 18: a Python pass over 1M metas took ~1 s)
        maybe = np.flatnonzero(metas.str.contains('"redactions"', regex=False).fillna(False).to_numpy(bool))
    except AttributeError:  # no text in the column (meta kept as dicts): nothing is counted, as for any non-text meta
        maybe = np.zeros(0, dtype=np.int64)
    found, where = [], []
    for k, meta in zip(maybe.tolist(), metas.iloc[maybe]):
        if not isinstance(meta, str):
            continue
        counts, records = redaction_counts([meta])
        if records:
            found.append(counts)
            where.append(k)
    at = np.asarray(where, dtype=np.int64)
    table = pd.DataFrame(found, index=frame.index[at], columns=list(KINDS)).fillna(0).astype(int)
    ids = ["record_id"] if "record_id" in frame else []  # lets a caller check that a part's labels are the frame's
    return pd.concat([frame.iloc[at][ids + keys], table], axis=1) if ids + keys else table


def redactions_per_dataset(frame) -> dict[str, dict]:
    """For `stats`: per dataset with redactions, {"records": n, "by_kind": {kind: count}}."""
    out = {}
    if frame is None or "meta" not in frame or not len(frame):
        return out
    for dataset, metas in frame.groupby("dataset", sort=True)["meta"]:
        candidates = [m for m in metas if isinstance(m, str) and '"redactions"' in m]
        counts, records = redaction_counts(candidates)
        if records:
            out[str(dataset)] = {"records": records, "by_kind": counts}
    return out
