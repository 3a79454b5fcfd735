"""Template families and conversation siblings: records alike by construction, duplicates only when what varies matches.

A *family* is a set of records that look alike because they were made alike:

- `template`: the same prompt template, named by the source (t0's `template` field, kept in `meta`);
- `conversation`: conversations that start with the same message (OASST root-to-leaf paths of one tree, chats that
  open with the same turn); they are siblings that differ in what follows the shared prefix;
- `pattern`: texts that are the same once numbers and names are masked ("Tom has 3 apples" / "Ann has 5 apples").

Two records of one family are duplicates only when their *variable parts* match too: the same words once case,
whitespace and punctuation are set aside (for conversations, every turn, so the replies after the shared prefix count;
for a template, in any order, once its own words: those in at least half of its records, are left out: the same
answer options shuffled are the same values). Pairs of one family whose
variable parts differ are siblings: they are dropped before grouping, however similar their embeddings are. Records of
two templates are not duplicates either: with the same variable parts they are one example prompted two ways, as T0
does on purpose; they are counted (`repeats`), not proposed. Pairs across other families, or of records in no
family, are judged by their similarity as before.

Conversations are also never exact copies of each other on their prompt alone: their exact-copy key is the whole
conversation (`exact_texts`), so OASST paths that share a prompt and differ in their replies are not copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation.dedup import wordcodes
from curation.dedup.neighbours import Pairs
from curation.dedup.patterns import pattern_keys
from curation.records import loads
from curation.texts import record_texts

TEMPLATE_FIELDS = ("template",)  # meta fields that name the template a record was generated from
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
# Capitalised words that open sentences rather than name someone or something; every other capitalised word is a name.
OPENERS = frozenset(
    "a an the this that these those there then it its he she they we i you my our your his her their if in on at for to of "
    "with by from as after before when where what which who whom whose why how is are was were can could do does did will "
    "would should may might must please write give find create make generate list describe explain tell compose "
    "summarize summarise translate rewrite classify answer read given each every all some no not yes and but or so".split())


@dataclass
class Families:
    """Per record: a family code (-1: none), a readable family label (None: none), a code of its variable parts, and
    whether it was made from a named template (records of two templates compare their variable parts too)."""

    code: np.ndarray
    label: list[str | None]
    variable: np.ndarray
    templated: np.ndarray

    def related(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Mask of the pairs judged on their variable parts: one family, or two records both made from templates."""
        return ((self.code[i] >= 0) & (self.code[i] == self.code[j])) | (self.templated[i] & self.templated[j])

    def siblings(self, pairs: Pairs) -> np.ndarray:
        """Mask of the pairs that are siblings, not duplicates: related, with different variable parts; or the same example
        under two templates (a mixture such as T0 prompts each example several ways on purpose: see `repeats`)."""
        return self.related(pairs.i, pairs.j) & ((self.variable[pairs.i] != self.variable[pairs.j]) |
                                                 (self.code[pairs.i] != self.code[pairs.j]))

    def repeats(self, pairs: Pairs) -> np.ndarray:
        """Mask of the pairs that are one example under two templates (the same variable parts): kept, and counted."""
        i, j = pairs.i, pairs.j
        return self.templated[i] & self.templated[j] & (self.code[i] != self.code[j]) & (self.variable[i] == self.variable[j])

    def without_siblings(self, pairs: Pairs) -> tuple[Pairs, Pairs]:
        """(the pairs that may be duplicates, the sibling pairs dropped)."""
        drop = self.siblings(pairs)
        keep = Pairs(pairs.i[~drop], pairs.j[~drop], pairs.sim[~drop], pairs.info)
        return keep, Pairs(pairs.i[drop], pairs.j[drop], pairs.sim[drop], pairs.info)


def words(text: str) -> str:
    """The words of a text, lower-cased, one space apart: case, whitespace and punctuation set aside."""
    return " ".join(wordcodes.words(text))


def skeleton(text: str) -> str | None:
    """The text with numbers and names masked, when it has any (else None): the pattern it shares with its family."""
    masked = _NAME.sub(lambda m: m.group() if m.group().lower() in OPENERS else "@", _NUMBER.sub("#", text))
    return words(masked.replace("#", " NUM ").replace("@", " NAME ")) if masked != text else None


def _decoded(value):
    """A JSON column's value (messages, meta), decoded where it is still text; None when missing."""
    return value if isinstance(value, (list, dict)) else loads(value)


