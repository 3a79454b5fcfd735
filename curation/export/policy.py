"""Export policy: which records an export leaves out besides the rejected ones, what it warns about, and what it says.

By default an export leaves out
- records a curator rejected (by their reason, as always);
- records of a protected evaluation set (`curation.decontaminate`): never in any split of a training export;
- records carrying a flag the curator marked as *blocking* (`ExportSettings.blocking`, `export --block CODE`, the
  Export page), by the flag's reason code (`blocked:<code>`), unless the export keeps them (`keep_blocked`);
- contaminated records: training records matching a protected item (n-gram or embedding), unless kept
  (`contaminated="keep"`: written, and warned about).

It warns about undecided records it exports and about contaminated records (left out or kept). The manifest's
`policy` lists all of it; `selection` names the last selection applied and counts the records by its reasons
(`selected:<strategy>`, `not_selected:budget`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation.errors import CurationError, Phrased
from curation.settings import StageSettings
from curation.workspace import Workspace

CONTAMINATED = {"drop": "training records matching a protected evaluation item are left out (reason contaminated)",
                "keep": "written, and warned about"}
PROTECTED = "protected"
CONTAMINATED_REASON = "contaminated"
BLOCKED = "blocked:"
SELECTED, NOT_SELECTED = "selected:", "not_selected:budget"  # curation.select's reasons


@dataclass(frozen=True)
class ExportSettings(StageSettings):
    """The flags whose records an export leaves out by default (reason codes, e.g. pii, refusal)."""

    stage = "export"
    blocking: tuple[str, ...] = ("empty_output",)  # an empty answer never trains anything: blocked until unblocked

    @classmethod
    def from_stored(cls, raw: dict):
        blocking = raw["blocking"] if "blocking" in raw else cls.blocking  # never set: the default; set empty: none
        return super().from_stored({**raw, "blocking": tuple(blocking or ())})

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        if "blocking" in changes:
            changes = {**changes, "blocking": sorted(dict.fromkeys(changes["blocking"]))}
        return {**raw, **changes}

    def check(self) -> None:
        for code in self.blocking:
            check_flag(code)


def check_flag(code: str) -> str:
    """The flag's reason code (a signal's name is accepted too); a CurationError listing the codes otherwise."""
    from curation.signals import by_reason

    return by_reason(code).reason


def blocking_flags(ws: Workspace) -> tuple[str, ...]:
    return ExportSettings.load(ws).blocking


def set_blocking(ws: Workspace, codes) -> tuple[str, ...]:
    """Make exactly these flags blocking (reason codes or signal names; empty: none)."""
    return ExportSettings.save(ws, blocking=[check_flag(c) for c in codes]).blocking


def flag_lists(ws: Workspace, frame: pd.DataFrame) -> pd.Series:
    """Each record's flag codes (signals computed where not cached)."""
    from curation.annotated import annotate

    flagged = annotate(ws, frame[["record_id"]], stages=("signals",), compute=("signals",))  # not a copy of every text (issue 18)
    flags = flagged.set_index("record_id")["flags"] if "flags" in flagged else pd.Series(dtype=object)
    return frame["record_id"].map(flags).apply(lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])


