"""One AppTest per page: empty state, demo load, filters, decisions, load data, errors."""

from __future__ import annotations

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from ui import state
from ui.state import widget_key as W


def reason(app, prefix: str):
    """The reason input of a decision bar (its key names the records it decides for)."""
    return next(t for t in app.text_input if t.key.startswith(prefix + "."))


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_records_page_empty_state_loads_demo_filters_and_decides(app, tmp_path):
    app.run()
    assert not app.exception
    assert "no records yet" in app.info[0].value
    app.button(key="load_demo").click().run()
    assert not app.exception and not app.error
    assert app.caption[0].value.startswith("241 of 241")
    app.text_input(key=W(state.SEARCH, "records")).input("<script>").run()
    assert app.caption[0].value.startswith("1 of 241")
    assert any("<script>alert('xss')</script>" in c.value for c in app.code)
    app.button(key="one_reject").click().run()
    frame = load_records(Workspace(tmp_path / "ws"))
    assert (frame["decision"] == "reject").sum() == 1
    app.text_input(key=W(state.SEARCH, "records")).input("").run()
    app.multiselect(key=W(state.DECISIONS, "records")).select("reject").run()
    assert app.caption[0].value.startswith("1 of 241")
    app.button(key="one_undo").click().run()
    assert (load_records(Workspace(tmp_path / "ws"))["decision"] == "reject").sum() == 0


def test_records_page_bulk_decision_applies_to_the_filtered_set(app, tmp_path):
    app.run()
    app.button(key="load_demo").click().run()
    app.text_input(key=W(state.SEARCH, "records")).input("recipe").run()
    n = int(app.caption[0].value.split(" of ")[0])
    reason(app, state.BULK_REASON).input("off_topic").run()
    app.button(key="bulk_reject").click().run()
    frame = load_records(Workspace(tmp_path / "ws"))
    assert (frame["reason"] == "off_topic").sum() == n > 1
    counts = app.sidebar.markdown[0].value
    assert counts.startswith("**demo**") and f"{n:,} rejected" in counts


def test_records_page_shows_conversations_with_roles(app):
    app.run()
    app.button(key="load_demo").click().run()
    app.text_input(key=W(state.SEARCH, "records")).input("orange").run()
    assert any(s.value == "Conversation" for s in app.subheader)
    assert {"system", "user", "assistant"} <= {c.value for c in app.caption}


def widget(elements, label: str):
    """The one widget of a kind with this label (found by what a curator sees, not by key)."""
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, f"{len(found)} widgets labelled {label!r}"
    return found[0]


def test_the_filter_set_on_records_is_shown_and_still_applied_on_quality(app):
    app.run()
    app.button(key="load_demo").click().run()
    widget(app.sidebar.multiselect, "Datasets").select("demo").run()
    widget(app.text_input, "Search text").input("recipe").run()
    n = int(app.caption[0].value.split(" of ")[0])
    assert 1 < n < 241
    app.switch_page("pages/quality.py").run()
    assert not app.exception and app.caption[0].value.startswith(f"{n} records")
    note = [i.value for i in app.info if i.value.startswith("Filtered")]  # the curator sees why only n records are here
    assert note and "recipe" in note[0] and "demo" in note[0] and f"{n} of 241" in note[0]
    assert widget(app.sidebar.multiselect, "Datasets").value == ["demo"]
    widget(app.selectbox, "Signal").select("refusal").run()  # an interaction on this page: the filter still applies
    assert not app.exception and app.caption[0].value.startswith(f"{n} records")
    assert any("recipe" in i.value for i in app.info)
    app.switch_page("pages/records.py").run()
    assert widget(app.text_input, "Search text").value == "recipe" and app.caption[0].value.startswith(f"{n} of 241")
    app.switch_page("pages/quality.py").run()
    app.button(key=state.CLEAR_FILTER).click().run()
    assert app.caption[0].value.startswith("241 records") and not [i for i in app.info if i.value.startswith("Filtered")]
    app.switch_page("pages/records.py").run()
    assert widget(app.text_input, "Search text").value == "" and app.caption[0].value.startswith("241 of 241")
    assert widget(app.sidebar.multiselect, "Datasets").value == []


