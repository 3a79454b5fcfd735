"""Find duplicate groups in the workspace's records, cache the neighbour pairs, apply or undo the rejections.

The expensive part, the candidate pairs at or above a floor (a little below the
lower of the sweep's start and the chosen threshold), is cached in `dedup/<key>.npz`, keyed by
the method, model, text choice, boilerplate setting, index and every compared
text: any threshold at or above the floor, the sweep and any representative rule
are then answered from the cache in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from curation import names, settings
from curation.dedup import calibration
from curation.dedup.families import Families, exact_texts, families
from curation.dedup.groups import (
    DUPLICATE_REASON,
    GROUPINGS,
    RULES,
    assign,
    check_bulk,
    curator_rank,
    edge_pairs,
    group_labels,
    largest_near_group,
    pair_recall,
    preference_rank,
    sweep,
)
from curation.dedup.neighbours import INDEXES, K, Pairs, measured_recall, neighbour_pairs
from curation.dedup.rescore import CROSS_SWEEP, RESCORERS, rescore
from curation.dedup.texts import comparable_texts
from curation.embed import DEFAULT_MODEL, EmbedSettings, embed_texts, text_key
from curation.errors import CurationError
from curation.progress import Progress
from curation.texts import TEXT_CHOICES
from curation.workspace import Workspace, write_atomically

VERSION = 1


@dataclass(frozen=True)
class Method:
    """A way of finding duplicates.

    - `default_threshold`, `sweep`: the threshold it starts from and the thresholds it reports the counts at;
    - `pairs(ws, texts, conf, floor, progress)`: the candidate pairs at or above the floor (cached by `candidate_pairs`
      when `cached`);
    - `uses_model`: its pairs depend on the embedding model (part of their cache key).
    """

    name: str
    description: str
    default_threshold: float
    sweep: tuple[float, ...]
    pairs: Callable[..., Pairs]
    cached: bool = True
    uses_model: bool = False


def embedding_pairs(ws: Workspace, texts: list[str], conf: dict, floor: float, progress: Progress | None = None) -> Pairs:
    model = embedding_model(ws)
    vectors, _ = embed_texts(ws, texts, model=model, text=conf["text"], progress=progress)
    if progress:
        progress(0, len(texts), "searching neighbours")
    pairs = neighbour_pairs(vectors, floor, conf["index"], progress=progress)
    if progress:
        progress(len(texts), len(texts), "searching neighbours")
    pairs.info["model"] = model
    if pairs.info["index"] != "exact":
        pairs.info["recall"] = measured_recall(vectors, pairs, floor)
    else:
        pairs.info["recall"] = 1.0
    return pairs


def shingle_pairs(ws: Workspace, texts: list[str], conf: dict, floor: float, progress: Progress | None = None) -> Pairs:
    from curation.dedup.minhash import minhash_pairs

    return minhash_pairs(texts, floor, progress=progress)


def hash_pairs(ws: Workspace, texts: list[str], conf: dict, floor: float, progress: Progress | None = None) -> Pairs:
    """None: exact copies are grouped by their hash."""
    return Pairs.empty(index="hash", seconds=0.0)


# Each default is the threshold with the best F0.5 on the MSR paraphrase train pairs (bench/dedup_paraphrase.py); the
# embedding method's depends on the model and the second stage (`default_threshold`, curation/dedup/calibration.py).
METHODS: dict[str, Method] = names.registry(names.DEDUP_METHODS, (
    Method("embedding", "cosine similarity of sentence embeddings (paraphrases and copies)", calibration.UNCALIBRATED,
           tuple(round(0.75 + 0.01 * i, 2) for i in range(25)), embedding_pairs, uses_model=True),
    Method("minhash", "estimated Jaccard similarity of word shingles (surface copies; no model)", 0.5,
           tuple(round(0.50 + 0.02 * i, 2) for i in range(25)), shingle_pairs),
    Method("exact", "the same text after normalising case and whitespace", 1.0, (1.0,), hash_pairs, cached=False),
))
DEFAULT_THRESHOLDS = {m.name: m.default_threshold for m in METHODS.values()}
SWEEPS = {m.name: m.sweep for m in METHODS.values()}


@dataclass(frozen=True)
class DedupSettings(settings.StageSettings):
    """How duplicates are found and which record of a group is kept (kept in the workspace); the embedding model is
    embed's (`EmbedSettings`)."""

    stage = "dedup"
    method: str = "embedding"  # a name in METHODS
    threshold: float | None = None  # None: the default for the method, model and second stage (`default_threshold`)
    text: str = "prompt"  # a key of texts.TEXT_CHOICES
    rule: str = "quality"  # a name in RULES
    strip: bool = True  # remove boilerplate lines before comparing
    index: str = "auto"  # a name in INDEXES
    grouping: str = "star"  # a name in GROUPINGS
    rescore: str = "none"  # a name in RESCORERS: the embedding method's second stage
    scale: str | None = None  # what a chosen threshold was set for (`scale_of`): on another scale the default applies

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        """Changing the method or the second stage without a threshold resets it to the default."""
        for name in ("method", "rescore"):
            if name in changes and changes[name] != raw.get(name, getattr(cls, name)) and "threshold" not in changes:
                changes = {**changes, "threshold": None, "scale": None}
        return {**raw, **changes}

    def check(self) -> None:
        validate(asdict(self))


