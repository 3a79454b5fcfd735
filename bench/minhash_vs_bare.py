"""MinHash near-duplicates on t0 55k: `dedup --method minhash` against a bare datasketch script, in one run (issue 18).

    nice -n 10 python -m bench.minhash_vs_bare [--runs 3] [--no-reference]

Both compare each record's prompt + completion as sets of lower-cased word
bigrams with 128 permutations and LSH at the same threshold (0.5, minhash's
default). Each measurement is a fresh child process timed from outside:

- bare: the script a person would write (`bare_script` below): read the JSONL,
  `MinHash.bulk`, `MinHashLSH`, query every record, keep the first of each
  chain, remove every later record at estimated Jaccard >= 0.5;
- ours: `find(ws, method="minhash", text="conversation")` on a workspace where t0
  was ingested once (ingest is not timed), with the pair cache and the signal cache
  removed before each run (as a first `dedup` meets them);
- ours, reference: the same with the former implementation (datasketch's objects,
  `minhash.reference_pairs`) and every record's signals computed, run once: its
  removal set must equal ours.

The removal sets (ours: every non-representative of a group) are compared by
source row. The bare script's set is reported too: it groups by greedy chains
without boilerplate stripping, template families or quality, so it differs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, T0, median, need

THRESHOLD = 0.5
WS = Path(tempfile.gettempdir()) / "bench-minhash-t0"


def bare_script(path: str, threshold: float = THRESHOLD) -> list[int]:
    """Rows (0-based lines) a bare datasketch script removes."""
    import re

    from datasketch import MinHash, MinHashLSH

    word = re.compile(r"\w+")
    texts = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(f"{row['prompt']}\n{row['completion']}")

    def bigrams(text: str) -> set[bytes]:
        w = word.findall(text.lower())
        return {" ".join(w[i : i + 2]).encode() for i in range(max(len(w) - 1, 1))}

    hashes = MinHash.bulk((bigrams(t) for t in texts), num_perm=128)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    with lsh.insertion_session() as session:
        for i, m in enumerate(hashes):
            session.insert(i, m, check_duplication=False)
    removed: set[int] = set()
    for i, m in enumerate(hashes):
        if i in removed:
            continue
        for j in lsh.query(m):
            if j > i and j not in removed and m.jaccard(hashes[j]) >= threshold:
                removed.add(j)
    return sorted(removed)


def ours(reference: bool = False) -> list[int]:
    """Rows `dedup --method minhash` proposes to reject (source rows, 0-based)."""
    from curation.dedup import detect, minhash
    from curation.workspace import Workspace

    if reference:
        minhash.minhash_pairs = minhash.reference_pairs
        plain = detect.with_preference_columns
        detect.with_preference_columns = lambda ws, frame, rule, rows=None: plain(ws, frame, rule)
    ws = Workspace(WS)
    dups = detect.find(ws, method="minhash", text="conversation", threshold=THRESHOLD)
    rows = dict(zip(dups.frame["record_id"].astype(str), dups.frame["row"].astype(int)))
    return sorted(rows[rid] - 1 for rid, _, _ in dups.rejections())


def child(kind: str, out: str) -> None:
    start = time.perf_counter()
    removed = bare_script(str(T0)) if kind == "bare" else ours(reference=kind == "reference")
    Path(out).write_text(json.dumps({"seconds": time.perf_counter() - start, "removed": removed}))


def measure(kind: str) -> tuple[float, set[int]]:
    if kind != "bare":
        for cache in ("dedup", "signals"):
            shutil.rmtree(WS / cache, ignore_errors=True)
    out = WS.parent / f"bench-minhash-{kind}.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.minhash_vs_bare", "--child", kind, str(out)], cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    return seconds, set(json.loads(out.read_text())["removed"])


def setup() -> None:
    from curation.ingest import ingest
    from curation.workspace import Workspace

    if not (WS / "records").exists():
        ingest(Workspace(WS), str(need(T0)))


def main() -> None:
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        child(sys.argv[at + 1], sys.argv[at + 2])
        return
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    need(T0)
    setup()
    measure("ours")  # numba compiles its kernels once into __pycache__: not part of any timed run
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    sets: dict[str, set[int]] = {}
    for _ in range(runs):
        for kind in ("bare", "ours"):
            seconds, removed = measure(kind)
            times[kind].append(seconds)
            sets[kind] = removed
    if "--no-reference" in sys.argv:  # a shorter run: the comparison of removal sets left out
        ref_seconds, sets["reference"] = float("nan"), sets["ours"]
    else:
        ref_seconds, sets["reference"] = measure("reference")
    same = sets["ours"] == sets["reference"]
    overlap = len(sets["ours"] & sets["bare"]) / max(len(sets["ours"] | sets["bare"]), 1)
    print(f"MinHash on t0 55k (prompt + completion, word bigrams, 128 permutations, LSH, threshold {THRESHOLD}), "
          f"{time.strftime('%Y-%m-%d')}, median of {runs}\n")
    print("| what | median | runs | removes |\n|---|---|---|---|")
    for kind, label in (("bare", "bare datasketch script"), ("ours", "`dedup --method minhash` (cold: no cached pairs or signals)")):
        print(f"| {label} | {median(times[kind]):.1f} s | {', '.join(f'{t:.1f}' for t in times[kind])} | {len(sets[kind]):,} |")
    print(f"| ours, former implementation (reference, once) | {ref_seconds:.1f} s | {ref_seconds:.1f} | {len(sets['reference']):,} |")
    print(f"\nours / bare: {median(times['ours']) / median(times['bare']):.2f}× (target ≤ 1.0×). Removal set equal to the "
          f"former implementation's: {same} ({len(sets['ours'] ^ sets['reference'])} rows differ). Overlap with the bare "
          f"script's removal set (Jaccard): {overlap:.3f}.")


if __name__ == "__main__":
    main()
