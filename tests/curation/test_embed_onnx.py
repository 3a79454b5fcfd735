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
def test_the_fused_fp32_graph_gives_pytorch_vectors(ws):
    fp32 = embed.onnx_embedder(ws, graph="fp32")
    torch = embed.sentence_embedder("minilm", embed.bundled_model_path())
    a, b = fp32.encode(TEXTS), torch.encode(TEXTS)  # one padded batch: long, short and empty texts together
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.abs(a - b).max() < 1e-4  # fp32: the same vectors up to float rounding
    single = fp32.encode([TEXTS[0]])  # unpadded: the same vector as in the padded batch
    assert float(single[0] @ a[0]) > 0.9999


@needs_onnx
def test_the_int8_graph_stays_close_to_pytorch(ws):
    int8 = embed.onnx_embedder(ws)
    assert int8.name == "minilm-int8"
    torch = embed.sentence_embedder("minilm", embed.bundled_model_path())
    real = [t for t in TEXTS if len(t) > 1]
    a, b = int8.encode(real), torch.encode(real)
    cosines = np.einsum("ij,ij->i", a, b)
    assert cosines.min() >= 0.99, cosines  # bench/embed_onnx.py: min 0.9936 over 1,000 real prompts
    assert np.abs(a - b).max() > 1e-3  # not PyTorch's vectors: hence a cache of their own
    assert float(int8.encode([real[0]])[0] @ b[0]) >= 0.99  # alone (other activation scales than in a batch)
    tiny = np.einsum("ij,ij->i", int8.encode(["", "x"]), torch.encode(["", "x"]))
    assert tiny.min() >= 0.98, tiny  # texts of one or two tokens are int8's worst case


@needs_onnx
def test_the_exported_graph_is_fused_and_quantised(ws):
    import onnx

    folder = embed.export_onnx()
    fused = json.loads((folder / "fusions.json").read_text())
    assert fused["Attention"] == 6 and fused["SkipLayerNormalization"] == 12 and fused["BiasGelu"] == 6, fused
    graph = onnx.load(str(folder / embed.ONNX_GRAPHS["int8"]), load_external_data=False)
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("MatMulInteger") == 12 and ops.count("MatMul") == 6  # the feed-forward outputs stay fp32
    assert "EmbedLayerNormalization" in ops  # the embeddings: fp32 (only MatMuls are quantised)


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
def test_int8_vectors_are_cached_apart_from_pytorch_vectors(ws):
    """Decided: the int8 graph's vectors differ from PyTorch's by more than float rounding (cosine about 0.994), so
    they are cached under `minilm-int8`: switching backends embeds again rather than mixing two models' vectors."""
    first, info = embed_texts(ws, TEXTS[:3])
    assert info["embedded"] == 3
    onnx_folder = cache_dir(ws, "minilm", "prompt")
    assert onnx_folder.name.startswith("minilm-int8-prompt-")
    EmbedSettings.save(ws, backend="torch")
    torch_folder = cache_dir(ws, "minilm", "prompt")
    assert torch_folder != onnx_folder and torch_folder.name.startswith("minilm-prompt-")
    again, info = embed_texts(ws, TEXTS[:3])
    assert info["embedded"] == 3  # not reused
    assert np.einsum("ij,ij->i", first, again).min() >= 0.99
    EmbedSettings.save(ws, backend="onnx")
    assert embed_texts(ws, TEXTS[:3])[1]["embedded"] == 0  # back on onnx: its own cache again


@needs_onnx
def test_export_is_kept_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_MODEL_CACHE", str(tmp_path / "cache"))
    folder = embed.export_onnx()
    marker = folder / embed.ONNX_GRAPHS["int8"]
    assert folder.parent == tmp_path / "cache" and marker.exists() and (folder / embed.ONNX_GRAPHS["fp32"]).exists()
    assert not (folder / "exported.onnx").exists()  # the plain export is a step, not kept
    stamp = marker.stat().st_mtime_ns
    assert embed.export_onnx() == folder and marker.stat().st_mtime_ns == stamp
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
