"""Named curators: who decided and edited what, and how far two curators agree.

Every decision and edit records its curator (`--curator NAME`, `$CURATION_CURATOR`, the dashboard's sidebar; else
"anonymous", see `decisions.default_curator`).

- `curators(ws)`: each curator's decisions (entries in the audit log, undos not counted), current decisions (records
  whose decision in force they made), edits (versions written) and removals (datasets in the trash).
- `agreement(ws, a, b)`: over the records both decided (each one's latest decision from the audit log that was not
  undone), the share on which they agree, Cohen's kappa (agreement beyond what their keep/reject rates give by
  chance) and the records on which they disagree.
"""

from __future__ import annotations

from curation.errors import CurationError
from curation.workspace import Workspace

DECIDED = ("keep", "reject")


def curators(ws: Workspace) -> list[dict]:
    """[{curator, decisions, current, edits, removals}], most decisions first."""
    logged = dict(ws.query("SELECT coalesce(curator, ''), count(*) FROM log WHERE action IN ('keep', 'reject') "
                           "GROUP BY coalesce(curator, '')"))
    current = dict(ws.query("SELECT coalesce(curator, ''), count(*) FROM state GROUP BY coalesce(curator, '')"))
    edited = dict(ws.query("SELECT coalesce(curator, ''), count(*) FROM edits GROUP BY coalesce(curator, '')"))
    removed = dict(ws.query("SELECT coalesce(curator, ''), count(*) FROM removals GROUP BY coalesce(curator, '')"))
    names = set(logged) | set(current) | set(edited) | set(removed)
    out = [{"curator": name, "decisions": int(logged.get(name, 0)), "current": int(current.get(name, 0)),
            "edits": int(edited.get(name, 0)), "removals": int(removed.get(name, 0))} for name in names]
    return sorted(out, key=lambda c: (-c["decisions"], -c["edits"], c["curator"]))


def latest_decisions(ws: Workspace, curator: str) -> dict[str, str]:
    """record_id -> the curator's latest keep/reject from the audit log that was not undone."""
    rows = ws.query(
        "SELECT record_id, action FROM log WHERE curator = ? AND action IN ('keep', 'reject') "
        "AND seq NOT IN (SELECT undoes FROM log WHERE undoes IS NOT NULL) ORDER BY seq", (curator,))
    return dict(rows)  # later entries win


def kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels; None when it is undefined (both gave one same label to every item)."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(x == y for x, y in pairs) / n
    labels = {x for p in pairs for x in p}
    expected = sum((sum(x == c for x, _ in pairs) / n) * (sum(y == c for _, y in pairs) / n) for c in labels)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def agreement(ws: Workspace, a: str, b: str) -> dict:
    """How far curators `a` and `b` agree on the records both decided: n, agreement (share), kappa (Cohen's; None when
    undefined), the counts table (`table[a_decision][b_decision]`) and the record ids they disagree on."""
    if not a or not b or a == b:
        raise CurationError("agreement needs two different curator names")
    known = {c["curator"] for c in curators(ws)}
    unknown = [c for c in (a, b) if c not in known]
    if unknown:
        raise CurationError(f"no decisions by {unknown[0]!r}: curators are {', '.join(sorted(known)) or 'none yet'}")
    first, second = latest_decisions(ws, a), latest_decisions(ws, b)
    both = sorted(set(first) & set(second))
    pairs = [(first[r], second[r]) for r in both]
    table = {x: {y: sum(p == (x, y) for p in pairs) for y in DECIDED} for x in DECIDED}
    k = kappa(pairs)
    return {"a": a, "b": b, "n": len(both), "agreement": (sum(x == y for x, y in pairs) / len(both)) if both else None,
            "kappa": None if k is None else round(k, 6), "table": table,
            "disagree": [r for r, (x, y) in zip(both, pairs) if x != y],
            "only_a": len(set(first) - set(second)), "only_b": len(set(second) - set(first))}
