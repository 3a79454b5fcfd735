"""The threshold sweep on GPTeacher toolformer data beside its published dedup subsets.

Every instruction there starts with the same tool description, so the raw text
collapses different tasks into giant groups; the library strips lines shared by
many records first. Both are reported, for each text choice.

    python -m bench.dedup_gpteacher [--model minilm|static] [--workspace DIR] [--conversation]

Compares the prompt (instruction + input) by default; --conversation adds the
whole records (embedding them takes a few more minutes).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

from bench.common import SHARED, need
from curation.dedup import find, groups
from curation.ingest import ingest
from curation.workspace import Workspace

FOLDER = SHARED / "gpteacher"
THRESHOLDS = (0.9, 0.8, 0.7, 0.6)
SETTLE = groups.SETTLE_PASSES


def main() -> None:
    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else "minilm"
    source = need(FOLDER / "toolformer-dedupe-only-dataset.json")
    reference = {t: len(json.loads((FOLDER / f"toolformer-similarity-{t}-dataset.json").read_text())) for t in THRESHOLDS}
    ws = Workspace(sys.argv[sys.argv.index("--workspace") + 1] if "--workspace" in sys.argv else tempfile.mkdtemp())
    ingest(ws, str(source))  # a second run on the same workspace adds nothing and reuses the cached vectors
    from curation.atlas import save_settings

    save_settings(ws, model=model)
    print(f"GPTeacher toolformer ({model}): records kept at each threshold, beside the published subsets. Each cell: kept "
          "when every group keeps one record / kept by the greedy filter (a record goes only if it is like one "
          "already kept) / size of the largest group / pair recall (share of the pairs at or above the threshold whose "
          "two records share a group)\n")
    print("| text compared, grouping | boilerplate | " + " | ".join(f"{t}" for t in THRESHOLDS) + " | seconds |")
    print("|---|---|" + "---|" * len(THRESHOLDS) + "---|")
    print("| published subsets | | " + " | ".join(f"{reference[t]:,}" for t in THRESHOLDS) + " | |")
    runs = [("prompt", True, "components", "components"), ("prompt", False, "components", "components"),
            ("prompt", True, "star", "star, not settled"), ("prompt", True, "star", "star (default)")]
    if "--conversation" in sys.argv:
        runs += [("conversation", True, "components", "components"), ("conversation", True, "star", "star (default)")]
    for text, strip, grouping, name in runs:
        groups.SETTLE_PASSES = 0 if name == "star, not settled" else SETTLE
        start = time.perf_counter()
        found = find(ws, threshold=min(THRESHOLDS), text=text, strip=strip, rule="first_seen", grouping=grouping)
        sweep = found.sweep(THRESHOLDS).set_index("threshold")
        cells = [f"{sweep.loc[t, 'kept']:,} / {sweep.loc[t, 'kept_greedy']:,} / {sweep.loc[t, 'largest_group']:,} / "
                 f"{sweep.loc[t, 'pair_recall']:.2f}" for t in THRESHOLDS]
        print(f"| {text}, {name} | {'stripped' if strip else 'kept'} ({len(found.boilerplate)} lines) | " + " | ".join(cells)
              + f" | {time.perf_counter() - start:.0f} |")

if __name__ == "__main__":
    main()
