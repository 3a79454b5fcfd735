"""The second stage: a cross-encoder fine-tuned from the bundled MiniLM on MRPC pairs, kept in the workspace, its scores
cached by content, and dedup's `rescore` option that uses it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import dedup
from curation.cli import main as cli
from curation.dedup import calibration, pairmodel
from curation.dedup.rescore import CROSS_SWEEP
from curation.errors import CurationError
from curation.ingest import ingest
from tests.conftest import write_jsonl
from tests.curation.test_dedup import words  # noqa: F401 - the fake embedder fixture

TINY = {**pairmodel.RECIPE, "limit": 32, "max_length": 64, "combine_limit": 48}  # two steps: the plumbing, not the quality
ROWS = [{"instruction": "Name the capital city of France.", "output": "Paris"},
        {"instruction": "What is the capital city of France?", "output": "Paris."},
        {"instruction": "Name the capital city of France, please.", "output": "Paris"},
        {"instruction": "Write a haiku about the sea in winter.", "output": "Grey waves..."}]


@pytest.fixture
def tiny(monkeypatch, shared_data):
    monkeypatch.setenv(pairmodel.MRPC_ENV, str(shared_data / "paraphrase" / "msr_paraphrase_train.txt"))
    monkeypatch.setattr(pairmodel, "RECIPE", TINY)  # the workspace's default model is this tiny one
    return TINY


def test_the_model_is_trained_once_kept_in_the_workspace_and_its_scores_cached(ws, tiny, monkeypatch):
    folder = pairmodel.ensure_model(ws)
    assert folder == ws.root / "models" / f"cross-minilm-mrpc-v{pairmodel.VERSION}"
    trained = json.loads((folder / "training.json").read_text())
    assert trained["pairs"] == 32 and trained["steps"] == 2 and trained["recipe"] == tiny
    combiner = json.loads((folder / "combiner.json").read_text())
    assert combiner["fitted_on"] == 48 and len(combiner["weights"]) == len(combiner["features"]) == 7
    assert not list(folder.parent.glob(".*.tmp"))  # trained in a temporary folder, renamed into place

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(pairmodel, "train", no_training)
    assert pairmodel.ensure_model(ws) == folder  # reused from the workspace
    a = ["The cat sat on the mat.", "Stocks fell sharply on Monday."]
    b = ["A cat was sitting on the mat.", "The recipe needs two eggs."]
    scores, info = pairmodel.pair_scores(ws, a, b)
    assert info["scored"] == 2 and info["reused"] == 0 and ((scores > 0) & (scores < 1)).all()
    model = pairmodel.PairModel(folder)
    assert np.allclose(model.score(a, b), scores, atol=1e-5) and np.allclose(model.score(b, a), scores, atol=1e-5)  # no order

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored again")

    monkeypatch.setattr(pairmodel.PairModel, "score", no_scoring)
    again, info = pairmodel.pair_scores(ws, b, a)  # the same pairs, either order: from the cache
    assert info["scored"] == 0 and info["reused"] == 2 and np.allclose(again, scores)


def test_dedup_rescores_candidate_pairs_with_the_pair_model(ws, tiny, words):  # noqa: F811
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    dedup.save_settings(ws, rule="first_seen")
    plain = dedup.find(ws, threshold=0.6)  # its cosine pairs reach below the candidate floor
    assert plain.summary()["rescore"] == "none" and plain.summary()["pair_model"] is None
    assert dedup.find(ws, compute=False, rescore="cross") is None  # nothing scored yet: not answered from the cache
    found = dedup.find(ws, rescore="cross")
    s = found.summary()
    assert s["rescore"] == "cross" and s["threshold"] == calibration.CROSS_THRESHOLD and s["pair_model"].startswith("cross-minilm")
    assert "cross-encoder" in s["in_force"]
    floor = calibration.candidate_floor("minilm")
    cosine = {(int(i), int(j)): float(v) for i, j, v in zip(plain.pairs.i, plain.pairs.j, plain.pairs.sim)}
    candidates = {pair for pair, v in cosine.items() if v >= floor - 1e-6}
    assert candidates and set(zip(found.pairs.i.tolist(), found.pairs.j.tolist())) == candidates
    texts = found.texts
    expected, _ = pairmodel.pair_scores(ws, [texts[i] for i in found.pairs.i], [texts[j] for j in found.pairs.j])
    assert np.allclose(found.pairs.sim, expected)  # the pair model's scores, not the cosines
    assert not np.allclose(found.pairs.sim, [cosine[p] for p in zip(found.pairs.i.tolist(), found.pairs.j.tolist())])
    cached = dedup.find(ws, compute=False, rescore="cross")  # now answered from the caches
    assert cached is not None and np.allclose(cached.pairs.sim, found.pairs.sim)
    assert list(found.sweep()["threshold"]) == list(CROSS_SWEEP)


def test_without_the_mrpc_pairs_the_second_stage_is_a_clear_error(ws, words, monkeypatch, capsys, tmp_path):  # noqa: F811
    monkeypatch.setenv(pairmodel.MRPC_ENV, str(tmp_path / "absent" / "msr_paraphrase_train.txt"))
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    with pytest.raises(CurationError, match="MRPC paraphrase pairs"):
        dedup.find(ws, rescore="cross")
    capsys.readouterr()
    assert cli(["dedup", "--workspace", str(ws.root), "--rescore", "cross"]) == 1
    err = capsys.readouterr().err
    assert "MRPC paraphrase pairs" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_surface_stage_rescores_candidates_by_their_words_without_a_model(ws, words):  # noqa: F811
    from curation.dedup.pairfeatures import NAMES, features

    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    dedup.save_settings(ws, rule="first_seen", rescore="surface")
    found = dedup.find(ws)
    s = found.summary()
    assert s["rescore"] == "surface" and s["threshold"] == calibration.SURFACE_THRESHOLD and "surface" in s["in_force"]
    texts = found.texts
    x = features([texts[i] for i in found.pairs.i], [texts[j] for j in found.pairs.j])
    z = x @ np.array([calibration.SURFACE_WEIGHTS[n] for n in NAMES]) + calibration.SURFACE_BIAS
    assert len(found.pairs) and np.allclose(found.pairs.sim, 1 / (1 + np.exp(-z)), atol=1e-6)
    sim = {(int(i), int(j)): float(v) for i, j, v in zip(found.pairs.i, found.pairs.j, found.pairs.sim)}
    assert sim[(0, 2)] > calibration.SURFACE_THRESHOLD  # "…, please." is a copy
    from curation.dedup.neighbours import Pairs
    from curation.dedup.rescore import surface_rescore

    problems = ["Tom has 3 apples and buys 5 more. How many apples does Tom have now?",
                "A train travels 70 km in 2 hours. How many km does the train travel in an hour?"]
    two = surface_rescore(ws, problems, Pairs(np.array([0]), np.array([1]), np.array([0.9], np.float32)), floor=0.8)
    assert two.sim[0] < 0.2  # two different word problems that an embedding can put at 0.9
    assert not (ws.root / "models").exists()  # no model trained
