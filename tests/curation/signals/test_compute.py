"""Signals on real data and real components: the demo's planted problems, shared
datasets, the incremental cache, the tokenizer."""

from __future__ import annotations

import json

import pytest

from curation import settings
from curation.demo import load_demo, planted
from curation.ingest import ingest
from curation.signals import SIGNALS, evidence
from curation.signals.compute import set_thresholds, signal_table, summary, with_signals
from curation.store import load_records
from curation.tokenize import get_counter, llama3_files
from tests.conftest import write_jsonl

# Which signal is meant to find each planted problem of the demo dataset.
PLANTED_SIGNAL = {
    "empty_output": "empty_output", "one_word_output": "short_output", "refusal": "refusal",
    "placeholder_input": "placeholder_input", "truncated_output": "truncated", "exact_duplicate": "exact_duplicate",
}


@pytest.fixture
def demo(ws):
    load_demo(ws)
    frame = with_signals(ws, load_records(ws))
    frame["demo_id"] = [json.loads(m)["demo_id"] for m in frame["meta"]]
    return frame


def test_demo_planted_problems_are_found_and_clean_records_mostly_are_not(demo, capsys):
    p = planted()
    clean = set(p["clean"])
    report = []
    for kind, name in PLANTED_SIGNAL.items():
        wanted = {b for _, b in p[kind]} if kind == "exact_duplicate" else set(p[kind])
        hits = set(demo.loc[demo[f"flag__{name}"], "demo_id"])
        recall = len(hits & wanted) / len(wanted)
        precision = len(hits & wanted) / max(len(hits), 1)
        clean_rate = len(hits & clean) / len(clean)
        report.append(f"{name:18s} precision {precision:.2f} recall {recall:.2f} clean flagged {clean_rate:.1%}")
        assert recall == 1.0, name
        assert clean_rate <= 0.02, name
    with capsys.disabled():
        print("\n" + "\n".join(report))
    # Issue 12 names two kinds of the demo's planted problems as false alarms: its contact data are placeholders
    # (example.com, example.org… addresses, 555-01xx numbers), and two of its "boilerplate" answers only open with a
    # harmless "Certainly! Here is". Its "As an AI language model" answers are still flagged.
    assert not set(demo.loc[demo["flag__pii"], "demo_id"]) & set(p["pii"])
    boilerplate = demo[demo["demo_id"].isin(p["llm_boilerplate"])]
    as_an_ai = boilerplate["output"].str.startswith("As an AI")
    assert as_an_ai.sum() == 2 and (boilerplate["flag__llm_boilerplate"] == as_an_ai).all()
    flagged_clean = demo[demo["demo_id"].isin(clean) & (demo["flags"].str.len() > 0)]
    assert len(flagged_clean) / len(clean) <= 0.05
    assert demo.loc[demo["demo_id"].isin(clean), "quality"].mean() > 0.95


def test_cached_evidence_is_structured_and_points_into_the_records(demo):
    located = 0
    for name, s in SIGNALS.items():
        if s.direction == "flag":
            assert demo.loc[demo[f"flag__{name}"], f"found__{name}"].notna().all(), name
        for _, row in demo[demo[f"found__{name}"].notna()].iterrows():
            pieces = evidence.loads(row[f"found__{name}"])
            assert pieces and evidence.describe(pieces) == row[f"evidence__{name}"], name
            for e in pieces:
                if e.field is not None:
                    assert (row[e.field] or "")[e.start : e.end] == e.value, (name, e)
                    located += 1
    assert located > 10  # fewer than before issue 12: the demo's placeholder contacts and openers are no longer flagged


