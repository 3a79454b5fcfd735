"""The Review page (issue 17): any set of records as a queue, stepped through with one key each, a reason per queue,
progress, the whole conversation, flags/cluster/group, decision history, and the curator named in the sidebar."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import decisions
from curation.demo import load_demo
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from ui import state
from ui.state import widget_key as W


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60), ws


def reason_box(app):
    return next(t for t in app.text_input if t.label == "Reason for this queue")


def progress_text(app) -> str:
    return app.get("progress")[0].proto.text


def open_from_records(app, search: str) -> None:
    app.run()
    app.text_input(key=W(state.SEARCH, "records")).input(search).run()
    app.button(key="review_matching").click().run()
    assert not app.exception and not app.error


def test_records_filter_opens_as_a_queue_and_keys_keep_reject_skip_with_the_queues_reason_and_curator(demo):
    app, ws = demo
    app.run()
    app.text_input(key=W(state.CURATOR, "records")).input("alice").run()
    open_from_records(app, "recipe")
    ids = app.session_state[state.REVIEW_QUEUES][app.session_state[state.REVIEW_QUEUE]]["ids"]
    assert app.session_state[state.REVIEW_QUEUE] == "Records: search “recipe”" and len(ids) == 11
    assert app.title[0].value == "Review"
    assert progress_text(app).startswith("Record 1 of 11 · 0 decided")
    shortcuts = {b.key: b.proto.shortcut.upper() for b in app.button if b.key and b.key.startswith("review_")}
    assert shortcuts == {"review_previous": "P", "review_keep": "K", "review_reject": "X", "review_skip": "S", "review_next": "N"}
    reason_box(app).input("off_topic").run()
    app.button(key="review_reject").click().run()
    app.button(key="review_keep").click().run()
    app.button(key="review_skip").click().run()
    assert progress_text(app).startswith("Record 4 of 11 · 2 decided (1 kept, 1 rejected) · 1 skipped")
    frame = load_records(ws).set_index("record_id")
    decided = frame[frame["decision"] != "undecided"]
    assert len(decided) == 2 and set(decided["reason"]) == {"off_topic"}
    assert {decisions.history(ws, rid)[-1]["curator"] for rid in decided.index} == {"alice"}
    assert decided.loc[ids[0], "decision"] == "reject" and decided.loc[ids[1], "decision"] == "keep"  # in queue order
    app.button(key="review_previous").click().run()
    assert progress_text(app).startswith("Record 3 of 11")
    assert reason_box(app).value == "off_topic"  # remembered for this queue


def test_a_queues_reason_is_not_carried_to_another_queue_and_comes_back_with_it(demo):
    app, ws = demo
    open_from_records(app, "recipe")
    reason_box(app).input("off_topic").run()
    first = app.session_state[state.REVIEW_QUEUE]
    app.switch_page("pages/records.py").run()
    app.text_input(key=W(state.SEARCH, "records")).input("orange").run()
    app.button(key="review_matching").click().run()
    assert app.title[0].value == "Review" and app.session_state[state.REVIEW_QUEUE] != first
    app.switch_page("pages/review.py")  # AppTest stays on the page it was switched to last; st.switch_page went here
    assert reason_box(app).value == "manual"
    app.button(key="review_keep").click().run()
    assert set(load_records(ws).query("decision == 'keep'")["reason"]) == {"manual"}
    app.selectbox(key=W(state.REVIEW_QUEUE, "review")).select(first).run()
    assert reason_box(app).value == "off_topic"


def test_the_whole_conversation_is_shown_with_roles_as_text(demo):
    app, ws = demo
    open_from_records(app, "orange")
    frame = load_records(ws)
    rid = app.session_state[state.REVIEW_QUEUES][app.session_state[state.REVIEW_QUEUE]]["ids"][0]
    from curation.records import loads

    messages = loads(frame.set_index("record_id").loc[rid, "messages"])
    assert len(messages) > 2
    assert any(m.value.startswith("**Conversation**") for m in app.markdown)
    shown = [c.value for c in app.code]
    for m in messages:  # every turn, not only the last one
        assert m["content"] in shown
    assert [c.value for c in app.caption if c.value in ("system", "user", "assistant")][: len(messages)] == [m["role"] for m in messages]


def test_decision_history_and_undo_then_the_end_of_the_queue(demo):
    app, ws = demo
    open_from_records(app, "orange")
    n = len(app.session_state[state.REVIEW_QUEUES][app.session_state[state.REVIEW_QUEUE]]["ids"])
    for _ in range(n):
        app.button(key="review_reject").click().run()
    assert progress_text(app).startswith(f"End of the queue ({n} records) · {n} decided (0 kept, {n} rejected)")
    assert any("You reached the end" in s.value for s in app.success)
    assert app.button(key="review_keep").disabled
    app.button(key="review_previous").click().run()
    history = [d for d in app.dataframe if list(d.value.columns) == ["time", "action", "reason", "curator"]]
    assert history and list(history[0].value["action"]) == ["reject"]


def test_review_page_empty_state_and_open_a_queue_from_a_flag(demo, tmp_path):
    app, ws = demo
    app.switch_page("pages/review.py").run()
    assert not app.exception
    assert any("No queue yet" in i.value for i in app.info)
    from curation.annotated import find_signals

    find_signals(ws, compute=True)
    app.run()
    app.selectbox(key="w.review.start").select("flag refusal").run()
    app.button(key="review_start").click().run()
    assert not app.exception and not app.error
    assert app.session_state[state.REVIEW_QUEUE] == "Flag refusal"
    assert reason_box(app).value == "refusal"
    assert "flags: " in " ".join(c.value for c in app.caption) and "refusal" in " ".join(c.value for c in app.caption)


def test_two_curators_agreement_is_shown_and_their_disagreements_open_as_a_queue(demo):
    app, ws = demo
    ids = list(load_records(ws)["record_id"])[:6]
    decisions.decide(ws, ids[:4], "keep", "manual", curator="ana")
    decisions.decide(ws, ids[:3], "keep", "manual", curator="bea")
    decisions.decide(ws, ids[3:5], "reject", "manual", curator="bea")
    app.switch_page("pages/review.py").run()
    assert not app.exception and not app.error
    people = next(d.value for d in app.dataframe if "curator" in d.value.columns)
    assert set(people["curator"]) == {"ana", "bea"}
    text = " ".join(m.value for m in app.markdown)
    assert "On the **4** records both decided they agree on **75%**" in text and "1 disagreements" in text
    app.button(key="review_disagree").click().run()
    assert app.session_state[state.REVIEW_QUEUES][app.session_state[state.REVIEW_QUEUE]]["ids"] == [ids[3]]


def test_a_skipped_record_decided_later_no_longer_counts_as_skipped(demo):
    app, ws = demo
    open_from_records(app, "recipe")
    app.button(key="review_skip").click().run()
    assert progress_text(app).startswith("Record 2 of 11 · 0 decided (0 kept, 0 rejected) · 1 skipped")
    app.button(key="review_previous").click().run()
    app.button(key="review_keep").click().run()
    assert progress_text(app).startswith("Record 2 of 11 · 1 decided (1 kept, 0 rejected) · 0 skipped")
