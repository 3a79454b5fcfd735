"""New records keep the map: records added after a build are placed on it (placed, not fitted) until the next build."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from curation import embed
from curation.atlas import build, cached_atlas, place, placeable, save_settings
from curation.embed import Embedder, embed_texts
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import load_records
from curation.texts import record_texts

TOPICS = 4


def topic_embedder(ws, name="minilm") -> Embedder:
    """Texts 'topic N …' sit near axis N, with a little deterministic noise: a fake model whose neighbours mean something."""

    def encode(texts):
        out = []
        for t in texts:
            v = np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8).astype(np.float32) / 255 * 0.3
            v[int(t.split()[1]) % TOPICS] += 3
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32)

    return Embedder(name, encode, 16, batch_size=64)


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", topic_embedder)


def rows(start: int, n: int) -> list[dict]:
    return [{"instruction": f"topic {i % TOPICS} question {i}", "input": "", "output": f"answer {i}"} for i in range(start, start + n)]


def test_added_records_are_placed_on_the_map_in_their_own_cluster(ws, fake, tmp_path):
    first = tmp_path / "first.json"
    first.write_text(json.dumps(rows(0, 120)))
    ingest(ws, first, name="first")
    save_settings(ws, k=TOPICS)
    frame = load_records(ws)
    atlas = build(ws, frame)
    assert atlas.placed == 0 and not atlas.points["placed"].any()

    more = tmp_path / "more.json"
    more.write_text(json.dumps(rows(1000, 20)))
    ingest(ws, more, name="more")
    frame = load_records(ws)
    assert cached_atlas(ws, frame) is None  # the new records are not embedded yet: nothing is computed here
    assert placeable(ws, frame) == 20

    placed = place(ws, frame)
    assert placed.placed == 20 and len(placed.points) == 140
    points = frame[["record_id", "dataset", "instruction"]].merge(placed.points, on="record_id")
    assert points["cluster"].notna().all()
    old = points[points["dataset"] == "first"].merge(atlas.points, on="record_id", suffixes=("", "_before"))
    assert (old["cluster"] == old["cluster_before"]).all() and (old["x"] == old["x_before"]).all()  # the map kept
    assert (points["placed"] == (points["dataset"] == "more")).all()
    topic = points["instruction"].map(lambda s: int(s.split()[1]))
    fitted_topic_cluster = {t: points.loc[(topic == t) & ~points["placed"], "cluster"].mode()[0] for t in range(TOPICS)}
    new = points[points["placed"]]
    assert (new["cluster"].to_numpy() == topic[new.index].map(fitted_topic_cluster).to_numpy()).all()
    # A placed record sits among its topic's fitted records on the map.
    def nearest(p, q) -> float:
        return float(np.hypot(q["x"] - p["x"], q["y"] - p["y"]).min())

    for _, p in new.iterrows():
        mates = points[(topic == topic[p.name]) & ~points["placed"]]
        others = points[(topic != topic[p.name]) & ~points["placed"]]
        assert nearest(p, mates) <= nearest(p, others)

    assert cached_atlas(ws, frame).placed == 20  # kept: every command and page sees it
    rebuilt = build(ws, frame)  # the next build fits them
    assert rebuilt.placed == 0 and len(rebuilt.points) == 140


def test_placed_on_the_fly_when_their_embeddings_are_cached(ws, fake, tmp_path):
    first = tmp_path / "first.json"
    first.write_text(json.dumps(rows(0, 80)))
    ingest(ws, first, name="first")
    build(ws, load_records(ws))
    more = tmp_path / "more.json"
    more.write_text(json.dumps(rows(500, 10)))
    ingest(ws, more, name="more")
    frame = load_records(ws)
    embed_texts(ws, record_texts(frame))  # e.g. `embed` or dedup ran since
    atlas = cached_atlas(ws, frame)
    assert atlas is not None and atlas.placed == 10


def test_a_map_that_holds_too_few_of_the_records_is_not_stretched(ws, fake, tmp_path):
    first = tmp_path / "first.json"
    first.write_text(json.dumps(rows(0, 20)))
    ingest(ws, first, name="first")
    build(ws, load_records(ws))
    more = tmp_path / "more.json"
    more.write_text(json.dumps(rows(500, 40)))
    ingest(ws, more, name="more")
    frame = load_records(ws)
    assert placeable(ws, frame) is None
    with pytest.raises(CurationError, match="build the map"):
        place(ws, frame)


def test_the_command_line_places_then_rebuilds(ws, fake, tmp_path, capsys):
    from curation.cli import main

    def run(*args) -> dict:
        assert main([*args, "--workspace", str(ws.root), "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    first = tmp_path / "first.json"
    first.write_text(json.dumps(rows(0, 80)))
    run("ingest", str(first), "--name", "first")
    built = run("map", "--k", "4")
    assert built["placed"] == 0 and built["settings"]["effective"] == {"k": 4}
    more = tmp_path / "more.json"
    more.write_text(json.dumps(rows(500, 8)))
    run("ingest", str(more), "--name", "more")
    assert run("map", "--place")["placed"] == 8
    listed = run("records", "--dataset", "more")["records"]
    assert all(r["placed"] and r["cluster"] is not None for r in listed)
    assert run("map", "--k", "0")["placed"] == 0  # a build fits them (and k is automatic again)
    assert run("map")["settings"]["k"] is None
