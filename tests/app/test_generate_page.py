"""The Generate page against the scripted stub model: estimate, run in the background with live counts, cancel, the
outcome with rejects by reason, and the new dataset opened on the Records page."""

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
