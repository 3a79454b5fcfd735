"""The threshold sweep on GPTeacher toolformer data beside its published dedup subsets.

Every instruction there starts with the same tool description, so the raw text
collapses different tasks into giant groups; the library strips lines shared by
many records first. Both are reported, for each text choice.

    python bench/dedup_gpteacher.py [--model minilm|static]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

from bench.common import SHARED, need
from curation.dedup import find
from curation.ingest import ingest
from curation.workspace import Workspace

FOLDER = SHARED / "gpteacher"
THRESHOLDS = (0.9, 0.8, 0.7, 0.6)


def main() -> None:
    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else "minilm"
    source = need(FOLDER / "toolformer-dedupe-only-dataset.json")
    reference = {t: len(json.loads((FOLDER / f"toolformer-similarity-{t}-dataset.json").read_text())) for t in THRESHOLDS}
    ws = Workspace(tempfile.mkdtemp())
    ingest(ws, str(source))
    from curation.atlas import save_settings

    save_settings(ws, model=model)
    print(f"GPTeacher toolformer, {model}: records kept by the sweep (all but one per group) beside the published subsets\n")
    print("| text compared | boilerplate | " + " | ".join(f"kept at {t}" for t in THRESHOLDS) + " | largest group | seconds |")
    print("|---|---|" + "---|" * len(THRESHOLDS) + "---|---|")
    print("| published subsets | | " + " | ".join(f"{reference[t]:,}" for t in THRESHOLDS) + " | | |")
    for text in ("prompt", "conversation"):
        for strip in (True, False):
            start = time.perf_counter()
            found = find(ws, threshold=min(THRESHOLDS), text=text, strip=strip, rule="first_seen")
            sweep = found.sweep(THRESHOLDS).set_index("threshold")
            largest = int(found.table["group_size"].max())
            print(f"| {text} | {'stripped' if strip else 'kept'} ({len(found.boilerplate)} lines) | "
                  + " | ".join(f"{int(sweep.loc[t, 'kept']):,}" for t in THRESHOLDS)
                  + f" | {largest:,} | {time.perf_counter() - start:.0f} |")


if __name__ == "__main__":
    main()
