"""Every text's words as integer codes into one vocabulary, found without a Python string per word where possible.

MinHash shingles and template families both read a text's words as `re.findall(r"\\w+", text.lower())`. At t0's 55k
records that is ten million Python strings, hashed again to give each word a code (issue 18: about a quarter of a
MinHash dedup). On a text that is pure ASCII, Python's `\\w` is exactly `[0-9A-Za-z_]` and `lower` is ASCII
lower-casing, so a compiled scan of the text's bytes finds the same words; each word is hashed as it is found (FNV-1a
over its lower-cased bytes) and the hashes are numbered. The other texts go through Python's regex, and their words
are hashed the same way, so one vocabulary holds both. Every word is then compared byte for byte with the first word
of its number: two different words with one hash (never seen; about one chance in 10^10 at t0's size) fall back to
numbering the words themselves, so the codes are always exact. `tests/curation/test_wordcodes.py` checks the words
against `re.findall`.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_WORD = re.compile(r"\w+")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def words(text: str) -> list[str]:
    """A text's words: lower-cased, runs of Unicode word characters (what every caller of this module means)."""
    return _WORD.findall(text.lower())


def word_codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes, lengths, vocab): the words of every text one after another as codes, how many words each text has, and
    `vocab[code]`, the word. Equal words get equal codes, across texts."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), []
    data, begin, end, rows, _ = byte_spans(texts)
    found = [words(texts[r]) for r in rows]  # the other texts' words, by Python's regex
    lengths = np.zeros(len(texts), np.int64)
    _kernels()[0](data, begin, end, lengths)
    lengths[rows] = [len(w) for w in found]
    starts = np.empty(int(lengths.sum()), np.int64)
    ends = np.empty_like(starts)
    _kernels()[1](data, begin, end, np.cumsum(lengths) - lengths, starts, ends)
    if len(rows):  # the Python words' bytes go after the texts', each at its text's place among the words
        data = _place_words(data, found, rows, lengths, starts, ends)
    codes, first = _number(data, starts, ends)
    if codes is None:  # two words share a hash: number the words themselves
        return _codes_of_words([words(t) for t in texts])
    vocab = [bytes(data[starts[i] : ends[i]]).lower().decode() for i in first]
    return codes, lengths, vocab


