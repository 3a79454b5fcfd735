"""Words as codes (issue 18): exactly `re.findall(r"\\w+", text.lower())`, read from the bytes where that is safe."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from curation.dedup import wordcodes

WORD = re.compile(r"\w+")


def spelled(texts: list[str]) -> list[list[str]]:
    codes, lengths, vocab = wordcodes.word_codes(texts)
    ends = np.cumsum(lengths)
    return [[vocab[c] for c in codes[e - n : e]] for e, n in zip(ends, lengths)]


def findall(texts: list[str]) -> list[list[str]]:
    return [WORD.findall(t.lower()) for t in texts]


def test_words_equal_findall_on_edge_texts():
    texts = ["", "   ", "one", "Hello, World! foo_bar 12.5", "x\ny\tz", "A" * 50, "it’s — “quoted” £5\xa0net",
             "Ünïcode wörds, naïve café", "İstanbul", "½ and ² are numbers", "中文 text", "ends with word"]
    assert spelled(texts) == findall(texts)
    assert spelled([]) == []


def test_words_equal_findall_on_random_unicode():
    rng = random.Random(7)
    alphabet = "abcXYZ019_ .,!\n\tüÜİıßﬁΣσς中文١٢𝟙\u0307-'’—\xa0£"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += [t.encode("ascii", "ignore").decode() for t in texts[:1500]]
    assert spelled(texts) == findall(texts)


def test_equal_words_get_equal_codes_across_texts():
    codes, lengths, vocab = wordcodes.word_codes(["The cat", "the CAT’s hat", "naïve cat"])
    assert len(vocab) == len(set(vocab)) == 5  # the, cat, s, hat, naïve: each once
    assert codes[0] == codes[2] and codes[1] == codes[3] == codes[7]


def test_texts_with_only_separators_beyond_ascii_are_read_from_bytes(monkeypatch):
    """Typographic quotes and dashes do not send a text to Python's regex; a letter beyond ASCII does."""
    read = []
    python_words = wordcodes.words
    monkeypatch.setattr(wordcodes, "words", lambda t: read.append(t) or python_words(t))
    texts = ["it’s — “quoted”", "plain", "café"]
    assert spelled(texts) == findall(texts)
    assert read == ["café"]


def test_a_hash_collision_falls_back_to_numbering_the_words(monkeypatch):
    """Two different words with one hash would share a code: every word is checked against its code's first word,
    and a mismatch numbers the words themselves."""
    kernels = wordcodes._kernels()

    def colliding(data, starts, ends, out):
        out[:] = 1  # every word the same hash

    monkeypatch.setattr(wordcodes, "_kernels", lambda: (kernels[0], kernels[1], colliding, kernels[3]))
    texts = ["a b a", "c"]
    codes, lengths, vocab = wordcodes.word_codes(texts)
    assert spelled(texts) == findall(texts) and len(vocab) == 3 and codes[0] == codes[2] != codes[1]


def test_words_equal_findall_on_real_records(shared_data):
    texts = []
    for name, fields in (("t0/t0_train_55k.jsonl", ("prompt", "completion")),):
        with open(shared_data / name, encoding="utf-8") as fh:
            for line, _ in zip(fh, range(4000)):
                row = json.loads(line)
                texts.append("\n".join(str(row.get(f, "")) for f in fields))
    if not any(not t.isascii() for t in texts):
        pytest.skip("no text beyond ASCII in the sample")
    assert spelled(texts) == findall(texts)
