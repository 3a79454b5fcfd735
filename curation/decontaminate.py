"""Decontamination: the training records that overlap a protected evaluation set.

A curator marks whole datasets as *protected* (benchmark prompts, their own test
split): `protect(ws, names)`, kept in the workspace's settings. Every other
record is a training record, and `find(ws)` flags each one that overlaps a
protected record, naming the evaluation item it matches:

- **n-gram overlap** (the common practice of GPT-3 and its successors): word
  tokens (Unicode words, NFKC, case-folded; punctuation and spacing ignored);
  a training record matches an evaluation item when one of the item's
  13-grams (`ngram`) occurs in its prompt or output. An item prompt shorter
  than 13 words is one n-gram, the whole prompt, and matches only where it makes
  at least half of the training text it occurs in (so "Name a colour." does not
  match every prompt that starts with those words); a prompt under `min_words`
  words is left to the embedding check. An n-gram that more than
  `MAX_ITEMS` evaluation items share is the benchmark's own boilerplate
  ("Answer the following question"), not an item's text: it is ignored.
- **embedding similarity**: the prompts, embedded with the workspace's model
  (cached, `curation.embed.embed_texts`), match at or above `threshold` when
  the training prompt also holds at least `shared` (60%) of the item prompt's
  words (a paraphrase keeps the item's names and numbers; another problem of
  the same benchmark on the same topic does not). Cosine alone cannot tell
  them apart: at the near-duplicate threshold calibrated on MRPC (0.79 for
  MiniLM) 35 of 13,618 unplanted records of a real pool matched a GSM8K or
  Alpaca item, different problems about triangles or bus stops. The defaults
  per model (`THRESHOLDS`) come from bench/decontaminate.py (see
  bench/RESULTS.md); any other model gets its MRPC paraphrase threshold.

Each hit carries its evidence (`curation.signals.evidence.Evidence`) on both
sides: the matched spans in the training record's `prompt` or `output` and in
the item's `prompt`, offsets into `curation.texts.record_texts(frame, field)`.

A protected record is never rejected (`curation.decisions` refuses), never a
duplicate group's dropped member (`protected_column` puts it first in
`curation.dedup.groups.curator_rank`), and never exported to a training split
(export leaves protected and, by default, contaminated records out).
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation.errors import CurationError
from curation.settings import StageSettings
from curation.signals.evidence import Evidence, describe, dumps
from curation.workspace import Workspace

NGRAM = 13
MIN_WORDS = 4
MAX_ITEMS = 10  # an n-gram shared by more evaluation items than this is the benchmark's boilerplate
SHARED = 0.6  # an embedding match needs this share of the item prompt's words in the training prompt
THRESHOLDS = {"minilm": 0.85, "static": 0.94}  # cosine, per embedder (bench/decontaminate.py)
SHORT_COVER = 0.5  # a short item prompt must make at least this share of the training text it occurs in
FIELDS = ("prompt", "output")  # what is searched in a training record (the item side: its prompt)
WORD = re.compile(r"\w+")
BASE = np.uint64(0x9E3779B97F4A7C15)
COLUMNS = ["record_id", "dataset", "protected_id", "protected_dataset", "match", "similarity", "ngram_overlap", "items",
           "evidence", "protected_evidence", "found"]


@dataclass(frozen=True)
class DecontaminationSettings(StageSettings):
    """The protected datasets and how overlap is measured (`threshold` None: the embedding model's calibrated default)."""

    stage = "decontaminate"
    protected: tuple[str, ...] = ()
    ngram: int = NGRAM
    min_words: int = MIN_WORDS
    threshold: float | None = None
    shared: float = SHARED
    embedding: bool = True

    @classmethod
    def from_stored(cls, raw: dict):
        raw = {**raw, "protected": tuple(raw.get("protected") or ())}
        return super().from_stored(raw)

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        if "protected" in changes:
            changes = {**changes, "protected": sorted(dict.fromkeys(changes["protected"]))}
        return {**raw, **changes}

    def check(self) -> None:
        if not (isinstance(self.ngram, int) and 3 <= self.ngram <= 50):
            raise CurationError(f"n-gram length {self.ngram!r}: give a number of words from 3 to 50 (13 is common practice)")
        if not (isinstance(self.min_words, int) and 1 <= self.min_words <= self.ngram):
            raise CurationError(f"min_words {self.min_words!r}: give a number of words from 1 to the n-gram length")
        if self.threshold is not None and not (0 < float(self.threshold) <= 1):
            raise CurationError(f"similarity threshold {self.threshold!r}: give a cosine above 0 and at most 1")
        if not (0 <= float(self.shared) <= 1):
            raise CurationError(f"shared words {self.shared!r}: give a share from 0 to 1")


def protected_datasets(ws: Workspace) -> tuple[str, ...]:
    return DecontaminationSettings.load(ws).protected


def protect(ws: Workspace, names, *, protected: bool = True) -> dict:
    """Mark datasets as protected evaluation sets (or no longer, with protected=False); returns the protected sets now
    and how many of their records carry a rejection (a rejection made before: it stands until undone)."""
    names = [n for n in dict.fromkeys(names or ()) if n]
    known = set(ws.datasets())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CurationError(f"no dataset named {', '.join(map(repr, unknown))}: choose among {', '.join(sorted(known)) or 'none yet'}")
    current = set(protected_datasets(ws))
    wanted = current | set(names) if protected else current - set(names)
    conf = DecontaminationSettings.save(ws, protected=sorted(wanted))
    rejected = 0
    if conf.protected:
        marks = ",".join("?" * len(conf.protected))
        rejected = ws.query(f"SELECT count(*) FROM state WHERE decision = 'reject' AND dataset IN ({marks})", conf.protected)[0][0]
    return {"protected": list(conf.protected), "rejected_protected": int(rejected)}


def protected_mask(frame: pd.DataFrame, protected) -> np.ndarray:
    if not protected or "dataset" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["dataset"].astype(str).isin(list(protected)).to_numpy()


def protected_column(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """The records plus `protected` (whether each belongs to a protected evaluation set)."""
    return frame.assign(protected=protected_mask(frame, protected_datasets(ws)))


def threshold_of(conf: DecontaminationSettings, model: str) -> tuple[float, str]:
    """The embedding threshold in force, and where it comes from."""
    if conf.threshold is not None:
        return float(conf.threshold), "set by the curator"
    if model in THRESHOLDS:
        return THRESHOLDS[model], f"{model}'s default, measured on planted benchmark prompts (bench/decontaminate.py)"
    from curation.dedup.calibration import embedding_threshold

    value, calibrated = embedding_threshold(model)
    return value, (f"{model}'s paraphrase threshold, calibrated on MRPC train (F0.5)" if calibrated
                   else f"not calibrated for {model}: the general default")


def shared_share(item: str, text: str) -> float:
    """The share of the item's words (with repeats) that occur in the text."""
    have = {w for *_, w in words(text)}
    need = [w for *_, w in words(item)]
    return sum(w in have for w in need) / max(len(need), 1)


# --- n-grams --------------------------------------------------------------------------------------------------------

def norm(word: str) -> str:
    return word.lower() if word.isascii() else unicodedata.normalize("NFKC", word).casefold()


def words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised word) of each word token of a text."""
    return [(m.start(), m.end(), norm(m.group())) for m in WORD.finditer(text or "")]


def window_hashes(ids: np.ndarray, length: int) -> np.ndarray:
    """A 64-bit hash of every window of `length` ids (polynomial, wrapping); empty when the array is shorter."""
    n = len(ids) - length + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    ids = ids.astype(np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(length):
            h = h * BASE + ids[k : k + n]
    return h


@dataclass
class Items:
    """The protected items' n-grams: per window length, hash -> [(item, start word)]."""

    vocab: dict[str, int]
    ids: list[np.ndarray]
    index: dict[int, dict[int, list[tuple[int, int]]]]
    ngram: int

    @classmethod
    def build(cls, prompts: list[str], ngram: int, min_words: int, max_items: int = MAX_ITEMS) -> Items:
        vocab: dict[str, int] = {}
        ids = [np.array([vocab.setdefault(w, len(vocab) + 1) for _, _, w in words(p)], dtype=np.int64) for p in prompts]
        index: dict[int, dict[int, list[tuple[int, int]]]] = {}
        for item, seq in enumerate(ids):
            if len(seq) < min_words:
                continue
            length = min(ngram, len(seq))
            table = index.setdefault(length, {})
            for start, h in enumerate(window_hashes(seq, length).tolist()):
                places = table.setdefault(h, [])
                if not places or places[-1][0] != item:
                    places.append((item, start))
        full = index.get(ngram, {})
        for h in [h for h, places in full.items() if len(places) > max_items]:
            del full[h]
        return cls(vocab, ids, index, ngram)


def word_ids(text: str, vocab: dict[str, int]) -> list[int]:
    """The vocabulary id of each word of a text (0: a word no item holds)."""
    if text.isascii():
        return [vocab.get(w, 0) for w in WORD.findall(text.lower())]
    return [vocab.get(w, 0) for _, _, w in words(text)]


def ngram_hits(items: Items, texts: list[str]) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """(text, item) -> [(start word in the text, start word in the item, length)] for every n-gram the two share."""
    if not items.index:
        return {}
    seqs = [np.array(word_ids(t or "", items.vocab), dtype=np.int64) for t in texts]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)])[:-1]  # a 0 between texts: no window crosses two
    flat = np.zeros(int(lengths.sum() + len(seqs)), dtype=np.int64)
    for s, seq in zip(starts, seqs):
        flat[s : s + len(seq)] = seq
    zeros = np.concatenate([[0], np.cumsum(flat == 0)])
    out: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for length, table in items.index.items():
        if not table or len(flat) < length:
            continue
        h = window_hashes(flat, length)
        clean = zeros[length:] - zeros[: len(h)] == 0
        keys = np.fromiter(table.keys(), dtype=np.uint64, count=len(table))
        for pos in np.flatnonzero(clean & np.isin(h, keys)).tolist():
            t = int(np.searchsorted(starts, pos, side="right") - 1)
            at = pos - int(starts[t])
            if length < items.ngram and length < SHORT_COVER * lengths[t]:
                continue  # a short item prompt inside a much longer text
            for item, start in table[int(h[pos])]:
                if np.array_equal(flat[pos : pos + length], items.ids[item][start : start + length]):  # not a hash collision
                    out.setdefault((t, item), []).append((at, start, length))
    return out