def is_conversation(messages) -> bool:
    """A conversation record: its messages hold more than one turn besides the system prompt."""
    turns = _decoded(messages)
    return bool(turns) and sum(1 for m in turns if m.get("role") != "system") > 1


def conversation_start(messages, meta) -> str:
    """What siblings share: the first message's id where the format keeps one (OASST), else its words."""
    ids = (meta or {}).get("message_ids") or []
    if ids and ids[0] is not None:
        return f"id {ids[0]}"
    turns = [m for m in _decoded(messages) if m.get("role") != "system"]
    return words(turns[0].get("content", ""))


def exact_texts(frame: pd.DataFrame, full: list[str]) -> list[str]:
    """What exact copies are judged on: the compared text, or for a conversation the whole conversation."""
    return [w if w is not None else f for f, w in zip(full, conversations(frame))]


def conversations(frame: pd.DataFrame) -> list[str | None]:
    """Each conversation record's whole text (every turn), None for the other records."""
    chat = [is_conversation(m) for m in frame["messages"].to_numpy(object)]
    whole = iter(record_texts(frame[chat], "conversation")) if any(chat) else iter(())
    return [next(whole) if c else None for c in chat]


def _code(keys: list) -> np.ndarray:
    """An integer per distinct key (-1 for None), in first-seen order."""
    seen: dict = {}
    return np.array([-1 if k is None else seen.setdefault(k, len(seen)) for k in keys], dtype=np.int64)


FIXED_SHARE = 0.5  # a word in at least this share of a template's records is part of the template


def template_variables(texts: list[str], family: np.ndarray, needed: np.ndarray | None = None) -> dict[int, bytes]:
    """Row -> its variable parts: its words less its template's words, as a bag of words (order set aside), spelled as
    bytes (word code and count pairs) that are equal exactly when the bags are.

    A template's words are those in at least FIXED_SHARE of its records, each as many times as it occurs in most of
    them (the median count, zeros included, rounded down): "Generate a 1-star review (1 being lowest and 5 being
    highest)" keeps one "1" as its variable part, and the 5-star record one "5". `needed` (a row mask): only the families
    holding a needed row are read (all their rows, for the template's words), and only the needed rows get their
    variable parts. Counted in numpy over word codes (issue 18: a Counter per record was a third of a t0 MinHash
    dedup); `tests/curation/test_dedup_templates.py` compares with the per-record counting it replaced."""
    wanted = family >= 0 if needed is None else (family >= 0) & needed
    rows = np.flatnonzero(np.isin(family, np.unique(family[wanted])))  # every row of a family that holds a wanted row
    if not len(rows):
        return {}
    codes, lengths, vocab = wordcodes.word_codes([texts[r] for r in rows])
    v = max(len(vocab), 1)
    pairs, counts = np.unique(np.repeat(np.arange(len(rows)), lengths) * v + codes, return_counts=True)
    local, word = pairs // v, pairs % v  # (row, word, count) triples, sorted by row then word
    _, fam = np.unique(family[rows], return_inverse=True)
    left = counts - _template_counts(fam[local], word, counts, np.bincount(fam))
    out = {}
    bounds = np.searchsorted(local, np.arange(len(rows) + 1))
    spelled = np.stack([word, left], axis=1)
    for k, r in enumerate(rows):
        if needed is None or needed[r]:
            mine = spelled[bounds[k] : bounds[k + 1]]
            out[int(r)] = mine[mine[:, 1] > 0].tobytes()
    return out


def _sorted_order(*keys: np.ndarray) -> np.ndarray:
    """The order that sorts by the first key, then the next… (`np.lexsort` of the reversed keys), as one sort of one
    combined key when the keys fit in 63 bits together (a third of lexsort's time on t0's five million triples)."""
    spans = [int(k.max()) + 1 for k in keys]
    if any(k.min() < 0 for k in keys) or float(np.prod(spans, dtype=float)) >= 2.0**63:
        return np.lexsort(keys[::-1])
    combined = np.zeros(len(keys[0]), np.int64)
    for k, span in zip(keys, spans):
        combined = combined * span + k
    return np.argsort(combined)