def test_page_options_survive_going_to_another_page_and_back(app, tmp_path):
    from curation.demo import load_demo

    load_demo(Workspace(tmp_path / "ws"))
    app.switch_page("pages/export.py").run()
    widget(app.selectbox, "Template").select("chatml").run()
    widget(app.toggle, "Check test/train similarity").set_value(False).run()
    widget(app.text_input, "Splits").input("train=0.8,test=0.2").run()
    app.switch_page("pages/quality.py").run()
    widget(app.selectbox, "Signal").select("pii").run()
    widget(app.selectbox, "Field").select("instruction").run()
    app.switch_page("pages/load.py").run()
    widget(app.text_input, "File, folder, or Hugging Face dataset id").input("/data/mine.jsonl").run()
    app.switch_page("pages/export.py").run()
    assert widget(app.selectbox, "Template").value == "chatml"
    assert widget(app.text_input, "Splits").value == "train=0.8,test=0.2"
    assert widget(app.toggle, "Check test/train similarity").value is False
    assert [m.label for m in app.metric] == ["train", "test", "excluded"] and not app.exception
    app.switch_page("pages/quality.py").run()
    assert widget(app.selectbox, "Signal").value == "pii" and widget(app.selectbox, "Field").value == "instruction"
    app.switch_page("pages/load.py").run()
    assert widget(app.text_input, "File, folder, or Hugging Face dataset id").value == "/data/mine.jsonl"


def shown_record(app) -> str:
    return widget(app.selectbox, "Record").value


def ticked_record(app) -> str | None:
    """The record whose row is ticked in the Records table (None when no row is)."""
    table = app.dataframe[0]
    rows = app.session_state[table.key]["selection"]["rows"] if table.key in app.session_state else []
    return table.value["record_id"].iloc[rows[0]] if rows else None


def tick(app, row: int | None) -> None:
    """What the browser sends when the curator ticks (or unticks) a row of the Records table."""
    app.session_state[app.dataframe[0].key] = {"selection": {"rows": [] if row is None else [row], "columns": [], "cells": []}}
    app.run()


def test_records_table_and_detail_show_the_same_record(app):
    app.run()
    app.button(key="load_demo").click().run()
    assert ticked_record(app) == shown_record(app)
    table = app.dataframe[0].value
    tick(app, 3)
    assert not app.exception and shown_record(app) == ticked_record(app) == table["record_id"].iloc[3]
    other = next(s for s in table["source"].unique() if s != table["source"].iloc[3])
    widget(app.multiselect, "Source").select(other).run()  # the ticked record leaves the table
    now = app.dataframe[0].value
    assert table["record_id"].iloc[3] not in set(now["record_id"])
    assert shown_record(app) == ticked_record(app) == now["record_id"].iloc[0]
    widget(app.selectbox, "Record").select(now["record_id"].iloc[2]).run()  # chosen below the table: ticked in it
    assert shown_record(app) == ticked_record(app) == now["record_id"].iloc[2]
    tick(app, None)  # unticked: the record shown below stays ticked
    assert shown_record(app) == ticked_record(app) == now["record_id"].iloc[2]
    widget(app.multiselect, "Source").unselect(other).run()  # still in the table: still the one shown and ticked
    assert shown_record(app) == ticked_record(app) == now["record_id"].iloc[2]


