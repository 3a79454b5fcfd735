"""Issue 17's smaller papercuts on the dashboard, each with a test that failed before its fix."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from curation.store import load_records
from tests.conftest import ROOT, write_jsonl
from ui import state
from ui.state import widget_key as W

FLAG = re.compile(r"(?<![\w-])--[a-z]")  # a command-line option, e.g. --map


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)


def shown_text(app) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error") for e in getattr(app, kind)]


def load_path(app, path) -> None:
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(path)).run()
    app.button(key="load_path_button").click().run()


def test_an_old_success_does_not_linger_under_a_new_error_nor_in_another_workspace(app, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"instruction": "a", "output": "b"}])
    app.switch_page("pages/load.py").run()
    load_path(app, good)
    assert not app.exception and "1 records added" in app.success[0].value
    load_path(app, tmp_path / "nowhere.jsonl")
    assert not app.exception and "no such file" in app.error[0].value
    assert not app.success, [s.value for s in app.success]  # the earlier load's success is gone
    load_path(app, good)
    assert "already present" in app.success[0].value
    app.sidebar.text_input(key=W(state.WORKSPACE, "load_data")).input(str(tmp_path / "other")).run()
    assert not app.exception and not app.success  # that load was into the other workspace
    assert not [w for w in app.warning if "problem" in w.value]


def test_the_unknown_format_error_on_the_dashboard_names_the_form_not_cli_flags(app, tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Why?", "answer": "Because."}])
    app.switch_page("pages/load.py").run()
    load_path(app, path)
    error = app.error[0].value.replace("\\", "")  # as the curator reads it (Markdown escapes removed)
    assert "could not detect the format" in error
    assert not FLAG.search(error), error
    assert "Map the columns" in error and "Format" in error


@pytest.fixture
def demo(app, tmp_path):
    from curation.demo import load_demo
    from curation.workspace import Workspace

    load_demo(Workspace(tmp_path / "ws"))
    return app


def test_apply_threshold_says_what_changed(demo):
    app = demo
    app.switch_page("pages/quality.py").run()
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("short_output").run()
    before = int(app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).format_func("short_output").split(" — ")[1].split()[0])
    app.number_input(key=W(f"{state.QUALITY_THRESHOLD}.short_output", "quality")).set_value(1.0).run()
    app.button(key="apply_short_output").click().run()
    assert not app.exception and not app.error
    done = [s.value for s in app.success if "short_output" in s.value]
    assert done, [s.value for s in app.success]
    assert f"{before:,} → 0 records flagged" in done[0] and "threshold" in done[0].lower()


def preview_ids(app) -> list[str]:
    return [c.value.split(" · ")[0] for c in app.caption if re.fullmatch(r"\S+ · [\d,]+ tokens", c.value)]


def test_export_preview_is_a_seeded_random_sample_with_another_sample_button(demo, tmp_path):
    from curation.export import Options, prepare
    from curation.workspace import Workspace

    app = demo
    app.switch_page("pages/export.py").run()
    app.toggle(key=W(state.EXPORT_SIMILARITY, "export")).set_value(False).run()
    first = preview_ids(app)
    assert len(first) == 6 and not app.exception  # three per split (train, test)
    template = app.selectbox(key=W(state.EXPORT_TEMPLATE, "export")).value
    plan = prepare(Workspace(tmp_path / "ws"), Options(template=template, similarity=False))
    heads = [plan["rows"][i]["record_id"] for idx in plan["by_split"].values() for i in idx[:3]]
    assert first != heads  # not always the first three of each split
    app.run()
    assert preview_ids(app) == first  # a rerun keeps the sample (seeded)
    app.button(key="export_reseed").click().run()
    second = preview_ids(app)
    assert len(second) == 6 and second != first


def heatmap_trace(fig):
    [trace] = [t for t in fig.data if t.type == "heatmap"]
    return trace


def test_overlap_heatmap_leaves_the_diagonal_out_of_the_colours_and_is_readable():
    import numpy as np
    import pandas as pd

    from ui.charts import overlap_figure

    codes = ["short_output", "refusal", "pii", "never_flags"]
    matrix = pd.DataFrame([[900, 3, 12, 0], [3, 40, 0, 0], [12, 0, 25, 0], [0, 0, 0, 0]], index=codes, columns=codes)
    fig = overlap_figure(matrix)
    trace = heatmap_trace(fig)
    z = np.array(trace.z, dtype=float)
    assert np.isnan(np.diag(z)).all()  # the diagonal (a signal with itself) is not coloured
    assert trace.zmax == 12 and trace.zmin == 0  # colours span the pairs, not the 900 of one signal alone
    assert "never_flags" not in list(trace.x)  # a signal that flags nothing adds only an empty row and column
    assert any("900" in str(label) and "short_output" in str(label) for label in trace.y)  # its own count is in its label
    assert trace.textfont.size >= 12 and fig.layout.font.size >= 12
    assert "12" in {str(t) for row in trace.text for t in row}


def test_quality_overlap_tab_shows_that_heatmap_with_a_caption(demo):
    app = demo
    app.switch_page("pages/quality.py").run()
    assert not app.exception
    specs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    [spec] = [s for s in specs if "both" in json.dumps(s.get("layout", {}).get("title", ""))]
    [trace] = [t for t in spec["data"] if t["type"] == "heatmap"]
    assert all(trace["z"][i][i] is None for i in range(len(trace["z"])))
    assert any("diagonal" in c.value for c in app.caption)


def test_duplicates_slider_below_the_computed_range_says_so_and_offers_to_recompute(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from curation import dedup
    from curation.annotated import find_signals
    from curation.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    find_signals(ws, compute=True)  # the representative rule's signal, as the Quality page leaves it
    found = dedup.find(ws)  # what "Find duplicates" runs: pairs from a little below the sweep's start
    start = dedup.SWEEPS[found.summary()["method"]][0]
    app = demo
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception and app.slider(key="dup_threshold")
    app.slider(key="dup_threshold").set_value(0.6).run()
    assert not app.exception and dedup.dedup_settings(ws)["threshold"] == 0.6
    assert not [i for i in app.info if "No duplicate groups yet" in i.value]  # the groups exist: never pretend otherwise
    note = " ".join(w.value for w in app.warning)
    assert "0.60" in note and f"{start:.2f}" in note and "below" in note
    assert app.button(key="find_dups").label.startswith("Recompute at 0.60")
    app.button(key="dup_back").click().run()
    assert not app.exception and dedup.dedup_settings(ws)["threshold"] == start
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Would be rejected"] == f"{dedup.find(ws, compute=False).summary()['would_reject']:,}"


def shown_label(box) -> str | None:
    """What the browser shows as a selectbox's choice after this run: Streamlit sends the label only when it sets the
    value (set_value); otherwise the browser keeps the label it showed before."""
    return box.proto.raw_value if box.proto.set_value else None


def signal_box(app):
    [box] = [s for s in app.selectbox if s.label == "Signal"]
    return box


def test_a_count_in_a_dropdown_label_is_fresh_after_a_decision(demo):
    app = demo
    app.switch_page("pages/records.py").run()
    app.multiselect(key=W(state.DECISIONS, "records")).select("undecided").run()
    app.switch_page("pages/quality.py").run()
    signal_box(app).select("exact_duplicate").run()
    before = signal_box(app).format_func("exact_duplicate")
    assert before.startswith("exact_duplicate — 5 flagged")
    app.button(key="reject_exact_duplicate").click().run()  # the 5 leave the filter (undecided only)
    assert not app.exception
    box = signal_box(app)
    after = box.format_func("exact_duplicate")
    assert box.value == "exact_duplicate" and after.startswith("exact_duplicate — 0 flagged")
    assert shown_label(box) == after  # the browser is sent the new label, not left showing "5 flagged"
    app.run()  # and a plain rerun keeps it
    assert signal_box(app).value == "exact_duplicate"


def test_a_count_in_a_dropdown_label_is_fresh_after_applying_a_threshold(demo):
    app = demo
    app.switch_page("pages/quality.py").run()
    signal_box(app).select("short_output").run()
    app.number_input(key=W(f"{state.QUALITY_THRESHOLD}.short_output", "quality")).set_value(1.0).run()
    app.button(key="apply_short_output").click().run()
    box = signal_box(app)
    assert box.value == "short_output" and shown_label(box) == box.format_func("short_output")
    assert "— 0 flagged" in shown_label(box)


def test_the_map_settings_help_names_the_fields_not_cli_flags(demo):
    app = demo
    app.switch_page("pages/map.py").run()
    [box] = [s for s in app.selectbox if s.label == "Clustering"]
    assert not app.exception and "Smallest cluster" in box.help and not FLAG.search(box.help), box.help


def test_the_uncertain_records_label_shows_the_new_decision(app, tmp_path):
    from curation.demo import load_demo
    from curation.scorers.ranked import ScoreSettings
    from curation.workspace import Workspace
    from ui import jobs

    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    ScoreSettings.save(ws, ranker="learned")
    ids = list(load_records(ws)["record_id"][:3])
    jobs._registry()[f"score|{ws.root}|learned"] = jobs.Job(finished=True, result={
        "scored": 241, "records": 241, "computed": 241, "cached": 0, "failed": 0, "seconds": 3.0, "auc": 0.81, "uncertain": ids})
    app.switch_page("pages/quality.py").run()
    app.selectbox(key="score_uncertain").select_index(1).run()
    assert " — undecided — " in app.selectbox(key="score_uncertain").format_func(ids[1])
    app.button(key="uncertain_reject").click().run()
    box = app.selectbox(key="score_uncertain")
    assert not app.exception and box.value == ids[1] and " — reject — " in box.format_func(ids[1])
    assert shown_label(box) == box.format_func(ids[1])  # the browser is told: not left on "undecided"


def test_the_flag_filter_before_signals_says_where_they_are_computed(app, tmp_path):
    """New-user pass: after a small load the Flag filter was off ("signals not computed yet") with no hint of where
    signals come from; its help names the Quality page, and once they are computed it is on."""
    from curation.ingest import ingest
    from curation.signals.compute import signal_table
    from curation.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Question {i}?", "output": "Yes."} for i in range(5)])))
    app.run()
    flag = app.multiselect(key=W(state.FLAGS, "records"))
    assert flag.disabled and flag.placeholder == "signals not computed yet" and "Quality page" in flag.help
    signal_table(ws)
    app.run()
    flag = app.multiselect(key=W(state.FLAGS, "records"))
    assert not flag.help and (flag.disabled or flag.placeholder == "Any flag")
