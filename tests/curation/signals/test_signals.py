"""Each signal on positive examples, plain negatives and tricky negatives."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.signals import SIGNALS, by_reason, get_signal
from curation.signals.base import Texts
from curation.signals.duplicates import mark_duplicates, text_hashes
from curation.signals.evidence import Evidence, describe, loads, spans_in


def rec(instruction="Do it.", output="Done.", input="", system="", messages=None) -> dict:
    return {"record_id": "r", "system": system, "instruction": instruction, "input": input, "output": output,
            "messages": json.dumps(messages) if messages else None}


def flagged(name: str, *records: dict, threshold=None) -> list[bool]:
    frame = pd.DataFrame([{**r, "record_id": str(i)} for i, r in enumerate(records)])
    res = SIGNALS[name].compute(Texts(frame))
    return list(SIGNALS[name].flagged(res["score"], res["evidence"], threshold))


def evidence(name: str, record: dict) -> str | None:
    return SIGNALS[name].compute(Texts(pd.DataFrame([record])))["evidence"].iat[0]


def found(name: str, record: dict) -> list[Evidence]:
    return loads(SIGNALS[name].compute(Texts(pd.DataFrame([record])))["found"].iat[0])


CASES = {
    "empty_output": ([rec(output=""), rec(output="  \n\t"), rec(output="<|endoftext|>"), rec(output=" </s>\n")],
                     [rec(output="No."), rec(output="No.<|endoftext|>")]),
    "short_output": (
        [rec("Write an essay about the history of Rome.", "Rome."), rec("Explain in detail how a refrigerator works.", "Cooling.")],
        [rec("Classify the sentiment of this review.", "Positive", input="Great film!"),  # a short answer is right here
         rec("What is the capital of France?", "Paris."),
         rec("Write a Python function that doubles a number.", "lambda x: 2 * x"),
         rec("Write an essay about the history of Rome.",
             "Rome was founded, tradition says, in 753 BC and grew to rule the Mediterranean.")],
    ),
    "repeats_prompt": (
        [rec("Summarise: the cat sat on the mat all day long.", "Summarise: the cat sat on the mat all day long."),
         rec("Translate to French.", "I like green apples very much.", input="I like green apples very much.")],
        [rec("Rewrite this sentence formally.", "Could you please send me the report by tomorrow?", input="can u send me the report tmrw")],
    ),
    "repetition": (
        [rec(output="I love you. " * 30), rec(output="\n".join(["This exact line keeps coming back again."] * 6))],
        [rec(output="def f(x):\n    if x > 0:\n        return 1\n    if x < 0:\n        return -1\n    return 0\n" * 1),
         rec(output="Rome grew from a small town on the Tiber into an empire that ruled the Mediterranean world for centuries, "
                    "shaping law, language, engineering and religion across Europe, North Africa and the Near East.")],
    ),
    "truncated": (
        [rec(output="The sky looks blue because molecules scatter shorter wavelengths more than"),
         rec(output="Here is the code:\n```python\ndef f():\n    return 1\n"),
         rec(output="The answer (as shown in the table"),
         rec(output="First, loosen the nuts. Then jack up the car and")],
        [rec(output="Positive"), rec(output="42"), rec(output="- eggs\n- flour\n- milk"),
         rec(output="```python\nprint('hi')\n```"), rec(output="The sky is blue because of Rayleigh scattering.")],
    ),
    "refusal": (
        [rec(output="I'm sorry, but I can't help with that request."), rec(output="I cannot assist with creating fake IDs."),
         rec(output="As an AI, I am not able to browse the internet.")],
        [rec(output='"I\'m sorry, but I can\'t help you," said the guard, closing the gate. The knight rode on.'),
         rec(output="Once upon a time a robot said: I'm sorry, but I can't open the door.")],
    ),
    "llm_boilerplate": (
        [rec(output="As an AI language model, I have no favourite colour."),
         rec("What did you eat for breakfast?", "As an AI, I do not eat, so I cannot answer that.")],
        [rec(output="Here is the list: apples, pears, plums."),
         rec(output="Certainly! Here is the list. I hope this helps!")],  # a harmless opener (issue 12)
    ),
    "placeholder_input": (
        [rec(input=v) for v in ("<noinput>", "No input", "N/A", "<no input>", "noinput", "< noinput >", "`<noinput>`", "No input.")],
        [rec(input=""), rec(input="No input validation was done on this form.")],
    ),
    "needs_context": (
        [rec("Summarize the article.", "…", input="https://example.com/news/1"), rec("Describe the attached image.", "A dog."),
         rec("Summarize the following article.", "It is about cats."), rec("What does this chart show? <Picture Attached>", "Sales.")],
        [rec("Summarize the following article.", "It is about cats.", input="Cats are popular pets because..."),
         rec("Describe how to read a map.", "Find the legend first.")],
    ),
    "merged_instructions": (
        [rec(output="Paris.\n\n19. Instruction: Name the capital of Spain.\n19. Input: <noinput>")],
        [rec(output="Step 1: read the instructions carefully.")],
    ),
    "template_leftovers": (
        [rec(output="Hello! I am {{name}}, made by {{author}}."), rec(instruction="[INST] Say hi [/INST]", output="Hi"),
         rec(output="Paris.</s> Madrid is the capital of Spain."), rec(system="<|im_start|>system You help.", output="Sure.")],
        [rec(output="Use curly braces {like this} in Python format strings."),
         rec(output="The answer is yes.<|endoftext|>"), rec(output="Done.</s>")],  # a closing marker is end_marker's (issue 12)
    ),
    "end_marker": (
        [rec(output="The answer is yes.<|endoftext|>"), rec(output="Done.</s>"), rec(output="Hi!<|im_end|>\n"),
         rec(output="Sure.<|eot_id|>")],
        [rec(output="Write </s> to close a sequence, then go on."), rec(output="Use <b>bold</b> here.")],
    ),
    "text_debris": (
        [rec(output="Café costs â€œ3â€\x9d euros."), rec(output="Tom &amp; Jerry"), rec(output="bad\x00byte"),
         rec(output="line one\\nline two\\nline three")],
        [rec(output="Café costs “3” euros — cheap."), rec(output="```python\nprint('a\\nb')\n```")],
    ),
    "pii": (
        [rec(output="Write to m.okafor@protonmail.com."), rec(output="Call +1 415 867 2301 today."),
         rec(output="Card: 4111 1111 1111 1111"), rec(output="Login from 86.14.203.77 at 3am."),
         rec(output="key sk-abcdefghijklmnopqrstuvwxyz123456")],
        [rec(output="The router is at 192.168.1.1."), rec(output="It happened in 1998-2001."), rec(output="Card: 1234 5678 9012 3456"),
         rec(output="Version 1.2.3 was released.")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_signal_positives_and_negatives(name):
    positives, negatives = CASES[name]
    assert flagged(name, *positives) == [True] * len(positives)
    assert flagged(name, *negatives) == [False] * len(negatives)


def test_every_signal_has_cases_or_its_own_test():
    assert set(SIGNALS) - set(CASES) == {"language", "exact_duplicate"}


def test_language_detects_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    records = [rec("Write a haiku about autumn.", "Leaves fall softly down, the wind carries them away, autumn says goodbye."),
               rec("Écris un poème sur l'automne.", "Les feuilles tombent doucement, le vent les emporte, l'automne nous dit adieu."),
               rec("Escribe un poema sobre el otoño.", "Las hojas caen suavemente y el viento se las lleva lejos de aquí.")]
    assert flagged("language", *records) == [False, True, True]
    assert evidence("language", records[1]) == "fr"
    assert flagged("language", *records, threshold="fr") == [True, False, True]


def test_exact_duplicates_flag_every_copy_but_the_first():
    frame = pd.DataFrame([rec("Say hi", "Hi"), rec("say  HI", "hi"), rec("Say bye", "Bye"), rec("Say hi", "Hi")])
    frame["record_id"] = ["a", "b", "c", "d"]
    table = pd.DataFrame({"record_id": frame["record_id"], "text_hash": text_hashes(Texts(frame))})
    marked = mark_duplicates(table)
    assert list(marked["score__exact_duplicate"]) == [0, 1, 0, 1]
    assert marked["evidence__exact_duplicate"].iat[3] == "same text as a"


def test_evidence_names_what_matched_and_can_be_highlighted():
    ev = evidence("pii", rec(output="Mail me at a.b@fastmail.com or call (212) 867-0187."))
    assert "a.b@fastmail.com" in ev and "(212) 867-0187" in ev
    text = "Mail me at a.b@fastmail.com or call (212) 867-0187."
    marked = [text[lo:hi] for lo, hi in spans_in(found("pii", rec(output=text)), "output")]
    assert marked == ["a.b@fastmail.com", "(212) 867-0187"]
    boilerplate = found("llm_boilerplate", rec(output="As an AI language model, I cannot. As an AI, I will not."))
    assert [e.value for e in boilerplate] == ["As an AI language model", "As an AI"]


def test_registry_lookups_and_every_signal_is_described():
    for s in SIGNALS.values():
        assert s.description and s.reason and s.direction in ("flag", "above", "below", "differs")
        assert (s.threshold is None) == (s.direction == "flag")
    assert by_reason("wrong_language").name == "language"
    with pytest.raises(Exception, match="choose one of"):
        get_signal("nope")


@pytest.mark.parametrize("name, record, evidence_text, marked", [
    ("refusal", rec(output="I'm sorry, but I can't help with that request."), "I'm sorry, but I can't help with that request",
     [("output", "I'm sorry, but I can't help with that request")]),
    ("needs_context", rec("Summarize the following article.", "It is about cats."),
     "refers to 'the following article' but the input is empty", [("instruction", "the following article")]),
    ("placeholder_input", rec(input=" N/A "), "input is 'N/A'", [("input", "N/A")]),
    ("repetition", rec(output="the " * 40), "'the the the the' × 37", [("output", "the the the the")] * 10),
    ("needs_context", rec("Describe the attached image.", "A dog.", input="https://x.com/a"),
     "URL https://x.com/a | refers to 'attached image'", [("input", "https://x.com/a"), ("instruction", "attached image")]),
    ("pii", rec(output="Write to a@b.com or call +1 415 867 2301."), "email a@b.com | phone +1 415 867 2301",
     [("output", "a@b.com"), ("output", "+1 415 867 2301")]),
    ("end_marker", rec(output="Yes.<|endoftext|>"), "ends with <|endoftext|>", [("output", "<|endoftext|>")]),
    ("truncated", rec(output="It scatters light more than"), "ends mid-sentence: …It scatters light more than",
     [("output", "It scatters light more than")]),
    ("pii", rec(output="key sk-abcdefghijklmnopqrstuvwxyz123456"), "api key sk-abcdefghi…",
     [("output", "sk-abcdefghijklmnopqrstuvwxyz123456")]),
])
def test_evidence_is_structured_and_rendered_once(name, record, evidence_text, marked):
    pieces = found(name, record)
    assert describe(pieces) == evidence(name, record) == evidence_text
    assert [(e.field, e.value) for e in pieces] == marked
    for e in pieces:
        assert record[e.field][e.start : e.end] == e.value  # the span points at the matched text in the named field


def test_evidence_spans_point_into_their_field_for_every_signal():
    conversation = [{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "Mail a@b.com"},
                    {"role": "assistant", "content": "Done."}]
    extra = [rec(system="You are {{name}}, mail x@y.org", instruction="Ask x@y.org", input="Tom &amp; Jerry", output="Done.</s>",
                 messages=conversation),
             rec(instruction="Fix: bad\x0bbyte and \x00", output="Café costs â€œ3â€\x9d euros.")]
    seen = set()
    for name, (positives, _) in CASES.items():
        for record in [*positives, *extra]:
            frame = pd.DataFrame([record])
            res = SIGNALS[name].compute(Texts(frame))
            pieces = loads(res["found"].iat[0])
            assert describe(pieces) == res["evidence"].iat[0]
            for e in pieces:
                if e.field is None:
                    continue
                text = record[e.field] or ""
                assert 0 <= e.start <= e.end <= len(text) and text[e.start : e.end] == e.value, (name, e)
                seen.add(e.field)
    # The stored conversation JSON is never scanned (issue 12: its escaped newlines and message ids were false alarms).
    assert seen == {"system", "instruction", "input", "output"}
