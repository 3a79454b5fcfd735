"""The learned scorer: a classifier on embeddings trained on keep/reject decisions, its CV AUC and uncertain queue."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from curation import decisions, embed
from curation.embed import Embedder
from curation.errors import CurationError
from curation.ingest import ingest
from curation.scorers import Cancelled, get_scorer
from curation.scorers.learned import cross_validated
from curation.store import load_records
from tests.conftest import write_jsonl


def fake_embedder(ws, name="minilm") -> Embedder:
    """Deterministic vectors: a 'good' direction, a 'bad' direction and hash noise."""

    def encode(texts):
        rows = []
        for t in texts:
            noise = np.frombuffer(hashlib.sha256(t.encode()).digest()[:6], dtype=np.uint8) / 255.0
            rows.append([2.0 * ("good" in t), 2.0 * ("bad" in t), *noise])
        return np.array(rows, dtype=np.float32)

    return Embedder(name, encode, 8, batch_size=4)


@pytest.fixture
def decided(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", fake_embedder)
    rows = ([{"instruction": f"task {i}", "output": f"a good answer number {i}"} for i in range(10)]
            + [{"instruction": f"task {i}", "output": f"a bad answer number {i}"} for i in range(10, 20)]
            + [{"instruction": "task x", "output": "good again"}, {"instruction": "task y", "output": "bad again"},
               {"instruction": "task z", "output": "good and bad at once"}, {"instruction": "task w", "output": "neither"}])
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows), name="d")
    frame = load_records(ws)
    ids = dict(zip(frame["output"], frame["record_id"]))
    decisions.decide(ws, [ids[f"a good answer number {i}"] for i in range(8)], "keep", "manual")
    decisions.decide(ws, [ids[f"a bad answer number {i}"] for i in range(10, 18)], "reject", "manual")
    return frame, ids


def test_learned_scores_auc_and_uncertain_queue(ws, decided):
    frame, ids = decided
    out = get_scorer("learned").score(ws, frame, uncertain=4)
    info = out.attrs["info"]
    assert info["trained_on"] == {"keep": 8, "reject": 8} and info["folds"] == 5
    assert info["auc"] == 1.0  # separable by construction
    score = dict(zip(out["record_id"], out["score"]))
    assert score[ids["good again"]] > 0.5 > score[ids["bad again"]]
    assert score[ids["a good answer number 9"]] > 0.5 > score[ids["a bad answer number 19"]]
    undecided = {ids[t] for t in ("good again", "bad again", "good and bad at once", "neither", "a good answer number 8",
                                  "a good answer number 9", "a bad answer number 18", "a bad answer number 19")}
    assert len(info["uncertain"]) == 4 and set(info["uncertain"]) <= undecided
    by_doubt = sorted(undecided, key=lambda r: abs(score[r] - 0.5))
    assert info["uncertain"] == by_doubt[:4]
    assert ids["good and bad at once"] in info["uncertain"]
    reason = dict(zip(out["record_id"], out["reason"]))
    assert reason[ids["a good answer number 0"]].startswith("decided keep; held-out p(keep) ")
    assert reason[ids["neither"]] is None


def test_duplicate_rejections_are_not_learned_and_too_few_decisions_fail(ws, decided):
    frame, ids = decided
    decisions.decide(ws, [ids[f"a bad answer number {i}"] for i in range(10, 14)], "reject", "near_duplicate_of:abc")
    with pytest.raises(CurationError, match="at least 5 keep and 5 reject .* there are 8 keep and 4 reject"):
        get_scorer("learned").score(ws, frame)
    out = get_scorer("learned").score(ws, frame, min_each=3, sample=6, seed=1)
    assert len(out) == 6 and out.attrs["info"]["trained_on"] == {"keep": 8, "reject": 4} and out.attrs["info"]["folds"] == 4


def test_cancelled_before_the_work(ws, decided):
    frame, _ = decided
    with pytest.raises(Cancelled, match="before embedding"):
        get_scorer("learned").score(ws, frame, cancel=lambda: True)


def test_grouped_cross_validation_has_no_leakage():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 4)  # groups of four near-copies
    labels = np.repeat(rng.integers(0, 2, 30), 4)  # a label per group, unrelated to anything but the group
    features = np.eye(30)[groups] + rng.normal(0, 0.01, (120, 30))
    _, leaky, _ = cross_validated(features, labels)
    _, grouped, _ = cross_validated(features, labels, groups)
    assert leaky > 0.9  # a copy in training gives the answer away
    assert grouped < 0.7  # nothing to learn once copies stay on one side
    with pytest.raises(CurationError, match="at least 2 examples of each label"):
        cross_validated(features[:3], np.array([1, 0, 0]))


def test_the_latest_run_is_kept_for_the_score_to_rank_by(ws, decided):
    frame, ids = decided
    scorer = get_scorer("learned")
    assert scorer.cached(ws, frame)["score"].isna().all()  # never run: nothing to rank by
    out = scorer.score(ws, frame, sample=10, seed=2)
    cached = scorer.cached(ws, frame).set_index("record_id")
    assert cached["score"].notna().sum() == 10
    for rid, value in zip(out["record_id"], out["score"]):
        assert cached.at[rid, "score"] == pytest.approx(value)
    scorer.score(ws, frame, sample=3, seed=5)  # a new run replaces the old one, whole
    assert scorer.cached(ws, frame)["score"].notna().sum() == 3
