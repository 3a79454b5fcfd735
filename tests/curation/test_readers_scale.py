"""Issue 18: JSON Lines are parsed one line at a time, never through a list holding a copy of the whole text."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from curation.readers import read_jsonl, split_lines


@pytest.mark.parametrize("text", ["", "a", "a\n", "\n", "a\nb", "a\n\nb\n", "\n\na\r\nb", "x" * 10 + "\n" + "y"])
def test_split_lines_is_str_split(text):
    assert list(split_lines(text)) == text.split("\n")


def test_read_jsonl_holds_no_second_copy_of_the_text():
    line = json.dumps({"prompt": "p" * 4000, "completion": "c"})
    text = "\n".join([line] * 500)  # ~2 MB of text; the parsed rows hold about as much again
    tracemalloc.start()
    try:
        rows = read_jsonl("t.jsonl", text, [])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows.rows) == 500 and rows.rows[0][0] == 1
    # parsed rows ≈ 1× the text; a list of every line (text.split) would add another 1×
    assert peak < 1.5 * len(text)
