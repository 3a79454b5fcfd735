"""Packing a map's points as binary arrays for the browser, and reading a selection back (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation.atlas_points import fingerprint, hover_texts, pack, selection


def frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"record_id": [f"id{i}" for i in range(n)], "x": np.arange(n, dtype=float), "y": -np.arange(n, dtype=float),
                         "instruction": ["<b>bold</b>\nline", "héllo wörld", None, "x" * 200, "日本語"][:n],
                         "cluster_label": ["b", "noise", "a", "b", "a"][:n], "quality": [0.1, 0.5, 0.9, np.nan, 0.3][:n]})


def test_the_arrays_decode_to_the_points_colours_and_texts():
    f = frame()
    p = pack(f, f["cluster_label"])
    a = p.args
    assert np.array_equal(np.frombuffer(a["x"], np.float32), f["x"]) and np.array_equal(np.frombuffer(a["y"], np.float32), f["y"])
    codes = np.frombuffer(a["codes"], np.uint16)
    assert a["names"] == ["a", "b", "noise"] and [a["names"][c] for c in codes] == list(f["cluster_label"])
    assert a["palette"][2] == "#d0d0d8"  # noise is grey
    offsets = np.frombuffer(a["offsets"], np.uint32)
    texts = [a["texts"][offsets[i]:offsets[i + 1]].decode() for i in range(len(f))]
    assert texts == ["<b>bold</b> line", "héllo wörld", "", "x" * 70, "日本語"]  # raw text (shown as text), one line, cut


def test_a_continuous_colour_is_binned_and_the_blob_holds_each_part_where_it_says():
    f = frame()
    p = pack(f, f["quality"], continuous=True)
    codes = np.frombuffer(p.args["codes"], np.uint16)
    assert codes[0] == 0 and codes[2] == 15 and len(p.args["names"]) == 16
    blob, layout = p.blob(("x", "codes", "texts"))
    for name, (at, length) in layout.items():
        assert at % 8 == 0 and blob[at:at + length] == p.args[name]


def test_a_selection_is_read_only_for_the_same_map():
    f = frame()
    p = pack(f, f["cluster_label"])
    sent = np.array([p.stamp, 3, 1, 1, 99, -2], dtype=np.int32).tobytes()
    assert selection(sent, f, p.stamp) == ["id1", "id3"]  # rows out of range dropped, duplicates once
    assert selection(sent, f.iloc[::-1].reset_index(drop=True), pack(f.iloc[::-1], f["cluster_label"]).stamp) == []
    assert selection(None, f, p.stamp) == [] and selection(b"", f, p.stamp) == []


def test_hover_texts_of_a_slice_and_the_fingerprint_follow_the_content():
    s = pd.Series(["abc", "de\nf", "ghij"])
    body, offsets = hover_texts(s.iloc[1:], 3)
    assert body == b"de ghi" and list(np.frombuffer(offsets, np.uint32)) == [0, 3, 6]
    assert fingerprint(s) == fingerprint(s.copy()) != fingerprint(pd.Series(["abc", "de\nf", "ghiJ"]))
