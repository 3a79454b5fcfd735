"""Every file in ../shared/data ingests with the record counts its README gives."""

from __future__ import annotations

import pytest

from curation.ingest import ingest
from curation.store import load_records

EXPECTED = {
    "alpaca/alpaca_data_cleaned_1000.json": ("alpaca", 1000),
    "alpaca/alpaca_en_demo.json": ("alpaca", 999),
    "alpaca/seed_tasks.jsonl": ("self-instruct", 175),
    "chat/dummy_conversation.json": ("sharegpt", 500),
    "chat/glaive_toolcall_en_demo.json": ("sharegpt", 300),
    "chat/identity.json": ("alpaca", 91),
    "chat/v1_sft_demo.jsonl": ("messages", 500),
    "gpteacher/toolformer-dedupe-only-dataset.json": ("alpaca", 7673),
    "gpteacher/toolformer-similarity-0.9-dataset.json": ("alpaca", 5959),
    "gpteacher/toolformer-similarity-0.8-dataset.json": ("alpaca", 4709),
    "gpteacher/toolformer-similarity-0.7-dataset.json": ("alpaca", 3487),
    "gpteacher/toolformer-similarity-0.6-dataset.json": ("alpaca", 2396),
    "gpteacher/roleplay-simple-deduped-roleplay-dataset.json": ("alpaca", 3146),
    "gsm8k/gsm_8k_train.json": ("alpaca", 7473),
    "oasst/en_100_tree.jsonl": ("oasst", 626),
    "oasst/en_100_message.jsonl": ("oasst", 626),
    "t0/t0_train_55k.jsonl": ("prompt-completion", 55185),
}


@pytest.mark.integration
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_shared_file_ingests_completely(ws, shared_data, rel):
    fmt, count = EXPECTED[rel]
    result = ingest(ws, shared_data / rel)
    assert (result["format"], result["added"], result["errors"]) == (fmt, count, [])


@pytest.mark.integration
def test_paraphrase_tsv_loads_through_a_mapping(ws, shared_data):
    result = ingest(ws, shared_data / "paraphrase/msr_paraphrase_test.txt", mapping={"instruction": "#1 String", "output": "#2 String"})
    assert result["added"] == 1725 and not result["errors"]
    meta = load_records(ws)["meta"].iloc[0]
    assert '"Quality"' in meta  # the BOM did not leak into the first column name


@pytest.mark.integration
def test_unknown_sharegpt_roles_are_kept(ws, shared_data):
    ingest(ws, shared_data / "chat/glaive_toolcall_en_demo.json")
    messages = " ".join(load_records(ws)["messages"])
    assert '"role":"function_call"' in messages and '"role":"observation"' in messages


@pytest.mark.integration
def test_oasst_synthetic_flags_set_the_source(ws, shared_data):
    ingest(ws, shared_data / "oasst/en_100_tree.jsonl")
    assert {"human", "synthetic"} <= set(load_records(ws)["source"])
