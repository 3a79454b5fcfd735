"""Each format: detection, conversion, and lossless round trips (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.errors import CurationError
from curation.formats import FORMATS, RowError, detect, get_format

text = st.text(max_size=40)
nonempty = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())
scalar = st.one_of(st.none(), st.booleans(), st.integers(), text)
extra = st.dictionaries(st.sampled_from(["id", "category", "lang", "score", "tags"]), st.one_of(scalar, st.lists(text, max_size=3)))


def roundtrip(fmt_name: str, row: dict) -> None:
    """Row -> records -> row gives the row back, and records -> row -> records the records."""
    fmt = FORMATS[fmt_name] if isinstance(fmt_name, str) else fmt_name
    records = [rec for _, _, rec in fmt.convert([(1, row)])]
    assert all(not isinstance(r, Exception) for r in records), records
    assert fmt.to_source(records) == [row]
    again = [rec for _, _, rec in fmt.convert([(1, r) for r in fmt.to_source(records)])]
    assert again == records


@settings(max_examples=60, deadline=None)
@given(instruction=nonempty, inp=text, output=text, meta=extra)
def test_alpaca_round_trip(instruction, inp, output, meta):
    roundtrip("alpaca", {**meta, "instruction": instruction, "input": inp, "output": output})


@settings(max_examples=40, deadline=None)
@given(instruction=nonempty, context=text, response=text, category=text)
def test_dolly_round_trip(instruction, context, response, category):
    roundtrip("dolly", {"instruction": instruction, "context": context, "response": response, "category": category})


@settings(max_examples=40, deadline=None)
@given(prompt=nonempty, completion=text, meta=extra)
def test_prompt_completion_round_trip(prompt, completion, meta):
    roundtrip("prompt-completion", {**meta, "prompt": prompt, "completion": completion})


@settings(max_examples=40, deadline=None)
@given(instruction=nonempty, instances=st.lists(st.fixed_dictionaries({"input": text, "output": text}), min_size=1, max_size=4),
       name=text, cls=st.booleans())
def test_self_instruct_round_trip(instruction, instances, name, cls):
    roundtrip("self-instruct", {"id": "seed_task_1", "name": name, "instruction": instruction, "instances": instances,
                                "is_classification": cls})


roles_sharegpt = st.sampled_from(["human", "gpt", "system", "function_call", "observation", "user", "assistant"])
roles_openai = st.sampled_from(["user", "assistant", "system", "developer", "tool"])


@settings(max_examples=60, deadline=None)
@given(turns=st.lists(st.fixed_dictionaries({"from": roles_sharegpt, "value": text}), min_size=1, max_size=6), meta=extra,
       tools=st.one_of(st.none(), text))
def test_sharegpt_round_trip(turns, meta, tools):
    row = {**meta, "conversations": turns}
    if tools is not None:
        row["tools"] = tools
    roundtrip("sharegpt", row)


content = st.one_of(text, st.lists(st.fixed_dictionaries({"type": st.just("text"), "value": text}), min_size=1, max_size=2))


@settings(max_examples=60, deadline=None)
@given(msgs=st.lists(st.fixed_dictionaries({"role": roles_openai, "content": content},
                                           optional={"loss_weight": st.floats(0, 1)}), min_size=1, max_size=6))
def test_messages_round_trip(msgs):
    roundtrip("messages", {"messages": msgs})


def tree_node(depth: int):
    leaf = st.fixed_dictionaries(
        {"message_id": st.uuids().map(str), "text": nonempty, "role": st.sampled_from(["prompter", "assistant"]),
         "rank": st.one_of(st.none(), st.integers(0, 3)), "synthetic": st.booleans()}
    )
    if depth == 0:
        return leaf.map(lambda n: {**n, "replies": []})
    return st.tuples(leaf, st.lists(tree_node(depth - 1), max_size=3)).map(lambda t: {**t[0], "replies": t[1]})


@settings(max_examples=40, deadline=None)
@given(root=tree_node(2), state=text)
def test_oasst_tree_round_trip(root, state):
    roundtrip("oasst", {"message_tree_id": root["message_id"], "tree_state": state, "prompt": root})


def test_oasst_nested_message_rows_round_trip():
    root = {"message_id": "a", "parent_id": None, "text": "Q?", "role": "prompter", "replies": [
        {"message_id": "b", "parent_id": "a", "text": "A1", "role": "assistant", "rank": 0, "replies": []},
        {"message_id": "c", "parent_id": "a", "text": "A2", "role": "assistant", "rank": 1, "replies": [
            {"message_id": "d", "parent_id": "c", "text": "follow-up", "role": "prompter", "replies": []}]}]}
    roundtrip("oasst", root)
    records = [r for _, _, r in FORMATS["oasst"].convert([(1, root)])]
    assert [r["meta"]["message_ids"] for r in records] == [["a", "b"], ["a", "c", "d"]]
    assert records[0]["meta"]["ranks"] == [None, 0]
    assert records[1]["instruction"] == "Q?" and records[1]["output"] == "A2"


def test_oasst_flat_message_table_builds_paths_and_reports_orphans():
    rows = [
        (1, {"message_id": "a", "parent_id": None, "text": "Q?", "role": "prompter"}),
        (2, {"message_id": "b", "parent_id": "a", "text": "A1", "role": "assistant", "rank": 0}),
        (3, {"message_id": "c", "parent_id": "a", "text": "A2", "role": "assistant", "rank": 1}),
        (4, {"message_id": "z", "parent_id": "missing", "text": "lost", "role": "assistant"}),
    ]
    out = list(FORMATS["oasst"].convert(rows))
    errors = [(n, e) for n, s, e in out if s is None]
    records = [r for _, s, r in out if s is not None]
    assert len(records) == 2 and errors[0][0] == 4 and "missing" in str(errors[0][1])
    assert FORMATS["oasst"].to_source(records) == [r for _, r in rows[:3]]


def test_sharegpt_keeps_unknown_roles_and_fills_tuple_from_last_exchange():
    row = {"conversations": [
        {"from": "system", "value": "Be brief."}, {"from": "human", "value": "Weather in Paris?"},
        {"from": "function_call", "value": '{"name": "weather"}'}, {"from": "observation", "value": "18C"},
        {"from": "gpt", "value": "It is 18C."}], "tools": "[...]"}
    (rec,) = FORMATS["sharegpt"].to_records(row)
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "function_call", "observation", "assistant"]
    assert (rec["system"], rec["instruction"], rec["output"]) == ("Be brief.", "Weather in Paris?", "It is 18C.")
    assert rec["meta"] == {"tools": "[...]"}


def test_mapped_format_renames_columns_and_keeps_the_rest():
    fmt = get_format("", {"instruction": "question", "output": "answer"})
    (rec,) = fmt.to_records({"question": "2+2?", "answer": 4, "difficulty": "easy"})
    assert (rec["instruction"], rec["output"], rec["meta"]) == ("2+2?", "4", {"difficulty": "easy"})
    roundtrip(fmt, {"question": "q", "answer": "a", "difficulty": "easy"})


@pytest.mark.parametrize("row, message", [
    ({"instruction": "x"}, "missing required field 'output'"),
    ({"instruction": "x", "output": None}, "field 'output' is null"),
    ({"instruction": "x", "output": {"a": 1}}, "nested object"),
    ({"instruction": "x", "output": [1, 2]}, "a list"),
    ({"instruction": "", "input": "", "output": ""}, "every text field is empty"),
])
def test_bad_rows_raise_row_errors_with_the_cause(row, message):
    with pytest.raises(RowError, match=message):
        FORMATS["alpaca"].to_records(row)


def test_numbers_become_text():
    (rec,) = FORMATS["alpaca"].to_records({"instruction": "What is 6*7?", "output": 42})
    assert rec["output"] == "42"


@pytest.mark.parametrize("row, name", [
    ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
    ({"instruction": "a", "context": "", "response": "b", "category": "qa"}, "dolly"),
    ({"prompt": "a", "completion": "b"}, "prompt-completion"),
    ({"instruction": "a", "instances": [{"input": "", "output": "b"}]}, "self-instruct"),
    ({"conversations": [{"from": "human", "value": "hi"}]}, "sharegpt"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
    ({"message_tree_id": "t", "prompt": {"message_id": "t", "text": "hi", "role": "prompter"}}, "oasst"),
    ({"message_id": "m", "parent_id": None, "text": "hi", "role": "prompter"}, "oasst"),
])
def test_detection(row, name):
    assert detect([(1, row)]).name == name


def test_detection_failure_names_the_columns_and_the_fix():
    with pytest.raises(CurationError, match=r"columns are \['answer', 'question'\].*--map"):
        detect([(1, {"question": "q", "answer": "a"})])


def test_unknown_format_lists_valid_names():
    with pytest.raises(CurationError, match="choose one of .*alpaca"):
        get_format("nope")
