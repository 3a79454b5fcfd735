"""Decontamination: n-gram and embedding overlap with protected evaluation sets, and what protection guarantees."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import decontaminate as dc
from curation import dedup, embed
from curation.decisions import decide
from curation.errors import CurationError
from curation.ingest import ingest
from curation.signals.evidence import loads
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.test_dedup import bag_of_words

GSM = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
       "How many clips did Natalia sell altogether in April and May?")
EVAL = [{"instruction": GSM, "output": "72"},
        {"instruction": "Name three primary colours.", "output": "Red, yellow, blue."},
        {"instruction": "Hi there", "output": "Hello."}]
TRAIN = [
    {"instruction": "Solve this problem: " + GSM.upper().replace(",", " ;"), "output": "She sold 72."},  # verbatim, case/punctuation
    {"instruction": "Name three primary colours please.", "output": "Red."},  # a short prompt, most of this one
    {"instruction": "Name three primary colours and explain how mixing them on a palette gives every other colour.",
     "output": "Mixing."},  # the short prompt inside a much longer one: not a copy
    {"instruction": "Write a poem about the sea.", "output": "Waves and foam."},
    {"instruction": "Summarise the water cycle.", "output": "Evaporation, condensation, precipitation: " + GSM},  # in an output
]


@pytest.fixture
def pair(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "bench.jsonl", EVAL)))
    ingest(ws, str(write_jsonl(tmp_path / "train.jsonl", TRAIN)))
    dc.protect(ws, ["bench"])
    return ws


def by_instruction(ws, matches):
    frame = load_records(ws).set_index("record_id")
    return {frame.loc[r, "instruction"]: m for r, m in zip(matches["record_id"], matches.to_dict("records"))}


def test_ngram_overlap_finds_copies_in_prompts_and_outputs_with_spans_on_both_sides(pair):
    found = dc.find(pair, embedding=False)
    hits = by_instruction(pair, found["matches"])
    assert set(hits) == {TRAIN[0]["instruction"], TRAIN[1]["instruction"], TRAIN[4]["instruction"]}
    frame = load_records(pair).set_index("record_id")
    copy = hits[TRAIN[0]["instruction"]]
    assert frame.loc[copy["protected_id"], "instruction"] == GSM and copy["match"] == "ngram" and copy["ngram_overlap"] == 1.0
    spans = loads(copy["evidence"])
    assert spans[0].field == "prompt" and spans[0].value.lower().startswith("natalia sold clips")
    assert TRAIN[0]["instruction"][spans[0].start : spans[0].end] == spans[0].value
    assert loads(copy["protected_evidence"])[0].value == GSM.rstrip("?")  # the item's matched words, up to its last word
    assert loads(hits[TRAIN[4]["instruction"]]["evidence"])[0].field == "output"
    short = hits[TRAIN[1]["instruction"]]
    assert loads(short["evidence"])[0].value == "Name three primary colours"
    summary = found["summary"]
    assert summary["contaminated"] == 3 and summary["protected_records"] == 3 and summary["training_records"] == 5
    assert summary["items_matched"] == 2 and summary["ngram"] == 13 and not summary["embedding"]


def test_words_are_normalised_and_a_prompt_under_min_words_is_left_to_the_embedding_check():
    assert [w for *_, w in dc.words("Ｆｕｌｌ-width ÉCOLE, straße!")] == ["full", "width", "école", "strasse"]
    items = dc.Items.build(["Hi there", "a b c d e"], ngram=13, min_words=4)
    assert set(items.index) == {5} and dc.ngram_hits(items, ["Hi there", "A B C D E"]) == {(1, 1): [(0, 0, 5)]}


def test_an_ngram_many_items_share_is_the_benchmarks_boilerplate_and_ignored():
    head = "Read the passage below carefully and then answer the question that follows it in one word"
    prompts = [f"{head}. Passage {i}: the river number {i} flows north." for i in range(12)]
    items = dc.Items.build(prompts, ngram=13, min_words=4)
    assert dc.ngram_hits(items, [head + ". Passage: something else entirely here."]) == {}
    assert dc.ngram_hits(items, [prompts[3]])  # the item's own words still match


def test_embedding_similarity_catches_a_paraphrase_and_says_its_threshold(pair, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    ingest(pair, str(write_jsonl(pair.root.parent / "more.jsonl",
                                 [{"instruction": "Could you name three of the primary colours?", "output": "Red."}])))
    dc.DecontaminationSettings.save(pair, threshold=0.7)
    found = dc.find(pair)
    hits = by_instruction(pair, found["matches"])
    para = hits["Could you name three of the primary colours?"]
    assert para["match"] == "embedding" and para["similarity"] >= 0.7
    assert [e.value.lower() for e in loads(para["evidence"])] == ["name three", "primary colours"]  # shared words marked
    assert hits[TRAIN[1]["instruction"]]["match"] == "ngram+embedding"
    assert "Write a poem about the sea." not in hits
    assert found["summary"]["threshold"] == 0.7 and found["summary"]["threshold_source"] == "set by the curator"


def test_default_threshold_is_measured_per_model_and_any_other_model_gets_a_general_one(ws):
    conf = dc.DecontaminationSettings.load(ws)
    assert dc.threshold_of(conf, "minilm") == (dc.THRESHOLDS["minilm"], dc.threshold_of(conf, "minilm")[1])
    assert "bench/decontaminate.py" in dc.threshold_of(conf, "minilm")[1]
    assert "not calibrated" in dc.threshold_of(conf, "some/model")[1]


def test_a_similar_prompt_that_shares_few_of_the_items_words_is_not_a_match(pair, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    ingest(pair, str(write_jsonl(pair.root.parent / "near.jsonl", [{"instruction": "Name three famous painters.", "output": "x"},
                                                                   {"instruction": "Three primary colours: name them.", "output": "x"}])))
    dc.DecontaminationSettings.save(pair, threshold=0.3)
    hits = by_instruction(pair, dc.find(pair)["matches"])
    assert "Three primary colours: name them." in hits and "Name three famous painters." not in hits  # 4 of 4 words; 2 of 4
    dc.DecontaminationSettings.save(pair, shared=0.0)
    assert "Name three famous painters." in by_instruction(pair, dc.find(pair)["matches"])


def test_protect_names_known_datasets_and_unprotect_removes_them(pair):
    with pytest.raises(CurationError, match="no dataset named 'nope'"):
        dc.protect(pair, ["nope"])
    assert dc.protect(pair, ["bench"])["protected"] == ["bench"]
    assert dc.protect(pair, ["bench"], protected=False)["protected"] == []
    assert dc.find(pair, embedding=False)["matches"].empty
    with pytest.raises(CurationError, match="from 3 to 50"):
        dc.DecontaminationSettings.save(pair, ngram=2)


def test_a_protected_record_is_never_rejected_but_may_be_kept(pair):
    frame = load_records(pair)
    evals = list(frame.loc[frame["dataset"] == "bench", "record_id"])
    with pytest.raises(CurationError, match="protected evaluation set 'bench': a protected record is never rejected"):
        decide(pair, evals[:1] + list(frame.loc[frame["dataset"] == "train", "record_id"][:1]), "reject", "manual")
    assert load_records(pair)["decision"].eq("undecided").all()  # the whole transaction was refused
    assert decide(pair, evals, "keep", "manual") == 3


def test_dedup_keeps_the_protected_copy_and_proposes_the_training_copy(ws, tmp_path):
    same = {"instruction": "What is the capital of France, and why did it become the capital?", "output": "Paris."}
    ingest(ws, str(write_jsonl(tmp_path / "train.jsonl", [same, {"instruction": "Other.", "output": "x"}])))
    ingest(ws, str(write_jsonl(tmp_path / "test.jsonl", [same])))
    ids = load_records(ws).set_index("dataset")["record_id"]
    before = dedup.find(ws, method="exact", rule="first_seen")
    assert before.rejections() == [(ids["test"], "reject", f"near_duplicate_of:{ids['train'].iloc[0]}")]  # today's trap
    dc.protect(ws, ["test"])
    after = dedup.find(ws, method="exact", rule="first_seen")
    assert after.rejections() == [(ids["train"].iloc[0], "reject", f"near_duplicate_of:{ids['test']}")]
    assert dedup.apply(ws, after) == 1
    assert load_records(ws).set_index("record_id").loc[ids["test"], "decision"] == "undecided"


def test_two_protected_copies_are_both_kept(ws, tmp_path):
    same = {"instruction": "List the planets of the solar system in order from the sun outwards.", "output": "Mercury…"}
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [same])))
    ingest(ws, str(write_jsonl(tmp_path / "b.jsonl", [same])))
    ingest(ws, str(write_jsonl(tmp_path / "train.jsonl", [same])))
    dc.protect(ws, ["a", "b"])
    found = dedup.find(ws, method="exact", rule="first_seen")
    train_id = load_records(ws, "train")["record_id"].iat[0]
    assert [r[0] for r in found.rejections()] == [train_id]


def test_cli_ingest_protected_and_decontaminate(tmp_path, capsys):
    from curation.cli import main as cli

    root = str(tmp_path / "ws")
    assert cli(["ingest", "--workspace", root, "--json", str(write_jsonl(tmp_path / "train.jsonl", TRAIN))]) == 0
    assert cli(["decontaminate", "--workspace", root, "--json"]) == 1
    assert "no evaluation set is protected" in capsys.readouterr().err
    assert cli(["ingest", "--workspace", root, "--json", "--protected", str(write_jsonl(tmp_path / "bench.jsonl", EVAL))]) == 0
    assert json.loads(capsys.readouterr().out)["protected"] is True
    assert cli(["decontaminate", "--workspace", root, "--json", "--no-embedding", "--limit", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protected"] == ["bench"] and out["contaminated"] == 3 and len(out["matches"]) == 1
    assert out["matches"][0]["evidence"][0]["field"] in ("prompt", "output") and out["matches"][0]["protected_id"]
    assert cli(["decontaminate", "--workspace", root, "--no-embedding", "--unprotect", "bench", "--protect", "nope"]) == 1
    assert "no dataset named 'nope'" in capsys.readouterr().err
    assert cli(["decontaminate", "--workspace", root, "--no-embedding", "--ngram", "8"]) == 0
    assert "8-gram overlap; embedding check not run" in capsys.readouterr().out


def test_shared_alpaca_files_overlap_where_the_data_readme_says(ws, shared_data):
    """alpaca_en_demo holds 21 records of alpaca_data_cleaned_1000 (shared data's README): protect the second, find them."""
    ingest(ws, str(shared_data / "alpaca" / "alpaca_data_cleaned_1000.json"), name="heldout")
    ingest(ws, str(shared_data / "alpaca" / "alpaca_en_demo.json"), name="train")
    gsm = shared_data / "gsm8k" / "gsm_8k_train.json"
    ingest(ws, str(gsm), name="gsm")
    dc.protect(ws, ["heldout"])
    found = dc.find(ws, embedding=False)
    frame = load_records(ws)
    held = frame[frame["dataset"] == "heldout"]
    train = frame[frame["dataset"] == "train"]
    same = train.merge(held, on=["instruction", "input", "output"])["record_id_x"]
    hits = found["matches"]
    assert set(same) <= set(hits["record_id"]) and len(set(same)) >= 21
    assert set(hits["dataset"]) == {"train"}  # nothing of GSM8K's 7,473 training problems matches alpaca
    assert len(hits) <= len(set(same)) + 10  # a few more may share a long phrase with a held-out prompt; never a flood

WORDS = st.lists(st.sampled_from([f"w{i}" for i in range(40)]), min_size=13, max_size=40)


@settings(max_examples=60, deadline=None)
@given(item=WORDS, before=st.lists(st.sampled_from(["x", "y", "z"]), max_size=20), after=st.lists(st.sampled_from(["x", "q"]),
       max_size=20), start=st.integers(0, 27))
def test_any_13_words_of_an_item_copied_into_a_text_are_found_where_they_are(item, before, after, start):
    start = min(start, len(item) - 13)
    window = item[start : start + 13]
    items = dc.Items.build([" ".join(item)], ngram=13, min_words=4)
    hits = dc.ngram_hits(items, [" ".join(before + window + after), " ".join(before + after)])
    assert (0, 0) in hits and (1, 0) not in hits
    assert any(at == len(before) and n == 13 and item[b : b + 13] == window for at, b, n in hits[(0, 0)])