def word_spans(tokens: list[tuple[int, int, str]], runs) -> list[tuple[int, int]]:
    """Character spans of word runs [(first word, number of words)], merged."""
    from curation.texts import merge_spans

    return merge_spans((tokens[a][0], tokens[a + n - 1][1]) for a, n in runs if n and a + n <= len(tokens))


def evidence(text: str, field: str, spans, note: str) -> list[Evidence]:
    return [Evidence(text[lo:hi], field, lo, hi, note) for lo, hi in spans]


def shared_runs(a: str, b: str, least: int = 2) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character spans of the runs of at least `least` words two texts share (for an embedding hit's evidence)."""
    ta, tb = words(a), words(b)
    matcher = difflib.SequenceMatcher(a=[w for *_, w in ta], b=[w for *_, w in tb], autojunk=False)
    blocks = [m for m in matcher.get_matching_blocks() if m.size >= least]
    return word_spans(ta, [(m.a, m.size) for m in blocks]), word_spans(tb, [(m.b, m.size) for m in blocks])


# --- the check ------------------------------------------------------------------------------------------------------

def find(ws: Workspace, frame: pd.DataFrame | None = None, *, embedding: bool | None = None, progress=None) -> dict:
    """Every training record that overlaps a protected record.

    Returns {"matches": a frame (COLUMNS, one row per contaminated training record, its best match), "summary": counts
    and the settings in force}. `embedding` None: the workspace's setting; False: the n-gram check only (nothing is
    embedded)."""
    from curation.store import load_records
    from curation.texts import record_texts

    start = time.perf_counter()
    conf = DecontaminationSettings.load(ws)
    frame = (load_records(ws) if frame is None else frame).reset_index(drop=True)
    present = [d for d in conf.protected if d in set(frame["dataset"].astype(str))] if len(frame) else []
    use_embedding = conf.embedding if embedding is None else embedding
    summary = {"protected": list(conf.protected), "ngram": conf.ngram, "min_words": conf.min_words, "embedding": bool(use_embedding),
               "shared": conf.shared,
               "protected_records": 0, "training_records": 0, "contaminated": 0, "by_match": {}, "items_matched": 0,
               "by_protected_dataset": {}, "threshold": None, "threshold_source": None, "model": None}
    if not present:
        summary["seconds"] = round(time.perf_counter() - start, 3)
        return {"matches": pd.DataFrame(columns=COLUMNS), "summary": summary}
    is_eval = protected_mask(frame, present)
    evals, train = frame[is_eval].reset_index(drop=True), frame[~is_eval].reset_index(drop=True)
    eval_prompts = record_texts(evals, "prompt")
    texts = {f: record_texts(train, f) for f in FIELDS}
    summary.update(protected_records=len(evals), training_records=len(train))
    items = Items.build(eval_prompts, conf.ngram, conf.min_words)
    best: dict[int, dict] = {}
    matched_items: dict[int, set[int]] = {}
    for field in FIELDS:
        for (t, item), runs in ngram_hits(items, texts[field]).items():
            matched_items.setdefault(t, set()).add(item)
            matched = {(a, n) for a, _, n in runs}
            covered = len({a + k for a, n in matched for k in range(n)})
            if t not in best or covered > best[t]["covered"]:
                item_words = len(items.ids[item])
                overlap = len({b + k for _, b, n in runs for k in range(n)}) / max(item_words, 1)
                best[t] = {"item": item, "match": "ngram", "covered": covered, "field": field, "runs": sorted(matched),
                           "item_runs": sorted({(b, n) for _, b, n in runs}), "ngram_overlap": round(overlap, 4),
                           "similarity": np.nan}
    if use_embedding and len(train):
        from curation.embed import EmbedSettings, embed_texts

        model = EmbedSettings.load(ws).model
        threshold, source = threshold_of(conf, model)
        summary.update(model=model, threshold=threshold, threshold_source=source)
        vectors, _ = embed_texts(ws, eval_prompts + texts["prompt"], model=model, text="prompt", progress=progress)
        ev, tv = vectors[: len(evals)], vectors[len(evals):]
        for lo in range(0, len(tv), 4096):
            sims = tv[lo : lo + 4096] @ ev.T
            arg = sims.argmax(axis=1)
            top = sims[np.arange(len(arg)), arg]
            for k in np.flatnonzero(top >= threshold - 1e-6).tolist():
                t, sim, item = lo + k, float(top[k]), int(arg[k])
                if (t not in best or best[t]["item"] != item) and shared_share(eval_prompts[item], texts["prompt"][t]) < conf.shared:
                    continue  # similar in topic, not a rewrite of the item
                matched_items.setdefault(t, set()).add(item)
                if t not in best:
                    best[t] = {"item": item, "match": "embedding", "field": "prompt", "similarity": round(sim, 6), "ngram_overlap": 0.0}
                elif best[t]["item"] == item:
                    best[t].update(match="ngram+embedding", similarity=round(sim, 6))
    rows = []
    eval_ids, eval_sets = evals["record_id"].astype(str).tolist(), evals["dataset"].astype(str).tolist()
    for t in sorted(best):
        hit = best[t]
        item, field = hit["item"], hit["field"]
        text, item_text = texts[field][t], eval_prompts[item]
        if "runs" in hit:
            spans, item_spans = word_spans(words(text), hit["runs"]), word_spans(words(item_text), hit["item_runs"])
            note = f"{min(conf.ngram, len(items.ids[item]))}-word overlap with {eval_ids[item]}: {{value:.80}}"
        else:
            item_spans, spans = shared_runs(item_text, text)
            note = f"similar ({hit['similarity']:.3f}) to {eval_ids[item]}: {{value:.80}}"
        found = evidence(text, field, spans, note) or [Evidence(f"{hit['similarity']:.3f}", None, None, None,
                                                                   f"similarity {{value}} to {eval_ids[item]}")]
        rows.append({"record_id": str(train["record_id"].iat[t]), "dataset": str(train["dataset"].iat[t]),
                     "protected_id": eval_ids[item], "protected_dataset": eval_sets[item], "match": hit["match"],
                     "similarity": hit["similarity"], "ngram_overlap": hit["ngram_overlap"], "items": len(matched_items[t]),
                     "evidence": dumps(found), "protected_evidence": dumps(evidence(item_text, "prompt", item_spans, "{value:.80}")),
                     "found": describe(found)})
    matches = pd.DataFrame(rows, columns=COLUMNS)
    summary.update(contaminated=len(matches), items_matched=int(matches["protected_id"].nunique()),
                   by_match={str(k): int(v) for k, v in matches["match"].value_counts().sort_index().items()},
                   by_protected_dataset={str(k): int(v) for k, v in matches["protected_dataset"].value_counts().sort_index().items()},
                   seconds=round(time.perf_counter() - start, 3))
    return {"matches": matches, "summary": summary}
