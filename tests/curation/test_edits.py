"""Edits (issue 17): versioned, reverted without loss, bulk fixes through the same path, and what every stage reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import edits
from curation.annotated import annotate, stamp
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import load_records, read_records
from tests.conftest import write_jsonl

ROWS = [{"instruction": f"Question {i}?", "output": f"Answer {i}.<|endoftext|>"} for i in range(4)] + [
    {"instruction": "Write a letter to {{name}}.", "output": "As an AI language model, I can write letters. Dear {{name}}, hello."},
    {"instruction": "Name a colour.", "output": "Blue."},
]
CHAT = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello!</s>"}, {"role": "user", "content": "Bye"},
                      {"role": "assistant", "content": "You too!</s>"}]}]


@pytest.fixture
def ids(ws, tmp_path) -> dict[str, str]:
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", ROWS), name="d")
    frame = read_records(ws)
    return dict(zip(frame["instruction"], frame["record_id"]))


def text(ws, rid, field="output"):
    frame = read_records(ws)
    return frame.loc[frame["record_id"] == rid, field].iloc[0]


def test_an_edit_is_a_version_the_original_stays_and_readers_see_the_latest(ws, ids):
    rid = ids["Name a colour."]
    part = ws.parts()[0]
    before = part.read_bytes()
    assert edits.edit(ws, rid, {"output": "Red."}, curator="ana") == {"record_id": rid, "version": 1}
    assert edits.edit(ws, rid, {"output": "Green.", "instruction": "Name a colour, please."}, curator="bob",
                      reason="typo") == {"record_id": rid, "version": 2}
    assert part.read_bytes() == before  # the stored part is never rewritten
    assert text(ws, rid) == "Green." and text(ws, rid, "instruction") == "Name a colour, please."
    history = edits.edit_history(ws, rid)
    assert [h["version"] for h in history] == [0, 1, 2]
    assert history[0]["text"]["output"] == "Blue." and history[0]["reason"] == "original"
    assert history[1]["changes"] == {"output": {"before": "Blue.", "after": "Red."}} and history[1]["curator"] == "ana"
    assert sorted(history[2]["fields"]) == ["instruction", "output"] and history[2]["reason"] == "typo"
    assert history[2]["curator"] == "bob" and history[2]["ts"] >= history[1]["ts"]
    assert edits.edited_ids(ws) == {rid}
    assert rid in set(load_records(ws)["record_id"])  # the record keeps its id


def test_edit_errors_unknown_field_unknown_id_no_change(ws, ids):
    rid = ids["Name a colour."]
    with pytest.raises(CurationError, match="unknown field 'answer'"):
        edits.edit(ws, rid, {"answer": "x"})
    with pytest.raises(CurationError, match="unknown record id"):
        edits.edit(ws, "nope", {"output": "x"})
    with pytest.raises(CurationError, match="no change"):
        edits.edit(ws, rid, {"output": "Blue."})
    with pytest.raises(CurationError, match="messages"):
        edits.edit(ws, rid, {"messages": [{"role": "robot", "content": "x"}]})
    assert edits.edited_ids(ws) == set()


def test_revert_goes_back_one_version_at_a_time_and_is_itself_a_version(ws, ids):
    rid = ids["Name a colour."]
    edits.edit(ws, rid, {"output": "Red."})
    edits.edit(ws, rid, {"output": "Green."})
    assert edits.revert_edit(ws, rid, curator="cy") == {"record_id": rid, "version": 3, "reverted": 2}
    assert text(ws, rid) == "Red."
    assert edits.revert_edit(ws, rid)["reverted"] == 1
    assert text(ws, rid) == "Blue."
    assert edits.edited_ids(ws) == set()  # back to the original: not edited, but every version is kept
    history = edits.edit_history(ws, rid)
    assert [h["reason"] for h in history] == ["original", "manual", "manual", "revert:2", "revert:1"]
    assert history[3]["curator"] == "cy" and history[3]["reverts"] == 2
    with pytest.raises(CurationError, match="no edit"):
        edits.revert_edit(ws, rid)


def test_stamp_and_annotate_show_the_edit(ws, ids):
    rid = ids["Name a colour."]
    annotate(ws, stages=("signals",), compute=("signals",))
    before, signals_before = stamp(ws, "records"), stamp(ws, "signals")
    edits.edit(ws, rid, {"output": "Red."}, curator="ana")
    assert stamp(ws, "records") != before and stamp(ws, "signals") != signals_before
    from curation.signals.compute import pending

    assert pending(ws) == 1  # the edited record's signals are due: the dashboard's "compute" knows
    annotate(ws, stages=("signals",), compute=("signals",))
    assert pending(ws) == 0
    frame = annotate(ws, stages=("decisions",)).set_index("record_id")
    assert bool(frame.loc[rid, "edited"]) and frame.loc[rid, "edit_version"] == 1
    assert not frame.drop(index=rid)["edited"].any() and (frame.drop(index=rid)["edit_version"] == 0).all()


def test_strip_end_marker_bulk_fix_goes_through_versions_and_signals_recompute(ws, ids):
    flagged = annotate(ws, stages=("signals",), compute=("signals",)).set_index("record_id")
    marked = {ids[f"Question {i}?"] for i in range(4)}
    assert {r for r in flagged.index if flagged.loc[r, "flag__end_marker"]} == marked
    preview = edits.bulk_fix(ws, "strip_end_marker", dry_run=True)
    assert preview["matched"] == 4 and preview["changed"] == 4 and edits.edited_ids(ws) == set()
    assert {"before": "Answer 0.<|endoftext|>", "after": "Answer 0."}.items() <= {
        k: v for s in preview["sample"] if s["before"].startswith("Answer 0") for k, v in s.items()}.items()
    done = edits.bulk_fix(ws, "strip_end_marker", curator="ana")
    assert done["changed"] == 4 and edits.edited_ids(ws) == marked
    assert all(edits.edit_history(ws, r)[1]["reason"] == "fix:strip_end_marker" for r in marked)
    after = annotate(ws, stages=("signals",), compute=("signals",)).set_index("record_id")
    assert not after["flag__end_marker"].any()  # the flag is gone: the signals were computed on the edited text
    assert text(ws, ids["Question 0?"]) == "Answer 0."
    assert edits.bulk_fix(ws, "strip_end_marker")["changed"] == 0  # nothing left to fix


def test_bulk_fix_on_chosen_ids_only_and_in_one_transaction(ws, ids):
    one = ids["Question 1?"]
    out = edits.bulk_fix(ws, "strip_end_marker", ids=[one, ids["Name a colour."]])
    assert out["matched"] == 1 and edits.edited_ids(ws) == {one}
    with pytest.raises(CurationError, match="unknown record id"):
        edits.bulk_fix(ws, "strip_end_marker", ids=["nope"])
    with pytest.raises(CurationError, match="unknown fix 'nope'.*strip_end_marker"):
        edits.bulk_fix(ws, "nope")


def test_strip_ai_opening_and_fill_placeholder(ws, ids):
    rid = ids["Write a letter to {{name}}."]
    assert edits.bulk_fix(ws, "strip_ai_opening")["changed"] == 1
    assert text(ws, rid) == "Dear {{name}}, hello."
    with pytest.raises(CurationError, match="needs a value"):
        edits.bulk_fix(ws, "fill_placeholder")
    out = edits.bulk_fix(ws, "fill_placeholder", value="name=Sam")
    assert out["changed"] == 1
    assert text(ws, rid) == "Dear Sam, hello." and text(ws, rid, "instruction") == "Write a letter to Sam."
    assert [h["version"] for h in edits.edit_history(ws, rid)] == [0, 1, 2]


@pytest.mark.parametrize("given, expected", [
    ("As an AI language model, I cannot feel. But here is a poem.", "But here is a poem."),
    ("Sure! As an AI, I think the answer is 4. Four.", "Four."),
    ("As an AI language model, I cannot do that.", "As an AI language model, I cannot do that."),  # nothing would remain
    ("The answer is 4.", "The answer is 4."),
])
def test_strip_ai_opening_cases(given, expected):
    assert edits._strip_opening(given) == expected


@pytest.mark.parametrize("given, value, expected", [
    ("Hi {{name}}, from {{ sender }}", {"name": "Ana", "sender": "Bo"}, "Hi Ana, from Bo"),
    ("Hi {name} and [NAME]", "Ana", "Hi Ana and Ana"),
    ("Hi [NAME], see [PLACE]", {"NAME": "Ana"}, "Hi Ana, see [PLACE]"),
])
def test_fill_cases(given, value, expected):
    assert edits._fill(given, value) == expected


def test_a_conversation_edit_keeps_the_turns_and_the_tuple_fields_in_step(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "c.jsonl", CHAT), name="c")
    rid = read_records(ws)["record_id"].iloc[0]
    assert text(ws, rid) == "You too!</s>"
    edits.edit(ws, rid, {"output": "Goodbye!"})
    turns = json.loads(text(ws, rid, "messages"))
    assert turns[-1]["content"] == "Goodbye!" and turns[2]["content"] == "Hello!</s>"
    edits.bulk_fix(ws, "strip_end_marker")
    turns = json.loads(text(ws, rid, "messages"))
    assert turns[2]["content"] == "Hello!" and turns[-1]["content"] == "Goodbye!"
    turns[3]["content"] = "See you"
    edits.edit(ws, rid, {"messages": turns})
    assert text(ws, rid, "instruction") == "See you" and text(ws, rid) == "Goodbye!"


def test_export_writes_the_edited_text(ws, ids, tmp_path):
    from curation.export import Options, export

    rid = ids["Name a colour."]
    edits.edit(ws, rid, {"output": "Crimson, edited."})
    export(ws, tmp_path / "out", Options(template="alpaca", split="train=1.0", similarity=False))
    written = "".join(p.read_text() for p in (tmp_path / "out").glob("*.jsonl"))
    assert "Crimson, edited." in written
    assert "Blue." not in written
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["edits"] == {"edited_records": 1, "versions": 1}


class FakeEmbedder:
    name = "fake"
    batch_size = 64

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += list(texts)
        out = np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype="float32")
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_embeddings_are_keyed_by_the_edited_text(ws, ids, monkeypatch):
    from curation import embed
    from curation.texts import record_texts

    fake = FakeEmbedder()
    monkeypatch.setattr(embed, "get_embedder", lambda ws, name=embed.DEFAULT_MODEL: fake)
    embed.embed_texts(ws, record_texts(load_records(ws), "output"), model="fake", text="output")
    assert "Blue." in fake.seen
    fake.seen.clear()
    edits.edit(ws, ids["Name a colour."], {"output": "Scarlet."})
    texts = record_texts(load_records(ws), "output")
    assert "Scarlet." in texts and "Blue." not in texts
    embed.embed_texts(ws, texts, model="fake", text="output")
    assert fake.seen == ["Scarlet."]  # only the new text is embedded; the others come from the cache


def test_the_real_bundled_minilm_embeds_only_the_edited_text(ws, ids):
    from curation import embed
    from curation.texts import record_texts

    texts = record_texts(load_records(ws), "prompt")
    first, info = embed.embed_texts(ws, texts, model="minilm", text="prompt")
    assert info["embedded"] == len(set(texts))
    rid = ids["Name a colour."]
    edits.edit(ws, rid, {"instruction": "Explain how photosynthesis turns light into sugar."})
    frame = load_records(ws)
    texts = record_texts(frame, "prompt")
    second, info = embed.embed_texts(ws, texts, model="minilm", text="prompt")
    assert info["embedded"] == 1  # the edited prompt only; every other text came from the cache
    row = int(np.flatnonzero(frame["record_id"].to_numpy() == rid)[0])
    direct = embed.get_embedder(ws, "minilm").encode(["Explain how photosynthesis turns light into sugar."])[0]
    assert float(second[row] @ direct) > 0.999 and float(second[row] @ first[row]) < 0.9
    others = [i for i in range(len(texts)) if i != row]
    assert np.allclose(second[others], first[others])


def test_strip_end_marker_leaves_a_marker_only_answer_alone():
    record = {"record_id": "r", "dataset": "d", "output": "<|endoftext|>", "messages": None}
    assert not edits.FIXES["strip_end_marker"].match(record)
    assert edits.FIXES["strip_end_marker"].match({**record, "output": "Paris. </s>"})
    assert edits.FIXES["strip_end_marker"].apply({**record, "output": "Paris. </s>"}, None) == {"output": "Paris."}


def test_an_edited_record_is_placed_on_the_map_by_its_new_text(ws, tmp_path, monkeypatch):
    import os

    from curation import embed
    from curation.atlas import build, place, save_settings
    from tests.curation.test_map_place import TOPICS, rows, topic_embedder

    monkeypatch.setattr(embed, "get_embedder", topic_embedder)
    ingest(ws, write_jsonl(tmp_path / "t.jsonl", rows(0, 80)), name="t")
    save_settings(ws, k=TOPICS)
    frame = load_records(ws)
    atlas = build(ws, frame)
    for meta in (ws.root / "maps").glob("*.json"):  # the map is older than the edit (file times are coarse)
        os.utime(meta, (meta.stat().st_mtime - 10, meta.stat().st_mtime - 10))
    points = frame[["record_id", "instruction"]].merge(atlas.points, on="record_id")
    mover = points[points["instruction"].str.startswith("topic 0 ")].iloc[0]
    topic3 = points.loc[points["instruction"].str.startswith("topic 3 "), "cluster"].mode()[0]
    assert mover["cluster"] != topic3
    edits.edit(ws, mover["record_id"], {"instruction": "topic 3 question moved here"})
    moved = place(ws, load_records(ws)).points.set_index("record_id").loc[mover["record_id"]]
    assert bool(moved["placed"]) and moved["cluster"] == topic3  # placed anew, among its new topic


def test_a_protected_evaluation_record_is_never_edited(ws, ids):
    from curation.decontaminate import protect

    protect(ws, ["d"])
    with pytest.raises(CurationError, match="protected evaluation set"):
        edits.edit(ws, ids["Name a colour."], {"output": "Red."})
    assert edits.bulk_fix(ws, "strip_end_marker")["changed"] == 0
    assert edits.edited_ids(ws) == set()


def test_duplicate_detection_reads_the_edited_text(ws, ids):
    from curation import dedup

    dedup.save_settings(ws, method="exact")
    first, second = ids["Question 1?"], ids["Name a colour."]
    groups = dedup.find(ws).table.set_index("record_id")["dup_group"]
    assert groups.isna().all()  # no duplicates yet
    edits.edit(ws, second, {"instruction": "Question 1?", "output": "Answer 1.<|endoftext|>"})  # now a copy of the other
    groups = dedup.find(ws).table.set_index("record_id")["dup_group"]
    assert groups.notna().sum() == 2 and groups.loc[first] == groups.loc[second]


def test_an_edit_made_meanwhile_is_never_lost(ws, ids, monkeypatch):
    rid = ids["Name a colour."]
    real = edits.current_records

    def meanwhile(ws_, wanted=None):  # another curator saves while this edit is being prepared
        out = real(ws_, wanted)
        monkeypatch.setattr(edits, "current_records", real)
        edits.edit(ws_, rid, {"output": "Teal."}, curator="other")
        return out

    monkeypatch.setattr(edits, "current_records", meanwhile)
    with pytest.raises(CurationError, match="edited meanwhile"):
        edits.edit(ws, rid, {"output": "Red."}, curator="ana")
    assert text(ws, rid) == "Teal." and [h["curator"] for h in edits.edit_history(ws, rid)[1:]] == ["other"]


def test_an_edited_record_whose_part_is_gone_leaves_no_signals_due(ws, ids, tmp_path):
    import os

    from curation.signals.compute import pending

    ingest(ws, write_jsonl(tmp_path / "other.jsonl", [{"instruction": "Other?", "output": "Yes."}]), name="other")
    other = read_records(ws, "other")["record_id"].iloc[0]
    edits.edit(ws, other, {"output": "Yes, edited."})
    [part] = ws.parts("other")
    (ws.root / "quarantine").mkdir(exist_ok=True)
    os.replace(part, ws.root / "quarantine" / part.name)  # as doctor moves a damaged part aside
    annotate(ws, stages=("signals",), compute=("signals",))
    assert pending(ws) == 0
