"""The Map page: settings that show their real (automatic) values, labels on the map, records added after a build."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from curation import embed
from curation.atlas import MapSettings, build, place
from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from tests.curation.test_map_place import rows, topic_embedder


@pytest.fixture
def mapped(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(embed, "get_embedder", topic_embedder)
    ws = Workspace(tmp_path / "ws")
    first = tmp_path / "first.json"
    first.write_text(json.dumps(rows(0, 120)))
    ingest(ws, first, name="first")
    atlas = build(ws, load_records(ws))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60), ws, atlas


def figure_spec(app) -> dict:
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def test_saving_the_settings_unchanged_keeps_the_map_and_labels_are_on_it(mapped):
    app, ws, atlas = mapped
    app.switch_page("pages/map.py").run()
    assert not app.exception and not app.error
    k, size = app.number_input[0], app.number_input[1]
    assert k.value is None and size.value is None  # automatic, shown as such (not a made-up number)
    assert "automatic" in k.placeholder and str(atlas.settings["effective"]["k"]) in k.placeholder
    caption = app.caption[0].value
    assert f"{atlas.clusters} clusters" in caption and "(automatic)" in caption
    layout = figure_spec(app)["layout"]
    from ui.map_labels import label_annotations

    assert layout["annotations"] == label_annotations(atlas.centres())  # the labels that do not sit on a larger one's
    assert 2 <= len(layout["annotations"]) < len(atlas.labels)  # these eight clusters' labels overlap in pairs
    assert layout["legend"]["orientation"] == "h" and layout["legend"]["yanchor"] == "top"  # under the plot, off the toolbar
    submit = next(b for b in app.button if "Save settings" in b.label)
    submit.click().run()
    assert not app.exception and not app.error
    assert MapSettings.load(ws).k is None and MapSettings.load(ws).min_size is None
    assert len(app.get("plotly_chart")) == 1 and f"{atlas.clusters} clusters" in app.caption[0].value  # the cached map


def test_added_records_are_offered_a_place_then_shown_as_placed(mapped, tmp_path):
    app, ws, _ = mapped
    more = tmp_path / "more.json"
    more.write_text(json.dumps(rows(1000, 20)))
    ingest(ws, more, name="more")
    app.switch_page("pages/map.py").run()
    assert not app.exception and not app.error
    assert any("20 records were added" in i.value for i in app.info) and app.button(key="place_map")
    place(ws, load_records(ws))  # what the background job runs
    app.run()
    assert not app.exception and not app.error
    assert any("20 records are placed, not fitted" in w.value for w in app.warning)
    names = [t.get("name") for t in figure_spec(app)["data"]]
    assert "placed, not fitted" in names
