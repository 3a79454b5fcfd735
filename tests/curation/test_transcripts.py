"""Transcripts (issue 16): every reader, bad cues and timestamps with file and line, roles (guess and override),
merging, fillers, splitting, both shapes, stable ids, provenance, ingest and the command line."""

from __future__ import annotations

import json

import orjson
import pytest

from curation.cli import main
from curation.demo import HERE as DEMO_DIR
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import read_columns
from curation.transcripts import READERS, SHAPES, inspect, is_transcript_source, make_options, read_transcripts
from curation.transcripts.clean import clean_text, merge
from curation.transcripts.collect import build_records, conversations
from curation.transcripts.model import Turn
from curation.transcripts.roles import guess_roles
from curation.transcripts.split import split

DEMO = DEMO_DIR / "transcripts"

VTT = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
<v Agent Rosa>Thank you for calling Acme, how can I help?

2
00:00:04.500 --> 00:00:08.000
<v Caller>Um, my order never arrived.

3
00:00:08.500 --> 00:00:12.000
<v Agent Rosa>Sorry about that. I'll send a new one today.
"""

SRT = """1
00:00:01,000 --> 00:00:03,000
ALEX: Hi, this is the help desk.

2
00:00:03,500 --> 00:00:06,000
JO: My laptop won't start.