def scale_of(method: str, model: str, rescore: str) -> str:
    """What a threshold is compared with: the method, and for embeddings the model and the second stage."""
    return method if method != "embedding" else f"embedding|{model}|{rescore}"


def default_threshold(method: str, model: str, rescore: str = "none") -> tuple[float, str]:
    """(the default threshold, where it comes from) for a method under an embedding model and a second stage."""
    if method != "embedding":
        return METHODS[method].default_threshold, "the method's default"
    if rescore in calibration.RESCORE_THRESHOLDS:
        return calibration.RESCORE_THRESHOLDS[rescore], f"calibrated for the {rescore} second stage on MRPC train pairs (F0.5)"
    value, calibrated = calibration.embedding_threshold(model)
    return value, (f"calibrated for {model} on MRPC train pairs (F0.5)" if calibrated else f"not calibrated for {model}")


def chosen(conf: dict, model: str) -> bool:
    """Whether the kept threshold was chosen for the scale in force (one kept before scales were: for the default model)."""
    kept_for = conf.get("scale") or scale_of(conf["method"], DEFAULT_MODEL, "none")
    return conf["threshold"] is not None and kept_for == scale_of(conf["method"], model, conf["rescore"])


def resolved(conf: dict, model: str) -> dict:
    """The settings with the threshold in force: the chosen one if it was chosen for this scale, else the default."""
    return conf if chosen(conf, model) else {**conf, "threshold": default_threshold(conf["method"], model, conf["rescore"])[0]}


def dedup_settings(ws: Workspace) -> dict:
    return resolved(asdict(DedupSettings.load(ws)), embedding_model(ws))


def save_settings(ws: Workspace, **changes) -> dict:
    """Validate and keep settings; a threshold is kept for the scale in force (the method, model and second stage), and
    changing the method or the second stage without a threshold goes back to the default."""
    if changes.get("threshold") is not None:
        now = {**asdict(DedupSettings.load(ws)), **{k: v for k, v in changes.items() if v is not None}}
        changes = {**changes, "scale": scale_of(now["method"], embedding_model(ws), now["rescore"])}
    DedupSettings.save(ws, **changes)
    return dedup_settings(ws)


def threshold_source(conf: dict, model: str) -> str:
    """Where the threshold in force comes from (settings as kept, before `resolved`)."""
    return "set by you" if chosen(conf, model) else default_threshold(conf["method"], model, conf["rescore"])[1]


def in_force(conf: dict, model: str) -> str:
    """One line saying which model, second stage and threshold the method compares with."""
    threshold = resolved(conf, model)["threshold"]
    source = conf.get("threshold_source") or threshold_source(conf, model)
    if conf["method"] != "embedding":
        return f"{conf['method']} at {threshold} ({source})"
    stage = {"cross": ", then the cross-encoder", "surface": ", then surface similarity"}.get(conf["rescore"], "")
    return f"embedding with {model}{stage} at {threshold} ({source})"


def validate(conf: dict) -> dict:
    for name, allowed in (("method", METHODS), ("text", TEXT_CHOICES), ("rule", RULES), ("index", INDEXES), ("grouping", GROUPINGS),
                          ("rescore", RESCORERS)):
        if conf[name] not in allowed:
            raise CurationError(f"unknown {name} {conf[name]!r}: choose one of {', '.join(allowed)}")
    if conf["threshold"] is not None and not 0.0 < float(conf["threshold"]) <= 1.0:
        raise CurationError(f"a threshold is a similarity between 0 and 1, not {conf['threshold']}")
    return conf