def test_a_reason_typed_for_one_record_does_not_carry_over_to_the_next(app, tmp_path):
    app.run()
    app.button(key="load_demo").click().run()
    ids = list(app.dataframe[0].value["record_id"])
    one = [t for t in app.text_input if t.label == "Reason"][-1]  # the detail's (the bulk bar's comes first)
    assert one.value == "manual"
    one.input("off_topic").run()
    assert [t for t in app.text_input if t.label == "Reason"][-1].value == "off_topic"
    widget(app.selectbox, "Record").select(ids[1]).run()
    assert [t for t in app.text_input if t.label == "Reason"][-1].value == "manual"
    app.button(key="one_reject").click().run()
    frame = load_records(Workspace(tmp_path / "ws")).set_index("record_id")
    assert frame.at[ids[1], "reason"] == "manual" and frame.at[ids[0], "decision"] == "undecided"


def test_load_page_reports_problems_in_a_table(app, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n{broken\n", encoding="utf-8")
    app.switch_page("pages/load.py").run()
    assert not app.exception
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(bad)).run()
    app.button(key="load_path_button").click().run()
    assert not app.exception
    assert "1 records added" in app.success[0].value
    problems = app.dataframe[0].value
    assert list(problems["line"]) == [2] and "invalid JSON" in problems["reason"].iloc[0]


def test_load_page_missing_path_is_an_error_message_not_a_traceback(app, tmp_path):
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(tmp_path / "nowhere.jsonl")).run()
    app.button(key="load_path_button").click().run()
    assert not app.exception
    assert "no such file" in app.error[0].value


def test_load_page_offers_a_mapping_when_detection_fails(app, tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Why?", "answer": "Because."}])
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(path)).run()
    app.button(key="load_path_button").click().run()
    assert "could not detect the format" in app.error[0].value
    app.selectbox(key="map_instruction").select("question")
    app.selectbox(key="map_output").select("answer")
    app.button[-1].click().run()
    assert not app.exception
    frame = load_records(Workspace(tmp_path / "ws"))
    assert list(frame["instruction"]) == ["Why?"] and list(frame["format"]) == ["mapped"]


def test_load_page_shows_the_mapping_form_because_of_the_error_type(app, tmp_path, monkeypatch):
    import curation.ingest
    from curation.errors import CurationError, UnknownFormat

    def fail(error):
        def fake_ingest(ws, path, **kw):
            raise error
        return fake_ingest

    # The message does not matter: only UnknownFormat offers the mapping, with the columns it carries.
    monkeypatch.setattr(curation.ingest, "ingest", fail(UnknownFormat("no format fits these rows", ["prompt", "reply"])))
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(tmp_path / "x.jsonl")).run()
    app.button(key="load_path_button").click().run()
    assert not app.exception and "no format fits these rows" in app.error[0].value
    assert app.selectbox(key="map_instruction").options == ["(none)", "prompt", "reply"]
    monkeypatch.setattr(curation.ingest, "ingest", fail(CurationError("could not detect the format: columns are []")))
    app.button(key="load_path_button").click().run()
    assert not app.exception and "could not detect the format" in app.error[0].value
    assert not [s for s in app.selectbox if s.key == "map_instruction"]


def test_quality_page_signals_threshold_evidence_and_bulk_reject(app, tmp_path):
    app.run()
    app.button(key="load_demo").click().run()
    app.switch_page("pages/quality.py").run()
    assert not app.exception and not app.error
    assert "carry at least one flag" in app.caption[0].value
    assert len(app.get("plotly_chart")) >= 1
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("short_output").run()
    app.number_input(key=W(f"{state.QUALITY_THRESHOLD}.short_output", "quality")).set_value(1.0).run()
    metric = app.metric[0]
    assert metric.value == "0" and not app.exception  # the live count, before anything is applied
    app.number_input(key=W(f"{state.QUALITY_THRESHOLD}.short_output", "quality")).set_value(5.0).run()
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("refusal").run()
    evidence = [c.value for c in app.caption if c.value.startswith("Evidence")]
    assert evidence and "I'm sorry, but I can't help" in evidence[0]
    assert any("<mark>" in h.proto.body for h in app.get("html"))
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("exact_duplicate").run()  # a reject flag (measured ≥ 0.9)
    app.button(key="reject_exact_duplicate").click().run()
    frame = load_records(Workspace(tmp_path / "ws"))
    assert (frame["reason"] == "exact_duplicate").sum() == 5
    app.button(key="undo_exact_duplicate").click().run()
    assert (load_records(Workspace(tmp_path / "ws"))["reason"] == "exact_duplicate").sum() == 0


