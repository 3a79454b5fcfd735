"""Fast mode's static model (issue 18): distilled once per machine into the user's model cache, reused by every workspace.

Distillation embeds MiniLM's whole vocabulary (minutes on two cores), so the real one runs at most once per machine
(`distilled`, a session-scoped fixture, into the user's model cache that the other fast-mode tests use too); the other
tests here fake `model2vec.distill.distill`.
"""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

from curation import embed
from curation.embed import distill_static, embed_texts, static_cache_dir, static_model_dir
from curation.workspace import Workspace


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


class FakeStatic:
    def save_pretrained(self, folder: str) -> None:
        embed.Path(folder).mkdir(parents=True)  # as model2vec's save_pretrained does
        (embed.Path(folder) / embed.STATIC_MARKER).write_bytes(b"fake")


@pytest.fixture
def fake_distill(tmp_path, monkeypatch):
    """`model2vec.distill.distill` counted and instant; the model cache in a tmp folder."""
    import model2vec.distill

    monkeypatch.setenv("CURATION_MODEL_CACHE", str(tmp_path / "model-cache"))
    calls = []

    def distill(**kwargs):
        calls.append(kwargs)
        return FakeStatic()

    monkeypatch.setattr(model2vec.distill, "distill", distill)
    return calls


def test_the_static_model_is_distilled_once_per_machine_not_per_workspace(tmp_path, fake_distill):
    first, second = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    folder = distill_static(first)
    assert folder == static_cache_dir() and folder.parent == tmp_path / "model-cache"
    assert distill_static(second) == folder and distill_static() == folder
    assert len(fake_distill) == 1
    assert not static_model_dir(first).exists() and not static_model_dir(second).exists()  # nothing per workspace
    assert f"v{embed.STATIC_VERSION}" in folder.name


def test_a_workspace_that_distilled_its_own_static_model_keeps_it(tmp_path, fake_distill):
    ws = Workspace(tmp_path / "old")
    own = static_model_dir(ws)
    own.mkdir(parents=True)
    (own / embed.STATIC_MARKER).write_bytes(b"distilled here before the model cache")
    assert distill_static(ws) == own  # its cached vectors came from this model: it stays
    assert fake_distill == []
    assert distill_static(Workspace(tmp_path / "new")) == static_cache_dir()


def test_processes_distilling_at_once_distil_once(tmp_path, fake_distill, monkeypatch):
    import model2vec.distill

    started, release = threading.Event(), threading.Event()
    slow = model2vec.distill.distill

    def distill(**kwargs):
        started.set()
        release.wait(5)
        return slow(**kwargs)

    monkeypatch.setattr(model2vec.distill, "distill", distill)
    found = []
    first = threading.Thread(target=lambda: found.append(distill_static(Workspace(tmp_path / "a"))))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: found.append(distill_static(Workspace(tmp_path / "b"))))
    second.start()  # waits on the lock, then finds the first one's folder
    release.set()
    first.join(10)
    second.join(10)
    assert len(fake_distill) == 1 and found == [static_cache_dir()] * 2


@pytest.fixture(scope="session")
def distilled(tmp_path_factory):
    """The real distillation, into the user's model cache (several minutes on two cores, once per machine: the other
    tests of fast mode and a later session reuse it, as users do)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    first = Workspace(tmp_path_factory.mktemp("first"))
    return embed.model_cache_root(), first, distill_static(first)


def test_the_real_static_model_is_reused_by_a_second_workspace(distilled, tmp_path, monkeypatch):
    import model2vec.distill

    cache, first, folder = distilled
    monkeypatch.setenv("CURATION_MODEL_CACHE", str(cache))
    assert folder.parent == cache and (folder / embed.STATIC_MARKER).exists()
    stamp = (folder / embed.STATIC_MARKER).stat().st_mtime_ns
    monkeypatch.setattr(model2vec.distill, "distill", lambda **kw: pytest.fail("distilled a second time"))
    second = Workspace(tmp_path / "second")
    texts = ["How do I bake bread?", "Bread baking steps, please.", "What is a black hole?"]
    vectors, info = embed_texts(second, texts, model="static")
    assert info["embedded"] == 3 and vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])  # a real model: paraphrases closer
    again, _ = embed_texts(first, texts, model="static")
    assert np.allclose(again, vectors, atol=1e-6)  # both workspaces embed with the one model
    assert (folder / embed.STATIC_MARKER).stat().st_mtime_ns == stamp
    assert not static_model_dir(second).exists()


def test_a_copied_legacy_static_model_gives_the_same_vectors(distilled, tmp_path, monkeypatch):
    cache, _, folder = distilled
    monkeypatch.setenv("CURATION_MODEL_CACHE", str(cache))
    ws = Workspace(tmp_path / "old")
    shutil.copytree(folder, static_model_dir(ws))
    assert distill_static(ws) == static_model_dir(ws)
    vectors, _ = embed_texts(ws, ["What is a black hole?"], model="static")
    assert vectors.shape == (1, 256)