def embedding_model(ws: Workspace) -> str:
    """The model the embedding method compares with: embed's."""
    return EmbedSettings.load(ws).model


@dataclass
class Duplicates:
    """Duplicate groups of a set of records under one configuration."""

    frame: pd.DataFrame  # the records compared, in load order
    texts: list[str]  # what was compared (boilerplate removed)
    hashes: np.ndarray  # normalised hash of each full text
    pairs: Pairs  # candidate pairs at or above the floor
    conf: dict
    boilerplate: dict[str, int]
    table: pd.DataFrame  # per record: dup_group, representative, representative_id, group_size, group_kind, cross_dataset
    rank: np.ndarray | None = None  # the representative order, for star grouping
    families: Families | None = None  # template families and conversation siblings (their pairs are not in `pairs`)
    siblings: Pairs | None = None  # candidate pairs dropped as one family's siblings (different variable parts)
    _sweeps: dict = field(default_factory=dict, repr=False)  # memo: a page asks for the same sweep on every rerun

    def summary(self) -> dict:
        reps = self.table[self.table["dup_group"].notna()]
        kinds = reps.drop_duplicates("dup_group")
        in_groups = len(reps)
        groups = len(kinds)
        return {"threshold": self.conf["threshold"], "method": self.conf["method"],
                "exact_groups": int((kinds["group_kind"] == "exact").sum()), "near_groups": int((kinds["group_kind"] == "near").sum()),
                "records_in_groups": in_groups, "would_reject": in_groups - groups,
                "cross_dataset_groups": int(kinds["cross_dataset"].sum()), "records": len(self.frame),
                "text": self.conf["text"], "rule": self.conf["rule"], "grouping": self.conf["grouping"],
                "model": self.pairs.info.get("model"), "rescore": self.conf["rescore"], "pair_model": self.pairs.info.get("pair_model"),
                "in_force": in_force(self.conf, self.pairs.info.get("model") or DEFAULT_MODEL),
                "index": self.pairs.info.get("index"),
                "recall": self.pairs.info.get("recall"), "boilerplate_lines": len(self.boilerplate), **self.explained()}

    def explained(self) -> dict:
        """The proposed rejections split by why, the largest groups, the pair recall and the siblings set aside."""
        t = self.table
        why = t.loc[t["representative"] == False, "why"].value_counts()  # noqa: E712 - nullable boolean column
        threshold = float(self.conf["threshold"])
        labels = t["dup_group"].fillna(0).to_numpy(np.int64)
        return {"reject_exact": int(why.get("exact", 0)), "reject_same_values": int(why.get("same_values", 0)),
                "reject_near": int(why.get("near", 0)), "largest_group": int(t["group_size"].max()) if len(t) else 0,
                "largest_near_group": largest_near_group(t)[1], "pair_recall": pair_recall(labels, self.pairs.above(threshold)),
                "families": int(len(set(self.families.code[self.families.code >= 0].tolist()))) if self.families else 0,
                "family_pairs_set_aside": len(self.siblings.above(threshold)) if self.siblings is not None else 0,
                "template_repeats": self.template_repeats(threshold)}

    def template_repeats(self, threshold: float) -> int:
        """Records whose example (variable parts) recurs under another template at or above the threshold: kept."""
        if self.siblings is None or self.families is None:
            return 0
        near = self.siblings.above(threshold)
        same = self.families.repeats(near)
        return len(set(near.i[same].tolist()) | set(near.j[same].tolist()))

    def sweep(self, thresholds=None) -> pd.DataFrame:
        """Groups, would-reject and kept counts at each threshold (default: the method's sweep)."""
        key = tuple(thresholds or sweep_of(self.conf))
        if key not in self._sweeps:
            self._sweeps[key] = sweep(len(self.frame), self.pairs, self.hashes, key, self.rank, self.families)
        return self._sweeps[key].copy()

    def groups(self) -> pd.DataFrame:
        """One row per group, largest first."""
        members = self.table[self.table["dup_group"].notna()].copy()
        if members.empty:
            return pd.DataFrame(columns=["dup_group", "size", "kind", "cross_dataset", "representative_id", "datasets", "rejected",
                                         "families"])
        members["dataset"] = self.frame["dataset"].to_numpy()[members.index]
        members["rejected"] = (self.frame["decision"].to_numpy()[members.index] == "reject") if "decision" in self.frame else False
        out = members.groupby("dup_group", sort=True).agg(
            size=("record_id", "size"), kind=("group_kind", "first"), cross_dataset=("cross_dataset", "first"),
            representative_id=("representative_id", "first"), datasets=("dataset", lambda s: ", ".join(sorted(set(s)))),
            rejected=("rejected", "sum"), families=("family", lambda s: ", ".join(sorted(set(s.dropna())))))
        return out.reset_index()

    def members(self, group: int) -> pd.DataFrame:
        rows = self.table.index[self.table["dup_group"] == group]
        out = self.frame.loc[rows].copy()
        out["representative"] = self.table.loc[rows, "representative"].to_numpy()
        out["compared_text"] = [self.texts[r] for r in rows]
        out["family"] = self.table.loc[rows, "family"].to_numpy()
        out["why"] = self.table.loc[rows, "why"].to_numpy()
        return out.sort_values("representative", ascending=False, kind="stable")

    def edge_examples(self, n: int = 4) -> dict[str, pd.DataFrame]:
        """Pairs just above and just below the threshold, with both records' ids and compared texts."""
        out = {}
        ids = self.frame["record_id"].astype(str).to_numpy()
        for name, table in edge_pairs(self.pairs, float(self.conf["threshold"]), n=n).items():
            table["a"], table["b"] = ids[table["i"]], ids[table["j"]]
            table["text_a"] = [self.texts[i] for i in table["i"]]
            table["text_b"] = [self.texts[j] for j in table["j"]]
            out[name] = table
        return out

    def rejections(self, groups: list[int] | None = None) -> list[tuple[str, str, str]]:
        """(record_id, "reject", near_duplicate_of:<representative>) for every non-representative not kept or rejected already."""
        t = self.table
        chosen = t["dup_group"].notna() & (t["representative"] == False)  # noqa: E712 - nullable boolean column
        if groups is not None:
            chosen &= t["dup_group"].isin(groups)
        chosen &= curator_rank(self.frame) == 1  # a curator's keep, or a rejection for another reason, stands
        pairs = zip(t.loc[chosen, "record_id"], t.loc[chosen, "representative_id"])
        return [(rid, "reject", f"{DUPLICATE_REASON}{rep}") for rid, rep in pairs]


