"""The four methods end to end against a scripted stub model: prompts as the references build them, rejects counted by
reason, provenance on every record, reruns that pay nothing, the budget, the registry."""

from __future__ import annotations

import json
import re

import pytest

from curation.errors import CurationError
from curation.generate import METHODS, generate, get_method
from curation.generate.run import rejected_rows
from curation.ingest import ingest
from curation.names import GENERATORS
from curation.records import loads
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.generate.stub import GenStub, scripted

FAST = {"model": "stub-model", "concurrency": 2, "backoff": 0.01, "timeout": 5.0}
SEEDS = [
    {"instruction": "Give three tips for staying healthy during the winter months.", "input": "", "output": "Sleep, eat, move."},
    {"instruction": "Classify the sentiment of the sentence as positive or negative.", "input": "I love it.", "output": "positive"},
    {"instruction": "Translate the following sentence into German for a tourist.", "input": "Good morning", "output": "Guten Morgen"},
    {"instruction": "Summarize the paragraph below in one short sentence.", "input": "Cats sleep a lot.", "output": "Cats sleep."},
    {"instruction": "Suggest a name for a new bakery that sells only croissants.", "input": "", "output": "Flaky Dawn"},
    {"instruction": "Explain why the sky looks blue on a clear day.", "input": "", "output": "Rayleigh scattering."},
    {"instruction": "List four countries that border Germany to the south or west.", "input": "", "output": "France, ..."},
    {"instruction": "Write a limerick about a cat who loves to sail boats.", "input": "", "output": "There once..."},
    {"instruction": "Hello there, answer with a friendly greeting to the user.", "input": "", "output": "Hi!"},
]


@pytest.fixture
def stub():
    s = GenStub(scripted)
    yield s
    s.close()


@pytest.fixture
def seeded(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "seeds.jsonl", SEEDS), name="seeds", source="human")
    return ws


def records_of(ws, dataset):
    f = load_records(ws, dataset)
    f["generation"] = [loads(m)["generation"] for m in f["meta"]]
    return f


def test_registry_matches_the_light_names():
    assert tuple(METHODS) == GENERATORS
    for m in METHODS.values():
        assert m.description and m.reference and m.version and m.__class__.__module__.startswith("curation.generate.")
    with pytest.raises(CurationError, match="unknown generation method 'nope': choose one of self-instruct, alpaca"):
        get_method("nope")


