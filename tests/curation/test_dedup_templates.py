"""Template families: records of one template (or one number/name pattern) are duplicates only when their variable parts
match; each proposed rejection says why (exact / same variable parts / near)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curation import dedup, embed
from curation.dedup import detect
from curation.dedup.families import Families, families, skeleton, template_variables, words
from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import write_jsonl
from tests.curation.test_dedup import bag_of_words

ARTICLE = "Answer the question about the article below.\nArticle: The river {} flows through the old town of {} .\nQuestion: {}"


def test_skeleton_masks_numbers_and_names_but_not_sentence_openers():
    a = skeleton("Natalia sold clips to 48 of her friends in April, and then she sold 24.")
    assert a == skeleton("Tom sold clips to 50 of her friends in June, and then she sold 7.")
    assert a != skeleton("Natalia bought clips from 48 of her friends in April, and then she sold 24.")
    assert skeleton("The cat sat on the mat.") is None  # nothing masked: no family
    assert words("Hello,  World!") == "hello world"


def test_a_template_word_that_also_fills_a_slot_stays_a_variable_part():
    """t0's app_reviews template: "1" and "5" are in every record's fixed text, so a set of template words would make
    the 1-star and the 5-star request for one app look identical."""
    text = "Generate a {}-star review (1 being lowest and 5 being highest) about an app with package com.{}."
    texts = [text.format(n, app) for n in (1, 5, 3, 1) for app in ("alpha", "beta")]
    variable = template_variables(texts, np.zeros(len(texts), dtype=np.int64))
    assert reference_template_variables(texts, np.zeros(len(texts), dtype=np.int64))[0] == {("1", 1), ("alpha", 1)}
    assert variable[0] != variable[4]  # 1-star and 5-star for alpha: "1" and "5" are their variable parts
    assert variable[0] == variable[6] != variable[1]
    assert same_partition(variable, reference_template_variables(texts, np.zeros(len(texts), dtype=np.int64)))


def reference_template_variables(texts, family, needed=None) -> dict[int, frozenset]:
    """The per-record counting that `template_variables` replaced (issue 18), kept here as its definition."""
    import statistics
    from collections import Counter

    out = {}
    wanted = family >= 0 if needed is None else (family >= 0) & needed
    for code in np.unique(family[wanted]):
        rows = np.flatnonzero(family == code)
        counts = [Counter(words(texts[r]).split()) for r in rows]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        fixed = {w: int(statistics.median([c.get(w, 0) for c in counts])) for w, n in df.items() if n >= 0.5 * len(rows)}
        for r, c in zip(rows, counts):
            if needed is None or needed[r]:
                out[int(r)] = frozenset((w, k - fixed.get(w, 0)) for w, k in c.items() if k - fixed.get(w, 0) > 0)
    return out


def same_partition(a: dict, b: dict) -> bool:
    """The two maps have the same rows and group them alike (equal values in one exactly where equal in the other)."""
    rows = sorted(a)
    if rows != sorted(b):
        return False
    code = lambda m: pd.factorize(pd.Series([m[r] for r in rows], dtype=object))[0]  # noqa: E731
    return bool((code(a) == code(b)).all())


def test_template_variables_equal_the_per_record_counting_on_real_t0(shared_data):
    """Every template's variable parts on 3,000 real t0 prompts (including the rows beyond ASCII that Python's regex
    reads) group the records exactly as the per-record counting did, with and without a mask of needed rows."""
    lines = (shared_data / "t0" / "t0_train_55k.jsonl").read_text(encoding="utf-8").splitlines()[:3000]
    rows = [json.loads(x) for x in lines]
    texts = [f"{r['prompt']}\n{r['completion']}" for r in rows]
    family = pd.factorize(pd.Series([r.get("template") for r in rows]))[0].astype(np.int64)
    assert any(not t.isascii() for t in texts)
    assert same_partition(template_variables(texts, family), reference_template_variables(texts, family))
    needed = np.zeros(len(texts), dtype=bool)
    needed[::5] = True
    assert same_partition(template_variables(texts, family, needed), reference_template_variables(texts, family, needed))


@pytest.fixture
def t0_like(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    rows = [
        {"prompt": ARTICLE.format("Thames", "London", "Where does it flow?"), "completion": "London", "template": "qa"},
        {"prompt": ARTICLE.format("Seine", "Paris", "Where does it flow?"), "completion": "Paris", "template": "qa"},  # sibling
        {"prompt": ARTICLE.format("Thames", "London", "Where does it flow ?!"), "completion": "London", "template": "qa"},
        {"prompt": ARTICLE.format("Thames", "London", "Where does it flow?"), "completion": "London", "template": "qa"},  # copy
        {"prompt": ARTICLE.format("Thames", "London", "Where does it flow?").replace("Answer", "Reply to"),
         "completion": "London", "template": "qa_other"},
    ]
    rows += [{"prompt": ARTICLE.format(river, town, question), "completion": town, "template": "qa"}  # the rest of the family
             for river, town, question in [("Danube", "Vienna", "Which sea does it reach?"), ("Tiber", "Rome", "How long is it?"),
                                           ("Vltava", "Prague", "Who named it?"), ("Spree", "Berlin", "When does it freeze?")]]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "t0.jsonl", rows)))
    dedup.save_settings(ws, method="embedding", threshold=0.8, rule="first_seen")
    return ws


def test_same_template_is_a_duplicate_only_with_the_same_variable_parts(t0_like):
    found = dedup.find(t0_like)
    table = found.table
    assert table["family"].iloc[0] == "template qa" and pd.isna(table["family"].iloc[4])  # qa_other has one record: no family
    assert pd.isna(table["dup_group"].iloc[1])  # the Seine record: same template, other values: not a duplicate...
    siblings = found.siblings.above(0.8)
    assert 1 in set(siblings.i.tolist()) | set(siblings.j.tolist())  # ...although its similarity is above the threshold
    assert table["why"].tolist()[:5] == ["representative", None, "same_values", "exact", "near"]
    s = found.summary()
    assert (s["reject_exact"], s["reject_same_values"], s["reject_near"], s["would_reject"]) == (1, 1, 1, 3)
    assert s["family_pairs_set_aside"] == len(siblings) >= 1 and s["families"] == 1
    row = found.sweep([0.8]).iloc[0]
    assert (row["exact"], row["same_values"], row["near"]) == (1, 1, 1)
    assert found.members(1)["why"].tolist()[0] == "representative"
    assert found.groups()["families"].tolist() == ["template qa"]  # the group list names the family


def test_problems_that_differ_only_in_numbers_and_names_are_a_family_not_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    text = "{} has {} apples in a big basket and buys {} more apples at the market on the corner. How many apples does {} have now?"
    rows = [{"instruction": text.format("Tom", 3, 4, "Tom"), "output": "7"},
            {"instruction": text.format("Ann", 5, 2, "Ann"), "output": "7"},
            {"instruction": text.format("Tom", 3, 4, "Tom").upper(), "output": "7"}]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "gsm.jsonl", rows)))
    found = dedup.find(ws, method="embedding", threshold=0.8, rule="first_seen")
    assert found.table["family"].iloc[0].startswith("pattern ")
    assert found.table["dup_group"].isna().tolist() == [False, True, False]
    assert found.table["why"].iloc[2] == "exact" and len(found.siblings.above(0.8)) == 2


def no_families(frame, full, hashes=None, rows=None):
    n = len(frame)
    return Families(np.full(n, -1), [None] * n, np.arange(n), np.zeros(n, dtype=bool))


def test_t0_rejections_are_explained_and_template_siblings_are_not_proposed(shared_data, tmp_path, monkeypatch):
    """Real t0 prompts (the first 2,000: ten templates of 200 over two adversarial_qa sets), MinHash at its default:
    records of one template share most of their words, and templates share passages, so without families most records
    would be proposed; with them only copies are."""
    lines = (shared_data / "t0" / "t0_train_55k.jsonl").read_text(encoding="utf-8").splitlines()[:2000]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "t0.jsonl", [json.loads(x) for x in lines])))
    assert families(load_records(ws), [""] * 2000).code.max() == 9  # ten families, from the `template` field
    found = dedup.find(ws, method="minhash", rule="first_seen")
    s = found.summary()
    assert s["would_reject"] == s["reject_exact"] + s["reject_same_values"] + s["reject_near"]
    assert s["family_pairs_set_aside"] > 1000
    assert s["reject_near"] == 0 and s["template_repeats"] > 100  # one example under two templates is kept, and counted
    near = found.pairs.above(float(s["threshold"]))
    code = found.families.code
    assert not ((code[near.i] >= 0) & (code[near.i] == code[near.j]) &
                (found.families.variable[near.i] != found.families.variable[near.j])).any()
    monkeypatch.setattr(detect, "families", no_families)
    before = dedup.find(ws, method="minhash", rule="first_seen").summary()
    assert before["would_reject"] > 2 * s["would_reject"] and before["family_pairs_set_aside"] == 0


def test_variable_parts_are_found_only_for_the_rows_compared(shared_data, monkeypatch):
    """Families read for the rows in a candidate pair (or sharing a hash) judge those rows exactly as families read for
    every row (issue 18: every t0 record's variable parts were a third of a MinHash dedup); the other rows get none, and
    a template family none of whose rows is compared is not read at all."""
    import curation.dedup.families as fam

    lines = (shared_data / "t0" / "t0_train_55k.jsonl").read_text(encoding="utf-8").splitlines()[:2000]
    full = [json.loads(x)["prompt"] for x in lines]
    frame = pd.DataFrame({"messages": [""] * 2000, "meta": [json.dumps({"template": json.loads(x).get("template")}) for x in lines]})
    every = families(frame, full)
    rows = np.arange(0, 2000, 7)[:150]  # rows of a few of the ten templates
    read = []
    counting = fam.wordcodes.word_codes
    monkeypatch.setattr(fam.wordcodes, "word_codes", lambda texts: read.extend(texts) or counting(texts))
    some = families(frame, full, rows=rows)
    assert (some.code == every.code).all() and some.label == every.label
    i, j = np.meshgrid(rows, rows)
    assert ((some.variable[i] == some.variable[j]) == (every.variable[i] == every.variable[j])).all()
    others = np.setdiff1d(np.arange(2000), rows)
    assert (some.variable[others] == -1).all()
    assert len(read) < 2000  # the families holding none of the rows were not read

