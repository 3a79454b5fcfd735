"""Map build time on t0: the first 10,000 records with the default model, all 55,185 in fast mode.

    python bench/map_build.py [--runs 1] [--workspace DIR]

`--workspace DIR` keeps the workspace (t0 ingested, embeddings cached) for a
later run, which then times the map builds without re-embedding.

For each size, in a fresh workspace: embedding (timed on its own), then
`curation.atlas.build` with the embeddings cached: UMAP projection, the default
clustering (k-means, automatic k), cover (confidence, assignment), labels
checked against representatives, diversity. The first build in a process pays
numba's one-off UMAP compilation, so a small map is built first to warm it.
Fast mode for 55k: embedding 55k prompts with MiniLM takes about half an hour on
2 cores (issue 13 measured 25 minutes on a loaded machine).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, T0, need

sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.atlas import build, save_settings  # noqa: E402
from curation.embed import embed_texts  # noqa: E402
from curation.ingest import ingest  # noqa: E402
from curation.store import load_records  # noqa: E402
from curation.texts import record_texts  # noqa: E402
from curation.workspace import Workspace  # noqa: E402

SIZES = ((10_000, "minilm"), (55_185, "static"))


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workspace", type=Path, help="a workspace folder to use and keep (default: a temporary one)")
    args = parser.parse_args()
    need(T0)
    root = args.workspace or Path(tempfile.mkdtemp(prefix="bench-map-build-")) / "ws"
    ws = Workspace(root)  # one workspace: fast mode distils its static model once (minutes)
    records = load_records(ws)
    if records.empty:
        ingest(ws, T0)
        records = load_records(ws)
    save_settings(ws, model="static")
    build(ws, records.iloc[:300])  # numba compiles here, not in the timed builds
    results = []
    for n, model in SIZES:
        save_settings(ws, model=model)
        frame = records.iloc[:n]  # a map is of the records it is given
        start = time.perf_counter()
        embed_texts(ws, record_texts(frame), model=model)
        embedding = time.perf_counter() - start
        builds = []
        for _ in range(args.runs):
            shutil.rmtree(ws.root / "maps", ignore_errors=True)  # build, not load
            start = time.perf_counter()
            atlas = build(ws, frame)
            builds.append(time.perf_counter() - start)
        results.append({"records": len(frame), "model": model, "embedding s": round(embedding, 1),
                        "map builds s": [round(b, 1) for b in builds], "clusters": atlas.clusters,
                        "unclustered": atlas.noise, "low confidence (assigned)": atlas.assigned,
                        "assigned share": round(atlas.assigned / len(frame), 3)})
        print(json.dumps(results[-1]), flush=True)
    if args.workspace is None:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