def pairs_path(ws: Workspace, key: str):
    return ws.root / "dedup" / f"{key}.npz"


def pairs_key(conf: dict, model: str, texts: list[str], floor: float) -> str:
    h = hashlib.blake2b(digest_size=10)
    h.update(f"v{VERSION}|{conf['method']}|{model if METHODS[conf['method']].uses_model else ''}|{conf['text']}|{conf['strip']}|"
             f"{conf['index']}|{K}|{floor:.4f}".encode())
    for t in texts:
        h.update(text_key(t).encode())
    return h.hexdigest()


EDGE = 0.05  # pairs this far below the lowest threshold are kept too: the "just below" examples


def sweep_of(conf: dict) -> tuple[float, ...]:
    """The thresholds the counts are reported at: the method's, or the second stage's (a probability)."""
    return CROSS_SWEEP if conf["method"] == "embedding" and conf["rescore"] != "none" else SWEEPS[conf["method"]]


def floor_of(conf: dict, model: str) -> float:
    """The similarity at or above which candidate pairs are kept: a little below the lowest threshold, or with a second
    stage the embedder's candidate floor (the threshold is then on the second stage's scale)."""
    if conf["method"] == "embedding" and conf["rescore"] != "none":
        return calibration.candidate_floor(model)
    return round(max(0.05, min(SWEEPS[conf["method"]][0], float(conf["threshold"])) - EDGE), 4)


def load_pairs(path) -> Pairs | None:
    if not path.exists():
        return None
    with np.load(path) as data:
        return Pairs(data["i"], data["j"], data["sim"], json.loads(str(data["info"])))


def save_pairs(path, pairs: Pairs) -> None:
    def write(tmp):
        with open(tmp, "wb") as fh:  # through a handle: np.savez would add ".npz" to the temporary name
            np.savez(fh, i=pairs.i, j=pairs.j, sim=pairs.sim, info=json.dumps(pairs.info))

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, write)


