"""Issue 18: embedding a million records without a Python list of every record's text.

`embed_records` (and `embed_texts`, which now runs on the same code) hash the texts a slice at a time, look the cache
up by key and make only the missing texts. These tests hold the code it replaced (`reference_embed_texts`, copied
verbatim from the version before, texts in and vectors out) and check that vectors, run summaries and the cache's
shards stay byte for byte what that code wrote, on the real models and real records; and that no list of every text
comes back (a spy on `record_texts`, and a tracemalloc bound).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import tracemalloc

import numpy as np
import pytest

from curation import embed, texts
from curation.embed import Embedder, embed_records, embed_texts
from curation.progress import Progress
from curation.store import read_columns
from curation.texts import TEXT_FIELDS, FrameTexts, record_texts
from curation.workspace import Workspace


def reference_embed_texts(ws: Workspace, texts: list[str], *, model: str = "minilm", text: str = "prompt",
                          progress: Progress | None = None) -> tuple[np.ndarray, dict]:
    """`embed.embed_texts` as it was before issue 18's key-only lookup (commit 45524f8), names qualified."""
    start = time.perf_counter()
    folder = embed.cache_dir(ws, model, text)
    index, cached = embed.load_cache(folder)
    keys = [embed.text_key(t) for t in texts]
    by_key = dict(zip(keys, texts))
    missing = sorted(dict.fromkeys(k for k in keys if k not in index), key=lambda k: -len(by_key[k]))
    done = 0
    if missing:
        embedder = embed.get_embedder(ws, model)
        from curation.executor import encode_elsewhere

        elsewhere = encode_elsewhere(ws, model, [by_key[k] for k in missing], embedder.batch_size)
        blocks = [] if cached is None else [cached]
        rows = 0 if cached is None else len(cached)
        writer = embed.ShardWriter(folder)
        pending_keys: list[str] = []
        pending_blocks: list[np.ndarray] = []

        def flush() -> None:
            if pending_keys:
                writer.write(pending_keys, np.vstack(pending_blocks))
                pending_keys.clear()
                pending_blocks.clear()

        began = time.perf_counter()
        try:
            for lo in range(0, len(missing), embedder.batch_size):
                chunk = missing[lo : lo + embedder.batch_size]
                block = (embedder.encode([by_key[k] for k in chunk]) if elsewhere is None
                         else elsewhere[lo : lo + len(chunk)])
                pending_keys.extend(chunk)
                pending_blocks.append(block)
                blocks.append(block)
                for i, k in enumerate(chunk):
                    index.setdefault(k, rows + i)
                rows += len(chunk)
                done += len(chunk)
                if len(pending_keys) >= embed.SHARD:
                    flush()
                if progress:
                    progress(done, len(missing), f"embedding with {model}")
        finally:
            flush()
        embed.record_rate(ws, model, done, time.perf_counter() - began)
        cached = np.vstack(blocks)
    vectors = cached[[index[k] for k in keys]] if keys else np.zeros((0, 0), dtype=np.float32)
    info = {"model": model, "dim": int(vectors.shape[1]) if len(keys) else 0, "text": text, "embedded": done,
            "reused": len(set(keys)) - done, "seconds": round(time.perf_counter() - start, 3)}
    return vectors, info


def shards(ws: Workspace, model: str, text: str) -> list[tuple[list[str], bytes]]:
    """Every shard of a cache folder, oldest first: its keys and its vectors file's bytes (names are times: left out)."""
    folder = embed.cache_dir(ws, model, text)
    return [(np.load(k).tolist(), v.read_bytes()) for k, v in embed.complete_shards(folder)]


def same_run(old: tuple[np.ndarray, dict], new: tuple[np.ndarray, dict]) -> None:
    assert new[0].dtype == old[0].dtype and new[0].shape == old[0].shape
    assert new[0].tobytes() == old[0].tobytes()
    assert {k: v for k, v in new[1].items() if k != "seconds"} == {k: v for k, v in old[1].items() if k != "seconds"}


