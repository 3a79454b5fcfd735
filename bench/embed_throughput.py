"""Embedding throughput: our default embedder against a bare SentenceTransformer.encode
on the same texts and batch size, and fast mode against the default.

    python bench/embed_throughput.py [--runs 3]

Texts: the prompts (instruction + input) of alpaca_data_cleaned_1000.json. Each
run embeds into an empty cache, so nothing is reused. The bare baseline loads
the same bundled model and calls encode(batch_size=64, normalize_embeddings=True).
Fast mode is timed after its one-off distillation (reported separately).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, median, need, report, runs_from_args

sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.embed import bundled_model_path, distill_static, embed_texts  # noqa: E402
from curation.workspace import Workspace  # noqa: E402


def main() -> None:
    runs = runs_from_args()
    data = need(SHARED / "alpaca" / "alpaca_data_cleaned_1000.json")
    texts = [f"{r['instruction']}\n{r['input']}".strip() for r in json.loads(data.read_text())]
    from sentence_transformers import SentenceTransformer

    bare = SentenceTransformer(bundled_model_path(), device="cpu")
    ours, baseline, fast = [], [], []
    root = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    ws = Workspace(root)
    start = time.perf_counter()
    distill_static(ws)
    distill = time.perf_counter() - start
    embed_texts(ws, texts[:10])  # load the model once, as the baseline did
    for _ in range(runs):
        start = time.perf_counter()
        bare.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        baseline.append(time.perf_counter() - start)
        shutil.rmtree(root / "embeddings", ignore_errors=True)
        start = time.perf_counter()
        embed_texts(ws, texts, model="minilm")
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        embed_texts(ws, texts, model="static")
        fast.append(time.perf_counter() - start)
        shutil.rmtree(root / "embeddings", ignore_errors=True)
    n = len(texts)
    report(f"Embedding {n:,} alpaca prompts, {runs} runs", [
        ("baseline: bare SentenceTransformer.encode", baseline), ("default embedder (minilm) via the cache", ours),
        ("fast mode (static, distilled)", fast)],
        f"throughput: baseline {n / median(baseline):.0f}/s, default {n / median(ours):.0f}/s "
        f"({median(baseline) / median(ours):.0%} of baseline; target ≥ 90%), fast {n / median(fast):.0f}/s "
        f"({median(ours) / median(fast):.0f}× the default; target ≥ 50×). One-off distillation: {distill:.1f} s.")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
