"""Export streams (issue 18): records are rendered and written a slice at a time, and the files are the same bytes as
the export that rendered every record in memory wrote.

`tests/curation/data/export_golden.json` holds the sha256 of every split file and the manifest (less its package
versions) that export wrote for a small demo dataset of ours (`demo_rows`) before it streamed; regenerate it only
for a deliberate change of the output: `python -m tests.curation.test_export_stream`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curation.decisions import decide
from curation.edits import edit
from curation.export import Options, export
from curation.ingest import ingest
from curation.workspace import Workspace
from tests.conftest import write_jsonl

GOLDEN = Path(__file__).parent / "data" / "export_golden.json"
CUSTOM = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
          "{% if tools %}[tools:{{ tools | length }}]{% endif %}")
CASES = {  # name -> export options (similarity off: no embedding model in a unit test)
    "alpaca-text": dict(template="alpaca"),
    "alpaca-alpaca": dict(template="alpaca", shape="alpaca"),
    "chatml-messages": dict(template="chatml", shape="messages", split="train=0.6,validation=0.2,test=0.2", seed=3),
    "llama3-prompt-completion": dict(template="llama-3", shape="prompt-completion", max_tokens=40),
    "mistral-sharegpt-kept": dict(template="mistral", shape="sharegpt", kept_only=True, stratify="source"),
    "vicuna-text-keep-markers": dict(template="vicuna", end_markers="keep", max_tokens=30, over="keep"),
    "custom-text": dict(template="custom", template_source=CUSTOM),
    "custom-prompt-completion": dict(template="custom", template_source=CUSTOM, shape="prompt-completion", max_tokens=35),
}


def demo_rows(n: int = 90) -> list[dict]:
    """A small mixed dataset written for this test: single turns, inputs, placeholders, conversations, tools, end
    markers, exact copies and prompts asked twice."""
    words = "river stone cloud lamp garden violin copper meadow signal harbour lantern orbit".split()
    rows = []
    for i in range(n):
        topic = f"{words[i % len(words)]} {words[(i * 7) % len(words)]}"
        kind = i % 6
        row = {"instruction": f"Describe the {topic} number {i}.", "input": "", "output": f"The {topic} is item {i}." + " More." * (i % 9)}
        if kind == 1:
            row["input"] = f"context about {topic}"
        elif kind == 2:
            row["input"] = "<noinput>"
            row["output"] += "<|endoftext|>"
        elif kind == 3:
            row = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Hi about {topic}?"},
                                {"role": "assistant", "content": f"Hello {i}."}, {"role": "user", "content": "More?"},
                                {"role": "assistant", "content": f"Yes, {topic}.</s>"}]}
        elif kind == 4:
            row["tools"] = json.dumps([{"name": f"lookup_{i % 3}", "description": "find", "parameters": {"type": "object"}}])
        elif kind == 5 and i % 4 == 1:
            row["instruction"] = "Describe the river stone number 1."  # the same prompt as record 1: one split
        if i % 17 == 0 and i:
            row = dict(rows[i - 5])  # an exact copy
            row["note"] = "copy"
        if i % 11 == 0 and "messages" not in row:
            row["output"] = ""  # blocked by empty_output
        rows.append(row)
    return rows


def demo_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    src = write_jsonl(tmp_path / "demo.jsonl", [r for r in demo_rows() if "messages" not in r])
    conv = tmp_path / "conv.jsonl"
    conv.write_text("".join(json.dumps(r) + "\n" for r in demo_rows() if "messages" in r), encoding="utf-8")
    ingest(ws, src, name="demo", source="human")
    ingest(ws, conv, name="chats", source="synthetic")
    from curation.store import read_columns

    frame = read_columns(ws, ["record_id"])
    ordered = sorted(frame["record_id"])
    decide(ws, ordered[:12], "keep", "manual")
    decide(ws, ordered[12:16], "reject", "manual")
    edit(ws, ordered[20], {"output": "An edited answer, longer than the stored one, for the edits overlay."})
    return ws


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exported(ws: Workspace, out: Path, case: dict, fmt: str = "jsonl") -> dict:
    """{file: sha256} of one export, the manifest's entry hashed without its package versions."""
    export(ws, out, Options(format=fmt, similarity=False, **case))
    files = {p.relative_to(out).as_posix(): digest(p) for p in sorted(out.rglob("*")) if p.is_file()
             and p.name not in ("manifest.json", ".curation-export")}
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("versions")
    manifest.pop("files")  # their hashes are above
    files["manifest.json (less versions and files)"] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return files


