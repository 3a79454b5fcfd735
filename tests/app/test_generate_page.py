"""The Generate page against the scripted stub model: estimate, run in the background with live counts, cancel, the
outcome with rejects by reason, and the new dataset opened on the Records page; aimed at a topic (handed over by the
Map page's semantic search) or a cluster of the map; the endpoint checked; Magpie's prefix from a tokenizer."""

from __future__ import annotations

import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from tests.curation.generate.stub import GenStub, Reply, scripted
from tests.curation.generate.test_methods import SEEDS
from ui import generate as page
from ui import jobs, state
from ui.state import widget_key as W


@pytest.fixture
def seeded(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "seeds.jsonl", SEEDS), name="seeds", source="human")
    return ws


@pytest.fixture
def app(seeded, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(seeded.root))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def wait(root, seconds: float = 60) -> jobs.Job:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        job = jobs.get(f"generate|{root}")
        if job is not None and job.finished:
            return job
        time.sleep(0.05)
    raise AssertionError("the generation job did not finish")


def fill(app, url: str, n: int, method: str = "alpaca") -> None:
    app.selectbox(key=W(page.METHOD, "generate")).set_value(method).run()
    app.selectbox(key=W(page.SEEDS, "generate")).set_value("seeds").run()
    app.number_input(key=W(page.N, "generate")).set_value(n).run()
    app.text_input(key=W(page.ENDPOINT, "generate")).input(url).run()
    app.text_input(key=W(page.MODEL, "generate")).input("stub-model").run()


def test_estimate_generate_and_open_on_records(app, seeded):
    stub = GenStub(scripted)
    try:
        app.run()
        app.switch_page("pages/generate.py").run()
        assert not app.exception and not app.error
        fill(app, stub.url, 3)
        app.button(key="generate_estimate").click().run()
        assert any(i.value.startswith("Estimate: about 1 requests") for i in app.info) and stub.requests == []
        app.button(key="generate_run").click().run()
        job = wait(seeded.root)
        assert job.error is None and job.result["accepted"] == 3
        app.run()
        assert not app.exception and not app.error
        assert any("3 accepted (3 new records in alpaca-seeds)" in s.value.replace("\\", "") for s in app.success)
        tables = [d.value for d in app.dataframe]
        assert any(list(t.columns) == ["reason", "rejected"] for t in tables)
        assert any("instruction" in t.columns and len(t) == 3 for t in tables)  # the first records
        app.button(key="generate_open").click().run()
        assert app.session_state[state.DATASETS] == ["alpaca-seeds"]
        assert len(load_records(seeded, "alpaca-seeds")) == 3
    finally:
        stub.close()


def test_live_progress_and_cancel(app, seeded):
    release = threading.Event()

    def slow(body, n):
        release.wait(10)  # each request waits until the test lets it through
        return scripted(body, n)

    stub = GenStub(slow)
    try:
        app.run()
        app.switch_page("pages/generate.py").run()
        fill(app, stub.url, 50, method="evol-instruct")
        app.button(key="generate_run").click().run()
        assert not app.exception and not app.error
        assert any(m.label == "Accepted" for m in app.metric)  # the live view while it runs
        assert app.button(key="generate_cancel")
        jobs.cancel(f"generate|{seeded.root}")
        release.set()
        job = wait(seeded.root)
        assert job.cancelled and job.error is None
        app.run()
        assert any(i.value.startswith("Cancelled") for i in app.info)
        report = job.live["report"]
        assert report["accepted"] < 50 and report["stopped"].startswith("Cancelled")
        assert len(load_records(seeded, report["dataset"])) == report["accepted"]
    finally:
        release.set()
        stub.close()


def test_an_endpoint_error_is_shown_not_raised(app, seeded):
    stub = GenStub(lambda body, n: Reply(401))
    try:
        app.run()
        app.switch_page("pages/generate.py").run()
        fill(app, stub.url, 2)
        app.button(key="generate_run").click().run()
        wait(seeded.root)
        app.run()
        assert not app.exception
        assert any("refused the request (401 AuthenticationError)" in e.value for e in app.error)
    finally:
        stub.close()


def test_seeds_from_the_current_filter(app, seeded):
    stub = GenStub(scripted)
    try:
        app.run()
        app.session_state[state.SEARCH] = "sky"  # the shared filter: one seed record
        app.switch_page("pages/generate.py").run()
        app.selectbox(key=W(page.METHOD, "generate")).set_value("evol-instruct").run()
        app.selectbox(key=W(page.SEEDS, "generate")).set_value(page.FILTERED).run()
        assert any(c.value.startswith("Seeds: the 1 records the filter shows") for c in app.caption)
        app.number_input(key=W(page.N, "generate")).set_value(1).run()
        app.text_input(key=W(page.ENDPOINT, "generate")).input(stub.url).run()
        app.text_input(key=W(page.MODEL, "generate")).input("stub-model").run()
        app.button(key="generate_run").click().run()
        job = wait(seeded.root)
        assert job.error is None and job.result["seeds"] == "chosen records (1 records)"
        sky = load_records(seeded, "seeds").query("instruction.str.contains('sky')")["record_id"].iat[0]
        assert job.result["accepted"] == 1 and sky in load_records(seeded, "evol-instruct-chosen")["meta"].iat[0]
    finally:
        stub.close()


@pytest.fixture
def mapped(tmp_path, monkeypatch):
    """80 records on 4 topics, mapped with a fake model whose neighbours are known (see test_aimed.angle_embedder)."""
    import json

    from curation import embed
    from curation.atlas import build
    from tests.curation.generate.test_aimed import angle_embedder
    from tests.curation.test_map_place import rows

    monkeypatch.setattr(embed, "get_embedder", angle_embedder)
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    (tmp_path / "topics.json").write_text(json.dumps(rows(0, 80)))
    ingest(ws, tmp_path / "topics.json", name="topics")
    atlas = build(ws, load_records(ws))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60), ws, atlas


