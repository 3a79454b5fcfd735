"""The Map page picks its view by map size (issue 18): the binary canvas above the threshold, Plotly below it;
a selection made on the canvas goes through the page's usual lasso actions."""

from __future__ import annotations

import json

import numpy as np

from curation.decisions import live_states
from tests.app.test_map_page import mapped  # noqa: F401 - the fixture: a 120-record workspace with a built map
from ui import map_canvas


def component(app):
    return app.get("component_instance")


def test_a_small_map_keeps_plotly(mapped, monkeypatch):  # noqa: F811
    app, _, _ = mapped
    monkeypatch.setattr(map_canvas, "FAST_VIEW_FROM", 10_000)
    app.switch_page("pages/map.py").run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 1 and not component(app)
    assert any(c.value.startswith("Plotly view: 120 points") for c in app.caption)


def test_a_big_map_uses_the_fast_view_and_its_selection_reaches_the_actions(mapped, monkeypatch):  # noqa: F811
    app, ws, atlas = mapped
    monkeypatch.setattr(map_canvas, "FAST_VIEW_FROM", 100)
    app.switch_page("pages/map.py").run()
    assert not app.exception and not app.error
    assert not app.get("plotly_chart") and len(component(app)) == 1
    assert any(c.value.startswith("Fast view: 120 points") for c in app.caption)
    proto = component(app)[0].proto
    args = json.loads(proto.json_args)
    assert args["n"] == 120 and len(args["labels"]) == min(15, atlas.clusters)
    # The arrays travel as served files, not inside the page's message: only their URLs and layout are in it.
    assert not proto.special_args and "/media/" in args["points_url"] and "/media/" in args["texts_url"]
    assert args["points_layout"]["x"][1] == 4 * 120 and args["points_layout"]["codes"][1] == 2 * 120
    assert len(proto.json_args) < 20_000
    # What the browser sends back after a box selection of rows 0..4: the map's stamp, then the rows.
    app.session_state["map_canvas"] = np.array([args["stamp"], 0, 1, 2, 3, 4], dtype=np.int32).tobytes()
    app.run()
    assert not app.exception and not app.error
    assert any(s.value == "5 selected on the map" for s in app.subheader)
    app.button(key="lasso_reject").click().run()
    assert not app.exception and not app.error
    assert (live_states(ws)["decision"] == "reject").sum() == 5


def test_a_selection_of_another_map_is_ignored(mapped, monkeypatch):  # noqa: F811
    app, _, _ = mapped
    monkeypatch.setattr(map_canvas, "FAST_VIEW_FROM", 100)
    app.switch_page("pages/map.py").run()
    stamp = json.loads(component(app)[0].proto.json_args)["stamp"]
    app.session_state["map_canvas"] = np.array([stamp ^ 1, 0, 1], dtype=np.int32).tobytes()
    app.run()
    assert not app.exception and not app.error
    assert not any("selected on the map" in s.value for s in app.subheader)