def all_cases(tmp_path: Path) -> dict:
    ws = demo_workspace(tmp_path)
    return {name: exported(ws, tmp_path / "out" / name, case) for name, case in CASES.items()}


def test_demo_rows_cover_what_export_handles():
    rows = demo_rows()
    assert any("messages" in r for r in rows) and any("tools" in r for r in rows) and any(r.get("input") == "<noinput>" for r in rows)
    assert any(str(r.get("output", "")).endswith("<|endoftext|>") for r in rows) and any(r.get("output") == "" for r in rows)


def test_export_writes_the_same_bytes_as_before_it_streamed(tmp_path):
    golden = json.loads(GOLDEN.read_text())
    assert all_cases(tmp_path) == golden


if __name__ == "__main__":  # regenerate the golden hashes (only for a deliberate change of the output)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(all_cases(Path(tmp)), indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_workspace(tmp_path_factory.mktemp("demo"))


def test_export_in_slices_of_7_records_writes_the_same_bytes(demo, tmp_path, monkeypatch):
    from curation.export import write

    golden = json.loads(GOLDEN.read_text())
    slices = []
    real = write.rendered

    def spy(template, rows, *args, **kwargs):
        slices.append(len(rows))
        return real(template, rows, *args, **kwargs)

    monkeypatch.setattr(write, "SLICE_ROWS", 7)
    monkeypatch.setattr(write, "rendered", spy)
    for name in ("alpaca-alpaca", "llama3-prompt-completion", "custom-prompt-completion"):
        slices.clear()
        assert exported(demo, tmp_path / name, CASES[name]) == golden[name], name
        assert max(slices) == 7 and len(slices) > 5  # never every record at once


def in_memory_parquet(ws: Workspace, out: Path, opts: Options) -> dict[str, bytes]:
    """The split files as export wrote them before it streamed: every shaped row in memory, a table per split."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.export import prepare

    plan = prepare(ws, opts)
    files = {}
    for name, idx in plan["by_split"].items():
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist([plan["shaped"][i] for i in idx]), buffer)
        files[f"{name}.parquet"] = buffer.getvalue()
    return files


@pytest.mark.parametrize("case", ["chatml-messages", "llama3-prompt-completion", "custom-text"])  # rows of one set of keys
def test_parquet_export_in_slices_equals_the_in_memory_tables(demo, tmp_path, monkeypatch, case):
    from curation.export import write

    opts = dict(format="parquet", similarity=False, **CASES[case])
    expected = in_memory_parquet(demo, tmp_path, Options(**opts))
    monkeypatch.setattr(write, "SLICE_ROWS", 5)
    export(demo, tmp_path / "out", Options(**opts))
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "out").glob("*.parquet"))} == expected


def test_hf_export_in_slices_holds_the_in_memory_datasets(demo, tmp_path, monkeypatch):
    from datasets import Dataset, load_from_disk

    from curation.export import prepare, write

    opts = dict(format="hf", similarity=False, **CASES["custom-prompt-completion"])
    plan = prepare(demo, Options(**opts))
    monkeypatch.setattr(write, "SLICE_ROWS", 6)
    export(demo, tmp_path / "hf", Options(**opts))
    loaded = load_from_disk(str(tmp_path / "hf"))
    assert list(loaded) == list(plan["by_split"])
    for name, idx in plan["by_split"].items():
        assert loaded[name].to_list() == Dataset.from_list([plan["shaped"][i] for i in idx]).to_list()


@pytest.mark.parametrize("template, source", [("alpaca", None), ("custom", CUSTOM)])
def test_the_total_output_limit_spans_every_slice(demo, tmp_path, monkeypatch, template, source):
    """Slices of 7 records each stay far under the limit: only the batch's running total can pass it."""
    from curation.errors import CurationError
    from curation.export import write
    from curation.export.templates import Limits

    monkeypatch.setattr(write, "SLICE_ROWS", 7)
    with pytest.raises(CurationError, match=r"stopped at record ([89]|[1-9]\d)\b.*passed the limit of 3,000 characters in all"):
        export(demo, tmp_path / "out", Options(template=template, template_source=source, similarity=False,
                                               limits=Limits(total_chars=3000)))
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the spill file and the temporary folder are gone


