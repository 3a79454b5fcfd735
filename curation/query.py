"""Filtering and summarising records: one implementation for the CLI and the pages."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from curation.decisions import by_reason, counts, totals
from curation.records import loads
from curation.store import dataset_sizes, load_records
from curation.workspace import Workspace

SEARCHED = ("system", "instruction", "input", "output", "messages")
SELECTIONS = ("selected", "margin")  # Filter.selection: what `annotate`'s selection column holds


@dataclass(frozen=True)
class Filter:
    datasets: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    search: str = ""
    flags: tuple[str, ...] = ()  # reason codes: records carrying any of them (needs signal columns)
    cluster: int | None = None  # one cluster of the map (needs map columns)
    # Issue 17: the review filters (the columns come from `annotate`: decisions stage and dedup).
    reasons: tuple[str, ...] = ()  # decision reasons, by prefix: `near_duplicate_of` matches every near_duplicate_of:<id>
    dup_group: int | None = None  # one duplicate group (needs dedup columns)
    selection: str | None = None  # "selected" (the latest selection chose) or "margin" (next in line past its budget)
    edited: bool | None = None  # True: records whose text was edited; False: never edited (or reverted to the original)
    curator: str | None = None  # records whose current decision this curator made

    def _need(self, frame: pd.DataFrame, column: str, what: str) -> None:
        if column not in frame:
            from curation.errors import CurationError

            raise CurationError(f"filtering by {what} needs the {column!r} column: annotate the records first "
                                "(curation.annotated.annotate)")

    def review_mask(self, frame: pd.DataFrame) -> pd.Series:
        """The issue-17 filters alone (reason, duplicate group, selection, edit state, curator)."""
        mask = pd.Series(True, index=frame.index)
        if self.reasons:
            reason = frame["reason"].astype(object).where(frame["reason"].notna(), "").astype(str)
            mask &= reason.map(lambda r: any(r.startswith(p) for p in self.reasons)).astype(bool)
        if self.dup_group is not None:
            self._need(frame, "dup_group", "duplicate group (run dedup)")
            mask &= (frame["dup_group"] == self.dup_group).fillna(False).astype(bool)
        if self.selection is not None:
            if self.selection not in SELECTIONS:
                from curation.errors import CurationError

                raise CurationError(f"unknown selection filter {self.selection!r}: choose one of {', '.join(SELECTIONS)}")
            self._need(frame, "selection", "selection")
            mask &= (frame["selection"] == self.selection).fillna(False).astype(bool)
        if self.edited is not None:
            self._need(frame, "edited", "edit state")
            mask &= frame["edited"].fillna(False).astype(bool) == bool(self.edited)
        if self.curator is not None:
            self._need(frame, "curator", "curator")
            mask &= (frame["curator"] == self.curator).fillna(False).astype(bool)
        return mask

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        mask = self.review_mask(frame)
        if self.datasets:
            mask &= frame["dataset"].isin(self.datasets)
        if self.sources:
            mask &= frame["source"].isin(self.sources)
        if self.decisions:
            mask &= frame["decision"].isin(self.decisions)
        if self.flags:
            from curation.signals import by_reason

            if "flags" not in frame:
                from curation.errors import CurationError

                raise CurationError("filtering by flag needs the quality signals: compute them first (Quality page or `signals`)")
            any_flag = pd.Series(False, index=frame.index)
            for code in self.flags:
                any_flag |= frame[f"flag__{by_reason(code).name}"].fillna(False).astype(bool)
            mask &= any_flag
        if self.cluster is not None:
            mask &= frame["cluster"] == self.cluster
        if self.search.strip():
            needle = self.search.strip()
            hit = pd.Series(False, index=frame.index)
            for column in SEARCHED:
                hit |= frame[column].str.contains(needle, case=False, regex=False).fillna(False).astype(bool)
            mask &= hit
        return frame[mask]


def page(frame: pd.DataFrame, limit: int, offset: int) -> pd.DataFrame:
    return frame.iloc[max(offset, 0) : max(offset, 0) + max(limit, 0)]


def record_json(row: dict) -> dict:
    """One record as the CLI prints it: messages and meta decoded."""
    out = {
        k: row.get(k)
        for k in ("record_id", "dataset", "row", "source", "system", "instruction", "input", "output", "decision", "reason")
    }
    out["row"] = int(out["row"])
    out["messages"] = loads(row.get("messages"))
    out["meta"] = loads(row.get("meta")) or {}
    out["file"] = row.get("file")
    out["where"] = row.get("where")
    if "flags" in row:
        out["flags"] = list(row["flags"]) if isinstance(row["flags"], (list, tuple)) else []
        out["quality"] = None if pd.isna(row.get("quality")) else round(float(row["quality"]), 4)
    if "score" in row:  # with --sort score: the quality score in force and the ranker's raw value
        out["score"] = round(float(row["score"]), 6)
        out["ranked_by"] = None if pd.isna(row["ranked_by"]) else float(row["ranked_by"])
    if "cluster" in row:
        present = row["cluster"] is not None and not pd.isna(row["cluster"])
        out["cluster"] = int(row["cluster"]) if present else None
        out["cluster_label"] = row["cluster_label"] if present else None
        out["x"] = float(row["x"]) if present else None
        out["y"] = float(row["y"]) if present else None
        out["cluster_confidence"] = round(float(row["cluster_confidence"]), 4) if present and "cluster_confidence" in row else None
        out["assigned"] = bool(row["assigned"]) if present and "assigned" in row else None
        out["placed"] = bool(row["placed"]) if present and "placed" in row else None
    if "dup_group" in row:
        present = row["dup_group"] is not None and not pd.isna(row["dup_group"])
        out["dup_group"] = int(row["dup_group"]) if present else None
        out["representative"] = bool(row["representative"]) if present else None
    if isinstance(out["reason"], float):  # NaN from the left join: no decision
        out["reason"] = None
    for key in ("curator", "edited", "edit_version", "selection"):  # issue 17: who decided, edit state, selection
        if key in row:
            value = row[key]
            present = value is not None and not (isinstance(value, float) and value != value) and value is not pd.NA
            out[key] = (bool(value) if key == "edited" else int(value) if key == "edit_version" else value) if present else None
    return out


def stats(ws: Workspace, frame: pd.DataFrame | None = None) -> dict:
    """Counts of records, sources and decisions (of records that exist), and the source rows still to re-ingest
    (`needs_reingest`: lost with a part that doctor quarantined)."""
    from curation.decisions import frame_states
    from curation.store import needs_reingest

    frame = load_records(ws) if frame is None else frame
    states = frame_states(frame)  # the decisions of records that exist
    per_dataset = counts(ws, dataset_sizes(ws), states=states)
    return {
        "records": len(frame),
        "datasets": {name: int(n) for name, n in frame["dataset"].value_counts(sort=False).items()},
        "by_source": {kind: int(n) for kind, n in frame["source"].value_counts().items()},
        "decisions": totals(per_dataset),
        "by_reason": by_reason(ws, states=states),
        "needs_reingest": [{k: e[k] for k in ("dataset", "source", "rows", "paths", "part", "moved_to")}
                           for e in needs_reingest(ws)],
        "per_dataset": per_dataset,
    }
