"""Curator decisions: keep or reject a record with a reason, undo, history.

The audit log (`log`) is append-only; `state` holds each record's current
decision and is updated in the same transaction, so the two never disagree.
Undo pops the record's latest decision that has not been undone yet, restoring
the one before it (or undecided).
"""

from __future__ import annotations

import os
import time

from curation.errors import CurationError
from curation.workspace import Workspace

DECISIONS = ("keep", "reject")
STATES = ("keep", "reject", "undecided")


CURATOR_ENV = "CURATION_CURATOR"
ANONYMOUS = "anonymous"


def default_curator() -> str:
    """Who decides when no curator is named: `$CURATION_CURATOR`, else "anonymous" (never the OS user, which is "root"
    in a container and names nobody). Name yourself with --curator NAME, the variable, or the dashboard's sidebar."""
    return os.environ.get(CURATOR_ENV, "").strip() or ANONYMOUS


def decide(
    ws: Workspace,
    ids: list[str],
    decision: str,
    reason: str,
    *,
    curator: str | None = None,
    index: dict[str, str] | None = None,
) -> int:
    """Set the decision of every record in `ids` in one transaction; returns how many changed."""
    return decide_each(ws, [(rid, decision, reason) for rid in ids], curator=curator, index=index)


def decide_each(ws: Workspace, items: list[tuple[str, str, str]], *, curator: str | None = None,
                index: dict[str, str] | None = None) -> int:
    """(record_id, decision, reason) for each record, one transaction; records already in that state are left alone."""
    for _, decision, reason in items:
        if decision not in DECISIONS:
            raise CurationError(f"unknown decision {decision!r}: use keep or reject")
        if not reason or not reason.strip():
            raise CurationError("a decision needs a reason, e.g. --reason manual",
                                dashboard="a decision needs a reason: type one in the Reason box, e.g. manual")
    wanted = {rid: (decision, reason) for rid, decision, reason in items}
    datasets = resolve(ws, list(wanted), index)
    refuse_protected(ws, [rid for rid, (d, _) in wanted.items() if d == "reject"], datasets)
    curator = curator or default_curator()
    now = time.time()
    with ws.transaction() as conn:
        current = current_states(conn, list(wanted), curators=True)
        # The same decision by another curator is logged too (issue 17: agreement needs each curator's own decisions).
        rows = [(rid, datasets[rid], d, r, curator, now) for rid, (d, r) in wanted.items() if current.get(rid) != (d, r, curator)]
        conn.executemany("INSERT INTO log(record_id, dataset, action, reason, curator, ts) VALUES (?,?,?,?,?,?)", rows)
        conn.executemany(
            "INSERT OR REPLACE INTO state(record_id, dataset, decision, reason, curator, ts) VALUES (?,?,?,?,?,?)", rows
        )
    return len(rows)


def refuse_protected(ws: Workspace, rejected: list[str], datasets: dict[str, str]) -> None:
    """A record of a protected evaluation set (curation.decontaminate) is never rejected: raise, naming it."""
    if not rejected:
        return
    from curation.decontaminate import protected_datasets

    protected = set(protected_datasets(ws))
    hit = [rid for rid in rejected if datasets[rid] in protected]
    if hit:
        more = f" and {len(hit) - 1} more" if len(hit) > 1 else ""
        raise CurationError(f"record {hit[0]}{more} belongs to the protected evaluation set {datasets[hit[0]]!r}: a protected "
                            "record is never rejected (export never puts it in a training split); leave it out of the "
                            f"selection, or unprotect the set first (decontaminate --unprotect {datasets[hit[0]]})",
                            dashboard=f"record {hit[0]}{more} belongs to the protected evaluation set {datasets[hit[0]]!r}: a "
                            "protected record is never rejected; leave it out, or unprotect the set first (Export page, "
                            "Evaluation sets)")