def test_quality_page_offers_bulk_reject_only_for_flags_measured_precise(app, tmp_path):
    from curation.signals import SIGNALS

    app.run()
    app.button(key="load_demo").click().run()
    app.switch_page("pages/quality.py").run()
    overview = next(d.value for d in app.dataframe if "signal" in d.value.columns).set_index("signal")
    assert overview.loc["refusal", "action"] == "review" and overview.loc["exact_duplicate", "action"] == "reject"
    assert overview.loc["end_marker", "action"] == "fix" and overview.loc["language", "measured precision"] == "1.00 on 31"
    seen = set()
    for name, s in SIGNALS.items():
        app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select(name).run()
        assert not app.exception, name
        keys = {b.key for b in app.button}
        if f"review_{name}" in keys or f"reject_{name}" in keys:  # the flag marks some demo records
            seen.add(s.action)
            assert (f"reject_{name}" in keys) == (s.action == "reject"), name
            assert (f"review_{name}" in keys) == (s.action != "reject"), name
    assert seen == {"reject", "review", "fix"}
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("refusal").run()
    assert any("No bulk reject" in i.value for i in app.info)
    app.button(key="review_refusal").click().run()  # a queue on the Review page; the Records filter follows the flag
    assert not app.exception and app.session_state[state.FLAGS] == ["refusal"]
    assert app.session_state[state.REVIEW_QUEUE] == "Flag refusal"
    queue = app.session_state[state.REVIEW_QUEUES]["Flag refusal"]
    assert len(queue["ids"]) == 4 and queue["reason"] == "refusal"
    app.switch_page("pages/records.py").run()
    assert app.caption[0].value.startswith("4 of 241") and widget(app.multiselect, "Flag").value == ["refusal"]
    assert load_records(Workspace(tmp_path / "ws"))["decision"].eq("undecided").all()  # nothing was rejected


def test_quality_page_marks_the_evidence_where_it_was_found(app, tmp_path):
    from curation.ingest import ingest

    ingest(Workspace(tmp_path / "ws"), write_jsonl(tmp_path / "d.jsonl", [
        {"instruction": "Describe the attached image.", "input": "", "output": "The attached image shows a dog."}]))
    app.switch_page("pages/quality.py").run()
    next(s for s in app.selectbox if s.label == "Signal").select("needs_context").run()
    assert not app.exception and not app.error
    blocks = [h.proto.body for h in app.get("html")]
    # Marked from the signal's spans: in the instruction, where it was found, not wherever the same words occur.
    assert [b.count("<mark>") for b in blocks] == [1, 0]
    assert "Describe the <mark>attached image</mark>." in blocks[0] and "The attached image shows a dog." in blocks[1]


def test_quality_page_empty_state(app):
    app.switch_page("pages/quality.py").run()
    assert not app.exception and "No records yet" in app.info[0].value


