"""The default model through ONNX Runtime (issue 18): same vectors as PyTorch, backend choice and fallback, the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import embed
from curation.embed import EmbedSettings, cache_dir, embed_texts, resolve_backend
from curation.errors import CurationError

TEXTS = ["How do I bake bread?", "Bread baking steps, please.", "What is a black hole?", "", "x",
         "Summarise the article below.\n" + "The committee met on Tuesday to discuss the budget for the coming year. " * 40,
         "Ünïcode: naïve café, 東京, emoji 🎉 and <b>markup</b>"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


needs_onnx = pytest.mark.skipif(not embed.onnx_available(), reason="onnxruntime is not installed")


@needs_onnx
def test_onnx_vectors_equal_pytorch_vectors(ws):
    onnx = embed.onnx_embedder(ws)
    torch = embed.sentence_embedder("minilm", embed.bundled_model_path())
    a, b = onnx.encode(TEXTS), torch.encode(TEXTS)  # one padded batch: long, short and empty texts together
    cosines = np.einsum("ij,ij->i", a, b)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert cosines.min() >= 0.99, cosines
    assert np.abs(a - b).max() < 1e-4  # fp32: the same vectors up to float rounding
    single = onnx.encode([TEXTS[0]])  # unpadded: the same vector as in the padded batch
    assert float(single[0] @ a[0]) > 0.9999


@needs_onnx
def test_the_default_model_runs_on_onnx_when_onnxruntime_is_installed(ws, monkeypatch):
    assert resolve_backend("auto")[0] == "onnx" and resolve_backend("onnx")[0] == "onnx"
    used = []
    monkeypatch.setattr(embed, "onnx_embedder", lambda ws: used.append("onnx") or embed.Embedder("minilm", len, 1))
    monkeypatch.setattr(embed, "sentence_embedder", lambda name, path: used.append("torch") or embed.Embedder(name, len, 1))
    embed.get_embedder(ws, "minilm")
    EmbedSettings.save(ws, backend="torch")
    embed.get_embedder(ws, "minilm")
    assert used == ["onnx", "torch"]


def test_pytorch_is_the_fallback_without_onnxruntime(ws, monkeypatch):
    monkeypatch.setattr(embed, "onnx_available", lambda: False)
    backend, why = resolve_backend("auto")
    assert backend == "torch" and "onnxruntime is not installed" in why and "pip install onnxruntime" in why
    with pytest.raises(CurationError, match="needs onnxruntime"):
        resolve_backend("onnx")
    assert resolve_backend("torch") == ("torch", "chosen")
    with pytest.raises(CurationError, match="unknown backend"):
        EmbedSettings.save(ws, backend="tensorflow")


@needs_onnx
def test_both_backends_share_one_cache(ws):
    """Decided: the backend is not part of the cache key, because the vectors are the same to float rounding (cosine >
    0.9999 on t0 and Alpaca, bench/RESULTS.md); vectors written by one backend are reused by the other."""
    first, info = embed_texts(ws, TEXTS[:3])
    assert info["embedded"] == 3
    EmbedSettings.save(ws, backend="torch")
    again, info = embed_texts(ws, TEXTS[:3])
    assert info["embedded"] == 0 and np.array_equal(first, again)
    assert cache_dir(ws, "minilm", "prompt") == cache_dir(ws, "minilm", "prompt")  # no backend in the key
    fresh, _ = embed.get_embedder(ws, "minilm").encode(TEXTS[:3]), None
    assert np.einsum("ij,ij->i", fresh, first).min() > 0.9999  # what torch computes now equals what onnx cached


@needs_onnx
def test_export_is_kept_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_MODEL_CACHE", str(tmp_path / "cache"))
    folder = embed.export_onnx()
    assert folder.parent == tmp_path / "cache" and (folder / "model.onnx").exists()
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert embed.export_onnx() == folder and (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert f"v{embed.ONNX_VERSION}" in folder.name


@needs_onnx
def test_cli_embed_backend_is_kept(ws, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    src = tmp_path / "a.json"
    src.write_text(json.dumps([{"instruction": t or "empty", "input": "", "output": "ok"} for t in TEXTS[:3]]))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "curation", *args, "--workspace", str(ws.root), "--json"], cwd=root,
                              capture_output=True, text=True, timeout=600)

    assert run("ingest", str(src)).returncode == 0
    done = run("embed", "--backend", "torch")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["backend"] == "torch" and out["embedded"] == 3
    assert EmbedSettings.load(ws).backend == "torch"
    out = json.loads(run("embed").stdout)  # kept
    assert out["backend"] == "torch" and out["embedded"] == 0