def exclusions(ws: Workspace, frame: pd.DataFrame, reasons: list[str | None], opts) -> tuple[list[str | None], dict]:
    """The exclusion reason of each record after the policy (a rejection's reason stands first), and the policy's report:
    {"policy": …, "warnings": […], "decontamination": summary or None, "contaminated": {record_id: protected_id}}."""
    from curation.decontaminate import DecontaminationSettings, find, protected_mask

    if opts.contaminated not in CONTAMINATED:
        raise CurationError(f"unknown contaminated {opts.contaminated!r}: choose one of {', '.join(CONTAMINATED)}")
    reasons = list(reasons)
    warnings: list[str] = []
    conf = DecontaminationSettings.load(ws)
    protected = protected_mask(frame, conf.protected)
    for i in np.flatnonzero(protected):
        reasons[i] = PROTECTED  # whatever its decision: an evaluation record never goes to a training split
    blocking = tuple(opts.blocking) if opts.blocking is not None else blocking_flags(ws)
    blocking = tuple(check_flag(c) for c in blocking)
    blocked_counts: dict[str, int] = {}
    if blocking and not opts.keep_blocked:
        for i, flags in enumerate(flag_lists(ws, frame)):
            hit = next((c for c in blocking if c in flags), None)
            if hit and reasons[i] is None:
                reasons[i] = BLOCKED + hit
                blocked_counts[hit] = blocked_counts.get(hit, 0) + 1
    report, contaminated = None, {}
    if protected.any():
        found = find(ws, frame, embedding=bool(conf.embedding and (opts.similarity or embedded(ws, frame))))
        report, matches = found["summary"], found["matches"]
        contaminated = dict(zip(matches["record_id"], matches["protected_id"]))
        if not report["embedding"]:
            warnings.append(Phrased("the embedding check of decontamination did not run (--no-similarity or its setting): "
                                    "only n-gram overlap was checked",
                                    "the embedding check of decontamination did not run ('Check test/train similarity' is "
                                    "off, or the decontamination setting): only n-gram overlap was checked"))
        index = {rid: i for i, rid in enumerate(frame["record_id"].astype(str))}
        live = [index[r] for r in contaminated if reasons[index[r]] is None]
        if contaminated:
            verb = "left out" if opts.contaminated == "drop" else "EXPORTED (contaminated=keep)"
            warnings.append(f"{len(contaminated):,} training records match a protected evaluation item "
                            f"({len(live):,} of them not rejected otherwise): {verb}")
        if opts.contaminated == "drop":
            for i in live:
                reasons[i] = CONTAMINATED_REASON
    elif conf.protected:
        warnings.append(f"no records of the protected sets {', '.join(conf.protected)} are loaded: nothing was checked")
    else:
        warnings.append(Phrased("no evaluation set is protected: the export was not checked for contamination "
                                "(ingest --protected, or decontaminate --protect NAME)",
                                "no evaluation set is protected: the export was not checked for contamination (choose "
                                "one under Protected evaluation sets, or load one as an evaluation set)"))
    exported = [r is None for r in reasons]
    undecided = int(sum(1 for ok, d in zip(exported, frame["decision"]) if ok and d == "undecided"))
    if undecided and not opts.kept_only:
        warnings.append(Phrased(f"{undecided:,} exported records are undecided (no curator kept them; --kept-only leaves them out)",
                                f"{undecided:,} exported records are undecided (no curator kept them; 'Kept records only' "
                                "leaves them out)"))
    policy = {"rejected": "left out, by reason", PROTECTED: {"datasets": list(conf.protected), "rule": "never exported"},
              "blocking_flags": list(blocking), "blocked": "kept (keep_blocked)" if opts.keep_blocked and blocking else
              {k: blocked_counts[k] for k in sorted(blocked_counts)},
              "contaminated": CONTAMINATED[opts.contaminated], "undecided": "left out" if opts.kept_only else "exported",
              "undecided_exported": 0 if opts.kept_only else undecided}
    return reasons, {"policy": policy, "warnings": warnings, "decontamination": report, "contaminated": contaminated}


def embedded(ws: Workspace, frame: pd.DataFrame) -> bool:
    """Whether every prompt's vector is cached already (then the embedding check costs no embedding)."""
    from curation.embed import EmbedSettings, pending
    from curation.texts import record_texts

    return pending(ws, record_texts(frame, "prompt"), model=EmbedSettings.load(ws).model, text="prompt") == 0


def selection(ws: Workspace, frame: pd.DataFrame, exported: pd.DataFrame) -> dict | None:
    """The last selection applied and the records by its reasons, in the pool and in the export; None without one."""
    from curation import settings

    reasons = frame["reason"].fillna("").astype(str)
    ours = reasons.str.startswith(SELECTED) | (reasons == NOT_SELECTED)
    last = settings.get(ws, "selection")
    if not ours.any() and not last:
        return None
    out_reasons = exported["reason"].fillna("").astype(str) if "reason" in exported else pd.Series(dtype=str)
    out_ours = out_reasons.str.startswith(SELECTED) | (out_reasons == NOT_SELECTED)
    return {"last": {k: v for k, v in (last or {}).items() if k != "applied"} or None,  # no time stamp in a manifest
            "by_reason": {str(k): int(v) for k, v in reasons[ours].value_counts().sort_index().items()},
            "exported_by_reason": {str(k): int(v) for k, v in out_reasons[out_ours].value_counts().sort_index().items()}}
