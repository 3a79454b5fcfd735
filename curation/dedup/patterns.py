"""Pattern keys of many texts at once: which texts `families.skeleton` masks, and a key equal exactly when skeletons are.

`skeleton(text)` masks numbers (`\\d+(?:[.,]\\d+)*` -> NUM) and then capitalised words that are not sentence openers
(`\\b[A-Z][a-z]+\\b` -> NAME) and keeps the words, lower-cased. At 1M records its two regex passes with a Python
callback per name and a `findall` were ~100 s of a dedup (issue 18). On a text whose characters beyond ASCII only
separate words (`wordcodes`: then `\\d`, `\\b` and `[A-Z]` read the same on the bytes), a compiled scan of the bytes
does the same three steps and hashes the skeleton's words as it goes; the other texts take `skeleton` itself and their
skeleton is hashed the same way. A key is two 64-bit hashes (FNV-1a with two bases) of the skeleton: two different
skeletons share a key with a chance of about 10^-27 at a million distinct skeletons.
`tests/curation/test_dedup_patterns.py` compares the keys with `skeleton` on edge texts, random texts and shared data.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from curation.dedup import wordcodes

BASES = (0xCBF29CE484222325, 0x84222325CBF29CE4)  # FNV-1a's offset basis, and its halves swapped: two hashes
PRIME = 0x100000001B3


CHUNK = 65_536  # texts copied into one Arrow array at a time (the keys do not depend on the chunks)


def pattern_keys(texts: list[str], skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(masked, keys): whether `skeleton(text)` masks anything in each text, and a (n, 2) uint64 key of each masked
    text's skeleton (zeros for the others). `skeleton`: `families.skeleton`, for the texts not scanned as bytes."""
    if len(texts) > CHUNK:
        parts = [pattern_keys(texts[lo : lo + CHUNK], skeleton) for lo in range(0, len(texts), CHUNK)]
        return np.concatenate([m for m, _ in parts]), np.concatenate([k for _, k in parts])
    n = len(texts)
    masked, keys = np.zeros(n, np.bool_), np.zeros((n, 2), np.uint64)
    if not n:
        return masked, keys
    data, begin, end, rows, _ = wordcodes.byte_spans(texts)
    _scan()(data, begin, end, masked, keys)
    shapes = [skeleton(texts[r]) for r in rows]
    found = np.array([s is not None for s in shapes], dtype=bool)
    if found.any():  # their skeletons hashed by the same compiled FNV (a Python loop per byte took a minute at 1M)
        spelled = pa.array([s for s in shapes if s is not None], type=pa.large_string())
        at = np.frombuffer(spelled.buffers()[1], dtype=np.int64, count=len(spelled) + 1)
        masked[rows[found]] = True
        keys[rows[found]] = _fnv()(np.frombuffer(spelled.buffers()[2], dtype=np.uint8), at[:-1].copy(), at[1:].copy())
    return masked, keys


def hash_words(shape: bytes) -> tuple[int, int]:
    """The key of a skeleton (its words one space apart), as the scan computes it: the reference the tests compare with."""
    out = []
    for base in BASES:
        h = base
        for byte in shape:
            h = ((h ^ byte) * PRIME) & 0xFFFFFFFFFFFFFFFF
        out.append(h)
    return out[0], out[1]


@functools.cache
def _fnv():
    """The compiled two-base FNV-1a of byte spans (numba, cached on disk): `hash_words` of many skeletons at once."""
    import numba

    b0, b1, prime = np.uint64(BASES[0]), np.uint64(BASES[1]), np.uint64(PRIME)

    @numba.njit(cache=True, nogil=True)
    def fnv(data, begin, end, b0, b1, prime):  # pragma: no cover - compiled
        out = np.empty((len(begin), 2), np.uint64)
        for t in range(len(begin)):
            h0, h1 = b0, b1
            for k in range(begin[t], end[t]):
                b = np.uint64(data[k])
                h0, h1 = (h0 ^ b) * prime, (h1 ^ b) * prime
            out[t, 0], out[t, 1] = h0, h1
        return out

    return lambda data, begin, end: fnv(data, begin, end, b0, b1, prime)


