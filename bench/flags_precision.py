"""Precision of every quality flag on a labelled development set (issue 12).

    python bench/flags_precision.py [--data DIR] [--workspace DIR] [--json]

`bench/data/flags_dev.jsonl` holds one line per (record, flag) that a person
read and labelled: `correct` (the flag points at a real defect a curator would
act on: reject or fix) or `wrong` (a false alarm), with the action, whether the
record is acceptable training data as it stands, and a note. It stores only
identifiers (file relative to ../shared/data, row, sub-index within the row,
record id) and labels, never the data itself: this script rebuilds the records
by ingesting the shared files into a fresh workspace (or reuses --workspace),
computes the flags *as the code now stands*, joins them with the labels on
(file, row, sub) and prints, per flag:

- fires: records it flags in the whole workspace;
- labelled: labelled records it still flags, and how many are correct;
- precision: correct / labelled, with a 95% Wilson interval;
- weighted: the same, each dataset weighted by how often the flag fires there
  (the sample is spread across datasets, the firings are not), and the share of
  firings that weighting covers;
- no longer flagged: labelled records the flag no longer fires on (they drop out
  of its denominator; their labels say whether that lost a real catch);
- new on dev records: records of the set the flag fires on but that carry no
  label for it, and how many of those the annotator judged acceptable (a proxy
  for new false alarms).

Then, for every flag, how many records of each dataset it flags. Skips cleanly
when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import ROOT, SHARED

sys.path.insert(0, str(ROOT))

LABELS = Path(__file__).resolve().parent / "data" / "flags_dev.jsonl"

# Every shared file but the paraphrase TSVs and the gpteacher similarity-deduped copies; t0 in full.
FILES = (
    "alpaca/alpaca_data_cleaned_1000.json",
    "alpaca/alpaca_en_demo.json",
    "alpaca/seed_tasks.jsonl",
    "gpteacher/toolformer-dedupe-only-dataset.json",
    "gpteacher/roleplay-simple-deduped-roleplay-dataset.json",
    "gsm8k/gsm_8k_train.json",
    "chat/dummy_conversation.json",
    "chat/v1_sft_demo.jsonl",
    "chat/glaive_toolcall_en_demo.json",
    "chat/identity.json",
    "oasst/en_100_tree.jsonl",
    "oasst/en_100_message.jsonl",
    "t0/t0_train_55k.jsonl",
)
SHORT = {
    "alpaca_data_cleaned_1000": "alpaca-cl",
    "alpaca_en_demo": "alpaca-demo",
    "seed_tasks": "seed",
    "toolformer-dedupe-only-dataset": "toolformer",
    "roleplay-simple-deduped-roleplay-dataset": "roleplay",
    "gsm_8k_train": "gsm8k",
    "dummy_conversation": "dummy-chat",
    "v1_sft_demo": "v1-sft",
    "glaive_toolcall_en_demo": "glaive",
    "identity": "identity",
    "en_100_tree": "oasst-tree",
    "en_100_message": "oasst-msg",
    "t0_train_55k": "t0",
}
# The two OASST exports hold the same conversations: one stratum when weighting.
GROUP = {"en_100_tree": "oasst", "en_100_message": "oasst"}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def build(data: Path, root: Path) -> None:
    from curation.ingest import ingest
    from curation.workspace import Workspace

    ws = Workspace(root)
    for rel in FILES:
        ingest(ws, data / rel, name=Path(rel).stem)


def current_flags(root: Path):
    """(records with file, row, sub and one boolean column per flag code; the flag codes, in registry order)."""
    import pandas as pd

    from curation.signals import SIGNALS
    from curation.signals.compute import flags, signal_table, thresholds
    from curation.store import read_columns
    from curation.workspace import Workspace

    ws = Workspace(root)
    table, _ = signal_table(ws)
    flagged = flags(table, thresholds(ws))
    codes = {name: SIGNALS[name].reason for name in flagged.columns}
    flagged = flagged.rename(columns=codes)
    flagged.insert(0, "record_id", table["record_id"].astype(str).to_numpy())
    records = read_columns(ws, ["record_id", "dataset", "file", "row"])
    records = pd.DataFrame({c: records[c].astype(object if c != "row" else "int64").to_numpy() for c in records.columns})
    # Several records from one source row (OASST paths, self-instruct instances): numbered in load order.
    records["sub"] = records.groupby(["dataset", "file", "row"]).cumcount()
    stem_to_rel = {Path(rel).stem: rel for rel in FILES}
    records["rel"] = records["dataset"].map(stem_to_rel)
    frame = records.merge(flagged, on="record_id", how="left")
    return frame, list(codes.values())


def evaluate(frame, codes: list[str], labels: list[dict]) -> dict:
    key = list(zip(frame["rel"], frame["row"], frame["sub"]))
    position = {k: i for i, k in enumerate(key)}
    dev_rows = {(d["file"], d["row"], d["sub"]) for d in labels}
    missing = sorted(k for k in dev_rows if k not in position)
    acceptable = {(d["file"], d["row"], d["sub"]): d["acceptable"] for d in labels}
    by_flag: dict[str, list[dict]] = defaultdict(list)
    for d in labels:
        by_flag[d["flag"]].append(d)
    datasets = list(dict.fromkeys(frame["dataset"]))
    out = {
        "records": len(frame),
        "dev_records": len(dev_rows),
        "dev_records_missing": missing,
        "flags": {},
        "counts": {},
        "datasets": {ds: int((frame["dataset"] == ds).sum()) for ds in datasets},
    }
    for code in codes + sorted(set(by_flag) - set(codes)):
        exists = code in frame.columns
        fires = frame[code].fillna(False).astype(bool).to_numpy() if exists else None
        out["counts"][code] = {ds: int(fires[(frame["dataset"] == ds).to_numpy()].sum()) for ds in datasets} if exists else {}
        labelled, gone = [], []
        for d in by_flag.get(code, []):
            i = position.get((d["file"], d["row"], d["sub"]))
            if i is None:
                continue
            (labelled if exists and fires[i] else gone).append(d)
        correct = sum(d["label"] == "correct" for d in labelled)
        n = len(labelled)
        # Dataset-weighted estimate: each stratum's precision weighted by the flag's firings there.
        strata: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for d in labelled:
            g = GROUP.get(d["dataset"], d["dataset"])
            strata[g][0] += d["label"] == "correct"
            strata[g][1] += 1
        firing = Counter()
        for ds, k in out["counts"][code].items():
            firing[GROUP.get(ds, ds)] += k
        covered = sum(firing[g] for g in strata)
        weighted = sum(firing[g] * c / m for g, (c, m) in strata.items()) / covered if covered else math.nan
        labelled_keys = {(d["file"], d["row"], d["sub"]) for d in by_flag.get(code, [])}
        new = [k for k in dev_rows if k in position and exists and fires[position[k]] and k not in labelled_keys]
        out["flags"][code] = {
            "exists": exists,
            "fires": int(fires.sum()) if exists else 0,
            "labelled": n,
            "correct": correct,
            "precision": correct / n if n else math.nan,
            "wilson95": wilson(correct, n),
            "weighted": weighted,
            "weighted_coverage": covered / max(1, int(fires.sum())) if exists else math.nan,
            "reject": sum(d["action"] == "reject" for d in labelled),
            "fix": sum(d["action"] == "fix" for d in labelled),
            "no_longer_flagged": len(gone),
            "no_longer_flagged_correct": sum(d["label"] == "correct" for d in gone),
            "new_on_dev": len(new),
            "new_on_dev_acceptable": sum(bool(acceptable[k]) for k in new),
        }
    return out


def pct(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def markdown(res: dict, seconds: float) -> str:
    pairs = sum(f["labelled"] + f["no_longer_flagged"] for f in res["flags"].values())
    lines = [
        f"Flag precision on {res['dev_records']} labelled records ({pairs} labelled record × flag pairs), "
        f"{res['records']:,} records in the workspace, {time.strftime('%Y-%m-%d')}, {seconds:.0f} s",
        "",
        "| flag | fires | labelled | correct | precision | 95% Wilson | weighted by dataset (coverage) | reject / fix "
        "| no longer flagged (of them correct) | new on dev records (acceptable) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = sorted(res["flags"].items(), key=lambda kv: (-(kv[1]["precision"] if kv[1]["labelled"] else -1), kv[0]))
    for code, f in rows:
        lo, hi = f["wilson95"]
        interval = "–" if lo != lo else f"{lo:.2f}–{hi:.2f}"
        name = code if f["exists"] else f"{code} (no such flag now)"
        cov = "" if f["weighted"] != f["weighted"] else f" ({f['weighted_coverage']:.0%})"
        lines.append(
            f"| {name} | {f['fires']:,} | {f['labelled']} | {f['correct']} | {pct(f['precision'])} | "
            f"{interval} | {pct(f['weighted'])}{cov} | {f['reject']} / {f['fix']} | "
            f"{f['no_longer_flagged']} ({f['no_longer_flagged_correct']}) | {f['new_on_dev']} ({f['new_on_dev_acceptable']}) |"
        )
    datasets = list(res["datasets"])
    lines += [
        "",
        "Records flagged per dataset",
        "",
        "| flag | " + " | ".join(SHORT.get(d, d) for d in datasets) + " |",
        "|---|" + "---|" * len(datasets),
        "| (records) | " + " | ".join(f"{res['datasets'][d]:,}" for d in datasets) + " |",
    ]
    for code, counts in res["counts"].items():
        if counts:
            lines.append(f"| {code} | " + " | ".join(f"{counts[d]:,}" if counts[d] else "·" for d in datasets) + " |")
    if res["dev_records_missing"]:
        lines += [
            "",
            f"{len(res['dev_records_missing'])} labelled records are not in the workspace (data changed?): "
            + ", ".join(f"{f}:{r}.{s}" for f, r, s in res["dev_records_missing"][:10]),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--workspace", type=Path, help="reuse (or build once into) this workspace instead of a temporary one")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if not all((args.data / rel).exists() for rel in FILES):
        print(f"skipped: {args.data} does not hold the shared files")
        return
    labels = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]
    start = time.perf_counter()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="bench-flags-"))
    try:
        from curation.workspace import Workspace

        if not Workspace(root).parts():
            build(args.data, root)
        frame, codes = current_flags(root)
        res = evaluate(frame, codes, labels)
    finally:
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps(res, indent=1, default=str))
    else:
        print(markdown(res, seconds))


if __name__ == "__main__":
    main()
