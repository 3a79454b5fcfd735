"""Issue 17's papercuts of the command line: human text without --json, and no progress-bar noise with --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from curation.cli import main
from tests.conftest import ROOT, write_jsonl


@pytest.fixture
def loaded(tmp_path, capsys):
    path = write_jsonl(tmp_path / "data.jsonl", [
        {"instruction": "Say hi", "output": "Hi there", "source": "human"},
        {"instruction": "Write a poem\nabout the sea", "output": "Waves", "source": "synthetic"},
        {"instruction": "Say <b>bye</b>", "output": "Bye"},
    ])
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(path), "--workspace", ws, "--json"]) == 0
    capsys.readouterr()
    return ws


def text_of(capsys, *args) -> str:
    assert main(list(args)) == 0
    out, err = capsys.readouterr()
    return out


def not_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_stats_prints_a_summary_without_json_and_json_with_it(capsys, loaded):
    out = text_of(capsys, "stats", "--workspace", loaded)
    not_json(out)
    assert "3 records" in out and "data" in out
    assert "undecided 3" in out.replace(":", "") or "3 undecided" in out
    assert "human" in out and "synthetic" in out and "{" not in out
    assert main(["decide", "--reject", "--reason", "off_topic", "--ids", *_ids(capsys, loaded)[:1], "--workspace", loaded]) == 0
    capsys.readouterr()
    out = text_of(capsys, "stats", "--workspace", loaded)
    assert "off_topic" in out and "1 rejected" in out
    data = json.loads(text_of(capsys, "stats", "--workspace", loaded, "--json"))
    assert data["records"] == 3 and data["by_reason"] == {"off_topic": 1}


def _ids(capsys, ws) -> list[str]:
    return [r["record_id"] for r in json.loads(text_of(capsys, "records", "--workspace", ws, "--json"))["records"]]


def test_records_prints_a_table_without_json_and_json_with_it(capsys, loaded):
    out = text_of(capsys, "records", "--workspace", loaded)
    not_json(out)
    lines = out.splitlines()
    assert lines[0].startswith("3 records")
    ids = _ids(capsys, loaded)
    assert all(any(i in line for line in lines) for i in ids)  # one row per record, with its id
    assert any("Write a poem about the sea" in line for line in lines)  # one line per record: line breaks flattened
    assert "undecided" in out and "Say <b>bye</b>" in out
    out = text_of(capsys, "records", "--workspace", loaded, "--limit", "1", "--offset", "1")
    assert out.splitlines()[0].startswith("3 records") and "showing 1" in out.splitlines()[0]
    assert sum(1 for i in ids if i in out) == 1
    data = json.loads(text_of(capsys, "records", "--workspace", loaded, "--json"))
    assert data["total"] == 3 and len(data["records"]) == 3


def test_records_without_a_match_says_so(capsys, loaded):
    out = text_of(capsys, "records", "--workspace", loaded, "--search", "nothing like this")
    assert out.startswith("0 records")


def cli(*args, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    for name in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        env.pop(name, None)  # as a user's shell has them: unset
    return subprocess.run([sys.executable, "-m", "curation", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_json_runs_print_no_progress_bars_or_library_noise_on_stderr(tmp_path):
    """--json: one JSON object on stdout and nothing on stderr — no tqdm bars from transformers (loading weights),
    datasets (saving an HF export) or sentence-transformers, no load reports."""
    import pandas as pd

    pd.DataFrame({"instruction": [f"Question {i} about the sea and ships" for i in range(40)],
                  "output": [f"Answer {i}" for i in range(40)]}).to_parquet(tmp_path / "data.parquet")
    ws = tmp_path / "ws"
    for args in (("ingest", tmp_path / "data.parquet"), ("embed",),
                 ("export", "--template", "alpaca", "--format", "hf", "--out", tmp_path / "out", "--no-similarity")):
        done = cli(*args, "--workspace", ws, "--json")
        assert done.returncode == 0, done.stderr
        json.loads(done.stdout)
        assert done.stderr == "", f"{args[0]}: {done.stderr[:500]!r}"


def test_embed_map_and_decide_print_text_without_json_and_json_with_it(capsys, loaded):
    """Every command prints human text without --json (issue 18's note: embed, map and decide printed JSON)."""
    from curation import cli

    assert set(cli.COMMANDS) <= set(cli.TEXT)  # a new command without a text form fails here
    out = text_of(capsys, "embed", "--fast", "--workspace", loaded)
    not_json(out)
    assert "3 texts embedded with static" in out and "0 already in the cache" in out
    assert "3 already in the cache" in text_of(capsys, "embed", "--fast", "--workspace", loaded)
    assert json.loads(text_of(capsys, "embed", "--fast", "--workspace", loaded, "--json"))["reused"] == 3
    out = text_of(capsys, "map", "--workspace", loaded)
    not_json(out)
    assert "clusters" in out and "low confidence" in out
    assert "clusters" in json.loads(text_of(capsys, "map", "--workspace", loaded, "--json"))
    rid = _ids(capsys, loaded)[0]
    out = text_of(capsys, "decide", "--ids", rid, "--reject", "--reason", "manual", "--workspace", loaded)
    not_json(out)
    assert out.splitlines() == ["1 decision changed", "now: 0 kept · 1 rejected · 2 undecided"]
    assert json.loads(text_of(capsys, "decide", "--ids", rid, "--undo", "--workspace", loaded, "--json"))["changed"] == 1


def test_the_map_does_not_print_umaps_warning_about_its_seed():
    """UMAP warns that a seed overrides n_jobs whenever a map is seeded (every map up to 10k records): the CLI printed
    it between its progress lines (new-user pass, issue 18)."""
    import warnings

    import numpy as np

    from curation.atlas import project

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xy = project(np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32), 0)
    assert xy.shape == (60, 2)
    assert not [w for w in caught if "n_jobs" in str(w.message)]


def test_ingesting_several_files_names_each_dataset_apart(capsys, tmp_path):
    """New-user pass: two files printed "a,b: 2 added"; the names are listed with spaces (the JSON keeps its field)."""
    a = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Say hi", "output": "Hi"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"instruction": "Say bye", "output": "Bye"}])
    out = text_of(capsys, "ingest", str(a), str(b), "--workspace", str(tmp_path / "ws"))
    assert out.startswith("a, b: 2 added, 0 already present (format alpaca)")