@functools.cache
def _openers() -> tuple[np.ndarray, np.ndarray]:
    """The sentence openers (lower case) as a padded byte table and their lengths, for an exact test in the scan."""
    from curation.dedup.families import OPENERS

    words = sorted(w.encode() for w in OPENERS)
    table = np.zeros((len(words), max(map(len, words))), np.uint8)
    for i, w in enumerate(words):
        table[i, : len(w)] = np.frombuffer(w, np.uint8)
    return table, np.array([len(w) for w in words], np.int64)


@functools.cache
def _scan():
    """The compiled scan (numba, cached on disk), bound to the byte tables and the openers."""
    import numba

    word, lower = wordcodes.WORD_BYTE, wordcodes.LOWER_BYTE
    table, lengths = _openers()
    b0, b1, prime = np.uint64(BASES[0]), np.uint64(BASES[1]), np.uint64(PRIME)
    num, name = np.frombuffer(b"num", np.uint8).copy(), np.frombuffer(b"name", np.uint8).copy()

    @numba.njit(cache=True, nogil=True)
    def scan(data, begin, end, masked, keys, word, lower, table, lengths, num, name, b0, b1, prime):  # pragma: no cover
        longest = 0
        for t in range(len(begin)):
            longest = max(longest, end[t] - begin[t])
        m1 = np.empty(longest, np.uint8)
        for t in range(len(begin)):
            # 1. numbers -> '#', as `\d+(?:[.,]\d+)*` finds them from the left
            n, k, e, changed = 0, begin[t], end[t], False
            while k < e:
                c = data[k]
                if 48 <= c <= 57:
                    while k < e and 48 <= data[k] <= 57:
                        k += 1
                    while k + 1 < e and (data[k] == 46 or data[k] == 44) and 48 <= data[k + 1] <= 57:
                        k += 1
                        while k < e and 48 <= data[k] <= 57:
                            k += 1
                    m1[n] = 35
                    n += 1
                    changed = True
                else:
                    m1[n] = c
                    n += 1
                    k += 1
            # 2. names -> '@' (`\b[A-Z][a-z]+\b`, not an opener); 3. the words of the result, '#' and '@' as NUM and
            # NAME, lower-cased, hashed one space apart
            h0, h1, words, inside = b0, b1, 0, False
            k = 0
            while k < n:
                c = m1[k]
                token_hi, special = -1, 0
                if 65 <= c <= 90 and (k == 0 or not word[m1[k - 1]]):
                    j = k + 1
                    while j < n and 97 <= m1[j] <= 122:
                        j += 1
                    if j > k + 1 and (j == n or not word[m1[j]]):
                        known = False  # a sentence opener (compared byte for byte, lower-cased) stays a word
                        for i in range(len(lengths)):
                            if lengths[i] == j - k:
                                same = True
                                for q in range(j - k):
                                    if lower[m1[k + q]] != table[i, q]:
                                        same = False
                                        break
                                if same:
                                    known = True
                                    break
                        if not known:
                            special, changed = 2, True
                            token_hi = j
                if special == 0 and (c == 35 or c == 64):
                    special = 1 if c == 35 else 2
                    token_hi = k + 1
                if special:
                    if words:
                        h0, h1 = (h0 ^ np.uint64(32)) * prime, (h1 ^ np.uint64(32)) * prime
                    spelled = num if special == 1 else name
                    for b in spelled:
                        h0, h1 = (h0 ^ np.uint64(b)) * prime, (h1 ^ np.uint64(b)) * prime
                    words += 1
                    inside = False
                    k = token_hi
                    continue
                if word[c]:
                    if not inside:
                        if words:
                            h0, h1 = (h0 ^ np.uint64(32)) * prime, (h1 ^ np.uint64(32)) * prime
                        words += 1
                        inside = True
                    b = np.uint64(lower[c])
                    h0, h1 = (h0 ^ b) * prime, (h1 ^ b) * prime
                else:
                    inside = False
                k += 1
            if changed:
                masked[t] = True
                keys[t, 0], keys[t, 1] = h0, h1

    return lambda data, begin, end, masked, keys: scan(data, begin, end, masked, keys, word, lower, table, lengths, num,
                                                        name, b0, b1, prime)