# --- real records, real models ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_frame(tmp_path_factory):
    """Real records of three shapes (t0 prompt + completion, Alpaca with placeholders and 14 duplicates, chat
    messages), read as the embed command reads them (Arrow-backed text columns)."""
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from curation.ingest import ingest

    root = tmp_path_factory.mktemp("real")
    ws = Workspace(root / "ws")
    t0 = root / "t0.jsonl"
    with (SHARED_DATA / "t0" / "t0_train_55k.jsonl").open() as src:
        t0.write_text("".join(next(src) for _ in range(2500)))
    ingest(ws, t0, name="t0")
    ingest(ws, SHARED_DATA / "alpaca" / "alpaca_en_demo.json", name="alpaca")
    ingest(ws, SHARED_DATA / "chat" / "v1_sft_demo.jsonl", name="chat")
    frame = read_columns(ws, TEXT_FIELDS)
    assert len(frame) > 3500
    return frame


@pytest.mark.parametrize(("model", "choice", "n"), [("static", "prompt", None), ("static", "conversation", None),
                                                    ("minilm", "prompt", 400)])
def test_vectors_and_cache_are_byte_identical_to_the_list_api_on_real_records(real_frame, tmp_path, model, choice, n):
    """Half the records into an empty cache, then all of them (half cached): the columnar path and the code it
    replaced give the same vectors, summaries and shards. MiniLM runs on the onnx backend's int8 graph where
    onnxruntime is installed, whose vectors depend a little on their batch: equal bytes mean equal batches."""
    frame = real_frame if n is None else real_frame.iloc[np.linspace(0, len(real_frame) - 1, n).astype(int)]
    old_ws, new_ws = Workspace(tmp_path / "old"), Workspace(tmp_path / "new")
    for part in (frame.iloc[: len(frame) // 2], frame):
        old = reference_embed_texts(old_ws, record_texts(part, choice), model=model, text=choice)
        new = embed_records(new_ws, part, model=model, text=choice)
        same_run(old, new)
        assert old[1]["embedded"] > 0
    assert shards(new_ws, model, choice) == shards(old_ws, model, choice)
    assert len(shards(new_ws, model, choice)) >= 2
    _, info = embed_records(new_ws, frame, model=model, text=choice, vectors=False)
    assert info["embedded"] == 0 and info["reused"] == old[1]["reused"] + old[1]["embedded"]


# --- a fake embedder: every branch, exactly ------------------------------------------------------------------------

class Fake:
    """A deterministic embedder (batches of 3) that records every batch it was given."""

    def __init__(self, record: bool = True):
        self.batches: list[list[str]] = []
        self.record = record

    def __call__(self, ws, name="minilm") -> Embedder:
        def encode(batch):
            if self.record:
                self.batches.append(list(batch))
            return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8) for t in batch],
                            dtype=np.float32)

        return Embedder(name, encode, 16, batch_size=3)


def test_duplicates_shards_and_a_key_cached_twice_match_the_code_it_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "SHARD", 4)
    monkeypatch.setattr(texts, "SLICE", 5)  # several slices and groups
    words = ["a", "bb", "a", "ccc", "dd", "e", "ffff", "bb", "g", "hh", "iii", "", "jjjjj", "k", "a", "ll"]
    runs = {}
    for name, run in (("old", reference_embed_texts), ("new", embed_texts)):
        fake = Fake()
        monkeypatch.setattr(embed, "get_embedder", fake)
        ws = Workspace(tmp_path / name)
        folder = embed.cache_dir(ws, "minilm", "prompt")
        seeded = [embed.text_key(t) for t in ("e", "bb")]
        vectors = Fake(record=False)(ws).encode(["e", "bb"])
        embed.write_shard(folder, seeded, vectors)
        embed.write_shard(folder, seeded[::-1], vectors[::-1] * 0.5)  # a key cached twice: the first shard's vector wins
        seen: list[tuple] = []
        first = run(ws, words, progress=lambda done, total, what, seen=seen: seen.append((done, total, what)))
        second = run(ws, [*words[::-1], "new", "mmmmmm"])
        runs[name] = (first, second, seen, fake.batches, shards(ws, "minilm", "prompt"))
    (old1, old2, old_seen, old_batches, old_shards), (new1, new2, new_seen, new_batches, new_shards) = runs["old"], runs["new"]
    same_run(old1, new1)
    same_run(old2, new2)
    assert new_seen == old_seen and new_batches == old_batches and new_shards == old_shards
    assert new_batches[0] == ["jjjjj", "ffff", "ccc"]  # longest first, ties in first-seen order