3
00:00:06,500 --> 00:00:09,000
ALEX: Hold the power button for ten seconds.
Then plug in the charger.
"""

TEXT = """[00:00:01] Speaker 1: Thank you for calling, how can I help you?
[00:00:05] Speaker 2: I need to change my address.
It's a new flat in town.
[00:00:12] Speaker 1: Sure, I've updated it for you.
"""

WHISPER = {"text": "…", "language": "en", "segments": [
    {"id": 0, "start": 0.0, "end": 2.5, "text": " Thanks for calling, how may I help?", "speaker": "SPEAKER_00"},
    {"id": 1, "start": 3.0, "end": 5.0, "text": " My card is blocked.", "speaker": "SPEAKER_01"},
    {"id": 2, "start": 5.5, "end": 9.0, "text": " I've unblocked it, try again now.", "speaker": "SPEAKER_00"},
]}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text, indent=2), encoding="utf-8")
    return path


def turns_of(path):
    transcripts, _ = read_transcripts(path)
    return transcripts[0]


def stored(ws, dataset):
    frame = read_columns(ws, ["record_id", "file", "row", "where", "format", "source", "instruction", "output", "messages",
                              "meta"], dataset)
    return [dict(zip(frame.columns, row)) for row in frame.itertuples(index=False)]


# --- readers -----------------------------------------------------------------------------


def test_vtt_speakers_come_from_voice_spans(tmp_path):
    t = turns_of(write(tmp_path, "call.vtt", VTT))
    assert [(x.speaker, x.start, x.end, x.line) for x in t.turns] == [
        ("Agent Rosa", 1.0, 4.0, 3), ("Caller", 4.5, 8.0, 7), ("Agent Rosa", 8.5, 12.0, 11)]
    assert t.turns[0].text == "Thank you for calling Acme, how can I help?" and not t.problems


def test_srt_speakers_come_from_a_name_prefix_and_lines_join(tmp_path):
    t = turns_of(write(tmp_path, "call.srt", SRT))
    assert [x.speaker for x in t.turns] == ["ALEX", "JO", "ALEX"]
    assert t.turns[2].text == "Hold the power button for ten seconds.\nThen plug in the charger."
    assert (t.turns[1].start, t.turns[1].end, t.turns[1].line) == (3.5, 6.0, 5)


def test_srt_cue_without_prefix_continues_the_last_speaker(tmp_path):
    t = turns_of(write(tmp_path, "c.srt", SRT.replace("JO: My laptop", "My laptop")))
    assert [x.speaker for x in t.turns] == ["ALEX", "ALEX", "ALEX"]


def test_plain_text_labels_timestamps_and_continuation_lines(tmp_path):
    t = turns_of(write(tmp_path, "call.txt", TEXT))
    assert [(x.speaker, x.start, x.line) for x in t.turns] == [("Speaker 1", 1.0, 1), ("Speaker 2", 5.0, 2), ("Speaker 1", 12.0, 4)]
    assert t.turns[1].text == "I need to change my address.\nIt's a new flat in town."
    assert t.turns[1].end == 12.0  # a turn lasts until the next starts


def test_plain_text_without_timestamps_and_a_one_off_label_is_a_continuation(tmp_path):
    text = "Agent: Hello, how can I help?\nCustomer: My router is dead.\nAgent: Try this.\nStep 2: unplug it.\nCustomer: Done.\n"
    t = turns_of(write(tmp_path, "c.txt", text))
    assert [x.speaker for x in t.turns] == ["Agent", "Customer", "Agent", "Customer"]
    assert t.turns[2].text == "Try this.\nStep 2: unplug it." and t.turns[0].start is None


def test_whisper_json_segments_with_speakers_and_lines(tmp_path):
    t = turns_of(write(tmp_path, "call.json", WHISPER))
    assert [(x.speaker, x.start, x.end) for x in t.turns] == [("SPEAKER_00", 0.0, 2.5), ("SPEAKER_01", 3.0, 5.0), ("SPEAKER_00", 5.5, 9.0)]
    lines = (tmp_path / "call.json").read_text().split("\n")
    assert all(f'"id": {i}' in lines[x.line] for i, x in enumerate(t.turns))  # the line after each segment's "{"


def test_whisper_json_without_speaker_reads_a_name_prefix(tmp_path):
    segs = [{"start": 0, "end": 1, "text": "Agent: Hello, how can I help?"}, {"start": 1, "end": 2, "text": "Customer: Hi."}]
    t = turns_of(write(tmp_path, "c.json", {"segments": segs}))
    assert [x.speaker for x in t.turns] == ["Agent", "Customer"]


def test_every_reader_is_registered_and_the_demo_covers_each():
    assert set(READERS) == {"vtt", "srt", "text", "whisper"}
    transcripts, warnings = read_transcripts(DEMO)
    assert {t.kind for t in transcripts} == set(READERS) and not warnings
    assert all(t.turns and not t.problems for t in transcripts)


# --- bad input: file and line, the rest loads ------------------------------------------------------


def test_malformed_vtt_cue_timing_is_a_problem_with_file_and_line(tmp_path):
    bad = VTT.replace("00:00:04.500 --> 00:00:08.000", "00:00:04.500 --> 00:00:0x.000")
    t = turns_of(write(tmp_path, "bad.vtt", bad))
    assert [(p.file, p.line) for p in t.problems] == [("bad.vtt", 8)] and "malformed cue timing" in t.problems[0].reason
    assert [x.speaker for x in t.turns] == ["Agent Rosa", "Agent Rosa"]  # the rest loads


def test_vtt_cue_ending_before_it_starts_and_a_missing_header(tmp_path):
    bad = VTT.replace("WEBVTT\n", "").replace("00:00:08.500 --> 00:00:12.000", "00:00:12.500 --> 00:00:12.000")
    t = turns_of(write(tmp_path, "bad.vtt", bad))
    assert [p.line for p in t.problems] == [1, 11] and "ends" in t.problems[1].reason and len(t.turns) == 2


def test_malformed_srt_timestamp_is_a_problem_with_file_and_line(tmp_path):
    t = turns_of(write(tmp_path, "bad.srt", SRT.replace("00:00:03,500 --> 00:00:06,000", "00:00:03,500 --> 00:61:06,000")))
    assert [(p.file, p.line) for p in t.problems] == [("bad.srt", 6)] and len(t.turns) == 2


def test_malformed_bracketed_timestamp_in_text_is_a_problem_with_its_line(tmp_path):
    t = turns_of(write(tmp_path, "bad.txt", TEXT.replace("[00:00:12]", "[00:61:12]")))
    assert [(p.file, p.line) for p in t.problems] == [("bad.txt", 4)] and "malformed timestamp" in t.problems[0].reason
    assert [x.speaker for x in t.turns] == ["Speaker 1", "Speaker 2"]


def test_whisper_segment_with_a_bad_time_is_a_problem_with_its_line(tmp_path):
    doc = json.loads(json.dumps(WHISPER))
    doc["segments"][1]["start"] = "soon"
    path = write(tmp_path, "bad.json", doc)
    t = turns_of(path)
    line = next(i for i, x in enumerate(path.read_text().split("\n"), 1) if '"soon"' in x)
    assert len(t.problems) == 1 and t.problems[0].line in (line - 2, line - 1) and len(t.turns) == 2
    assert "malformed timestamp start" in t.problems[0].reason


def test_broken_whisper_json_is_one_problem_with_a_line(tmp_path):
    t = turns_of(write(tmp_path, "bad.json", '{"segments": [\n{"start": 0, "end": 1, "text": "hi"},\n{"start": \n'))
    assert len(t.problems) == 1 and t.problems[0].line == 4 and "invalid JSON" in t.problems[0].reason


def test_ingest_reports_problems_with_file_and_line_writes_rejects_and_loads_the_rest(ws, tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    write(folder, "a.vtt", VTT.replace("00:00:01.000 --> 00:00:04.000", "00:00:01.000 --> 00:00:0x.000"))
    write(folder, "b.srt", SRT)
    out = ingest(ws, folder)
    assert out["added"] == 1 + 1 and [(e["file"], e["line"]) for e in out["errors"]] == [("a.vtt", 4)]
    rejects = [json.loads(x) for x in open(out["rejects_file"], encoding="utf-8")]
    assert rejects[0]["file"] == "a.vtt" and "0x" in rejects[0]["raw"]


# --- cleaning, merging, roles, splitting --------------------------------------------------


def test_fillers_and_inline_timestamps_are_dropped_times_of_day_kept():
    assert clean_text("Um, so, uh, my card <00:00:03.000>is [00:01:02] blocked, you know.") == "So, my card is blocked."
    assert clean_text("You know, I mean, call me at 3:30.") == "Call me at 3:30."
    assert clean_text("Mm-hmm.") == "" and clean_text("I like umbrellas") == "I like umbrellas"
    assert clean_text("Um, hello", fillers=False) == "Um, hello"


def test_consecutive_turns_of_one_speaker_merge_unless_a_long_silence_separates_them():
    turns = [Turn("A", "Hi.", 0, 1, 1), Turn("A", "Still me.", 1.2, 2, 2), Turn("B", "Hello.", 2.5, 3, 3),
             Turn("B", "Back.", 200, 201, 4)]
    merged = merge(turns, max_gap=60)
    assert [(t.speaker, t.text, t.start, t.end, t.line) for t in merged] == [
        ("A", "Hi. Still me.", 0, 2, 1), ("B", "Hello.", 2.5, 3, 3), ("B", "Back.", 200, 201, 4)]


def test_a_backchannel_between_an_agents_turns_is_dropped_and_the_agent_merged(tmp_path):
    text = "Agent: Let me check.\nCustomer: Mm-hmm.\nAgent: Found it.\nCustomer: Great.\n"
    convs = conversations(read_transcripts(write(tmp_path, "c.txt", text))[0], make_options())
    assert [m["content"] for m in convs[0].messages()] == ["Let me check. Found it.", "Great."]


def test_role_guess_by_name_by_agent_speech_and_by_talking_most():
    by_name = guess_roles([Turn("Customer", "hi", 0, 1, 1), Turn("Support Rep", "hello", 1, 2, 2), Turn("IVR", "press 1", 0, 1, 3)])
    assert {s: g.role for s, g in by_name.items()} == {"Customer": "user", "Support Rep": "assistant", "IVR": "system"}
    by_speech = guess_roles([Turn("S1", "Yes I have a long question about my bill and more", 0, 1, 1),
                             Turn("S2", "Thank you for calling, how can I help?", 1, 2, 2)])
    assert by_speech["S2"].role == "assistant" and "agent" in by_speech["S2"].why and by_speech["S1"].role == "user"
    by_talk = guess_roles([Turn("Ann", "a b c d e f", 0, 1, 1), Turn("Ben", "ok", 1, 2, 2), Turn("Cy", "fine", 2, 3, 3)])
    assert by_talk["Ann"].role == "assistant" and "speaks most" in by_talk["Ann"].why
    assert by_talk["Ben"].role == by_talk["Cy"].role == "user"


def test_the_curator_overrides_a_role_by_name_for_every_file(tmp_path):
    write(tmp_path, "a.txt", TEXT)
    write(tmp_path, "b.txt", TEXT.replace("Speaker 1", "Speaker 9"))
    opts = make_options(roles=["speaker 2=assistant", "Speaker 1=user"])
    convs = conversations(read_transcripts(tmp_path)[0], opts)
    assert convs[0].roles == {"Speaker 1": "user", "Speaker 2": "assistant"}
    assert convs[1].roles == {"Speaker 9": "assistant", "Speaker 2": "assistant"}  # the guess, where not overridden
    speakers = {s["speaker"]: s for s in inspect(tmp_path, opts)["speakers"]}
    assert speakers["Speaker 2"]["role"] == "assistant" and speakers["Speaker 2"]["guess"] == "user"
    assert speakers["Speaker 2"]["overridden"]


@pytest.mark.parametrize("pairs, message", [(["Speaker 1"], "NAME=ROLE"), (["Speaker 1=agent"], "choose one of user, assistant, system")])
def test_bad_speaker_role_says_the_fix(pairs, message):
    with pytest.raises(CurationError, match=message):
        make_options(roles=pairs)


def turns(*spec):
    return [Turn(s, text, t, t + 1, i + 1) for i, (s, text, t) in enumerate(spec)]


ROLES = {"A": "assistant", "U": "user"}


def test_split_at_a_silence_gap():
    pieces = split(turns(("A", "How can I help?", 0), ("U", "Q1", 2), ("A", "R1", 4), ("U", "Q2", 300), ("A", "R2", 302)),
                   ROLES, split_gap=60)
    assert [(len(p), why) for p, why in pieces] == [(3, "start"), (2, "gap")]
    assert len(split(turns(("A", "x", 0), ("U", "y", 2), ("A", "z", 300)), ROLES, split_gap=None)) == 1


def test_split_at_a_topic_boundary_but_not_at_a_goodbye():
    spec = [("U", "Q1", 0), ("A", "Done. Is there anything else I can help with?", 2), ("U", "Yes, my other card is blocked too.", 4),
            ("A", "Fixed.", 6), ("U", "Okay, moving on to billing.", 8), ("A", "Sure.", 10)]
    assert [why for _, why in split(turns(*spec), ROLES)] == ["start", "topic", "topic"]
    assert len(split(turns(*spec), ROLES, topics=False)) == 1
    bye = [("U", "Q1", 0), ("A", "Anything else I can help with?", 2), ("U", "No, that's all, thanks.", 4)]
    assert len(split(turns(*bye), ROLES)) == 1


def test_split_at_a_turn_budget_before_the_next_user_turn():
    spec = [("U" if i % 2 == 0 else "A", f"t{i}", i) for i in range(10)]
    pieces = split(turns(*spec), ROLES, max_turns=4)
    assert [len(p) for p, _ in pieces] == [4, 4, 2] and all(p[0].speaker == "U" for p, _ in pieces)
    assert [why for _, why in pieces] == ["start", "budget", "budget"]


# --- shapes, preview, provenance, ids -------------------------------------------------------------


def test_conversation_shape_and_turns_shape(tmp_path):
    convs = conversations(read_transcripts(write(tmp_path, "call.vtt", VTT))[0], make_options())
    [whole] = build_records(convs, "conversation", "d")
    msgs = orjson.loads(whole["messages"])
    assert [m["role"] for m in msgs] == ["assistant", "user", "assistant"]
    assert msgs[1]["content"] == "My order never arrived."  # the filler is gone
    assert (whole["instruction"], whole["output"]) == ("My order never arrived.", "Sorry about that. I'll send a new one today.")
    per_turn = build_records(convs, "turns", "d")
    assert len(per_turn) == 1  # the greeting answers no user: context only
    assert orjson.loads(per_turn[0]["messages"]) == msgs and per_turn[0]["output"] == whole["output"]


def test_turns_shape_makes_one_record_per_answered_assistant_turn_with_its_context(tmp_path):
    text = "Customer: Q1?\nAgent: A1.\nCustomer: Q2?\nAgent: A2.\nCustomer: Q3?\nAgent: A3.\n"
    convs = conversations(read_transcripts(write(tmp_path, "c.txt", text))[0], make_options())
    recs = build_records(convs, "turns", "d")
    assert [(r["instruction"], r["output"], len(orjson.loads(r["messages"]))) for r in recs] == [
        ("Q1?", "A1.", 2), ("Q2?", "A2.", 4), ("Q3?", "A3.", 6)]
    assert [orjson.loads(r["meta"])["turn_index"] for r in recs] == [1, 3, 5]


def test_preview_counts_and_lengths_for_each_shape():
    p = inspect(DEMO)["preview"]
    assert set(p) == set(SHAPES)
    assert p["turns"]["records"] > p["conversation"]["records"] > 0
    assert p["conversation"]["messages"]["max"] >= p["turns"]["messages"]["median"]
    assert p["conversation"]["words"]["mean"] > p["turns"]["output_words"]["mean"] > 0


def test_meeting_users_in_a_row_share_a_message_that_names_them(tmp_path):
    segs = [{"start": 0, "end": 1, "text": "Welcome, first item.", "speaker": "Host"},
            {"start": 1, "end": 2, "text": "I have numbers.", "speaker": "Ann"},
            {"start": 2, "end": 3, "text": "Me too.", "speaker": "Bo"},
            {"start": 3, "end": 4, "text": "Great.", "speaker": "Host"}]
    convs = conversations(read_transcripts(write(tmp_path, "m.json", {"segments": segs}))[0], make_options())
    assert convs[0].messages()[1]["content"] == "Ann: I have numbers.\nBo: Me too."


def test_provenance_on_every_record_and_source_external(ws):
    out = ingest(ws, DEMO, name="calls", transcript={"shape": "turns"}, redact=False)
    recs = stored(ws, "calls")
    assert out["added"] == len(recs) > 20 and all(r["source"] == "external" for r in recs)
    for r in recs:
        meta = orjson.loads(r["meta"])
        assert meta["file"] == r["file"] and meta["source"] == "external" and meta["format"] == r["format"]
        assert meta["format"].startswith("transcript-") and meta["speakers"] and meta["line"] == r["row"]
        assert isinstance(meta["conversation_index"], int) and isinstance(meta["turn_index"], int)
        assert meta["end"] is None or meta["start"] <= meta["end"]
        assert r["where"] == f"line {r['row']}"
    vtt = [orjson.loads(r["meta"]) for r in recs if r["file"] == "bank-card-blocked.vtt"]
    assert vtt[0]["start"] == 0.5 and "Priya (Agent)" in vtt[0]["speakers"] and vtt[0]["roles"]["Daniel Okafor"] == "user"
    assert {r["format"] for r in recs} == {"transcript-vtt", "transcript-srt", "transcript-text", "transcript-whisper"}


def test_transcript_records_go_through_pii_redaction_as_external(ws):
    out = ingest(ws, DEMO, name="calls")
    text = " ".join(r["messages"] + r["meta"] for r in stored(ws, "calls"))
    assert out["redactions"] and "daniel.okafor@example.com" not in text and "Daniel Okafor" not in text


def test_record_ids_are_stable_across_reingest_and_a_new_shape_adds_its_own(ws, tmp_path):
    first = ingest(ws, DEMO, name="calls")
    again = ingest(ws, DEMO, name="calls")
    assert first["added"] > 0 and (again["added"], again["skipped"]) == (0, first["added"])
    ids = {r["record_id"] for r in stored(ws, "calls")}
    other = build_records(conversations(read_transcripts(DEMO)[0], make_options()), "conversation", "calls")
    assert {r["record_id"] for r in other} == ids
    turns_shape = ingest(ws, DEMO, name="calls", transcript={"shape": "turns"})
    assert turns_shape["added"] > first["added"]


def test_detection_by_suffix_and_content_leaves_records_files_alone(tmp_path):
    assert is_transcript_source(write(tmp_path, "a.vtt", VTT)) and is_transcript_source(write(tmp_path, "b.srt", SRT))
    assert is_transcript_source(write(tmp_path, "c.txt", TEXT)) and is_transcript_source(write(tmp_path, "d.json", WHISPER))
    assert not is_transcript_source(write(tmp_path, "e.json", [{"instruction": "Hi", "output": "Yo"}]))
    assert not is_transcript_source(write(tmp_path, "f.txt", '{"instruction": "Q: what?", "output": "A: that"}\n'))
    assert not is_transcript_source(write(tmp_path, "g.json", {"segments": [{"instruction": "x", "output": "y"}]}))
    assert not is_transcript_source(write(tmp_path, "h.txt", "instruction\toutput\nQ: why?\tbecause\nA: fine\tok\n"))
    assert not is_transcript_source(tmp_path)  # e.json is a records file: the folder loads as before
    assert not is_transcript_source(tmp_path / "missing.vtt")


def test_transcript_options_on_a_records_file_say_so(ws, tmp_path):
    path = write(tmp_path, "r.json", [{"instruction": "Hi", "output": "Yo"}])
    with pytest.raises(CurationError, match="apply to transcripts only"):
        ingest(ws, path, transcript={"shape": "turns"})
    assert ingest(ws, path)["format"] == "alpaca"


# --- the command line -------------------------------------------------------------------------------


def test_cli_ingests_a_folder_of_transcripts_with_options(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    code = main(["ingest", str(DEMO), "--format", "transcript", "--shape", "turns", "--speaker-role", "SPEAKER_01=assistant",
                 "--split-gap", "30", "--max-turns", "6", "--workspace", ws, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["added"] > 0 and out["format"].startswith("transcript-")
    assert out["transcripts"]["shape"] == "turns" and out["transcripts"]["roles"]["SPEAKER_01"] == "assistant"
    main(["ingest", str(DEMO), "--speaker-role", "Speaker 7=assistant", "--workspace", ws, "--json"])
    assert any("no speaker called 'Speaker 7'" in w for w in json.loads(capsys.readouterr().out)["warnings"])
    main(["ingest", str(DEMO / "returns-order.txt"), "--workspace", ws])
    assert "1 conversation(s), shape conversation; assistant: Agent" in capsys.readouterr().out
    code = main(["ingest", str(DEMO), "--speaker-role", "SPEAKER_01=boss", "--workspace", ws])
    err = capsys.readouterr().err
    assert code != 0 and "choose one of user, assistant, system" in err and len(err.strip().splitlines()) == 1