def test_alpaca_en_demo_placeholders_urls_and_duplicates(ws, shared_data):
    ingest(ws, shared_data / "alpaca/alpaca_data_cleaned_1000.json")
    ingest(ws, shared_data / "alpaca/alpaca_en_demo.json")
    frame = with_signals(ws, load_records(ws))
    demo = frame[frame["dataset"] == "alpaca_en_demo"]
    spelled = demo["input"].str.strip().str.lower().str.replace(r"[^a-z]", "", regex=True) == "noinput"
    assert spelled.sum() >= 6 and demo.loc[spelled, "flag__placeholder_input"].all()
    urls = demo["input"].str.contains(r"https?://|www\.", regex=True)
    # A page the task works on (summarise it, describe it, what is on it) is missing; a URL that is itself the data is
    # not (issue 12: "Input a URL and output the domain of that URL", "the HTML code … a button that links to a page").
    as_data = demo["instruction"].str.contains("domain of that URL|HTML code", regex=True)
    assert urls.sum() >= 9 and demo.loc[urls & ~as_data, "flag__needs_context"].all()
    assert (urls & as_data).sum() == 2 and not demo.loc[urls & as_data, "flag__needs_context"].any()
    # 14 extra copies inside the file, and 21 records it shares with the cleaned set loaded before it.
    evidence = demo.loc[demo["flag__exact_duplicate"], "evidence__exact_duplicate"].str.removeprefix("same text as ")
    first_dataset = evidence.map(dict(zip(frame["record_id"], frame["dataset"])))
    assert (first_dataset == "alpaca_en_demo").sum() == 14
    assert (first_dataset == "alpaca_data_cleaned_1000").sum() == 21


def test_identity_placeholders_are_flagged(ws, shared_data):
    ingest(ws, shared_data / "chat/identity.json")
    frame = with_signals(ws, load_records(ws))
    has = frame["output"].str.contains("{{name}}", regex=False)
    assert has.sum() > 50 and frame.loc[has, "flag__template_leftovers"].all()
    assert frame.loc[has, "evidence__template_leftovers"].str.contains("{{name}}", regex=False).all()


def test_adding_records_computes_only_the_new_ones(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Q{i}?", "output": f"Answer {i}."} for i in range(50)]))
    _, first = signal_table(ws)
    ingest(ws, write_jsonl(tmp_path / "b.jsonl", [{"instruction": f"New {i}?", "output": "Yes."} for i in range(7)]))
    _, second = signal_table(ws)
    _, third = signal_table(ws)
    assert (first["computed"], second["computed"], second["reused"], third["computed"]) == (50, 7, 50, 0)


def test_changing_the_tokenizer_never_reuses_stale_lengths(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Count me.", "output": "One two three four."}]))
    llama, _ = signal_table(ws)
    settings.put(ws, "tokenizer", str(llama3_files()))  # the same vocabulary through Hugging Face tokenizers
    hf, info = signal_table(ws)
    assert info["computed"] == 1 and info["tokenizer"] == str(llama3_files())
    assert list(hf["output_tokens"]) == list(llama["output_tokens"]) == [5]  # One, two, three, four, "."


def test_tiktoken_llama3_counts_match_hugging_face_tokenizers(shared_data):
    rows = json.loads((shared_data / "alpaca/alpaca_data_cleaned_1000.json").read_text())
    texts = [r["output"] for r in rows[:300]] + ["", "émoji 🎉 and ünïcödé", "   spaces\n\n\ttabs"]
    fast = get_counter().count(texts)
    reference = get_counter(str(llama3_files())).count(texts)
    assert list(fast) == list(reference)


def test_thresholds_change_flags_without_recomputing(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Write an essay on rivers.", "output": "Rivers flow to seas."}]))
    assert summary(ws)["flags"]["short_output"] == 1
    set_thresholds(ws, {"short_output": 3})
    out = summary(ws)
    assert out["flags"]["short_output"] == 0 and out["computed"] == 0


def test_multi_turn_lengths_per_role(ws, shared_data):
    ingest(ws, shared_data / "chat/glaive_toolcall_en_demo.json")
    table, _ = signal_table(ws)
    assert (table["turns"] >= 2).all()
    assert (table["other_tokens"] > 0).any()  # function_call / observation turns
    assert (table["record_tokens"] == table[[f"{r}_tokens" for r in ("system", "user", "assistant", "other")]].sum(axis=1)).all()