def undo(ws: Workspace, ids: list[str], *, curator: str | None = None, index: dict[str, str] | None = None) -> int:
    """Undo the latest decision of each record; returns how many records changed."""
    datasets = resolve(ws, ids, index)
    curator = curator or default_curator()
    now = time.time()
    changed = 0
    with ws.transaction() as conn:
        for rid in dict.fromkeys(ids):
            live = conn.execute(
                "SELECT seq, action, reason, curator, ts FROM log WHERE record_id = ? AND action != 'undo' "
                "AND seq NOT IN (SELECT undoes FROM log WHERE record_id = ? AND undoes IS NOT NULL) "
                "ORDER BY seq DESC LIMIT 2",
                (rid, rid),
            ).fetchall()
            if not live:
                continue
            conn.execute(
                "INSERT INTO log(record_id, dataset, action, reason, curator, ts, undoes) VALUES (?,?,?,?,?,?,?)",
                (rid, datasets[rid], "undo", live[0][2], curator, now, live[0][0]),
            )
            if len(live) > 1:
                _, action, reason, who, ts = live[1]
                conn.execute(
                    "INSERT OR REPLACE INTO state(record_id, dataset, decision, reason, curator, ts) VALUES (?,?,?,?,?,?)",
                    (rid, datasets[rid], action, reason, who, ts),
                )
            else:
                conn.execute("DELETE FROM state WHERE record_id = ?", (rid,))
            changed += 1
    return changed


def resolve(ws: Workspace, ids: list[str], index: dict[str, str] | None) -> dict[str, str]:
    """record_id -> dataset for the given ids; an error names any unknown id."""
    if not ids:
        raise CurationError("no records selected")
    if index is None:
        from curation.store import record_index

        index = record_index(ws)
    unknown = [i for i in ids if i not in index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise CurationError(f"unknown record id(s): {shown}")
    return {i: index[i] for i in ids}


def current_states(conn, ids: list[str], *, curators: bool = False) -> dict[str, tuple]:
    """record_id -> (decision, reason), or (decision, reason, curator) with `curators`."""
    out = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        for rid, decision, reason, who in conn.execute(
            f"SELECT record_id, decision, reason, curator FROM state WHERE record_id IN ({marks})", chunk
        ):
            out[rid] = (decision, reason, who) if curators else (decision, reason)
    return out


STATE_COLUMNS = ["record_id", "dataset", "decision", "reason"]


def live_states(ws: Workspace, ids=None):
    """The current decisions whose record exists, as a frame (record_id, dataset, decision, reason): a decision outlives
    its record when doctor quarantines the record's part, and counts again once a re-ingest brings the record back.

    `ids`: the record ids that exist, if the caller has them (else their column is read from the parts)."""
    import pandas as pd

    frame = pd.DataFrame(ws.query("SELECT record_id, dataset, decision, reason FROM state"), columns=STATE_COLUMNS)
    if frame.empty:
        return frame
    import pyarrow as pa
    import pyarrow.compute as pc

    if ids is None:
        from curation.store import read_columns

        ids = read_columns(ws, ["record_id"])["record_id"]
    known = pa.array(list(ids) if isinstance(ids, (set, frozenset)) else ids, type=pa.string())
    if isinstance(known, pa.ChunkedArray):
        known = known.combine_chunks()
    present = pc.is_in(pa.array(frame["record_id"].to_numpy(dtype=object), type=pa.string()), value_set=known)
    return frame[present.to_numpy(zero_copy_only=False)]


def frame_states(frame):
    """The same from records joined with their decisions (`store.with_decisions`): no query at all."""
    return frame.loc[frame["decision"] != "undecided", STATE_COLUMNS]


def counts(ws: Workspace, sizes: dict[str, int], ids=None, *, states=None) -> dict[str, dict[str, int]]:
    """Per dataset: keep / reject / undecided counts (sizes: records per dataset) of the records that exist
    (`ids`, `states`: see `live_states`)."""
    out = {name: {"keep": 0, "reject": 0, "undecided": n} for name, n in sizes.items()}
    states = live_states(ws, ids) if states is None else states
    for (dataset, decision), n in states.groupby(["dataset", "decision"]).size().items():
        if dataset in out and decision in out[dataset]:
            out[dataset][decision] += int(n)
            out[dataset]["undecided"] -= int(n)
    return out


def totals(per_dataset: dict[str, dict[str, int]]) -> dict[str, int]:
    return {s: sum(c[s] for c in per_dataset.values()) for s in STATES}


def by_reason(ws: Workspace, ids=None, *, states=None) -> dict[str, int]:
    """Current decisions per reason, most frequent first, of the records that exist."""
    states = live_states(ws, ids) if states is None else states
    return {str(reason): int(n) for reason, n in states["reason"].value_counts().items()}


def history(ws: Workspace, record_id: str) -> list[dict]:
    rows = ws.query(
        "SELECT seq, action, reason, curator, ts, undoes FROM log WHERE record_id = ? ORDER BY seq", (record_id,)
    )
    return [dict(zip(("seq", "action", "reason", "curator", "ts", "undoes"), r)) for r in rows]