def run_aimed(app, url: str) -> None:
    app.selectbox(key=W(page.METHOD, "generate")).set_value("evol-instruct").run()
    app.number_input(key=W(page.N, "generate")).set_value(2).run()
    app.text_input(key=W(page.ENDPOINT, "generate")).input(url).run()
    app.text_input(key=W(page.MODEL, "generate")).input("stub-model").run()
    app.button(key="generate_run").click().run()


def test_the_maps_semantic_search_hands_its_topic_to_generate(mapped):
    app, ws, _ = mapped
    stub = GenStub(scripted)
    try:
        app.run()
        app.switch_page("pages/map.py").run()
        app.text_input(key=W(state.MAP_SEARCH, "map")).input("topic 2").run()
        assert not app.exception and not app.error
        app.button(key="map_generate_topic").click().run()  # "Generate more like this"
        assert not app.exception and not app.error
        assert app.session_state[state.GENERATE_TOPIC] == "topic 2"
        app.switch_page("pages/generate.py").run()  # where st.switch_page goes (AppTest does not follow it)
        assert app.selectbox(key=W(page.SEEDS, "generate")).value == page.TOPIC_SEEDS
        assert app.text_input(key=W(page.TOPIC, "generate")).value == "topic 2"
        assert any(c.value.startswith("Seeds: the 20 records of the workspace nearest this text") for c in app.caption)
        app.number_input(key=W(page.TOPIC_SIZE, "generate")).set_value(10).run()
        run_aimed(app, stub.url)
        job = wait(ws.root)
        assert job.error is None and job.result["seeds"] == "the 10 records nearest “topic 2”"
        assert job.result["topic"]["share_before"] == 0.125 and job.result["topic"]["new_within"] == 2
        app.run()
        assert not app.exception and not app.error
        assert any(c.value.startswith("Topic “topic 2”: 12.5% of the records were within similarity") and
                   "2 of the 2 new records are within it" in c.value for c in app.caption)
    finally:
        stub.close()


def test_a_topic_is_asked_for_and_a_cluster_needs_the_map(app):
    app.run()
    app.switch_page("pages/generate.py").run()
    app.selectbox(key=W(page.SEEDS, "generate")).set_value(page.TOPIC_SEEDS).run()
    assert any(i.value == "Write the topic the new records should be about." for i in app.info)
    assert [b for b in app.button if b.key == "generate_run"] == []  # no run without a topic
    app.selectbox(key=W(page.SEEDS, "generate")).set_value(page.CLUSTER_SEEDS).run()
    assert any(i.value.startswith("No map yet: build it on the Map page") for i in app.info)
    assert [b for b in app.button if b.key == "generate_run"] == []


def test_a_cluster_of_the_map_as_the_seeds(mapped):
    app, ws, atlas = mapped
    stub = GenStub(scripted)
    try:
        cluster = sorted(atlas.labels)[1]
        app.run()
        app.session_state[state.GENERATE_SEEDS] = page.CLUSTER_SEEDS  # what the Map page's button sets
        app.session_state[state.GENERATE_CLUSTER] = cluster
        app.switch_page("pages/generate.py").run()
        assert not app.exception and not app.error
        assert app.selectbox(key=W(page.CLUSTER, "generate")).value == cluster
        run_aimed(app, stub.url)
        job = wait(ws.root)
        assert job.error is None and job.result["seeds"].startswith(f"cluster {cluster} (")
        app.run()
        assert any(c.value.startswith(f"Cluster {cluster}: ") for c in app.caption)
    finally:
        stub.close()


def test_the_endpoint_is_checked_and_a_dead_one_said_so(app, monkeypatch):
    from tests.curation.generate.test_client import dead_port

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    stub = GenStub(scripted)
    try:
        app.run()
        app.switch_page("pages/generate.py").run()
        assert any(c.value.startswith("No endpoint is configured ($OPENAI_BASE_URL is not set") for c in app.caption)
        app.text_input(key=W(page.ENDPOINT, "generate")).input(stub.url).run()
        app.button(key="generate_check").click().run()
        assert any(stub.url in s.value and "answers; it lists stub\\-model (the run uses the first)" in s.value
                   for s in app.success)
        dead = f"http://127.0.0.1:{dead_port()}/v1"
        app.text_input(key=W(page.ENDPOINT, "generate")).input(dead).run()
        app.button(key="generate_check").click().run()
        assert any("nothing answers at" in e.value and dead in e.value and "Endpoint field" in e.value for e in app.error)
    finally:
        stub.close()


def test_magpie_asks_for_a_tokenizer_and_shows_its_prefix(app, seeded, tmp_path):
    from tests.curation.generate.test_magpie_template import CHATML_SYSTEM, old_style

    folder = old_style(tmp_path / "tok", CHATML_SYSTEM, ["<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>")
    stub = GenStub(scripted)
    try:
        app.run()
        app.switch_page("pages/generate.py").run()
        fill(app, stub.url, 1, method="magpie")
        assert any("needs an endpoint with the raw completions API" in c.value for c in app.caption)
        app.text_input(key=W(page.TOKENIZER, "generate")).input(str(folder)).run()
        app.button(key="generate_run").click().run()
        job = wait(seeded.root)
        assert job.error is None and job.result["pre_query"]["from"] == f"chat template of {folder}"
        app.run()
        assert any(c.value.startswith("Magpie's pre-query prefix, from chat template of") for c in app.caption)
        assert any("You are a careful assistant." in c.value for c in app.code)
    finally:
        stub.close()
