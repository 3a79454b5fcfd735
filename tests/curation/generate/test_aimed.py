"""Aimed generation: the seeds are one cluster of the map, or the records nearest a topic; the report gives the cluster's
or the topic's share before and after."""

from __future__ import annotations

import json

import pytest

from curation.annotated import annotate
from curation.atlas import build, save_settings
from curation.errors import CurationError
from curation.generate import generate
from curation.ingest import ingest
from curation.records import loads
from curation.store import load_records
from tests.curation.generate.stub import GenStub, scripted
from tests.curation.test_map_place import TOPICS, fake, rows  # noqa: F401 (fixture)

FAST = {"model": "stub-model", "concurrency": 2, "backoff": 0.01, "timeout": 5.0}


@pytest.fixture
def stub():
    s = GenStub(scripted)
    yield s
    s.close()


def test_seeds_from_one_cluster_and_its_share_before_and_after(ws, fake, tmp_path, stub):  # noqa: F811
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(rows(0, 80)))
    ingest(ws, path, name="topics")
    with pytest.raises(CurationError, match="no map for these records yet"):
        generate(ws, "evol-instruct", n=2, cluster=0, endpoint=stub.url, **FAST)
    save_settings(ws, k=TOPICS)
    build(ws, load_records(ws))
    mapped = annotate(ws, stages=("map",))
    cluster = int(mapped["cluster"].iat[0])
    members = set(mapped.loc[mapped["cluster"] == cluster, "record_id"])

    out = generate(ws, "evol-instruct", n=3, cluster=cluster, endpoint=stub.url, **FAST)
    assert out["dataset"] == f"evol-instruct-cluster{cluster}" and out["accepted"] == 3
    assert out["seeds"] == f"cluster {cluster} ({len(members)} records)"
    gen = [loads(m)["generation"] for m in load_records(ws, out["dataset"])["meta"]]
    assert all(g["parent"] in members for g in gen)  # every seed came from the cluster
    c = out["cluster"]
    assert (c["records_before"], c["total_before"]) == (len(members), 80)
    assert c["share_before"] == round(len(members) / 80, 4)
    assert (c["records_after"], c["total_after"]) == (len(members) + 3, 83)
    assert c["share_after"] == round((len(members) + 3) / 83, 4) > c["share_before"]


def angle_embedder(ws, name="minilm"):
    """A fake model with a known order: 'topic N … question Q' points along axis N, tilted by Q/100 towards a private
    axis, so its similarity to the bare text 'topic N' falls as Q grows (the same text, the same vector); other texts
    point elsewhere."""
    import re

    import numpy as np

    from curation.embed import Embedder

    def encode(texts):
        out = np.zeros((len(texts), 9), dtype=np.float32)
        for i, t in enumerate(texts):
            topic, question = re.search(r"topic (\d+)", t), re.search(r"question (\d+)", t)
            if topic is None:
                out[i, 8] = 1
                continue
            axis = int(topic.group(1)) % 4
            out[i, axis], out[i, 4 + axis] = 1.0, int(question.group(1)) / 100 if question else 0.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    return Embedder(name, encode, 9, batch_size=64)


@pytest.fixture
def angled(monkeypatch):
    from curation import embed

    monkeypatch.setattr(embed, "get_embedder", angle_embedder)


def test_seeds_nearest_a_topic_and_its_share_before_and_after(ws, angled, tmp_path, stub):
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(rows(0, 80)))  # "topic {i % 4} question {i}": 20 records a topic
    ingest(ws, path, name="topics")
    out = generate(ws, "evol-instruct", n=3, topic="topic 2", topic_size=10, endpoint=stub.url, **FAST)
    nearest = {f"topic 2 question {i}" for i in range(2, 40, 4)}  # the 10 least tilted of topic 2 (no map needed)
    by_id = dict(zip(load_records(ws, "topics")["record_id"], load_records(ws, "topics")["instruction"]))
    gen = [loads(m)["generation"] for m in load_records(ws, out["dataset"])["meta"]]
    assert {by_id[g["parent"]] for g in gen} <= nearest and len(gen) == 3
    assert out["dataset"] == "evol-instruct-topic-topic-2" and out["seeds"] == "the 10 records nearest “topic 2”"
    t = out["topic"]
    assert (t["text"], t["size"], t["records_before"], t["total_before"], t["share_before"]) == ("topic 2", 10, 10, 80, 0.125)
    assert t["similarity_at_least"] == round(1 / (1 + 0.38 ** 2) ** 0.5, 4)  # question 38, the farthest seed
    # an evolved instruction keeps its parent's "topic 2 question Q": as near as its seed, so inside the topic
    assert (t["new_records"], t["new_within"], t["records_after"], t["total_after"]) == (3, 3, 13, 83)
    assert t["share_after"] == round(13 / 83, 4)
    again = generate(ws, "evol-instruct", n=3, topic="topic 2", topic_size=10, endpoint=stub.url, **FAST)
    assert again["spend"]["sent"] == 0 and again["topic"]["new_records"] == 0  # replayed: nothing new to count
    assert again["topic"]["share_after"] == again["topic"]["share_before"] == round(13 / 83, 4)  # the 3 are inside now

    assert generate(ws, "evol-instruct", n=1, topic="topic 2", topic_size=4, seeds_dataset="topics",
                    endpoint=stub.url, dry_run=True, **FAST)["seeds"] == "the 4 records nearest “topic 2” in topics"
    with pytest.raises(CurationError, match="choose the seeds one way: --cluster and --topic"):
        generate(ws, "evol-instruct", n=1, cluster=0, topic="topic 2", endpoint=stub.url, **FAST)
    with pytest.raises(CurationError, match="--topic needs a text"):
        generate(ws, "evol-instruct", n=1, topic="  ", endpoint=stub.url, **FAST)
    with pytest.raises(CurationError, match="no dataset 'nope'"):
        generate(ws, "evol-instruct", n=1, topic="topic 2", seeds_dataset="nope", endpoint=stub.url, **FAST)


def test_topic_seeds_with_the_real_minilm(ws, tmp_path, stub, monkeypatch):
    """The bundled all-MiniLM-L6-v2: a topic about space takes its seeds from the space records, not the bread ones."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    topics = {"bread": ["bake bread", "sourdough bread recipe", "bread flour and yeast", "knead bread dough", "bread oven time",
                        "rye bread loaf"],
              "space": ["planet orbit", "black hole gravity", "telescope stars", "moon phases", "galaxy stars", "comet tail"]}
    rows_ = [{"instruction": f"Tell me about {t}.", "output": f"Some facts on {t}."} for ts in topics.values() for t in ts]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(rows_))
    ingest(ws, path, name="mixed")
    out = generate(ws, "evol-instruct", n=2, topic="rockets, planets and the stars", topic_size=4, endpoint=stub.url, **FAST)
    frame = load_records(ws, "mixed")
    space_ids = set(frame.loc[frame["instruction"].str.contains("|".join(topics["space"])), "record_id"])
    parents = {loads(m)["generation"]["parent"] for m in load_records(ws, out["dataset"])["meta"]}
    assert parents and parents <= space_ids
    t = out["topic"]
    assert t["size"] == 4 and t["total_before"] == 12 and 4 <= t["records_before"] <= 6 and 0 < t["similarity_at_least"] < 1
    assert t["new_records"] == 2 and 0 <= t["new_within"] <= 2
    assert (t["records_after"], t["total_after"]) == (t["records_before"] + t["new_within"], 14)