def compute_pairs(ws: Workspace, texts: list[str], conf: dict, floor: float, progress: Progress | None = None) -> Pairs:
    """Candidate pairs of the method at or above the floor, with the time they took."""
    start = time.perf_counter()
    pairs = METHODS[conf["method"]].pairs(ws, texts, conf, floor, progress)
    pairs.info["seconds_total"] = round(time.perf_counter() - start, 3)
    return pairs


def candidate_pairs(ws: Workspace, texts: list[str], conf: dict, progress: Progress | None = None, compute: bool = True) -> Pairs | None:
    """The cached candidate pairs for these texts and settings; computed and cached when missing (unless compute=False)."""
    method = METHODS[conf["method"]]
    model = embedding_model(ws)
    floor = floor_of(conf, model)
    if not method.cached:
        return method.pairs(ws, texts, conf, floor, progress)
    path = pairs_path(ws, pairs_key(conf, model, texts, floor))
    pairs = load_pairs(path)
    if pairs is None and compute:
        pairs = compute_pairs(ws, texts, conf, floor, progress)
        save_pairs(path, pairs)
    if pairs is None:
        return None
    return rescore(ws, texts, pairs, conf, floor, progress, compute)


def cached_from(ws: Workspace, frame: pd.DataFrame | None = None) -> float | None:
    """When the threshold in force is below the range whose pairs were computed (its floor is lower, so no cached pairs
    answer it), the lowest threshold that the cache does answer: the start of the method's sweep, if its pairs are
    cached. None otherwise (the threshold is within the range, or nothing is cached either way)."""
    from curation.store import load_records

    model = embedding_model(ws)
    conf = dedup_settings(ws)
    method = METHODS[conf["method"]]
    start = sweep_of(conf)[0]
    if not method.cached or (conf["method"] == "embedding" and conf["rescore"] != "none") or float(conf["threshold"]) >= start:
        return None
    frame = (load_records(ws) if frame is None else frame).reset_index(drop=True)
    if frame.empty:
        return None
    _, compared, _ = comparable_texts(frame, conf["text"], conf["strip"])
    if pairs_path(ws, pairs_key(conf, model, compared, floor_of({**conf, "threshold": start}, model))).exists():
        return float(start)
    return None


