"""The Map page's cluster labels (new-user pass: they piled up into an unreadable heap)."""

from __future__ import annotations

import pandas as pd

from ui.map_labels import LABELS_UP_TO, label_annotations


def test_a_label_on_top_of_a_larger_clusters_label_is_left_out():
    centres = pd.DataFrame({"x": [0.0, 0.5, 6.0, 0.2, 9.0], "y": [0.0, 0.1, 0.0, 5.0, 9.0],
                            "label": ["big", "on top of big", "beside", "above", "<b>far</b>"]})
    texts = [a["text"] for a in label_annotations(centres, ([0.0, 10.0], [0.0, 10.0]))]
    assert texts == ["big", "beside", "above", "&lt;b&gt;far&lt;/b&gt;"]  # largest first; escaped
    assert len(label_annotations(centres, ([0.0, 100.0], [0.0, 100.0]))) == 2  # zoomed out: more of them collide


def test_at_most_the_largest_clusters_are_labelled():
    centres = pd.DataFrame({"x": range(0, 200, 10), "y": range(0, 200, 10), "label": [f"c{i}" for i in range(20)]})
    assert [a["text"] for a in label_annotations(centres)] == [f"c{i}" for i in range(LABELS_UP_TO)]
