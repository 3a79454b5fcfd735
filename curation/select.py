"""Select the best N: a budgeted selection for quality and coverage, applied as decisions and undone as one action.

    pool = load_pool(ws)                          # records, their quality score in force, their cached embeddings
    sel = plan(pool, 1000, "quality", limits=[parse_limit("dataset:t0_train_55k", cap="200")])
    apply(ws, sel)                                # keep `selected:quality`, reject `not_selected:budget`
    undo_last(ws)                                 # the whole selection, back as it was

The pool is every record not rejected: records the curator kept are always in (they count against the budget, the caps
and the floors), rejected ones never; a protected evaluation set's records (`curation.decontaminate`) are neither
chosen nor rejected. A record decided by an earlier selection (`selected:<strategy>`,
`not_selected:budget`) is a candidate again: a new selection replaces the old one, and undoing it brings the old one
back. Quality is the score in force (`curation.scorers.ranked.quality_score`: flags gate × ranker); vectors are the
workspace's embeddings (`EmbedSettings`, cached by content).

Caps and floors (`Limit`) hold per dataset, source, cluster (when a map is cached) or language (the `language`
signal's detected code), for one group or for every group (`*`); an amount under 1 is a share of the budget. Floors
are filled first, each within its group and by the same strategy; then the rest of the budget, skipping groups at
their cap. A floor a group cannot meet and a cap the kept records already exceed are reported, not errors.

Strategies live in `STRATEGIES` (names in `curation.names.STRATEGIES`); their algorithms in `select_strategies`, the
trade-off measures in `select_view`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from curation import names
from curation.errors import CurationError
from curation.progress import Progress
from curation.select_strategies import STRATEGY_CLASSES
from curation.workspace import Workspace

SELECTED = "selected:"  # + the strategy's name: the reason of a record a selection keeps
NOT_SELECTED = "not_selected:budget"  # the reason of a candidate it leaves out
GROUPS = ("dataset", "source", "cluster", "language")
MARGIN = 10  # picks past the budget: what is left out at the margin (the next in line)
# The quality strategy's default threshold per embedder: a record is too close to a chosen one when their cosine
# similarity reaches the embedder's paraphrase threshold (calibrated on MRPC by F0.5 for dedup, bench/RESULTS.md).
THRESHOLDS = {"minilm": 0.79, "static": 0.89}
OTHER_THRESHOLD = 0.85
SETTING = "selection"  # workspace setting: the last selection applied (what export's manifest can name)


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    build: Callable


STRATEGIES: dict[str, Strategy] = names.registry(names.STRATEGIES, (
    Strategy("quality", "quality first with a diversity constraint (Deita-style): in descending quality order, a record "
             "joins only if its cosine similarity to every chosen record is below the threshold", STRATEGY_CLASSES["quality"]),
    Strategy("coverage", "coverage first: greedy facility location over the embeddings, each record's gain in coverage "
             "weighted by its quality score", STRATEGY_CLASSES["coverage"]),
    Strategy("random", "a seeded random sample of the candidates: the control", STRATEGY_CLASSES["random"]),
))


@dataclass
class Pool:
    """The records a selection chooses from, their quality score and vectors (rows aligned)."""

    frame: pd.DataFrame  # record_id, dataset, source, decision, reason, score, broken, status, instruction, output, cluster?, language?
    vectors: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def status(self) -> np.ndarray:
        return self.frame["status"].to_numpy()

    @property
    def eligible(self) -> np.ndarray:
        """The records a selection is drawn from and measured on: kept ones and candidates."""
        return np.isin(self.status, ("kept", "candidate"))

    def groups(self) -> tuple[str, ...]:
        return tuple(g for g in GROUPS if g in self.frame)


def status(frame: pd.DataFrame, protected=None) -> np.ndarray:
    """kept (always in), rejected (never), protected (an evaluation set's record: never chosen, never rejected),
    candidate (the rest, including what an earlier selection decided)."""
    decision = frame["decision"].astype(str).to_numpy()
    reason = frame["reason"].fillna("").astype(str)
    by_selection = (reason.str.startswith(SELECTED) | (reason == NOT_SELECTED)).to_numpy()
    out = np.full(len(frame), "candidate", dtype=object)
    out[(decision == "keep") & ~by_selection] = "kept"
    out[(decision == "reject") & ~by_selection] = "rejected"
    if protected is not None:
        out[np.asarray(protected, dtype=bool)] = "protected"
    return out


def load_pool(ws: Workspace, frame: pd.DataFrame | None = None, *, model: str | None = None,
              progress: Progress | None = None) -> Pool:
    """Every record with its status, quality score, groups and vector. Computes the signals and embeds the texts
    that are not cached yet (`progress` reports both; a `Cancelled` it raises keeps what was embedded)."""
    from curation.annotated import annotate
    from curation.decontaminate import protected_datasets, protected_mask
    from curation.embed import EmbedSettings, embed_records
    from curation.scorers.ranked import quality_score

    if frame is None:
        frame = annotate(ws, stages=("decisions", "signals", "map"), compute=("signals",), progress=progress)
    if frame.empty:
        raise CurationError("no records to select from: ingest some first")
    scored = quality_score(ws, frame)
    conf = EmbedSettings.load(ws)
    model = model or conf.model
    vectors, embedded = embed_records(ws, frame, model=model, text=conf.text, progress=progress)  # texts a slice at a time
    keep = ["record_id", "dataset", "source", "decision", "reason", "instruction", "input", "output"]
    out = scored[keep].copy()
    out["score"] = scored["score"].to_numpy(dtype=float)
    out["broken"] = scored["broken"].to_numpy(dtype=bool)
    out["status"] = status(out, protected_mask(out, protected_datasets(ws)))
    notes = {}
    if "cluster" in scored and scored["cluster"].notna().any():
        out["cluster"] = scored["cluster"].astype("Int64").astype(str)
        out["cluster_label"] = scored.get("cluster_label", out["cluster"]).astype(str)
    else:
        notes["cluster"] = "no map cached: clusters are neither limited nor counted (build the map first)"
    if "evidence__language" in scored:
        out["language"] = scored["evidence__language"].fillna("").astype(str).replace("", "unknown")
    else:
        notes["language"] = "no language signal: language is neither limited nor shown"
    info = {"records": len(out), "model": model, "text": conf.text, "embedded": embedded["embedded"],
            "score": scored.attrs.get("info", {}).get("describe", ""), "notes": notes,
            **{s: int((out["status"] == s).sum()) for s in ("kept", "rejected", "protected", "candidate")}}
    return Pool(out.reset_index(drop=True), np.ascontiguousarray(vectors, dtype=np.float32), info)


@dataclass(frozen=True)
class Limit:
    """A floor and/or cap on how many chosen records one group (or each group, `group="*"`) may hold.
    Amounts of 1 or more are counts; under 1, shares of the budget."""

    by: str
    group: str
    floor: float | None = None
    cap: float | None = None


def parse_amount(text: str) -> float:
    text = str(text).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise CurationError(f"bad amount {text!r}: a count (200) or a share of the budget (0.2 or 20%)") from None
    if not np.isfinite(value) or value < 0:
        raise CurationError(f"bad amount {text!r}: it must be positive")
    return value


def parse_limit(text: str, kind: str) -> Limit:
    """`BY:GROUP=AMOUNT` (e.g. `dataset:gsm8k=100`, `cluster:*=5%`) as a floor or a cap."""
    spec, sep, amount = text.partition("=")
    by, colon, group = spec.partition(":")
    if not sep or not colon or not group.strip():
        raise CurationError(f"bad {kind} {text!r}: write BY:GROUP=AMOUNT, e.g. dataset:gsm8k=100 or cluster:*=5%")
    if by.strip() not in GROUPS:
        raise CurationError(f"bad {kind} {text!r}: limit by one of {', '.join(GROUPS)}")
    value = parse_amount(amount)
    return Limit(by.strip(), group.strip(), **{kind: value})


def resolve_amount(value: float, budget: int) -> int:
    return int(value) if value >= 1 or value == 0 else int(round(value * budget))


@dataclass
class Selection:
    """A planned selection: `order` holds pool rows, the kept records first, then the picks in the order of choice;
    the first `chosen_n` are chosen, the rest are the margin (what the strategy would take next)."""

    pool: Pool
    strategy: str
    budget: int
    order: np.ndarray
    chosen_n: int
    info: dict

    @property
    def chosen(self) -> np.ndarray:
        return self.order[: self.chosen_n]

    @property
    def margin(self) -> np.ndarray:
        return self.order[self.chosen_n :]

    def mask(self) -> np.ndarray:
        out = np.zeros(len(self.pool.frame), dtype=bool)
        out[self.chosen] = True
        return out

    def decisions(self) -> list[tuple[str, str, str]]:
        """(record_id, decision, reason) for every candidate: keep `selected:<strategy>` or reject `not_selected:budget`."""
        ids = self.pool.frame["record_id"].to_numpy()
        chosen = self.mask()
        candidate = self.pool.status == "candidate"
        reason = SELECTED + self.strategy
        return ([(str(i), "keep", reason) for i in ids[candidate & chosen]]
                + [(str(i), "reject", NOT_SELECTED) for i in ids[candidate & ~chosen]])


def resolve_budget(budget: float, pool_size: int) -> int:
    if budget is None or budget <= 0:
        raise CurationError("the budget must be a positive number of records or a share between 0 and 1")
    n = int(round(budget * pool_size)) if budget < 1 or (isinstance(budget, float) and budget == 1.0) else int(budget)
    return max(n, 1)


def default_threshold(model: str) -> float:
    return THRESHOLDS.get(model, OTHER_THRESHOLD)


class _Limits:
    """Counts of chosen records per limited group; which groups are at their cap."""

    def __init__(self, pool: Pool, limits, budget: int):
        frame = pool.frame
        self.codes: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.caps: dict[tuple[str, int], int] = {}
        self.floors: list[tuple[str, int, int]] = []
        for lim in limits:
            if lim.by not in frame:
                raise CurationError(pool.info.get("notes", {}).get(lim.by, f"no {lim.by} column to limit by"))
            if lim.by not in self.codes:
                self.codes[lim.by], self.values[lim.by] = pd.factorize(frame[lim.by].astype(str))
            values = list(self.values[lim.by])
            groups = range(len(values)) if lim.group == "*" else [values.index(lim.group)] if lim.group in values else None
            if groups is None:
                raise CurationError(f"no {lim.by} {lim.group!r} in the pool: choose one of {', '.join(map(str, values[:20]))}")
            for g in groups:
                if lim.cap is not None:
                    amount = resolve_amount(lim.cap, budget)
                    self.caps[(lim.by, g)] = min(self.caps.get((lim.by, g), amount), amount)
                if lim.floor is not None:
                    self.floors.append((lim.by, g, resolve_amount(lim.floor, budget)))
        self.count = {by: np.zeros(len(v), dtype=np.int64) for by, v in self.values.items()}
        if sum(f for _, _, f in self.floors) > budget:
            raise CurationError(f"the floors add up to {sum(f for _, _, f in self.floors):,}, over the budget of {budget:,}")

    def name(self, by: str, g: int) -> str:
        return str(self.values[by][g])

    def add(self, indices: np.ndarray) -> list[tuple[str, int]]:
        """Count these records in; returns the capped groups they filled."""
        full = []
        for by, codes in self.codes.items():
            for g in codes[indices]:
                self.count[by][g] += 1
                cap = self.caps.get((by, int(g)))
                if cap is not None and self.count[by][g] == cap:
                    full.append((by, int(g)))
        return full

    def at_cap(self) -> list[tuple[str, int]]:
        return [(by, g) for (by, g), cap in self.caps.items() if self.count[by][g] >= cap]


def plan(pool: Pool, budget: float, strategy: str = "quality", *, limits=(), threshold: float | None = None, seed: int = 0,
         margin: int = MARGIN, progress: Progress | None = None) -> Selection:
    """Choose `budget` records (a count, or a share of the pool under 1) with a strategy, under caps and floors."""
    start = time.perf_counter()
    spec = names.lookup(STRATEGIES, strategy, "strategy")
    st = pool.status
    kept = np.flatnonzero(st == "kept")
    size = int(pool.eligible.sum())
    budget = resolve_budget(budget, size)
    target = max(budget, len(kept))
    threshold = default_threshold(pool.info.get("model", "")) if threshold is None else float(threshold)
    quality = pool.frame["score"].to_numpy(dtype=float)
    picker = spec.build(pool.vectors, quality, threshold=threshold, seed=seed, budget=target)
    lim = _Limits(pool, limits, budget)
    allowed = st == "candidate"
    over = []

    def close(groups) -> None:
        for by, g in groups:
            allowed[lim.codes[by] == g] = False

    picker.add(kept)
    lim.add(kept)
    close(lim.at_cap())  # groups the kept records fill already (or capped at 0)
    for by, g in lim.at_cap():
        if lim.count[by][g] > lim.caps[(by, g)]:
            over.append({"by": by, "group": lim.name(by, g), "cap": lim.caps[(by, g)], "kept": int(lim.count[by][g])})
    picks: list[int] = []
    relaxed = 0
    shortfalls = []

    def fill(mask_of, want: Callable[[], bool], counted: bool = True) -> bool:
        """Pick while `want()`, loosening the strategy's constraint when nothing fits; False when nothing allowed is left."""
        nonlocal relaxed
        picker.restart()
        loose = False
        while want():
            i = picker.next(mask_of())
            if i is None:
                if picker.relax():
                    loose = True
                    continue
                break
            picks.append(i)
            allowed[i] = False
            picker.add([i])
            close(lim.add(np.array([i])))
            relaxed += loose and counted
            if progress and len(picks) % 50 == 0:
                progress(len(kept) + len(picks), target, f"selecting with {strategy}")
        if loose:
            picker.unrelax()
        return not want()

    for by, g, floor in lim.floors:
        in_group = lim.codes[by] == g
        fill(lambda in_group=in_group: allowed & in_group,
             lambda by=by, g=g, floor=floor: lim.count[by][g] < floor and len(kept) + len(picks) < target)
        if lim.count[by][g] < floor:  # too few candidates in the group, a cap under the floor, or the budget full
            shortfalls.append({"by": by, "group": lim.name(by, g), "floor": floor, "got": int(lim.count[by][g])})
    fill(lambda: allowed, lambda: len(kept) + len(picks) < target)
    chosen_n = len(kept) + len(picks)
    fill(lambda: allowed, lambda: len(kept) + len(picks) < chosen_n + margin, counted=False)  # the margin: next in line
    if progress:
        progress(target, target, f"selecting with {strategy}")
    order = np.concatenate([kept, np.array(picks, dtype=np.int64)]).astype(np.int64)
    candidates = int((st == "candidate").sum())
    new = chosen_n - len(kept)
    info = {"strategy": strategy, "description": spec.description, "budget": budget, "chosen": chosen_n,
            "kept": int(len(kept)), "candidates": candidates, "rejected": int((st == "rejected").sum()),
            "protected": int((st == "protected").sum()),
            "to_keep": new, "to_reject": candidates - new, "short": max(0, budget - chosen_n),
            "threshold": threshold if strategy == "quality" else None, "relaxed": int(relaxed), "seed": seed,
            "limits": [asdict(x) for x in limits], "floors_short": shortfalls, "caps_exceeded_by_kept": over,
            "model": pool.info.get("model"), "notes": pool.info.get("notes", {}), "seconds": round(time.perf_counter() - start, 3)}
    return Selection(pool, strategy, budget, order, chosen_n, info)


def apply(ws: Workspace, sel: Selection, *, curator: str | None = None) -> dict:
    """The selection as decisions in one transaction; kept as the workspace's last selection (for export's manifest)."""
    from curation import decisions, settings

    items = sel.decisions()
    index = dict(zip(sel.pool.frame["record_id"].astype(str), sel.pool.frame["dataset"].astype(str)))
    changed = decisions.decide_each(ws, items, curator=curator, index=index) if items else 0
    keep = {k: sel.info[k] for k in ("strategy", "budget", "chosen", "kept", "to_keep", "to_reject", "threshold", "seed",
                                     "limits", "model")}
    margin = [str(i) for i in sel.pool.frame["record_id"].to_numpy()[sel.margin]]  # next in line: `records --selection-margin`
    settings.put(ws, SETTING, {**keep, "applied": time.time(), "changed": changed, "margin": margin})
    return {"changed": changed, "kept": sum(d == "keep" for _, d, _ in items), "rejected": sum(d == "reject" for _, d, _ in items)}


def last(ws: Workspace) -> dict | None:
    """The last selection applied (strategy, budget, limits…), None if there is none or it was undone."""
    from curation import settings

    return settings.get(ws, SETTING)


def selection_ids(ws: Workspace) -> list[str]:
    """The records whose current decision the latest selection set (one batch: one timestamp)."""
    where = "(reason LIKE ? OR reason = ?)"
    args = (SELECTED + "%", NOT_SELECTED)
    latest = ws.query(f"SELECT max(ts) FROM state WHERE {where}", args)[0][0]
    if latest is None:
        return []
    return [r[0] for r in ws.query(f"SELECT record_id FROM state WHERE {where} AND ts = ?", (*args, latest))]


def members(ws: Workspace) -> dict[str, str]:
    """record_id -> "selected" (the latest selection applied kept it: `selected:<strategy>`) or "margin" (the next in
    line past its budget, left out); empty when no selection is applied (or it was undone). Issue 17's filters."""
    if last(ws) is None:
        return {}
    out = {rid: "margin" for rid in (last(ws) or {}).get("margin") or []}
    latest = ws.query("SELECT max(ts) FROM state WHERE reason LIKE ?", (SELECTED + "%",))[0][0]
    if latest is not None:
        out.update({r: "selected" for (r,) in ws.query("SELECT record_id FROM state WHERE reason LIKE ? AND ts = ?",
                                                        (SELECTED + "%", latest))})
    return out


def undo_last(ws: Workspace, *, curator: str | None = None) -> int:
    """Undo the latest selection as one action (one transaction): every record whose current decision it set goes back
    to its decision before (an earlier selection's, the curator's, or undecided). Decisions made since are left."""
    from curation import decisions, settings

    ids = selection_ids(ws)
    if not ids:
        raise CurationError("no selection to undo")
    changed = decisions.undo(ws, ids, curator=curator)
    settings.put(ws, SETTING, None)
    return changed