def test_map_page_offers_to_build_then_shows_the_map_search_and_diversity(app, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from curation.atlas import build
    from curation.demo import load_demo

    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    app.switch_page("pages/map.py").run()
    assert not app.exception and not app.error
    assert "No map yet" in app.info[0].value and app.button(key="build_map")
    build(ws, load_records(ws))  # what the background job runs
    app.run()
    assert not app.exception and not app.error
    assert "clusters" in app.caption[0].value and len(app.get("plotly_chart")) == 1
    app.text_input(key=W(state.MAP_SEARCH, "map")).input("router light blinking").run()
    assert not app.exception and any("Nearest to" in s.value for s in app.subheader)
    app.selectbox(key=W(state.MAP_COLOR, "map")).select("source").run()
    assert not app.exception
    app.radio(key=W(state.MAP_DIVERSITY, "map")).set_value("by_source").run()
    assert "synthetic" in app.dataframe[-1].value.index


def test_map_page_empty_state(app):
    app.switch_page("pages/map.py").run()
    assert not app.exception and "No records yet" in app.info[0].value


def test_duplicates_page_finds_sweeps_applies_and_undoes(app, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from curation import dedup
    from curation.demo import load_demo

    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception and not app.error
    assert "No duplicate groups yet" in app.info[0].value and app.button(key="find_dups")
    found = dedup.find(ws)  # what the background job runs
    app.run()
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Would be rejected"] == f"{found.summary()['would_reject']:,}"
    assert any("Threshold sweep" in s.value for s in app.subheader) and len(app.get("plotly_chart")) == 1
    app.button(key="apply_all").click().run()
    assert (load_records(ws)["decision"] == "reject").sum() == found.summary()["would_reject"]
    assert load_records(ws)["reason"].dropna().str.startswith("near_duplicate_of:").all()
    app.button(key="undo_all").click().run()
    assert (load_records(ws)["decision"] == "reject").sum() == 0
    app.slider(key="dup_threshold").set_value(0.97).run()
    assert not app.exception and dedup.dedup_settings(ws)["threshold"] == 0.97
    assert {m.label: m.value for m in app.metric}["Would be rejected"] == f"{dedup.find(ws).summary()['would_reject']:,}"
    app.switch_page("pages/records.py").run()
    assert not app.exception and "dup_group" in app.dataframe[0].value.columns  # the Records table shows each record's group


def test_duplicates_page_empty_state(app):
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception and "No records yet" in app.info[0].value


def test_export_page_previews_writes_and_offers_a_zip(app, tmp_path):
    from curation.demo import load_demo

    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    app.switch_page("pages/export.py").run()
    assert not app.exception and not app.error
    app.selectbox(key=W(state.EXPORT_TEMPLATE, "export")).select("chatml").run()
    app.toggle(key=W(state.EXPORT_SIMILARITY, "export")).set_value(False).run()
    assert [m.label for m in app.metric] == ["train", "test", "excluded"]
    assert any("<mark>&lt;|im_start|&gt;</mark>" in h.proto.body for h in app.get("html"))  # highlighted, escaped
    app.text_input(key=W(state.EXPORT_SPLIT, "export")).input("train=0.5,dev=0.5").run()
    assert [m.label for m in app.metric][:2] == ["train", "dev"]
    app.text_input(key=W(state.EXPORT_SPLIT, "export")).input("train").run()
    assert "bad split" in app.error[0].value and not app.exception
    app.text_input(key=W(state.EXPORT_SPLIT, "export")).input("train=0.8,test=0.2").run()
    app.text_input(key=W(state.EXPORT_OUT, "export")).input(str(tmp_path / "out")).run()
    app.button(key="export_run").click().run()
    assert not app.exception and not app.error
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["splits"] == {"train": 190, "test": 47} and manifest["template"]["name"] == "chatml"  # 4 empty outputs blocked
    assert app.get("download_button")


def try_custom_template(app, tmp_path, source: str) -> None:
    """The demo loaded, the Export page with a custom template typed in (no similarity check)."""
    from curation.demo import load_demo

    load_demo(Workspace(tmp_path / "ws"))
    app.switch_page("pages/export.py").run()
    app.selectbox(key=W(state.EXPORT_TEMPLATE, "export")).select("custom (Jinja)").run()
    app.toggle(key=W(state.EXPORT_SIMILARITY, "export")).set_value(False).run()
    app.text_area(key=W(state.EXPORT_CUSTOM, "export")).input(source).run()


def test_export_page_custom_template_errors_are_shown(app, tmp_path):
    try_custom_template(app, tmp_path, "{{ ''.__class__.__mro__ }}")
    assert not app.exception and "SecurityError" in app.error[0].value


def test_export_page_shows_a_template_past_its_limits_as_an_error(app, tmp_path):
    try_custom_template(app, tmp_path, "{% for m in messages %}{{ m.content * 10**9 }}{% endfor %}")
    assert not app.exception and "limit of 200,000 characters per record" in app.error[0].value
    assert not app.metric  # no preview of a template that failed


def test_export_page_empty_state(app):
    app.switch_page("pages/export.py").run()
    assert not app.exception and "No records yet" in app.info[0].value


def test_the_dashboard_binds_to_loopback_by_default():
    import ipaddress
    import tomllib

    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert ipaddress.ip_address(conf["server"]["address"]).is_loopback  # no login: never every interface by default


IMAGE = "![x](http://example.invalid/pixel.png?from={})"
# remark-gfm's autolink literal (mdast-util-gfm-autolink-literal): what GFM makes a link of in text, escaped or not
GFM_AUTOLINK = re.compile(r"(?:https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.IGNORECASE)


def links_or_images(markdown: str) -> list[str]:
    """Links and images in `markdown` as Streamlit renders it: CommonMark's, and GFM's links of bare URLs and e-mail
    addresses in text (markdown-it has no GFM autolinks: they are found in the text outside code spans)."""
    import html

    markdown_it = pytest.importorskip("markdown_it")
    out = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    text = html.unescape(re.sub(r"<[^>]*>", " ", re.sub(r"<code>.*?</code>", " ", out, flags=re.DOTALL)))
    return re.findall(r"<(?:a|img)\b[^>]*>", out) + GFM_AUTOLINK.findall(text)


def markdown_shown(app) -> list[str]:
    """Every string the app passed to an element that renders Markdown."""
    shown = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error", "subheader", "title")
             for e in getattr(app, kind)]
    return shown + [m.label for m in app.metric] + [e.label for e in app.expander] + [t.label for t in app.tabs]


def test_names_reasons_text_and_evidence_from_records_are_never_markdown(app, tmp_path):
    from curation import decisions
    from curation.ingest import ingest

    ws = Workspace(tmp_path / "ws")
    path = write_jsonl(tmp_path / "d.jsonl", [{"instruction": f"Describe {IMAGE.format('instruction')}",
                                               "output": ("A red square.\n" + IMAGE.format("output") + "\n") * 4}])
    ingest(ws, path, name=f"team {IMAGE.format('dataset')}")
    decisions.decide(ws, list(load_records(ws)["record_id"]), "reject", f"off_topic {IMAGE.format('reason')}", curator="ann")
    app.run()
    assert not app.exception
    app.switch_page("pages/quality.py").run()
    app.selectbox(key=W(state.QUALITY_SIGNAL, "quality")).select("repetition").run()
    assert not app.exception and not app.error
    shown = markdown_shown(app)
    app.switch_page("pages/records.py").run()
    shown += markdown_shown(app)
    # Each holds a URL: a code span (escaped, GFM would still make a link of the URL)
    assert any(s.startswith("**`team ![x](http://example") for s in shown)  # the sidebar's dataset name
    assert any(s.startswith("Decision: **`reject (off_topic ![x](") for s in shown)
    assert any(s.startswith("Evidence: `line repeated × 4: ![x](") for s in shown)
    assert not [s for s in shown if links_or_images(s)]


def test_plain_text_is_never_a_link_in_markdown():
    """GFM makes links of bare URLs, "www." and e-mail addresses after escapes are read: plain() puts text holding
    one in a code span, which GFM neither parses nor links."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ui.show import plain

    assert links_or_images("see http://example.invalid/x or WWW.example.org, ops@example.org") != []  # the check works
    assert plain("see https://x.y/ and ``a`` then `") == "``` see https://x.y/ and ``a`` then ` ```"
    pieces = st.sampled_from([*"ab 1.-_`[]()!<>:@/\\\n", "http://x.y/", "HTTPS://x.y", "www.", "WwW.x.org", "a@b.co", "mailto:",
                              "![x](http://x.y/i.png)", "<a href='http://x.y/'>n</a>", "<http://x.y>", "[l](www.x.y)", "``"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(pieces, max_size=20).map("".join))
    def never_a_link(text):
        assert links_or_images(plain(text)) == []
        assert links_or_images(f"**{plain(text)}**  \nsome · text") == []  # as the sidebar shows a dataset's name

    never_a_link()


def test_plain_text_reads_as_itself_in_markdown():
    import html

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ui.show import plain

    markdown_it = pytest.importorskip("markdown_it")  # CommonMark, as Streamlit's renderer parses it
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    pieces = st.sampled_from([*"ab 1.-+*_`[]()!<>#|~$:&=\\/\"'@\n\t{}", "http://x.y/", "![x](", "&lt;", "  \n", "    ", "1.", "[a]: /u"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(pieces, max_size=25).map("".join))
    def reads_as_itself(text):
        for out in (md.renderInline(plain(text)), md.render(plain(text)).strip().removeprefix("<p>").removesuffix("</p>")):
            if out.startswith("<code>") and out.endswith("</code>"):  # text holding a URL or an e-mail address
                out = out.removeprefix("<code>").removesuffix("</code>")
            assert "<" not in out.replace("&lt;", "")  # no element (but that code span): no image, link, emphasis or heading
            assert html.unescape(out) == " ".join(text.split())

    reads_as_itself()


def test_layout_guard_shows_a_damaged_workspace_as_the_doctor_command_and_a_new_one_as_the_demo(app, tmp_path):
    app.run()  # a new user: the workspace is created and the demo offered
    assert not app.exception and not app.error and (tmp_path / "ws" / "curation.db").exists()
    assert "no records yet" in app.info[0].value and app.button(key="load_demo")
    (tmp_path / "ws" / "curation.db").write_bytes(b"not a database" * 500)
    app.run()
    assert not app.exception
    [error] = [e.value for e in app.error]
    assert error.startswith("workspace database ") and "CurationError" not in error and "Something went wrong" not in error
    assert f"python -m curation doctor --workspace {tmp_path / 'ws'}" in error.replace("\\", "")
    captions = " ".join(c.value for c in app.caption)
    assert "decisions are saved" not in captions and "doctor command" in captions


def score_table(app):
    return next(d.value for d in app.dataframe if "ranked by: answer words" in d.value.columns)  # the length ranker


def test_quality_score_tab_says_what_ranks_sorts_and_selects(app, tmp_path):
    from curation.scorers.ranked import ScoreSettings

    app.run()
    app.button(key="load_demo").click().run()
    app.switch_page("pages/quality.py").run()
    assert not app.exception and not app.error
    said = [i.value for i in app.info if i.value.startswith("Score = flags gate")]
    assert said and "answer length in words" in said[0] and "0.720" in said[0]
    assert len(score_table(app)) == 241
    app.slider(key="score_range").set_value((0.0, 0.49)).run()
    picked = [c.value for c in app.caption if "records selected" in c.value]
    n = int(picked[0].split()[0])
    assert 0 < n < 241 and picked[0].endswith(f"{n} of them under the flags gate")  # below 0.5: only broken records
    table = score_table(app)
    assert list(table["score"]) == sorted(table["score"])  # worst first
    app.radio(key=W(state.QUALITY_ORDER, "quality")).set_value("best first").run()
    assert list(score_table(app)["score"]) == sorted(table["score"], reverse=True)
    app.button(key="score_keep").click().run()  # the buttons act on the selection
    frame = load_records(Workspace(tmp_path / "ws"))
    assert (frame["decision"] == "keep").sum() == n
    app.slider(key="score_range").set_value((0.0, 1.0)).run()  # everything: a tick first
    assert not any(b.key == "score_keep" for b in app.button)
    app.checkbox(key="score_confirm").check().run()
    app.button(key="score_reject").click().run()
    assert (load_records(Workspace(tmp_path / "ws"))["decision"] == "reject").sum() == 241
    app.button(key="score_undo").click().run()
    app.selectbox(key="score_ranker").select("ifd").run()
    app.button(key="score_use").click().run()
    assert ScoreSettings.load(Workspace(tmp_path / "ws")).ranker == "ifd"
    assert any("0 of 241 records shown are scored by" in c.value for c in app.caption)
    assert any(b.key == "score_run" for b in app.button)  # a sample can be scored from here


def test_learned_ranker_asks_about_the_most_uncertain_records(app, tmp_path):
    from curation.scorers.ranked import ScoreSettings
    from ui import jobs

    app.run()
    app.button(key="load_demo").click().run()
    ws = Workspace(tmp_path / "ws")
    ScoreSettings.save(ws, ranker="learned")
    ids = list(load_records(ws)["record_id"][:3])
    finished = jobs.Job(finished=True, result={"scored": 241, "records": 241, "computed": 241, "cached": 0, "failed": 0,
                                                "seconds": 3.0, "auc": 0.81, "uncertain": ids})
    jobs._registry()[f"score|{ws.root}|learned"] = finished  # a learned run that has just finished
    app.switch_page("pages/quality.py").run()
    assert not app.exception and any("cross-validated AUC 0.81" in s.value for s in app.success)
    assert [o.split(" — ")[0] for o in app.selectbox(key="score_uncertain").options] == ids
    app.selectbox(key="score_uncertain").select_index(1).run()
    app.button(key="uncertain_reject").click().run()
    frame = load_records(ws).set_index("record_id")
    assert frame.at[ids[1], "decision"] == "reject" and (frame["decision"] == "reject").sum() == 1


def test_a_running_map_build_can_switch_to_fast_mode(app, tmp_path, monkeypatch):
    import threading

    from curation import atlas
    from curation.atlas import map_settings
    from curation.embed import EmbedSettings
    from ui import jobs

    app.run()
    app.button(key="load_demo").click().run()
    ws = Workspace(tmp_path / "ws")
    release = threading.Event()

    def slow(job):  # stands in for the MiniLM build: reports progress until cancelled
        for i in range(600):
            job.update(i, 600, "embedding with minilm")
            release.wait(0.05)

    monkeypatch.setattr(atlas, "build", lambda ws, frame, progress=None: None)  # the restarted build: not run for real here
    running = jobs.start(f"{ws.root}|{map_settings(ws)}", slow)
    app.switch_page("pages/map.py").run()
    assert not app.exception
    switch = next(b for b in app.button if b.label == "Switch to fast mode")
    switch.click().run()
    release.set()
    assert EmbedSettings.load(ws).model == "static"
    assert running.cancel_requested
    fast = jobs.get(f"{ws.root}|{map_settings(ws)}")
    assert fast is not None and fast is not running  # the build restarted with the static model


def test_fast_mode_button_builds_the_map_with_the_static_model(app, tmp_path, monkeypatch):
    from curation import atlas
    from curation.atlas import map_settings
    from curation.embed import EmbedSettings
    from ui import jobs

    built = []
    monkeypatch.setattr(atlas, "build", lambda ws, frame, progress=None: built.append(EmbedSettings.load(ws).model))

    app.run()
    app.button(key="load_demo").click().run()
    app.switch_page("pages/map.py").run()
    app.button(key="build_fast").click().run()
    ws = Workspace(tmp_path / "ws")
    assert EmbedSettings.load(ws).model == "static"
    job = jobs.get(f"{ws.root}|{map_settings(ws)}")
    assert job is not None  # the build started: one click, not a second "Build the map"
    while not job.finished:
        time.sleep(0.01)
    assert built == ["static"] and job.error is None