def test_a_list_of_texts_and_a_frame_give_the_same_vectors_and_keys(ws, monkeypatch):
    from curation.atlas import map_key, map_settings

    fake = Fake()
    monkeypatch.setattr(embed, "get_embedder", fake)
    frame = read_columns(_stored(ws, 40), TEXT_FIELDS)
    listed = record_texts(frame, "prompt")
    by_frame, _ = embed_records(ws, frame)
    by_list, info = embed_texts(ws, listed)
    assert info["embedded"] == 0 and by_list.tobytes() == by_frame.tobytes()
    keys, lengths = embed.text_keys(FrameTexts(frame, "prompt"))
    assert keys.astype("U32").tolist() == [embed.text_key(t) for t in listed] and lengths.tolist() == list(map(len, listed))
    conf = map_settings(ws)
    assert map_key(ws, keys, conf) == map_key(ws, listed, conf)  # the map's cache key did not change


# --- no list of every text -----------------------------------------------------------------------------------------

def _stored(ws: Workspace, n: int, width: int = 60) -> Workspace:
    from curation.ingest import ingest

    path = ws.root.parent / f"records-{n}.jsonl"
    rng = np.random.default_rng(0)
    topics = ["bread baking", "black holes", "tax forms", "guitar chords"]
    path.write_text("".join(json.dumps({"prompt": f"{topics[i % 4]} question {i}: " + "word " * int(rng.integers(1, width)),
                                        "completion": f"answer {i}"}) + "\n" for i in range(n)))
    ingest(ws, path, name="spy", fmt="prompt-completion")
    return ws


def test_embedding_and_the_map_never_make_every_text_at_once(ws, monkeypatch):
    """A spy on `record_texts`: embedding and building a map make texts a slice (or one cluster) at a time."""
    from curation import atlas

    monkeypatch.setattr(embed, "get_embedder", Fake())
    monkeypatch.setattr(texts, "SLICE", 50)
    sizes = []
    real = texts.record_texts

    def spy(frame, choice="prompt"):
        sizes.append(len(frame))
        return real(frame, choice)

    monkeypatch.setattr(texts, "record_texts", spy)
    frame = read_columns(_stored(ws, 400), ["record_id", "dataset", "source", *TEXT_FIELDS])
    _, info = embed_records(ws, frame, vectors=False)
    assert info["embedded"] == 400 and sizes and max(sizes) <= 50
    sizes.clear()
    result = atlas.build(ws, frame)
    assert result.clusters >= 2 and len(result.points) == 400
    assert sizes and max(sizes) <= 50  # the map's labels too: a cluster's texts in slices
    assert sum(sizes) < 3 * 400  # hashed once, labelled once (no second pass for the map's cache key)


def test_the_embed_command_holds_a_slice_of_texts_not_all_of_them(ws, monkeypatch):
    """tracemalloc: a cold and a cached `embed_records(vectors=False)` over 12,000 records of about t0's length hold
    far less than their texts (about 11 MB); the list the command built before held them all, plus a key and a dict
    entry each. (What stays is about 100-250 bytes a record: keys, lengths and the cache's index.)"""
    monkeypatch.setattr(embed, "get_embedder", Fake(record=False))
    monkeypatch.setattr(texts, "SLICE", 1000)
    frame = read_columns(_stored(ws, 12_000, width=360), TEXT_FIELDS)
    text_bytes = sum(len(t) for chunk in FrameTexts(frame).slices() for t in chunk)
    assert text_bytes > 10_000_000
    for cold in (True, False):
        peak, (_, info) = traced_peak(lambda: embed_records(ws, frame, vectors=False))
        assert info["embedded"] == (12_000 if cold else 0)
        assert peak < text_bytes / 2, f"peak {peak:,} B for {text_bytes:,} B of texts"
    peak, _ = traced_peak(lambda: record_texts(frame, "prompt"))  # what the command made before
    assert peak > text_bytes / 2  # the bound above would catch it


def traced_peak(run):
    """(peak bytes Python allocated while `run()` ran, its result)."""
    tracemalloc.start()
    try:
        result = run()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()