def with_preference_columns(ws: Workspace, frame: pd.DataFrame, rule: str, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The records plus what the representative rule needs (the quality score).

    When every record's signals are cached, or `rows` is None, from the signal cache (computing what is missing). Else
    only for `rows`, the records that can be in a group, computed now and not cached (issue 18: computing every record's
    signals to choose between a few thousand took a quarter of a MinHash run); the other records get no score, which
    changes no group: the rule only orders the members of a group."""
    needs = names.lookup(RULES, rule, "representative rule").needs
    if not needs or needs in frame:
        return frame
    from curation.signals import compute

    if rows is None or compute.pending(ws) == 0:  # only the rule's column, not a copy of every record with every signal
        score = compute.annotated_signals(ws).drop_duplicates("record_id").set_index("record_id")[needs]  # issue 18: 1 GB at 1M
        return frame.assign(**{needs: frame["record_id"].astype(object).map(score).to_numpy(np.float64)})
    if not len(rows):
        return frame.assign(quality=np.nan)
    import pyarrow as pa

    chosen = pa.Table.from_pandas(frame.iloc[rows][compute.TEXT_COLUMNS], preserve_index=False).to_pandas()  # as a part reads
    table = compute.compute_frame(chosen, compute.tokenizer_name(ws))
    table = compute.annotate(compute.mark_duplicates(table), compute.thresholds(ws)).drop(columns=["text_hash"])
    return frame.merge(table.drop_duplicates("record_id"), on="record_id", how="left")


def release_arrow_memory() -> None:
    """Hand the memory Arrow freed (reading the records' parts, combining their chunks) back to the system.

    Issue 18: Arrow's allocator kept it for reuse, as much again as the records themselves (1.1 GB at 1M records), through
    the neighbour search that follows, which reuses none of it."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


HASH_CHUNK = 50_000  # texts normalised and hashed at once


def exact_hashes(texts: list[str], chunk: int = HASH_CHUNK) -> np.ndarray:
    """The normalised hash of each text (`signals.duplicates.normalised_hashes`), a chunk of texts at a time.

    Issue 18: all at once it held every text three more times (an Arrow copy, its normalised copy and that copy back
    as Python strings): 1.7 GB more at 1M records, for hashes of 16 characters each."""
    from curation.signals.duplicates import normalised_hashes

    out: list[str] = []
    for lo in range(0, len(texts), chunk):
        out.extend(normalised_hashes(texts[lo : lo + chunk]))
    return np.asarray(out)


def groupable_rows(n: int, pairs: Pairs, hashes: np.ndarray) -> np.ndarray:
    """The rows that can be in a duplicate group at any threshold the pairs answer: in a pair, or sharing a text hash."""
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    mask = counts[inverse] > 1
    mask[pairs.i] = True
    mask[pairs.j] = True
    return np.flatnonzero(mask)


def find(ws: Workspace, frame: pd.DataFrame | None = None, *, progress: Progress | None = None, compute: bool = True,
         **overrides) -> Duplicates | None:
    """Duplicate groups of the records (all of the workspace's by default) under the workspace's settings and any overrides.

    With compute=False, answers only from the cache (None when the pairs are not cached)."""
    from curation.store import load_records

    model = embedding_model(ws)
    conf = asdict(DedupSettings.load(ws))  # as kept: a threshold of None is the default
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "threshold" in overrides:
        overrides["scale"] = scale_of(overrides.get("method", conf["method"]), model, overrides.get("rescore", conf["rescore"]))
    elif any(overrides.get(k, conf[k]) != conf[k] for k in ("method", "rescore")):
        overrides.update(threshold=None, scale=None)
    conf = validate({**conf, **overrides})
    conf = {**resolved(conf, model), "threshold_source": threshold_source(conf, model)}
    frame = (load_records(ws) if frame is None else frame).reset_index(drop=True)
    if frame.empty:
        raise CurationError("no records to compare: ingest some first")
    full, compared, boilerplate = comparable_texts(frame, conf["text"], conf["strip"])
    release_arrow_memory()
    pairs = candidate_pairs(ws, compared, conf, progress, compute)
    if pairs is None:
        return None
    from curation.decontaminate import protected_column

    frame = protected_column(ws, frame)  # decontamination: a protected evaluation record is its group's representative
    hashes = exact_hashes(exact_texts(frame, full))  # a conversation's copies: the whole conversation
    kin = families(frame, full, hashes, groupable_rows(len(frame), pairs, hashes))  # variable parts only where compared
    del full  # issue 18: every record's full text (1 GB at 1M records) is not needed past this point
    pairs, siblings = kin.without_siblings(pairs)
    frame = with_preference_columns(ws, frame, conf["rule"], groupable_rows(len(frame), pairs, hashes))
    rank = preference_rank(frame, conf["rule"]) if GROUPINGS[conf["grouping"]].ranked else None
    labels = group_labels(len(frame), pairs, hashes, float(conf["threshold"]), rank)
    table = assign(frame, labels, hashes, conf["rule"], kin)
    return Duplicates(frame, compared, hashes, pairs, conf, boilerplate, table, rank, kin, siblings)


def apply(ws: Workspace, dups: Duplicates, groups: list[int] | None = None, curator: str | None = None,
          confirm_large: bool = False) -> int:
    """Reject every non-representative (of the given groups, or all) with `near_duplicate_of:<id>`; returns how many changed.

    Every group at once is refused while a group of near copies is larger than `groups.LARGE_GROUP`, unless confirmed."""
    from curation.decisions import decide_each

    if groups is None:
        check_bulk(dups.table, confirm_large)
    items = dups.rejections(groups)
    return decide_each(ws, items, curator=curator) if items else 0


def undo(ws: Workspace, dups: Duplicates, groups: list[int] | None = None, curator: str | None = None) -> int:
    """Undo the duplicate rejections of the given groups (or all groups)."""
    from curation.decisions import undo as undo_decisions

    t = dups.table
    chosen = t["dup_group"].notna()
    if groups is not None:
        chosen &= t["dup_group"].isin(groups)
    if "reason" in dups.frame:
        chosen &= dups.frame["reason"].fillna("").astype(str).str.startswith(DUPLICATE_REASON).to_numpy()
    ids = list(t.loc[chosen, "record_id"])
    return undo_decisions(ws, ids, curator=curator) if ids else 0

