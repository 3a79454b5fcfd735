"""Every self-instruct filter, and ROUGE-L through rapidfuzz equal to `rouge-score` on real instruction pairs."""

from __future__ import annotations

import json
import random

import pytest

from curation.generate import filters
from curation.generate.novelty import Novelty, rouge_l, tokens


@pytest.mark.parametrize(("text", "reason"), [
    ("Tell a joke.", "length"),  # 3 words: the reference drops <= 3
    ("Tell me a joke.", None),
    (" ".join(["word"] * 150), None),
    (" ".join(["word"] * 151), "length"),
    ("Describe the image of a sunset over the sea.", "keyword"),
    ("Plot the sales figures for the last quarter.", "keyword"),
    ("Go to the store and buy some milk today.", "keyword"),
    ("Summarise this FILE for me in three lines.", "keyword"),  # case-insensitive
    ("Suggest a name for my new flowchart tool, please.", "keyword"),
    ("Explain how mapping functions work in Python.", None),  # whole words only: "mapping" is not "map"
    ("Describe an imagery technique used by poets.", None),
    ("Write a program that prints the first ten primes.", "program"),
    ("Write a poem about a program that never ends.", None),
    ("- List three fruits that are red when ripe.", "punctuation"),
    ('"Quote" a famous line from a well-known play.', "punctuation"),
    ("Éxplain the causes of the French revolution briefly.", "non_ascii"),
    ("Explain the causes of the French revolution briefly.", None),
])
def test_each_filter(text, reason):
    assert filters.check(text)[0] == reason


def test_filters_run_in_the_reference_order_and_say_why():
    assert filters.check("Draw.")[0] == "length"  # too short comes first
    assert filters.check("Write a program to plot a graph of x.") == ("keyword", "plot")
    assert filters.NAMES == ("length", "keyword", "program", "punctuation", "non_ascii")


def test_clean_keeps_case_but_capitalises_the_first_letter():
    assert filters.clean("  name the   capital of France \n") == "Name the capital of France"


def test_rouge_l_known_values():
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("", "") == 0.0 and rouge_l("...", "a b") == 0.0  # no tokens: 0, as rouge-score
    assert rouge_l("A B C D", "a x c d") == pytest.approx(2 * 3 / 8)  # LCS a c d
    assert tokens("Don't stop—now!") == ["don", "t", "stop", "now"]


def test_novelty_rejects_above_the_threshold_only():
    pool = Novelty(["Give me three tips for staying healthy."])
    novel, score, index = pool.is_novel("Give me three tips for staying healthy at work.")
    assert not novel and score > 0.7 and index == 0
    assert pool.is_novel("Translate the sentence into German.")[0]
    pool.add("Translate the sentence into German.")
    assert not pool.is_novel("translate the sentence into german")[0] and len(pool) == 2


def real_instructions(shared_data) -> list[str]:
    seeds = [json.loads(line)["instruction"] for line in (shared_data / "alpaca" / "seed_tasks.jsonl").read_text().splitlines()]
    alpaca = [r["instruction"] for r in json.loads((shared_data / "alpaca" / "alpaca_data_cleaned_1000.json").read_text())]
    return seeds + alpaca


def test_rouge_l_equals_rouge_score_on_real_pairs(shared_data):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = real_instructions(shared_data)
    rng = random.Random(0)
    pairs = [tuple(rng.sample(texts, 2)) for _ in range(400)]
    # and close pairs, where the filter decides: each of 100 texts with its most similar other text
    pool = Novelty(texts, threshold=0.0)
    for i in rng.sample(range(len(texts)), 100):
        scores = pool.max_scores([texts[i]])  # includes itself; find the best other by brute force below
        best = max((j for j in range(len(texts)) if texts[j] != texts[i]), key=lambda j: rouge_l(texts[i], texts[j]))
        pairs.append((texts[i], texts[best]))
        assert scores[0] == pytest.approx(1.0)
    high = 0
    for a, b in pairs:
        expected = scorer.score(a, b)["rougeL"].fmeasure
        assert rouge_l(a, b) == pytest.approx(expected, abs=1e-9), (a, b)
        high += expected > 0.5
    assert high >= 10  # the comparison covers pairs near the threshold, not only unrelated ones


def test_max_scores_match_a_brute_force_max(shared_data):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = real_instructions(shared_data)
    pool_texts, queries = texts[:300], texts[300:360] + [t + " Please." for t in texts[:20]]
    pool = Novelty(pool_texts)
    got = pool.max_scores(queries)
    for q, value in zip(queries, got):
        best = max(scorer.score(q, p)["rougeL"].fmeasure for p in pool_texts)
        assert value == pytest.approx(best if best >= 0.7 else 0.0, abs=1e-6)
        assert pool.is_novel(q)[0] == (best <= 0.7)