def _template_counts(template: np.ndarray, word: np.ndarray, counts: np.ndarray, size: np.ndarray) -> np.ndarray:
    """For each (row, word, count) triple, how many of the word its template holds: the word's median count over the
    template's records (zeros included, rounded down, as `int(statistics.median(...))`) when at least FIXED_SHARE of
    them hold it, else 0. `template`: the triple's template (0..); `size`: each template's record count."""
    if not len(counts):
        return np.zeros(0, np.int64)
    order = _sorted_order(template, word, counts)  # each (template, word) together, its counts ascending
    t, w, c = template[order], word[order], counts[order]
    start = np.flatnonzero(np.r_[True, (t[1:] != t[:-1]) | (w[1:] != w[:-1])])
    holders = np.diff(np.r_[start, len(order)])  # the template's records that hold the word
    m = size[t[start]]
    zeros = m - holders  # the records without it count 0 each, below every count

    def at(position: np.ndarray) -> np.ndarray:  # the position-th smallest of the m counts
        return np.where(position < zeros, 0, c[start + np.maximum(position - zeros, 0)])

    median = (at((m - 1) // 2) + at(m // 2)) // 2
    fixed = np.where(holders >= FIXED_SHARE * m, median, 0)
    out = np.empty(len(order), np.int64)
    out[order] = np.repeat(fixed, holders)
    return out


def families(frame: pd.DataFrame, full: list[str], hashes: np.ndarray | None = None, rows: np.ndarray | None = None) -> Families:
    """Each record's family (template field, else conversation start, else number/name pattern) and variable parts.

    A family of one record is no family. With `hashes` (exact-copy keys), copies share the family of the first of them.
    `rows`: the only rows whose variable parts are compared (those in a candidate pair or sharing a hash; issue 18:
    finding every t0 record's variable parts was a third of a MinHash dedup); the others get none (code -1)."""
    needed = None
    if rows is not None:
        needed = np.zeros(len(full), dtype=bool)
        needed[np.asarray(rows, dtype=np.int64)] = True
    keys, labels, variable, kinds, patterned = [], [], [], [], []
    columns = (frame["messages"].to_numpy(object), frame["meta"].to_numpy(object))  # not an Arrow column's element-wise walk
    for row, (conversation, messages, meta) in enumerate(zip(conversations(frame), *columns)):
        meta = _decoded(meta)
        template = next((str(meta[f]) for f in TEMPLATE_FIELDS if isinstance(meta, dict) and meta.get(f)), None)
        if template is not None:
            key, label, kind, var = f"template:{template}", f"template {template}", "template", None  # filled in below
        elif conversation is not None:
            start = conversation_start(messages, meta)
            key, label, kind, var = f"conversation:{start}", f"conversation from {start[:40]}", "conversation", words(conversation)
        else:
            key, label, kind, var = None, None, "pattern", None  # its skeleton's key and label below; its words below
            patterned.append(row)
        keys.append(key), labels.append(label), kinds.append(kind), variable.append(var)
    masked, shapes = pattern_keys([full[r] for r in patterned], skeleton)  # issue 18: compiled where the bytes allow
    for r, m, (h0, h1) in zip(patterned, masked.tolist(), shapes.tolist()):
        if m:
            keys[r] = ("pattern", h0, h1)
    code = _code(keys)
    sizes = np.bincount(code[code >= 0], minlength=int(code.max(initial=-1)) + 2)  # never empty
    alone = (code < 0) | (sizes[np.maximum(code, 0)] < 2)
    code[alone] = -1
    named: dict[int, str] = {}  # a pattern family's label, from its first record's skeleton (one skeleton per family)
    for r in patterned:
        if not alone[r]:
            if code[r] not in named:
                named[code[r]] = f"pattern {skeleton(full[r])[:40]}"
            labels[r] = named[code[r]]
    templated = (np.array(kinds) == "template") & ~alone
    for row, var in template_variables(full, np.where(templated, code, -1), needed).items():
        variable[row] = var
    # a pattern's record, or a template's only record: its words; a row never compared: none. (As word codes of every
    # text at once this held ~6 GB of word spans at 1M records: each text's words as a string is ~600 MB.)
    variable = [None if needed is not None and not needed[i] else words(t) if v is None else v
                for i, (t, v) in enumerate(zip(full, variable))]
    labels = [None if a else lab for a, lab in zip(alone, labels)]
    out = Families(code, labels, _code(variable), templated)
    if hashes is not None:  # exact copies belong together, whatever their case (names are found by their capitals)
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        lead = first[inverse]
        out = Families(out.code[lead], [out.label[k] for k in lead], out.variable[lead], out.templated[lead])
    return out
