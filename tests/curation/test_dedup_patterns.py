"""Pattern keys (issue 18): the compiled scan masks exactly the texts `skeleton` masks, with keys equal exactly when the
skeletons are; families built on them split records as the skeletons do."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pandas as pd

from curation.dedup import patterns
from curation.dedup.families import families, skeleton


def agrees(texts: list[str]) -> tuple[int, np.ndarray]:
    """How many texts the keys disagree on with `skeleton`, and the mask of masked texts."""
    masked, keys = patterns.pattern_keys(texts, skeleton)
    wrong = 0
    for text, m, key in zip(texts, masked, keys.tolist()):
        shape = skeleton(text)
        wrong += (shape is not None) != bool(m) or (shape is not None and tuple(key) != patterns.hash_words(shape.encode()))
    return wrong, masked


def test_keys_follow_skeleton_on_edge_texts():
    texts = ["", "   ", "The cat sat on the mat.", "Natalia sold clips to 48 of her friends in April, and then she sold 24.",
             "abc123def 1,000.50 x.5 3. Tom#@ C# @home McDonald went", "Tom’s 5\xa0apples “Quoted” Ann", "Zoë and İstanbul 5",
             "The The Write X1 Ab", "1.2.3,4", "end 7", "A I Ok OK ok Is", "Please list Paris"]
    wrong, masked = agrees(texts)
    assert wrong == 0
    assert masked.tolist() == [False, False, False, True, True, True, True, True, True, True, True, True]
    _, keys = patterns.pattern_keys(["Tom has 3 apples.", "Ann has 51 apples.", "Ann has 5 pears."], skeleton)
    assert tuple(keys[0]) == tuple(keys[1]) != tuple(keys[2])


def test_keys_follow_skeleton_on_random_texts():
    rng = random.Random(3)
    alphabet = "abcTAWXZ019_ .,!\n#@’é\xa0ThePlease"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    vocabulary = ["The", "Tom", "sold", "48", "3.5", "April", "and", "Write", "a", "poem", "Mary", "x9", "1,2", "Please", "İ"]
    texts += [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    wrong, masked = agrees(texts)
    assert wrong == 0 and 0 < masked.sum() < len(texts)


def test_keys_follow_skeleton_on_real_records_and_families_split_as_skeletons_do(shared_data):
    texts = []
    for row in json.loads((shared_data / "gsm8k" / "gsm_8k_train.json").read_text(encoding="utf-8"))[:3000]:
        texts.append(row.get("question") or row.get("instruction") or json.dumps(row))
    for row in json.loads((shared_data / "alpaca" / "alpaca_data_cleaned_1000.json").read_text(encoding="utf-8")):
        texts.append("\n".join(filter(None, (row["instruction"], row["input"]))))
    texts += [re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), t) for t in texts[:300]]  # the same with other numbers
    wrong, masked = agrees(texts)
    assert wrong == 0 and masked.sum() > 1000
    frame = pd.DataFrame({"messages": [None] * len(texts), "meta": [None] * len(texts)})
    found = families(frame, texts)
    shapes = [skeleton(t) for t in texts]
    first: dict = {}
    for row, shape in enumerate(shapes):  # two records share a family exactly when they share a skeleton (and it repeats)
        if shape is not None and shapes.count(shape) > 1:
            assert found.code[row] == found.code[first.setdefault(shape, row)] >= 0
            assert found.label[row] == f"pattern {shape[:40]}"
        else:
            assert found.code[row] == -1 and found.label[row] is None
    assert len(first) > 200


def test_keys_do_not_depend_on_the_chunks(monkeypatch):
    """A million texts are scanned a chunk at a time (one Arrow copy of a chunk, not of every text): the same keys."""
    rng = random.Random(1)
    vocabulary = ["The", "Tom", "3", "sold", "Ann", "x", "4.5"]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(8)) for _ in range(3000)]
    whole = patterns.pattern_keys(texts, skeleton)
    monkeypatch.setattr(patterns, "CHUNK", 700)
    chunked = patterns.pattern_keys(texts, skeleton)
    assert (whole[0] == chunked[0]).all() and (whole[1] == chunked[1]).all() and whole[0].sum() > 100