def test_a_failed_render_leaves_no_spill_file(demo, tmp_path, monkeypatch):
    from curation.export import write

    def broken(*args, **kwargs):
        raise RuntimeError("renderer on fire")

    monkeypatch.setattr(write, "SLICE_ROWS", 7)
    monkeypatch.setattr(write, "token_lengths", broken)
    with pytest.raises(RuntimeError, match="renderer on fire"):
        export(demo, tmp_path / "out", Options(similarity=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["parquet", "hf"])
def test_parquet_and_hf_keep_the_keys_only_later_rows_have(demo, tmp_path, fmt):
    """The alpaca shape gives a conversation `history` and `system`: a table used to take the first row's keys only."""
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    export(demo, tmp_path / "out", Options(format=fmt, similarity=False, **CASES["alpaca-alpaca"]))
    export(demo, tmp_path / "jsonl", Options(similarity=False, **CASES["alpaca-alpaca"]))
    lines = [json.loads(line) for line in (tmp_path / "jsonl" / "train.jsonl").read_text().splitlines()]
    assert "history" not in lines[0] and any("history" in row for row in lines)
    table = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist() if fmt == "parquet" else \
        load_from_disk(str(tmp_path / "out"))["train"].to_list()
    assert [{k: v for k, v in row.items() if v is not None} for row in table] == \
        [{k: v for k, v in row.items() if v is not None} for row in lines]


def test_map_columns_are_joined_by_id_as_annotate_joins_them(tmp_path):
    """with_clusters joins the cached map's columns by record id (a merge copied every text column): the same values
    and types as `annotate` gives."""
    import pandas as pd

    from curation.annotated import annotate
    from curation.atlas import build, save_settings
    from curation.demo import load_demo
    from curation.export.write import with_clusters
    from curation.store import load_records

    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    save_settings(ws, model="static", method="kmeans", k=4)
    build(ws, load_records(ws))
    frame = load_records(ws).sample(frac=1, random_state=0).reset_index(drop=True)  # not in load order
    ours, theirs = with_clusters(ws, frame, True), annotate(ws, frame, stages=("map",))
    added = [c for c in ours.columns if c not in frame]
    assert {"cluster", "cluster_label"} <= set(added) and list(ours["record_id"]) == list(theirs["record_id"])
    pd.testing.assert_frame_equal(ours[added], theirs[added])


def test_only_the_time_spent_rendering_counts_against_the_batch_time_limit(demo, tmp_path, monkeypatch):
    """Reading, token counting and writing between slices take time too: the batch limit is on rendering, as when every
    record was rendered in one call (1M records: the limit ran out on the work between slices)."""
    import time as clock

    from curation.export import write
    from curation.export.sandbox import Budget
    from curation.export.templates import Limits

    real = write.token_lengths

    def slow(*args):
        clock.sleep(0.15)
        return real(*args)

    spent = []
    real_start = Budget.start

    def start(limits):
        spent.append(real_start(limits))
        return spent[-1]

    monkeypatch.setattr(write, "SLICE_ROWS", 7)
    monkeypatch.setattr(write, "token_lengths", slow)
    monkeypatch.setattr(Budget, "start", staticmethod(start))
    export(demo, tmp_path / "out", Options(similarity=False, limits=Limits(total_seconds=1.0)))  # 12 slices: 1.8 s of sleep
    assert (tmp_path / "out" / "train.jsonl").is_file() and 0 < spent[0].seconds_left < 1.0


def test_the_default_total_limits_grow_with_the_batch(demo, tmp_path, monkeypatch):
    """A big export writes more than the fixed total (1M alpaca records: ~1 GB, stopped at record 944,911 before):
    by default the batch may write twice its own text and take 1 ms a record, never less than the fixed totals."""
    from curation.export import templates
    from curation.export.templates import Limits

    assert Limits.for_batch(10, 100) == Limits()  # small batches: the fixed totals
    big = Limits.for_batch(1_000_000, 900_000_000)
    assert big.total_chars == 1_800_000_000 and big.total_seconds == 1000 and big.record_chars == Limits().record_chars
    # Fixed totals far below this export's output stand for the 1M case: the default scales past them.
    monkeypatch.setattr(templates, "TOTAL_CHARS", 3000)
    monkeypatch.setattr(templates, "DEFAULT_LIMITS", Limits(total_chars=3000))
    export(demo, tmp_path / "out", Options(similarity=False))
    assert (tmp_path / "out" / "train.jsonl").stat().st_size > 3000


@pytest.mark.parametrize("case", ["chatml-messages", "custom-text"])
def test_the_preview_plan_renders_a_slice_at_a_time_and_shows_what_prepare_holds(demo, monkeypatch, case):
    """The Export page's plan (issue 18): the same splits, lengths and exclusions as `prepare`, without holding any
    rendered record; the few records shown are rendered on demand, exactly as `prepare` rendered them."""
    from curation.export import preview_plan, preview_rows, write
    from curation.export import shapes as shapes_module

    opts = Options(similarity=False, max_tokens=60, over="drop", end_markers="strip", **CASES[case])
    full = write.prepare(demo, opts)
    monkeypatch.setattr(write, "SLICE_ROWS", 4)
    calls = []
    real = shapes_module.rendered
    monkeypatch.setattr(write, "rendered", lambda template, rows, *a, **k: calls.append(len(rows)) or real(template, rows, *a, **k))
    plan = preview_plan(demo, opts)
    assert max(calls) <= 4 and sum(calls) == len(full["rows"]) + full["excluded"].get("too_long", 0)
    assert not {"rows", "texts", "shaped"} & set(plan)
    assert plan["by_split"] == full["by_split"] and list(plan["lengths"]) == list(full["lengths"])
    assert plan["excluded"] == full["excluded"]
    shown = [i for idx in plan["by_split"].values() for i in idx[:2]]
    assert preview_rows(plan, opts, shown) == [(full["rows"][i], full["texts"][i]) for i in shown]


def test_the_leakage_similarity_is_found_a_block_of_both_sides_at_a_time(monkeypatch):
    """The highest train/other similarity and its two rows, as the whole product gives them (ties: the first pair),
    with only a block of train records compared at a time (issue 18: a 1M export held 7 GB of similarities a block)."""
    import numpy as np

    from curation.export import manifest

    rng = np.random.default_rng(3)
    train = rng.normal(size=(700, 16)).astype(np.float32)
    other = rng.normal(size=(300, 16)).astype(np.float32)
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    train[5] = train[600]
    other[40] = other[250] = train[600]  # four equal highest pairs: (40, 5) comes first
    whole = other @ train.T
    r, c = np.unravel_index(int(np.argmax(whole)), whole.shape)
    assert (r, c) == (40, 5)
    monkeypatch.setattr(manifest, "SIMILARITY_CELLS", 64 * 50)  # 50 train rows a block of 64
    widths = []
    real = manifest.np.argmax
    monkeypatch.setattr(manifest.np, "argmax", lambda a, *k: widths.append(np.shape(a)[-1]) or real(a, *k))
    assert manifest.max_similarity(train, other, block=64) == (float(whole[r, c]), 40, 5)
    assert max(widths) == 50


def test_leakage_check_above_its_exact_limit_searches_an_ivf_index_and_says_how_much_it_found():
    """Issue 18: at 1M records the exact train/test check is 9·10¹⁰ comparisons; above `exact_cells` the nearest train
    record of each test record comes from a faiss IVF index, and the check says so with a measured recall."""
    import numpy as np

    from curation.export import manifest

    rng = np.random.default_rng(7)
    train = rng.normal(size=(20_000, 32)).astype(np.float32)
    other = rng.normal(size=(2_000, 32)).astype(np.float32)
    other[7] = train[1234] + 0.01 * rng.normal(size=32)  # a near copy across the splits
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    exact = manifest.highest_similarity(train, other)
    assert exact["method"] == "exact" and (exact["row"], exact["train_row"]) == (7, 1234) and "recall" not in exact
    found = manifest.highest_similarity(train, other, exact_cells=0)
    assert found["method"].startswith("faiss IVF") and (found["row"], found["train_row"]) == (7, 1234)
    assert abs(found["max_similarity"] - exact["max_similarity"]) < 1e-5
    assert 0.0 < found["recall"] <= 1.0  # random 32-d vectors: the index misses some records' nearest train record
    clustered = manifest.highest_similarity(train, train[:500] + 0.001, exact_cells=0)  # each one's own copy is found
    assert clustered["recall"] == 1.0


def test_leakage_lines_say_whether_a_near_copy_crosses_the_splits():
    """The highest similarity alone (e.g. 0.996) told a curator nothing: it is read against the model's near-duplicate
    threshold, and an index's recall is said."""
    from curation.export.write import leakage_lines

    leak = {"model": "minilm", "near_duplicate_threshold": 0.79, "threshold_calibrated": True,
            "splits": {"test": {"max_similarity": 0.996, "record": "a", "train_record": "b", "method": "exact"},
                       "dev": {"max_similarity": 0.61, "record": "c", "train_record": "d", "method": "faiss IVF (9 lists, nprobe 2)",
                               "recall": 0.97}, "empty": None}}
    test, dev = leakage_lines(leak)
    assert test.startswith("test: highest similarity to a train record 0.996 (a ~ b)") and "near copy in train" in test
    assert "grouping by components" in test  # why a near pair can cross the splits after dedup (star groups)
    assert "run dedup if it has not run" in test and "calibrated on labelled paraphrase pairs" in test
    assert "no near copy crosses the splits" in dev and "faiss IVF (9 lists, nprobe 2)" in dev and "97%" in dev
    assert leakage_lines(None) == []
