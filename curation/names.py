"""The names of the pluggable parts whose registries are heavy, and how every registry is built and looked up.

Each family of pluggable parts is a registry: a dict from a name to an object
that carries its description and its behaviour (`embed.EMBEDDERS`,
`clusters.METHODS`, `dedup.METHODS`, `dedup.RULES`, `dedup.INDEXES`,
`dedup.GROUPINGS`, `export.SHAPES`, `export.FORMATS`, `export.STRATIFY`,
`select.STRATEGIES`).
Those modules import numpy or pandas, so the command line takes its choices
from the names here instead and `python -m curation --help` stays fast. Each
registry is built with `registry`, which refuses, when its module is imported,
a registry whose names differ from the ones listed here: adding a part is
adding its object there and its name here.

Light on purpose: this module imports nothing but `curation.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from curation.errors import CurationError

EMBEDDERS = ("minilm", "static")  # any other name: a local sentence-transformers model folder or a hub id
CLUSTERINGS = ("hdbscan", "kmeans")
DEDUP_METHODS = ("embedding", "minhash", "exact")
RULES = ("quality", "human_rank", "longest_output", "human_first", "first_seen")
INDEXES = ("auto", "exact", "ivf", "hnsw")
GROUPINGS = ("star", "components")
SHAPES = ("text", "messages", "prompt-completion", "alpaca", "sharegpt")
EXPORT_FORMATS = ("jsonl", "parquet", "hf")
STRATIFY = ("none", "cluster", "source", "dataset")
RESCORERS = ("none", "surface", "cross")  # the second stage of the embedding method
GENERATORS = ("self-instruct", "alpaca", "evol-instruct", "magpie")  # generate.METHODS: LLM generation from seeds
STRATEGIES = ("quality", "coverage", "random")  # select.STRATEGIES: how a budgeted selection chooses
OVER = ("drop", "keep")  # export.OVER: two settings of one step, described (not a family of parts)

Part = TypeVar("Part")


def registry(names: tuple[str, ...], parts: Iterable[Part]) -> dict[str, Part]:
    """{part.name: part} in the order given; raises unless the parts are exactly `names` (one of the tuples above), in order."""
    out = {part.name: part for part in parts}
    if tuple(out) != names:
        raise RuntimeError(f"registry parts {list(out)} differ from the names in curation.names {list(names)}: keep them the same")
    return out


def lookup(parts: dict[str, Part], name: str, what: str) -> Part:
    """The part called `name`, or a CurationError that lists the valid names."""
    try:
        return parts[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise CurationError(f"unknown {what} {name!r}: choose one of {', '.join(parts)}") from None
