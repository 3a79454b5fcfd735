"""`python -m curation generate` against the scripted stub: JSON and text output, --dry-run, errors on one line."""

from __future__ import annotations

import json

import pytest

from curation.cli import main
from curation.ingest import ingest
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.generate.stub import GenStub, scripted
from tests.curation.generate.test_methods import SEEDS


@pytest.fixture
def stub():
    s = GenStub(scripted)
    yield s
    s.close()


@pytest.fixture
def seeded(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "seeds.jsonl", SEEDS), name="seeds", source="human")
    return ws


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate_json(stub, seeded, capsys):
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--json", "--method", "alpaca", "-n", "3",
                         "--seeds", "seeds", "--endpoint", stub.url, "--model", "stub-model", "--seed", "3",
                         "--option", "prompts_per_round=1", "--price-per-1k", "0.25")
    assert code == 0, err
    report = json.loads(out)
    assert report["accepted"] == 3 and report["added"] == 3 and report["dataset"] == "alpaca-seeds"
    assert report["rejected_total"] == sum(report["rejected"].values()) > 0
    assert report["estimate"]["price_per_1k"] == 0.25 and report["spend"]["sent"] >= 1
    assert report["folder"].startswith("generate/alpaca-seeds-")
    assert (seeded.root / report["folder"] / "rejected.jsonl").exists()
    assert len(load_records(seeded, "alpaca-seeds")) == 3


def test_generate_text_and_dry_run(stub, seeded, capsys):
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--method", "self-instruct", "-n", "8",
                         "--seeds", "seeds", "--endpoint", stub.url, "--model", "stub-model", "--dry-run")
    assert code == 0 and "estimate for 8 records about 18 requests" in out and stub.requests == []
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "-n", "2", "--seeds", "seeds",
                         "--endpoint", stub.url, "--model", "stub-model", "--name", "mine")
    assert code == 0, err
    assert "2 accepted (2 new records)" in out and "stopped: done" in out
    assert "python -m curation records --dataset mine" in out


def test_generate_errors_are_one_line(stub, seeded, capsys):
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "nope", "--endpoint", stub.url)
    assert code == 1 and err.startswith("error: no dataset 'nope'") and err.count("\n") == 1
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "seeds", "--option", "oops")
    assert code == 1 and "bad --option 'oops'" in err
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "seeds", "--endpoint", stub.url,
                         "--budget-cost", "1")
    assert code == 1 and "--budget-cost needs --price-per-1k" in err


def test_generate_from_chosen_ids(stub, seeded, capsys):
    ids = load_records(seeded, "seeds")["record_id"].tolist()[:4]
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--json", "--method", "evol-instruct", "-n", "2",
                         "--seed-ids", *ids, "--endpoint", stub.url, "--model", "stub-model")
    assert code == 0, err
    assert json.loads(out)["seeds"] == "chosen records (4 records)"


def test_generate_aimed_at_a_topic(stub, ws, tmp_path, capsys, monkeypatch):
    from curation import embed
    from tests.curation.generate.test_aimed import angle_embedder
    from tests.curation.test_map_place import rows

    monkeypatch.setattr(embed, "get_embedder", angle_embedder)
    ingest(ws, write_jsonl(tmp_path / "topics.jsonl", rows(0, 40)), name="topics")
    code, out, err = run(capsys, "generate", "--workspace", str(ws.root), "--method", "evol-instruct", "-n", "2",
                         "--topic", "topic 1", "--topic-size", "5", "--endpoint", stub.url, "--model", "stub-model")
    assert code == 0, err
    assert "evol-instruct from the 5 records nearest “topic 1” into evol-instruct-topic-topic-1" in out
    assert "topic “topic 1”: 5 of 40 records (12.5%) within similarity" in out
    assert "7 of 42 (16.7%) after: 2 of the 2 new records are within it" in out
    code, out, err = run(capsys, "generate", "--workspace", str(ws.root), "--json", "--method", "evol-instruct", "-n", "1",
                         "--topic", "topic 1", "--cluster", "0", "--endpoint", stub.url)
    assert code == 1 and "choose the seeds one way: --cluster and --topic" in err


def test_generate_magpie_tokenizer(stub, seeded, tmp_path, capsys):
    from tests.curation.generate.test_magpie_template import CHATML_SYSTEM, old_style

    folder = old_style(tmp_path / "tok", CHATML_SYSTEM, ["<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>")
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "seeds", "--tokenizer", str(folder),
                         "--endpoint", stub.url)
    assert code == 1 and "--tokenizer is for --method magpie" in err
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "seeds", "--method", "magpie",
                         "--tokenizer", str(folder), "--endpoint", stub.url, "--model", "stub-model", "--dry-run")
    assert code == 0, err
    assert (f'magpie pre-query prefix from chat template of {folder}: "<|im_start|>system\\nYou are a careful assistant.'
            '<|im_end|>\\n<|im_start|>user\\n"') in out
    code, out, err = run(capsys, "generate", "--workspace", str(seeded.root), "--seeds", "seeds", "--method", "magpie",
                         "--tokenizer", str(tmp_path / "nowhere"), "--endpoint", stub.url, "--dry-run")
    assert code == 1 and err.startswith("error: no tokenizer at") and err.count("\n") == 1
