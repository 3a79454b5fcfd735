"""The default embedder through ONNX Runtime against a bare SentenceTransformer.encode (fp32, PyTorch), in one run.

    nice -n 10 python -m bench.embed_onnx [--runs 3] [--n 1000] [--pairs N (MRPC test pairs; default all)] [--fp32]

Texts: real prompts, half t0 (long, templated) and half Alpaca. Timed: a bare
`SentenceTransformer.encode(batch_size=64, normalize_embeddings=True)` on the
texts, and our ONNX path (`embed_texts` into an empty cache: longest first,
batches of 64, each padded to its own longest text). Reported: the ratio of the
medians, every vector's cosine to the PyTorch vector (min), and agreement on the
labelled MRPC test pairs for both backends (ROC AUC of the cosine, and how many
decisions at minilm's calibrated threshold change). The one-off export is timed
separately (it happens once per machine). The onnx backend runs `embed.ONNX_GRAPH`
(int8); `--fp32` also times the fused fp32 graph the same way (longest first,
batches of 64) and reports its cosines.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, T0, median, need

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def texts(n: int) -> list[str]:
    with open(need(T0), encoding="utf-8") as fh:
        t0 = [json.loads(line)["prompt"] for line, _ in zip(fh, range(40 * n))][:: 40][: n // 2]
    alpaca = json.loads(need(SHARED / "alpaca" / "alpaca_data_cleaned_1000.json").read_text())
    return t0 + [f"{r['instruction']}\n{r['input']}".strip() for r in alpaca][: n - len(t0)]


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores))


def main() -> None:
    from curation import embed
    from curation.dedup import calibration, pairmodel
    from curation.embed import EmbedSettings, bundled_model_path, embed_texts, export_onnx, onnx_embedder, onnx_model_dir

    ONNX_GRAPH, ONNX_GRAPHS, sentence_transformer = embed.ONNX_GRAPH, embed.ONNX_GRAPHS, embed.sentence_transformer
    from curation.workspace import Workspace

    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    n = int(sys.argv[sys.argv.index("--n") + 1]) if "--n" in sys.argv else 1000
    items = texts(n)
    fresh = not (onnx_model_dir() / ONNX_GRAPHS["int8"]).exists()
    start = time.perf_counter()
    export_onnx()
    export = time.perf_counter() - start
    bare = sentence_transformer(bundled_model_path())
    root = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    ws = Workspace(root)
    EmbedSettings.save(ws, backend="onnx")
    embed_texts(ws, items[:8])  # load the session once, as the baseline's model is loaded
    shutil.rmtree(root / "embeddings", ignore_errors=True)
    fp32 = onnx_embedder(graph="fp32") if "--fp32" in sys.argv else None
    longest_first = sorted(range(len(items)), key=lambda i: -len(items[i]))
    torch_s, onnx_s, fp32_s = [], [], []
    load = os.getloadavg()
    for _ in range(runs):
        start = time.perf_counter()
        ref = bare.encode(items, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        torch_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours, _ = embed_texts(ws, items)
        onnx_s.append(time.perf_counter() - start)
        shutil.rmtree(root / "embeddings", ignore_errors=True)
        if fp32 is not None:
            start = time.perf_counter()
            plain = np.zeros_like(ref)
            for lo in range(0, len(items), 64):
                rows = longest_first[lo : lo + 64]
                plain[rows] = fp32.encode([items[i] for i in rows])
            fp32_s.append(time.perf_counter() - start)
    load = tuple(round((a + b) / 2, 1) for a, b in zip(load, os.getloadavg()))
    cos = np.einsum("ij,ij->i", ours, ref)
    fused = json.loads((onnx_model_dir() / "fusions.json").read_text())

    a, b, truth = pairmodel.read_mrpc(need(SHARED / "paraphrase" / "msr_paraphrase_test.txt"))
    pairs = int(sys.argv[sys.argv.index("--pairs") + 1]) if "--pairs" in sys.argv else len(a)
    a, b, truth = a[:pairs], b[:pairs], np.asarray(truth[:pairs], bool)
    sims = {}
    for backend in ("torch", "onnx"):
        EmbedSettings.save(ws, backend=backend)
        shutil.rmtree(root / "embeddings", ignore_errors=True)
        va, _ = embed_texts(ws, a, text="pairs")
        vb, _ = embed_texts(ws, b, text="pairs")
        sims[backend] = np.einsum("ij,ij->i", va, vb)
    threshold = calibration.EMBEDDING_THRESHOLDS["minilm"]
    said = {k: v >= threshold - 1e-6 for k, v in sims.items()}
    changed = int((said["torch"] != said["onnx"]).sum())
    gap = float(np.abs(sims["torch"] - sims["onnx"]).max())
    shutil.rmtree(root)

    print(f"Default embedder: ONNX Runtime ({ONNX_GRAPH} graph) against bare SentenceTransformer.encode (PyTorch fp32), "
          f"{len(items):,} real prompts (t0 + Alpaca), {time.strftime('%Y-%m-%d')}, median of {runs}\n")
    print("| what | median | runs |\n|---|---|---|")
    print(f"| bare SentenceTransformer.encode (torch) | {median(torch_s):.1f} s | {', '.join(f'{t:.1f}' for t in torch_s)} |")
    print(f"| our ONNX path (embed_texts, empty cache, {ONNX_GRAPH}) | {median(onnx_s):.1f} s | {', '.join(f'{t:.1f}' for t in onnx_s)} |")
    if fp32_s:
        plain_cos = np.einsum("ij,ij->i", plain, ref)
        print(f"| fused fp32 graph, same batches | {median(fp32_s):.1f} s | {', '.join(f'{t:.1f}' for t in fp32_s)} |")
    if fp32_s:
        print(f"\nfused fp32 graph: {median(torch_s) / median(fp32_s):.2f}× the bare PyTorch encode; cosine min "
              f"{plain_cos.min():.7f}")
    print(f"\nload average during the timed runs (1, 5, 15 min): {load}; fused operators: {fused}")
    print(f"\nspeed: {median(torch_s) / median(onnx_s):.2f}× the bare PyTorch encode (target ≥ 1.5×); cosine to the PyTorch "
          f"vector: min {cos.min():.7f}, 1st percentile {np.percentile(cos, 1):.7f}, mean {cos.mean():.7f} (target ≥ 0.99 "
          f"each); MRPC test ROC AUC: torch "
          f"{auc(sims['torch'], truth):.4f}, onnx {auc(sims['onnx'], truth):.4f}; decisions at minilm's calibrated {threshold}: "
          f"{changed} of {len(truth):,} pairs change; largest |cosine difference| on a pair {gap:.1e}. "
          f"One-off export: {export:.1f} s{'' if fresh else ' (already exported: load only)'}.")


if __name__ == "__main__":
    main()
