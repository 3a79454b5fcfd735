"""Exact and near-duplicate detection: compared texts, neighbour search, MinHash, groups and their review."""

from curation.dedup.detect import (
                                   DEFAULT_THRESHOLDS,
                                   METHODS,
                                   SWEEPS,
                                   Duplicates,
                                   apply,
                                   cached_from,
                                   dedup_settings,
                                   find,
                                   save_settings,
                                   undo,
)
from curation.dedup.groups import DUPLICATE_REASON, GROUPINGS, RULES
from curation.dedup.neighbours import INDEXES
from curation.dedup.rescore import RESCORERS

__all__ = [
    "DEFAULT_THRESHOLDS", "DUPLICATE_REASON", "GROUPINGS", "INDEXES", "METHODS", "RESCORERS", "RULES", "SWEEPS",
    "Duplicates", "apply", "cached_from", "dedup_settings", "find", "save_settings", "undo",
]