def test_self_instruct_prompts_filters_stages_and_provenance(stub, seeded):
    out = generate(seeded, "self-instruct", n=5, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    assert out["accepted"] == 5 and out["added"] == 5 and out["stopped"] == "done"
    for reason in ("length", "keyword", "program", "punctuation", "non_ascii", "novelty"):
        assert out["rejected"][reason] >= 1, reason  # the scripted model writes one of each in every list
    gen = [p for p in stub.prompts() if p.startswith("Come up with a series of tasks")]
    first = gen[0].splitlines()
    assert first[0] == "Come up with a series of tasks:" and first[-1] == "9." and len(first) == 10  # 8 shown, then "9."
    seed_texts = {s["instruction"] for s in SEEDS}
    assert all(line.split(". ", 1)[1] in seed_texts for line in first[1:9])  # first round: all human (no machine yet)
    f = records_of(seeded, out["dataset"])
    assert set(f["source"]) == {"synthetic"} and len(f) == 5
    g = f["generation"].iat[0]
    assert g["method"] == "self-instruct" and g["model"] == "stub-model" and g["endpoint"].startswith("127.0.0.1:")
    assert g["template_version"] == "self-instruct/1" and len(g["seed_ids"]) == 8
    assert set(g["seed_ids"]) <= set(load_records(seeded, "seeds")["record_id"])
    assert g["filters_passed"][:6] == ["length", "keyword", "program", "punctuation", "non_ascii", "novelty"]
    assert g["sampling"]["sampling"]["temperature"] == 0.7 and g["sampling"]["sampling"]["top_p"] == 0.5
    assert "key" not in json.dumps(g).lower().replace("keyword", "")
    # classification tasks are generated output-first, the others input-first
    orders = dict(zip(f["instruction"], f["generation"].map(lambda x: x["order"])))
    for text, order in orders.items():
        assert order == ("output-first" if text.startswith("Classify") else "input-first")
    clf = f[f["instruction"].str.startswith("Classify")]
    if len(clf):
        assert clf["output"].iat[0] == "Positive" and clf["input"].iat[0] == "I loved every minute of it."
    rejects = rejected_rows(seeded, out["run"])
    assert len(rejects) == out["rejected_total"] and {r["reason"] for r in rejects} >= {"keyword", "novelty"}
    assert any(r["reason"] == "novelty" and "ROUGE-L" in r["detail"] for r in rejects)


def test_later_prompts_show_two_machine_instructions(stub, seeded):
    generate(seeded, "self-instruct", n=30, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    gen = [p for p in stub.prompts() if p.startswith("Come up with a series of tasks")]
    generated = set(load_records(seeded, "self-instruct-seeds")["instruction"])
    late = gen[-1].splitlines()[1:9]
    shown = [line.split(". ", 1)[1] for line in late]
    assert sum(s in generated for s in shown) == 2 and sum(s in {x["instruction"] for x in SEEDS} for s in shown) == 6


def test_a_rerun_pays_nothing_and_the_same_seed_builds_the_same_prompts(stub, seeded):
    first = generate(seeded, "self-instruct", n=4, seeds_dataset="seeds", endpoint=stub.url, seed=7, **FAST)
    prompts = stub.prompts()
    again = generate(seeded, "self-instruct", n=4, seeds_dataset="seeds", endpoint=stub.url, seed=7, **FAST)
    assert again["spend"]["sent"] == 0 and again["spend"]["cached"] == first["spend"]["sent"]
    assert again["added"] == 0 and again["already_there"] == 4  # the same record ids: nothing stored twice
    assert stub.prompts() == prompts
    other = generate(seeded, "self-instruct", n=4, seeds_dataset="seeds", endpoint=stub.url, seed=8, dataset="other", **FAST)
    assert other["spend"]["sent"] > 0 and stub.prompts()[len(prompts)] != prompts[0]


def test_a_killed_run_resumes_without_paying_twice(stub, seeded):
    calls = []

    def stop_after_first_round(done, total, what):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed between two rounds
    with pytest.raises(KeyboardInterrupt):
        generate(seeded, "alpaca", n=6, seeds_dataset="seeds", endpoint=stub.url, progress=stop_after_first_round, **FAST)
    paid = len(stub.requests)
    kept = len(load_records(seeded, "alpaca-seeds"))
    assert paid > 0 and kept > 0  # what was accepted before the kill is stored
    out = generate(seeded, "alpaca", n=6, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    assert out["spend"]["cached"] == paid and out["spend"]["sent"] == len(stub.requests) - paid
    assert out["added"] == 6 - kept and len(load_records(seeded, "alpaca-seeds")) == 6


def test_the_budget_stops_the_run_and_keeps_what_was_accepted(stub, seeded):
    out = generate(seeded, "evol-instruct", n=50, seeds_dataset="seeds", endpoint=stub.url, budget_tokens=6000, **FAST)
    assert out["stopped"] == "budget" and 0 < out["accepted"] < 50
    assert out["spend"]["tokens"] <= 6000 and out["spend"]["skipped"] >= 1
    assert len(load_records(seeded, out["dataset"])) == out["accepted"]


def test_estimate_before_anything_is_sent(stub, seeded):
    out = generate(seeded, "self-instruct", n=40, seeds_dataset="seeds", endpoint=stub.url, price_per_1k=0.5,
                   dry_run=True, **FAST)
    est = out["estimate"]
    assert est["requests"] == 10 + 40 + 40 and est["input_tokens"] > 0 and est["output_tokens"] == 10 * 1024 + 40 * 3 + 40 * 350
    assert est["cost"] == round((est["input_tokens"] + est["output_tokens"]) / 1000 * 0.5, 4)
    assert stub.requests == [] and "seeds" not in [] and "accepted" not in out


def test_alpaca_one_call_gives_a_batch_of_complete_tasks(stub, seeded):
    out = generate(seeded, "alpaca", n=4, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    prompt = stub.prompts()[0]
    assert prompt.startswith("You are asked to come up with a set of 20 diverse task instructions")
    assert prompt.count("###\n") == 4 and prompt.endswith("###\n4. Instruction:")  # 3 seed examples, then the 4th open
    assert "<noinput>" in prompt
    assert out["rejected"]["keyword"] >= 1 and out["rejected"]["parse"] >= 1  # "Draw a map…"; the broken last item
    f = records_of(seeded, out["dataset"])
    assert len(f) == 4 and (f["output"] != "").all() and len(f["generation"].iat[0]["seed_ids"]) == 3
    assert set(f["input"]) >= {""}  # <noinput> becomes an empty input


def test_evol_instruct_mutations_and_elimination_rules(stub, seeded):
    out = generate(seeded, "evol-instruct", n=12, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    prompts = stub.prompts()
    assert any(p.startswith("I want you act as a Prompt Rewriter") for p in prompts)
    assert any(p.startswith("I want you act as a Prompt Creator") for p in prompts)
    assert any(p.startswith("Here are two Instructions") for p in prompts)
    assert out["rejected"].get("copied_prompt", 0) >= 1  # the scripted rewrite of the "Hello" seed copies "given prompt"
    assert out["rejected"].get("no_gain", 0) >= 1  # judged "Equal" (the scripted judge says so for Summarize…)
    f = records_of(seeded, out["dataset"])
    muts = {g["mutation"] for g in f["generation"]}
    assert muts <= {"constraints", "deepening", "concretizing", "reasoning", "breadth"} and len(muts) >= 2
    assert all(g["parent"] in g["seed_ids"] for g in f["generation"])
    assert f["instruction"].str.contains("three numbered steps").all()


def test_evol_refusals_and_empty_answers_are_eliminated(seeded):
    def model(body, n):
        text = body["messages"][-1]["content"]
        if text.startswith("I want you act as a Prompt"):
            given = text.split("Prompt#:\n", 1)[1].rsplit("\n#", 1)[0]
            refuse = any(w in given for w in ("sky", "tips", "countries", "limerick"))
            return given + (" Refuse politely." if refuse else " Then say nothing." if "e" in given[:12] else " Add detail.")
        if text.startswith("Here are two"):
            return "Not Equal"
        if "Refuse" in text:
            return "Sorry, I can't do that."
        if "say nothing" in text:
            return "the of and , ."
        return "A real answer with content."
    s = GenStub(model)
    try:
        out = generate(seeded, "evol-instruct", n=15, seeds_dataset="seeds", endpoint=s.url, **FAST)
        assert out["rejected"].get("refusal", 0) >= 1 and out["rejected"].get("empty_response", 0) >= 1
    finally:
        s.close()


def test_magpie_sends_the_pre_query_prefix_to_raw_completions(stub, seeded):
    out = generate(seeded, "magpie", n=3, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    raw = [r for r in stub.requests if r["_path"].endswith("/v1/completions")]
    assert raw and all(r["prompt"] == "<|im_start|>user\n" and r["stop"] == ["<|im_end|>", "<|im_start|>"] for r in raw)
    assert len({r["seed"] for r in raw}) == len(raw)  # each its own seed: the queries differ
    f = records_of(seeded, out["dataset"])
    assert len(f) == 3 and (f["output"] != "").all() and f["generation"].iat[0]["pre_query"] == "chatml"


def test_magpie_says_clearly_when_the_endpoint_has_no_completions_api(seeded):
    s = GenStub(scripted, completions=False)
    try:
        with pytest.raises(CurationError, match="has no raw completions API"):
            generate(seeded, "magpie", n=3, seeds_dataset="seeds", endpoint=s.url, **FAST)
        assert all(r["_path"].endswith("/v1/completions") for r in s.requests)  # nothing else was asked
        assert "magpie-seeds" not in seeded.datasets()
    finally:
        s.close()


def test_the_default_seed_pool_is_ingested_once(stub, ws, shared_data):
    out = generate(ws, "self-instruct", n=2, endpoint=stub.url, **FAST)
    seeds = load_records(ws, "seed_tasks")
    assert len(seeds) == 175 and set(seeds["source"]) == {"human"} and out["dataset"] == "self-instruct-seed_tasks"
    assert out["seeds"].startswith("dataset seed_tasks (175 records)")
    generate(ws, "self-instruct", n=2, endpoint=stub.url, **FAST)
    assert len(load_records(ws, "seed_tasks")) == 175


def test_rejected_seeds_are_not_used(stub, seeded):
    from curation.decisions import decide

    ids = load_records(seeded, "seeds")["record_id"].tolist()
    decide(seeded, ids[:7] + ids[8:], "reject", "manual")
    with pytest.raises(CurationError, match=r"shows 8 instructions a prompt: dataset seeds \(1 records\) has only 1 distinct"):
        generate(seeded, "self-instruct", n=2, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    out = generate(seeded, "evol-instruct", n=1, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    assert records_of(seeded, out["dataset"])["generation"].iat[0]["parent"] == ids[7]


def test_unknown_options_and_sizes_are_refused(stub, seeded):
    with pytest.raises(CurationError, match="self-instruct has no option colour"):
        generate(seeded, "self-instruct", n=2, seeds_dataset="seeds", endpoint=stub.url, options={"colour": 1}, **FAST)
    with pytest.raises(CurationError, match="-n must be at least 1"):
        generate(seeded, "alpaca", n=0, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    with pytest.raises(CurationError, match="no dataset 'missing'"):
        generate(seeded, "alpaca", n=1, seeds_dataset="missing", endpoint=stub.url, **FAST)


def test_max_tokens_caps_every_request(stub, seeded):
    generate(seeded, "self-instruct", n=2, seeds_dataset="seeds", endpoint=stub.url, max_tokens=64, **FAST)
    assert all(r["max_tokens"] <= 64 for r in stub.requests)
    assert any(r["max_tokens"] == 3 for r in stub.requests)  # smaller ones stay as they are


def test_generated_records_flow_into_curation(stub, seeded):
    from curation.annotated import annotate

    out = generate(seeded, "alpaca", n=3, seeds_dataset="seeds", endpoint=stub.url, **FAST)
    f = annotate(seeded, stages=("decisions",))
    mine = f[f["dataset"] == out["dataset"]]
    assert len(mine) == 3 and set(mine["decision"]) == {"undecided"} and re.fullmatch(r"[0-9a-f]{16}", mine["record_id"].iat[0])


def test_seeds_can_be_any_chosen_records(stub, seeded):
    ids = load_records(seeded, "seeds")["record_id"].tolist()
    out = generate(seeded, "evol-instruct", n=3, seed_ids=ids[5:8], endpoint=stub.url, **FAST)
    assert out["dataset"] == "evol-instruct-chosen" and out["seeds"] == "chosen records (3 records)"
    assert {g["parent"] for g in records_of(seeded, out["dataset"])["generation"]} <= set(ids[5:8])
    with pytest.raises(CurationError, match="1 of the 2 chosen records are not in the workspace"):
        generate(seeded, "evol-instruct", n=1, seed_ids=[ids[0], "nope"], endpoint=stub.url, **FAST)