def byte_spans(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """(data, begin, end, rows, arr): the texts' UTF-8 bytes one after another (an Arrow array's buffer, `arr`, which
    holds them), each text's byte span in them, and `rows`, the texts a byte scan cannot read: those with a character
    beyond ASCII that does more than separate words (`_only_separators`). Their spans are empty (not scanned)."""
    arr = pa.array(texts, type=pa.large_string())
    plain = pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    plain[~plain] = [_only_separators(texts[r]) for r in np.flatnonzero(~plain)]
    rows = np.flatnonzero(~plain)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    begin, end = offsets[:-1].copy(), offsets[1:].copy()
    begin[rows] = end[rows] = 0  # not scanned
    return data, begin, end, rows, arr


def _place_words(data, found, rows, lengths, starts, ends) -> np.ndarray:
    """`data` followed by the UTF-8 bytes of the words in `found` (the words of the texts `rows`); their spans are
    written into `starts`/`ends` at those texts' places. Returns the joined bytes."""
    flat = pa.array([w for ws in found for w in ws], type=pa.large_string())
    if not len(flat):
        return data
    at = np.frombuffer(flat.buffers()[1], dtype=np.int64, count=len(flat) + 1) + len(data)
    first, counts = (np.cumsum(lengths) - lengths)[rows], lengths[rows]
    slots = np.repeat(first, counts) + np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    starts[slots], ends[slots] = at[:-1], at[1:]
    return np.concatenate([data, np.frombuffer(flat.buffers()[2], dtype=np.uint8)])


def _only_separators(text: str) -> bool:
    """Whether every character of the text beyond ASCII only separates words: not a word character (`\\w`: a letter,
    a digit or a number in any script) and unchanged by lower-casing (so "İ", which lower-cases to "i" and a dot, is
    not). Such a text has the words of its ASCII bytes, read as if the other characters were spaces: typographic
    quotes, dashes, no-break spaces, currency signs."""
    return all(_separator(c) for c in set("".join(_NOT_ASCII.findall(text))))


@functools.cache
def _separator(c: str) -> bool:
    return not (c.isalnum() or c == "_") and c.lower() == c


def _codes_of_words(split: list[list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    flat = [w for ws in split for w in ws]
    codes, vocab = pd.factorize(np.asarray(flat, dtype=object)) if flat else (np.zeros(0, np.int64), np.zeros(0, object))
    return codes.astype(np.int64), lengths, list(vocab)


def _number(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Each word's code (words numbered by their hash, in first-seen order) and each code's first word; (None, _) when
    two different words share a hash."""
    if not len(starts):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    hashes = np.empty(len(starts), np.uint64)
    _kernels()[2](data, starts, ends, hashes)
    codes, distinct = pd.factorize(hashes)
    codes = codes.astype(np.int64)
    first, same = _kernels()[3](data, starts, ends, codes, len(distinct))
    return (codes if same else None), first


def _byte_tables() -> tuple[np.ndarray, np.ndarray]:
    """(is a word byte, its lower-case byte) for every byte value: ASCII letters, digits and "_" are word bytes; bytes
    of characters beyond ASCII (128 and up) are not (only texts where those characters separate words are scanned)."""
    word = np.zeros(256, np.bool_)
    for c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
        word[c] = True
    lower = np.arange(256, dtype=np.uint8)
    lower[65:91] += 32
    return word, lower


WORD_BYTE, LOWER_BYTE = _byte_tables()


@functools.cache
def _kernels():
    """The compiled scans (numba, cached on disk after the first compilation): count the words of each scanned text,
    find their spans, hash each word's lower-cased bytes (FNV-1a, 64 bits), and find each code's first word, checking
    that the words sharing a code are equal byte for byte. Each is bound to the byte tables (closures over other
    compiled functions are not cached)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def count(data, begin, end, out, word):  # pragma: no cover - compiled
        for t in range(len(begin)):
            n, inside = 0, False
            for k in range(begin[t], end[t]):
                w = word[data[k]]
                if w and not inside:
                    n += 1
                inside = w
            out[t] = n

    @numba.njit(cache=True, nogil=True)
    def find(data, begin, end, place, starts, ends, word):  # pragma: no cover - compiled
        for t in range(len(begin)):
            at, inside = place[t], False
            for k in range(begin[t], end[t]):
                w = word[data[k]]
                if w and not inside:
                    starts[at] = k
                elif inside and not w:
                    ends[at] = k
                    at += 1
                inside = w
            if inside:
                ends[at] = end[t]

    @numba.njit(cache=True, nogil=True)
    def fnv(data, starts, ends, out, lower):  # pragma: no cover - compiled
        for i in range(len(starts)):
            h = np.uint64(0xCBF29CE484222325)
            for k in range(starts[i], ends[i]):
                h = (h ^ np.uint64(lower[data[k]])) * np.uint64(0x100000001B3)
            out[i] = h

    @numba.njit(cache=True, nogil=True)
    def same(data, starts, ends, codes, distinct, lower):  # pragma: no cover - compiled
        first = np.full(distinct, -1, np.int64)  # each code's first word
        for i in range(len(starts)):
            r = first[codes[i]]
            if r < 0:
                first[codes[i]] = i
                continue
            n = ends[i] - starts[i]
            if ends[r] - starts[r] != n:
                return first, False
            for k in range(n):
                if lower[data[starts[i] + k]] != lower[data[starts[r] + k]]:
                    return first, False
        return first, True

    return (lambda *a: count(*a, WORD_BYTE), lambda *a: find(*a, WORD_BYTE), lambda *a: fnv(*a, LOWER_BYTE),
            lambda *a: same(*a, LOWER_BYTE))
