"""Embeddings: text choices, the content-keyed cache, the real bundled model."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from curation import embed
from curation.embed import Embedder, cache_dir, embed_texts, pending
from curation.errors import CurationError
from curation.texts import record_texts


class Fake:
    """A deterministic fake embedder that counts what it was asked to embed."""

    def __init__(self):
        self.calls: list[str] = []

    def __call__(self, ws, name="minilm") -> Embedder:
        def encode(texts):
            self.calls.extend(texts)
            return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8) for t in texts], dtype=np.float32)

        return Embedder(name, encode, 16, batch_size=1)


@pytest.fixture
def fake(monkeypatch) -> Fake:
    f = Fake()
    monkeypatch.setattr(embed, "get_embedder", f)
    return f


def frame(rows):
    base = {"system": "", "instruction": "", "input": "", "output": "", "messages": None}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_text_choices():
    f = frame([
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"instruction": "Say hi", "input": "<noinput>", "output": "Hi"},
        {"instruction": "It blinks.", "output": "Restart it.", "system": "Be kind",
         "messages": '[{"role":"system","content":"Be kind"},{"role":"user","content":"Wi-Fi drops"},'
                     '{"role":"assistant","content":"Light?"},{"role":"user","content":"It blinks."},'
                     '{"role":"assistant","content":"Restart it."}]'},
    ])
    assert record_texts(f, "prompt") == ["Translate\nchat", "Say hi", "Wi-Fi drops\nLight?\nIt blinks."]
    assert record_texts(f, "output") == ["cat", "Hi", "Restart it."]
    assert record_texts(f, "conversation")[2] == "Be kind\nWi-Fi drops\nLight?\nIt blinks.\nRestart it."
    with pytest.raises(CurationError, match="choose one of"):
        record_texts(f, "everything")


def test_cache_embeds_only_new_texts_and_keys_on_model_and_text(ws, fake):
    vectors, info = embed_texts(ws, ["a", "b", "a"], model="minilm")
    assert (info["embedded"], info["reused"]) == (2, 0) and vectors.shape == (3, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1) and np.allclose(vectors[0], vectors[2])
    more, info = embed_texts(ws, ["a", "b", "c"], model="minilm")
    assert (info["embedded"], info["reused"]) == (1, 2) and fake.calls == ["a", "b", "c"]
    assert np.allclose(more[:2], vectors[:2])
    _, info = embed_texts(ws, ["a"], model="minilm", text="output")
    assert info["embedded"] == 1  # another text choice never reuses these vectors
    _, info = embed_texts(ws, ["a"], model="other-model")
    assert info["embedded"] == 1
    assert cache_dir(ws, "minilm", "prompt") != cache_dir(ws, "minilm", "output")
    assert pending(ws, ["a", "z"], model="minilm", text="prompt") == 1


def test_an_interrupted_run_resumes_from_written_shards(ws, fake, monkeypatch):
    monkeypatch.setattr(embed, "SHARD", 2)
    texts = [f"t{i}" for i in range(6)]
    calls = {"n": 0}
    original = embed.write_shard

    def killed_at_the_third_shard(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(*args)

    monkeypatch.setattr(embed, "write_shard", killed_at_the_third_shard)
    with pytest.raises(KeyboardInterrupt):
        embed_texts(ws, texts)
    monkeypatch.setattr(embed, "write_shard", original)
    _, info = embed_texts(ws, texts)
    assert info["reused"] >= 4 and info["embedded"] + info["reused"] == 6  # the two shards written are kept


def test_a_cancelled_run_keeps_what_it_embedded_and_progress_comes_every_batch(ws, fake):
    from curation.progress import Cancelled

    seen = []

    def cancel_after_three(done, total, what):
        seen.append(done)
        if done == 3:
            raise Cancelled("cancelled")

    texts = [f"t{i}" for i in range(6)]
    with pytest.raises(Cancelled):
        embed_texts(ws, texts, progress=cancel_after_three)
    assert seen == [1, 2, 3]  # every batch (batch_size 1), not every shard of 1,024
    _, info = embed_texts(ws, texts)
    assert (info["embedded"], info["reused"]) == (3, 3)  # the three embedded before the cancel were written


def test_estimates_use_the_rate_measured_on_this_machine(ws, fake, monkeypatch):
    seconds, how = embed.estimate_seconds(ws, "minilm", 600)
    assert seconds == pytest.approx(600 / embed.ASSUMED_RATES["minilm"]) and how.startswith("not measured here yet")
    monkeypatch.setattr(embed, "MIN_MEASURED", 4)
    embed_texts(ws, ["a", "b"])  # too few texts to measure a rate
    assert embed.estimate_seconds(ws, "minilm", 600)[1].startswith("not measured")
    embed_texts(ws, [f"t{i}" for i in range(8)])
    seconds, how = embed.estimate_seconds(ws, "minilm", 600)
    assert how.startswith("measured here") and seconds != pytest.approx(600 / embed.ASSUMED_RATES["minilm"])
    assert embed.estimate_seconds(ws, "static", 600)[1].startswith("not measured")  # rates are per model


def test_real_bundled_model_offline(ws, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vectors, info = embed_texts(ws, ["How do I bake bread?", "Bread baking steps, please.", "What is a black hole?"])
    assert info["model"] == "minilm" and info["dim"] == 384
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # paraphrases are closer than unrelated questions


def test_every_cached_key_round_trips(ws, fake):
    texts = [f"text number {i}" for i in range(1500)]  # many keys: some digests end in zero bytes
    vectors, info = embed_texts(ws, texts)
    again, info = embed_texts(ws, texts)
    assert info["embedded"] == 0 and np.array_equal(vectors, again)


def fake_vectors(texts: list[str]) -> np.ndarray:
    return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8) for t in texts], dtype=np.float32)


def normalised(texts: list[str]) -> np.ndarray:
    v = fake_vectors(texts)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _embed_racing(root: str, texts: list[str], barrier) -> None:
    """Embed with the fake embedder; the first encode waits until the other process is encoding too."""
    from curation.workspace import Workspace

    first = [True]

    def get(ws, name="minilm"):
        def encode(batch):
            if first[0]:
                first[0] = False
                barrier.wait(timeout=60)  # both processes found the same texts missing before either wrote
            return fake_vectors(batch)

        return Embedder(name, encode, 16, batch_size=1)

    embed.get_embedder = get
    embed.SHARD = 2
    embed_texts(Workspace(root), texts)


def test_concurrent_embeds_cache_each_text_once_and_new_texts_get_their_own_vectors(ws, fake):
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    texts = [f"t{i}" for i in range(6)]
    barrier = spawn.Barrier(2)
    procs = [spawn.Process(target=_embed_racing, args=(str(ws.root), texts, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    folder = cache_dir(ws, "minilm", "prompt")
    stored = [k for keys, _ in embed.complete_shards(folder) for k in np.load(keys).tolist()]
    assert sorted(stored) == sorted(embed.text_key(t) for t in texts)  # every text once
    vectors, info = embed_texts(ws, [*texts, "new one", "new two"])
    assert info["embedded"] == 2 and fake.calls == ["new one", "new two"]
    assert np.allclose(vectors, normalised([*texts, "new one", "new two"]))


def test_a_cache_holding_a_text_twice_still_gives_every_text_its_own_vector(ws, fake):
    folder = cache_dir(ws, "minilm", "prompt")
    keys = [embed.text_key(t) for t in ("a", "b")]
    embed.write_shard(folder, keys, normalised(["a", "b"]))
    embed.write_shard(folder, keys, normalised(["a", "b"]))  # what two racing runs of an older version left
    vectors, info = embed_texts(ws, ["a", "c", "b", "d"])
    assert info["embedded"] == 2
    assert np.allclose(vectors, normalised(["a", "c", "b", "d"]))
    again, info = embed_texts(ws, ["d", "c", "a"])
    assert info["embedded"] == 0 and np.allclose(again, normalised(["d", "c", "a"]))


def test_a_damaged_shard_is_skipped_and_its_texts_embedded_again(ws, fake):
    embed_texts(ws, ["a", "b"])
    folder = cache_dir(ws, "minilm", "prompt")
    [(keys, vectors)] = embed.complete_shards(folder)
    vectors.write_bytes(vectors.read_bytes()[:90])  # truncated
    out, info = embed_texts(ws, ["a", "b"])
    assert info["embedded"] == 2 and np.allclose(out, normalised(["a", "b"]))
    assert pending(ws, ["a", "b"], model="minilm", text="prompt") == 0


def test_a_writer_skips_keys_another_process_cached_meanwhile(ws):
    folder = cache_dir(ws, "minilm", "prompt")
    writer = embed.ShardWriter(folder)
    keys = [embed.text_key(t) for t in ("a", "b", "c")]
    embed.write_shard(folder, keys[:2], normalised(["a", "b"]))  # another process, after we looked
    assert writer.write(keys, normalised(["a", "b", "c"])) == 1
    assert writer.write(keys, normalised(["a", "b", "c"])) == 0
    stored = [k for f, _ in embed.complete_shards(folder) for k in np.load(f).tolist()]
    assert sorted(stored) == sorted(keys)
