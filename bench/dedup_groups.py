"""Duplicate groups on real data with the default settings: t0, GSM8K, OASST paths (issue 13).

For each data set: records, how many the default settings propose to reject, the
largest group, how the proposed rejections split (exact copies / same template
with the same variable parts / near), and the pair recall of the grouping: the
share of the pairs at or above the threshold whose two records land in one group
(per-pair prediction is 1 by definition).

    python -m bench.dedup_groups [--root DIR] [--only t0,gsm8k,oasst] [--model static|minilm] [--rule first_seen] [--ablation]

Workspaces are kept under --root (default /tmp/bench-dedup-groups), so a second
run reuses the ingested records and the cached vectors.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED, need
from curation.dedup import find
from curation.embed import EmbedSettings
from curation.ingest import ingest
from curation.workspace import Workspace

DATA = {
    "t0": ("t0/t0_train_55k.jsonl", "static"),
    "gsm8k": ("gsm8k/gsm_8k_train.json", "static"),
    "oasst": ("oasst/en_100_tree.jsonl", "minilm"),
}


def pair_recall(found) -> float:
    """Share of the pairs at or above the threshold (near pairs and exact copies) whose two records share a group."""
    near = found.pairs.above(float(found.conf["threshold"]))
    group = found.table["dup_group"].fillna(0).to_numpy(np.int64)
    same = (group[near.i] == group[near.j]) & (group[near.i] > 0)
    return round(float(same.mean()), 4) if len(near) else 1.0


def run(name: str, root: Path, model: str | None, rule: str) -> dict:
    path, default_model = DATA[name]
    ws = Workspace(root / name)
    if not (ws.root / "records").exists() or not any((ws.root / "records").iterdir()):
        ingest(ws, str(need(SHARED / path)))
    EmbedSettings.save(ws, model=model or default_model)
    start = time.perf_counter()
    found = find(ws, rule=rule)
    s = found.summary()
    sizes = found.table["group_size"].to_numpy()
    out = {"data": name, "model": model or default_model, "records": s["records"], "threshold": s["threshold"],
           "grouping": s["grouping"], "would_reject": s["would_reject"], "largest_group": int(sizes.max(initial=0)),
           "pair_recall": pair_recall(found), "seconds": round(time.perf_counter() - start, 1)}
    for key in ("reject_exact", "reject_same_values", "reject_near", "family_pairs_dropped", "largest_near_group"):
        if key in s:
            out[key] = s[key]
    return out


def no_families(frame, full, hashes=None):
    from curation.dedup.families import Families

    n = len(frame)
    return Families(np.full(n, -1), [None] * n, np.arange(n), np.zeros(n, dtype=bool))


def ablation(name: str, root: Path, model: str | None, rule: str) -> None:
    """What each change does: components without families (the code before issue 13), star without families, star with
    families (the default), at 0.80 (the old default) and at the calibrated default."""
    from curation.dedup import detect

    ws = Workspace(root / name)
    EmbedSettings.save(ws, model=model or DATA[name][1])
    default = find(ws, rule=rule).conf["threshold"]
    real = detect.families
    for threshold in sorted({0.8, float(default)}):
        for grouping, kin in (("components", False), ("star", False), ("star", True)):
            detect.families = real if kin else no_families
            s = find(ws, rule=rule, threshold=threshold, grouping=grouping).summary()
            detect.families = real
            print(json.dumps({"data": name, "threshold": threshold, "grouping": grouping, "families": kin,
                              "would_reject": s["would_reject"], "largest_group": s["largest_group"],
                              "pair_recall": s["pair_recall"], "exact": s["reject_exact"], "same_values": s["reject_same_values"],
                              "near": s["reject_near"], "set_aside": s["family_pairs_set_aside"],
                              "template_repeats": s["template_repeats"]}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="/tmp/bench-dedup-groups")
    p.add_argument("--only", default=",".join(DATA))
    p.add_argument("--model")
    p.add_argument("--rule", default="first_seen")
    p.add_argument("--ablation", action="store_true", help="also: components / star / star + families at 0.80 and the default")
    args = p.parse_args()
    for name in args.only.split(","):
        print(json.dumps(run(name, Path(args.root), args.model, args.rule)), flush=True)
        if args.ablation:
            ablation(name, Path(args.root), args.model, args.rule)


if __name__ == "__main__":
    main()
