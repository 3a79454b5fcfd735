"""Records annotated with every cached column, never computing it; freshness stamps that follow their stage's inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

from curation import atlas, decisions, dedup, embed
from curation.annotated import DUPLICATE_COLUMNS, MAP_COLUMNS, REVIEW_COLUMNS, STAGES, annotate, find_duplicates, stamps
from curation.atlas import MapSettings
from curation.dedup.detect import DedupSettings
from curation.embed import EmbedSettings
from curation.errors import CurationError
from curation.ingest import ingest
from curation.records import COLUMNS
from curation.signals import SIGNALS
from curation.signals import compute as signals
from curation.signals.compute import SignalSettings
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.test_dedup import bag_of_words

TOPICS = ["bake bread in the oven", "sourdough bread with rye flour", "planets orbit the sun", "telescopes show far stars"]
ROWS = ([{"instruction": f"Tell me how to {t}, part {i}.", "output": f"Here is how to {t}: step {i}, then rest."}
         for t in TOPICS for i in range(5)]
        + [{"instruction": "Tell me how to bake bread in the oven, part 0.", "output": "A copy."},  # an exact prompt copy
           {"instruction": "Write an essay on rivers.", "output": "Rivers flow to seas."}])  # a short output: flagged


@pytest.fixture
def filled(ws, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    monkeypatch.setattr(atlas, "project", lambda vectors, seed=42: np.ascontiguousarray(vectors[:, :2]))  # no UMAP
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    MapSettings.save(ws, method="kmeans", k=2)
    return ws


def compute_everything(ws) -> None:
    signals.signal_table(ws)
    atlas.build(ws, load_records(ws))
    dedup.find(ws)


def nothing_computed(monkeypatch) -> None:
    """Every way a stage computes fails loudly from here on."""

    def refuse(*args, **kwargs):
        raise AssertionError("annotate started heavy work")

    for module, name in ((signals, "compute_frame"), (embed, "get_embedder"), (atlas, "project"), (atlas, "build"),
                         (dedup.detect, "compute_pairs")):
        monkeypatch.setattr(module, name, refuse)


def files(ws) -> dict:
    """Every file of the workspace but its database, with its modification time."""
    out = {}
    for folder, _, names in os.walk(ws.root):
        for name in names:
            if not name.startswith("curation.db"):
                path = os.path.join(folder, name)
                out[path] = os.stat(path).st_mtime_ns
    return out


def test_before_anything_is_computed_only_decisions_are_added_and_nothing_starts(filled, monkeypatch):
    nothing_computed(monkeypatch)
    before = files(filled)
    frame = annotate(filled)
    assert list(frame.columns) == [*COLUMNS, "decision", "reason", *REVIEW_COLUMNS] and len(frame) == len(ROWS)
    assert (frame["decision"] == "undecided").all()
    nulls = annotate(filled, nulls=True)
    assert set(MAP_COLUMNS) | set(DUPLICATE_COLUMNS) <= set(nulls) and nulls["cluster"].isna().all() and nulls["dup_group"].isna().all()
    with pytest.raises(CurationError, match=r"run `python -m curation map` first"):
        annotate(filled, require=("map",))
    assert files(filled) == before


def test_the_frame_has_every_cached_column_and_computes_none_of_them(filled, monkeypatch):
    compute_everything(filled)
    decisions.decide(filled, [load_records(filled)["record_id"].iloc[0]], "keep", "manual")
    found = dedup.find(filled, compute=False)
    mapped = atlas.cached_atlas(filled, load_records(filled))
    nothing_computed(monkeypatch)
    before = files(filled)
    frame = annotate(filled)
    assert files(filled) == before
    expected = {"decision", "reason", "quality", "flags", "output_tokens", *MAP_COLUMNS, *DUPLICATE_COLUMNS,
                *(f"flag__{name}" for name in SIGNALS)}
    assert expected <= set(frame.columns) and len(frame) == len(ROWS)
    assert frame["quality"].notna().all() and frame["cluster"].notna().all() and set(frame["cluster"]) == {0, 1}
    assert (frame["decision"] == "keep").sum() == 1
    by_id = frame.set_index("record_id")
    assert (by_id.loc[mapped.points["record_id"], "cluster_label"].to_numpy() == mapped.points["cluster_label"].to_numpy()).all()
    groups = found.table.set_index("record_id")["dup_group"]
    assert by_id.loc[groups.index, "dup_group"].astype("Int64").equals(groups.astype("Int64"))
    assert frame["dup_group"].notna().sum() >= 2  # the exact copy and its original
    short = frame[frame["output"] == "Rivers flow to seas."]
    assert "short_output" in short["flags"].iloc[0]


def test_results_at_hand_are_used_instead_of_looked_up(filled, monkeypatch):
    compute_everything(filled)
    nothing_computed(monkeypatch)
    monkeypatch.setattr(atlas, "cached_atlas", lambda *a, **k: pytest.fail("the map was looked up again"))
    frame = annotate(filled, known={"signals": None, "map": None, "dedup": None})
    assert list(frame.columns) == [*COLUMNS, "decision", "reason", *REVIEW_COLUMNS]
    only = annotate(filled, stages=("signals",))
    assert "quality" in only and "cluster" not in only and "dup_group" not in only


def test_duplicates_under_the_quality_rule_score_only_the_records_that_can_be_in_a_group(filled, monkeypatch):
    """No signal cache: the quality rule scores only the records in a group (issue 18), never every record, and the
    groups show (a find that left the signals uncached used to read as 'no duplicate groups')."""
    DedupSettings.save(filled, method="exact")  # exact copies need no cached pairs, but the quality rule reads the signals
    scored, real = [], signals.compute_frame

    def counting(frame, *args, **kwargs):
        scored.append(len(frame))
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(signals, "compute_frame", counting)
    duplicates = find_duplicates(filled, load_records(filled))
    assert duplicates is not None and annotate(filled)["dup_group"].notna().sum() == 2
    assert scored and max(scored) == 2 < len(load_records(filled))  # the two copies, not every record
    assert signals.pending(filled) == len(load_records(filled))  # and nothing cached: reading stays a read


def changed(before: dict, after: dict) -> set[str]:
    return {stage for stage in STAGES if before[stage] != after[stage]}


def test_a_stamp_changes_when_its_stage_inputs_change_and_not_otherwise(filled, tmp_path):
    ws = filled
    first = stamps(ws)
    annotate(ws)  # reading changes nothing
    assert stamps(ws) == first
    steps = [
        ("new decision", lambda: decisions.decide(ws, [load_records(ws)["record_id"].iloc[0]], "reject", "manual"),
         {"decisions", "dedup"}),
        ("undo", lambda: decisions.undo(ws, [load_records(ws)["record_id"].iloc[0]]), {"decisions", "dedup"}),
        ("signal threshold", lambda: SignalSettings.save(ws, thresholds={"short_output": 3}), {"signals", "dedup"}),
        ("the same threshold again", lambda: SignalSettings.save(ws, thresholds={"short_output": 3}), set()),
        ("clustering", lambda: MapSettings.save(ws, k=3), {"map"}),
        ("embedding model", lambda: EmbedSettings.save(ws, model="static"), {"map", "dedup"}),
        ("embedding model back", lambda: EmbedSettings.save(ws, model="minilm"), {"map", "dedup"}),
        ("dedup threshold", lambda: DedupSettings.save(ws, threshold=0.9), {"dedup"}),
        ("signals cached", lambda: signals.signal_table(ws), {"signals", "dedup"}),
        ("map cached", lambda: atlas.build(ws, load_records(ws)), {"map"}),
        ("pairs cached", lambda: dedup.find(ws), {"dedup"}),
        ("everything cached already", lambda: (signals.signal_table(ws), atlas.build(ws, load_records(ws)), dedup.find(ws)), set()),
        ("representative rule that reads no signal", lambda: DedupSettings.save(ws, rule="first_seen"), {"dedup"}),
        ("signal threshold, not read by dedup now", lambda: SignalSettings.save(ws, thresholds={"short_output": 4}), {"signals"}),
        ("new record", lambda: ingest(ws, str(write_jsonl(tmp_path / "b.jsonl", [{"instruction": "New?", "output": "Yes, new."}]))),
         {"records", "signals", "map", "dedup"}),
    ]
    for what, step, expected in steps:
        before = stamps(ws)
        step()
        assert changed(before, stamps(ws)) == expected, what
