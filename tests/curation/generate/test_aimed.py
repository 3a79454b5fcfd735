"""Aimed generation: the seeds are one cluster of the map, and the report gives the cluster's share before and after."""

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
