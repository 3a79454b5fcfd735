"""Near-duplicate thresholds calibrated per model: the F0.5 rule, the default in force per embedder and second stage,
and what the CLI says is in force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import dedup
from curation.cli import main as cli
from curation.dedup import calibration
from curation.dedup.detect import default_threshold, in_force
from curation.embed import EmbedSettings
from tests.conftest import write_jsonl
from tests.curation.test_dedup import words  # noqa: F401 - the fake embedder fixture


def test_calibrate_takes_the_f05_best_threshold():
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5])
    truth = np.array([True, True, True, False, True, False, False])
    # at 0.85: P 1, R 0.75 (F0.5 0.94); at 0.7: P 0.8, R 1 (F0.5 0.83); at 0.5: P 0.57, R 1
    assert calibration.calibrate(scores, truth, grid=(0.5, 0.7, 0.85, 0.9)) == 0.85
    assert calibration.calibrate(scores, truth, grid=(0.5, 0.7, 0.85, 0.9), beta=2.0) == 0.7  # recall-weighted: lower


def test_calibration_weighs_the_classes_equally_unless_told_not_to():
    scores = np.array([0.9] * 4 + [0.6] * 4 + [0.6])  # eight paraphrases, one close negative
    truth = np.array([True] * 8 + [False])
    # at MRPC-like prevalence, 0.6 looks precise (8 of 9); with the classes weighed equally, its precision is one half
    assert calibration.calibrate(scores, truth, grid=(0.6, 0.9), balanced=False) == 0.6
    assert calibration.calibrate(scores, truth, grid=(0.6, 0.9)) == 0.9
    assert calibration.precision_recall(scores, truth, 0.6, balanced=True) == (0.5, 1.0)


def test_precision_at_recall_is_the_best_precision_reaching_it():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    truth = np.array([True, False, True, True])
    assert calibration.precision_at_recall(scores, truth, 1 / 3) == 1.0
    assert calibration.precision_at_recall(scores, truth, 2 / 3) == 0.75  # the best cut reaching it, not the first
    assert calibration.precision_at_recall(scores, truth, 1.0) == 0.75


def test_each_embedder_and_the_second_stage_carry_their_own_default():
    assert default_threshold("embedding", "minilm")[0] == calibration.EMBEDDING_THRESHOLDS["minilm"]
    assert default_threshold("embedding", "static")[0] == calibration.EMBEDDING_THRESHOLDS["static"]
    assert default_threshold("embedding", "static", "cross")[0] == calibration.CROSS_THRESHOLD
    value, source = default_threshold("embedding", "/models/mine")
    assert value == calibration.UNCALIBRATED and "not calibrated" in source
    assert default_threshold("minhash", "static")[0] == 0.5


def test_the_threshold_in_force_follows_the_model_unless_chosen_for_it(ws):
    assert dedup.dedup_settings(ws)["threshold"] == calibration.EMBEDDING_THRESHOLDS["minilm"]
    EmbedSettings.save(ws, model="static")
    assert dedup.dedup_settings(ws)["threshold"] == calibration.EMBEDDING_THRESHOLDS["static"]
    dedup.save_settings(ws, threshold=0.97)  # chosen for static
    assert dedup.dedup_settings(ws)["threshold"] == 0.97
    EmbedSettings.save(ws, model="minilm")  # a threshold chosen for another model does not carry over
    assert dedup.dedup_settings(ws)["threshold"] == calibration.EMBEDDING_THRESHOLDS["minilm"]
    EmbedSettings.save(ws, model="static")
    assert dedup.dedup_settings(ws)["threshold"] == 0.97
    conf = dedup.save_settings(ws, rescore="cross")  # a new scale without a threshold: its default
    assert conf["threshold"] == calibration.CROSS_THRESHOLD
    assert "cross-encoder" in in_force(conf, "static") and "calibrated" in in_force(conf, "static")
    with pytest.raises(Exception, match="unknown rescore"):
        dedup.save_settings(ws, rescore="llm")


def test_a_threshold_kept_before_scales_applies_to_the_default_model_only(ws):
    from curation import settings

    settings.put(ws, "dedup", {"threshold": 0.9})  # an older workspace: no scale kept
    assert dedup.dedup_settings(ws)["threshold"] == 0.9
    EmbedSettings.save(ws, model="static")
    assert dedup.dedup_settings(ws)["threshold"] == calibration.EMBEDDING_THRESHOLDS["static"]


def test_cli_dedup_says_which_model_and_threshold_are_in_force(ws, words, capsys, tmp_path):  # noqa: F811
    rows = [{"instruction": f"Describe the history of city number {i} in detail", "output": "x"} for i in range(6)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    assert cli(["ingest", str(path), "--workspace", str(ws.root)]) == 0
    capsys.readouterr()
    assert cli(["dedup", "--workspace", str(ws.root), "--rule", "first_seen", "--json"]) == 0
    minilm = calibration.EMBEDDING_THRESHOLDS["minilm"]
    in_force = json.loads(capsys.readouterr().out)["in_force"]
    assert in_force == f"embedding with minilm at {minilm} (calibrated for minilm on MRPC train pairs (F0.5))"
    EmbedSettings.save(ws, model="static")
    assert cli(["dedup", "--workspace", str(ws.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    static = calibration.EMBEDDING_THRESHOLDS["static"]
    assert out["threshold"] == static and out["model"] == "static" and out["rescore"] == "none"
    assert out["in_force"] == f"embedding with static at {static} (calibrated for static on MRPC train pairs (F0.5))"
    assert cli(["dedup", "--workspace", str(ws.root)]) == 0
    assert f"compared: embedding with static at {static}" in capsys.readouterr().out
    assert cli(["dedup", "--workspace", str(ws.root), "--threshold", "0.95", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["in_force"] == "embedding with static at 0.95 (set by you)"
