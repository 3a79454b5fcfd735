"""One curator's keep on a record in a duplicate group (issue 18): the library work the Records and Review pages do
after the click, regrouping every record (`annotated.regroup_everything`, what `regroup_duplicates` did before) and
only the components the decision touches (`annotated.regroup_duplicates`), alternated in one run on one workspace.

    nice -n 10 python -m bench.regroup_keep WORKSPACE [--keeps 5] [--profile FILE] [--before OLD_GROUPS_PY]

`--before`: a copy of `curation/dedup/groups.py` from before the local regroup (`git show 45524f8:curation/dedup/
groups.py > /tmp/groups_before.py`): the full regroup is then also timed with that module's stars ("before").
The local regroup is timed from the groups found (every decision since the find) and chained from the last one
(only the record just decided: what the dashboard does).

It decides in the workspace given: use a copy. Steps, as the pages run them (`ui.data`): the records with their
decisions (`read_records`, the ids as Python strings, `decision_columns`), the groups from the cached pairs
(`find_duplicates`, once: minutes at 1M), `prepare_regroup` (once per find: the dashboard does it with the find);
then per keep: `decisions.decide`, the decisions laid over the records again, and both regroups (alternating which
goes first), their tables compared (`assert_frame_equal`), and the page's own step after it (the group columns put
in the records' order, `ui.data._group_columns`). Prints medians and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import statistics
import time

import numpy as np
import pandas as pd

from curation import decisions
from curation.annotated import decision_columns, find_duplicates, find_signals, prepare_regroup, regroup_duplicates, regroup_everything
from curation.store import read_records
from curation.workspace import Workspace


def clock(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def records(ws: Workspace) -> tuple[pd.DataFrame, pd.Index]:
    frame = read_records(ws)
    frame = frame.assign(record_id=frame["record_id"].astype(object)).reset_index(drop=True)
    return frame, pd.Index(frame["record_id"])


def with_decisions(ws: Workspace, frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    return pd.concat([frame, decision_columns(ws, index)], axis=1)


def group_columns(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """`ui.data._group_columns`: the table's columns in the records' order."""
    if len(table) == len(frame) and (table["record_id"].to_numpy(object) == frame["record_id"].to_numpy(object)).all():
        return table.drop(columns="record_id").set_axis(frame.index)
    return frame[["record_id"]].merge(table, on="record_id", how="left").drop(columns="record_id")


def load_module(path: str):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("groups_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["groups_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def regroup_with(module, dups, frame: pd.DataFrame):
    """`regroup_duplicates` as it was before issue 18's local regroup, with another groups module."""
    from dataclasses import replace

    from curation.annotated import DECISION_COLUMNS

    new = dups.frame.assign(**{c: frame[c].array for c in DECISION_COLUMNS if c in frame and c in dups.frame})
    conf = dups.conf
    rank = module.preference_rank(new, conf["rule"]) if module.GROUPINGS[conf["grouping"]].ranked else None
    labels = module.group_labels(len(new), dups.pairs, dups.hashes, float(conf["threshold"]), rank)
    table = module.assign(new, labels, dups.hashes, conf["rule"], dups.families)
    return replace(dups, frame=new, table=table, rank=rank, _sweeps={})


def profiled(fn, args: tuple, path: str, label: str):
    profile = cProfile.Profile()
    out = profile.runcall(fn, *args)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(30)
    with open(path, "a") as f:
        f.write(f"\n===== {label} =====\n{text.getvalue()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("--keeps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", help="append a cProfile of one full and one local regroup to this file")
    parser.add_argument("--before", help="a copy of curation/dedup/groups.py from before, to time its full regroup too")
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    (frame, index), t = clock(lambda: records(ws))
    print(f"records: {len(frame):,} ({t:.1f} s)", flush=True)
    now = with_decisions(ws, frame, index)
    dups, t = clock(lambda: find_duplicates(ws, now, known={"signals": find_signals(ws)}))
    if dups is None:
        raise SystemExit("no cached duplicate pairs in this workspace: run `python -m curation dedup` first")
    table = dups.table
    grouped = table[table["dup_group"].notna()]
    print(f"find_duplicates from the cached pairs (once): {t:.1f} s; {grouped['dup_group'].nunique():,} groups hold "
          f"{len(grouped):,} records", flush=True)
    prepared, t = clock(lambda: prepare_regroup(dups))
    sizes = np.diff(prepared.state.row_start)
    print(f"prepare_regroup (once per find): {t:.2f} s; components of 2+ records: {(sizes > 1).sum():,}, largest "
          f"{sizes.max(initial=0):,}", flush=True)
    members = grouped[grouped["representative"] == False]["record_id"].to_numpy(object)  # noqa: E712 - nullable boolean
    chosen = np.random.default_rng(args.seed).choice(members, size=min(args.keeps, len(members)), replace=False)
    times = {"decide": [], "decisions over the records": [], "before": [], "full regroup": [], "local regroup": [],
             "local, chained": [], "page: group columns": []}
    before = load_module(args.before) if args.before else None
    last = dups
    for k, rid in enumerate(chosen.tolist()):
        dataset = frame["dataset"].iat[index.get_loc(rid)]
        _, t = clock(decisions.decide, ws, [rid], "keep", "manual", index={rid: dataset})
        times["decide"].append(t)
        now, t = clock(with_decisions, ws, frame, index)
        times["decisions over the records"].append(t)
        runs = [("full regroup", regroup_everything), ("local regroup", regroup_duplicates)]
        if before is not None:
            runs.insert(0, ("before", lambda d, f: regroup_with(before, d, f)))
        results = {}
        for name, fn in runs if k % 2 == 0 else runs[::-1]:
            if args.profile and k == 0:
                results[name], t = clock(profiled, fn, (dups, now), args.profile, f"{name}, keep {k + 1}")
            else:
                results[name], t = clock(fn, dups, now)
            times[name].append(t)
        full, local = results["full regroup"], results["local regroup"]
        chained, t = clock(regroup_duplicates, last, now)
        times["local, chained"].append(t)
        last = chained
        for other in (local, chained, results.get("before")):
            if other is not None:
                pd.testing.assert_frame_equal(other.table, full.table)
                assert (other.rank is None and full.rank is None) or (other.rank == full.rank).all()
        _, t = clock(group_columns, frame, local.table)
        times["page: group columns"].append(t)
        size = local.table.set_index("record_id").loc[rid, "group_size"]
        print(f"keep {k + 1} ({rid}, group of {size}): " + ", ".join(f"{n} {v[-1]:.2f} s" for n, v in times.items() if v),
              flush=True)
    print("median over the keeps: " + ", ".join(f"{n} {statistics.median(v):.3f} s" for n, v in times.items() if v))
    base = "before" if times["before"] else "full regroup"
    for name in ("local regroup", "local, chained"):
        ratio = statistics.median(times[base]) / max(statistics.median(times[name]), 1e-9)
        print(f"{base} / {name}: {ratio:.1f}x")
    print("tables and ranks equal to the full regroup after every keep")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
