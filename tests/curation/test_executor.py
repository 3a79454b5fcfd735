"""Executors (issue 18): the process pool and Ray give exactly the in-process output of every heavy stage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from curation import executor as ex
from curation.errors import CurationError
from curation.executor import EXECUTORS, ExecutorSettings
from tests.conftest import ROOT, SHARED_DATA
from tests.curation import executor_parity as parity

DATA = SHARED_DATA if SHARED_DATA.is_dir() else None


def pid_and_twice(shard, shared):
    return os.getpid(), [shared * x for x in shard]


def test_executors_are_described_and_keep_shard_order():
    assert set(EXECUTORS) == {"inprocess", "processes", "ray"} and all(e.description for e in EXECUTORS.values())
    shards = [[1, 2], [3], [], [4, 5, 6]]
    seen = []
    out = ex.InProcess().map(pid_and_twice, shards, shared=2, done=lambda i, r: seen.append(i))
    assert [r for _, r in out] == [[2, 4], [6], [], [8, 10, 12]] and seen == [0, 1, 2, 3]
    pool = ex.Processes(2).map(pid_and_twice, shards, shared=2)
    assert [r for _, r in pool] == [[2, 4], [6], [], [8, 10, 12]]
    assert os.getpid() not in {p for p, _ in pool}  # the work left this process


def test_settings_are_kept_checked_and_used_by_the_cli(ws):
    assert ex.from_settings(ws).name == "inprocess"  # the default
    assert isinstance(ex.from_settings(ws, kind="processes", workers=3), ex.Processes)
    assert ExecutorSettings.load(ws) == ExecutorSettings("processes", "", 3)
    assert ex.from_settings(ws).workers == 3  # kept for the next call
    with pytest.raises(CurationError, match="unknown executor 'spark': choose one of inprocess, processes, ray"):
        ExecutorSettings.save(ws, kind="spark")
    with pytest.raises(CurationError, match="workers"):
        ExecutorSettings.save(ws, workers=-1)
    with pytest.raises(CurationError, match="no Ray cluster answers at 127.0.0.1:1"):
        ex.Ray("127.0.0.1:1").map(pid_and_twice, [[1]])
    assert ex.current().name == "inprocess"
    with ex.use(ex.Processes(2)):
        assert ex.current().name == "processes"
    assert ex.current().name == "inprocess"


def test_cli_runs_signals_in_a_process_pool_and_keeps_the_choice(tmp_path):
    template, _ = prepared(tmp_path, embed=False)
    run = subprocess.run([sys.executable, "-m", "curation", "signals", "--workspace", str(template), "--executor", "processes",
                          "--workers", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["computed"] == json.loads(run.stdout)["records"] > 0
    from curation.workspace import Workspace

    assert ExecutorSettings.load(Workspace(template, create=False)) == ExecutorSettings("processes", "", 2)
    fresh = shutil.copytree(template, tmp_path / "fresh", ignore=shutil.ignore_patterns("signals"))  # nothing cached: Ray is needed
    bad = subprocess.run([sys.executable, "-m", "curation", "signals", "--workspace", str(fresh), "--executor", "ray",
                          "--ray-address", "127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and bad.stderr.startswith("error: no Ray cluster answers") and len(bad.stderr.splitlines()) == 1


def prepared(base, embed=True):
    """A template workspace (inline records + 300 Alpaca ones when the shared data is there), vectors and a reward model."""
    if embed:
        return parity.prepare(base, DATA, 300)
    parity.make_workspace(base / "template", DATA, 300)
    return base / "template", None


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    old = parity.small_shards()  # several shards even on a few hundred records
    base = tmp_path_factory.mktemp("executor")
    template, rm = prepared(base)
    yield base, template, rm
    parity.restore(old)


@pytest.mark.parametrize("stage", parity.STAGES)
def test_processes_give_the_in_process_output(setup, stage):
    base, template, rm = setup
    here = parity.run_stage(stage, template, base / f"{stage}-inprocess", ex.InProcess(), rm)
    there = parity.run_stage(stage, template, base / f"{stage}-processes", ex.Processes(2), rm)
    assert parity.differences(stage, here, there) == []
    if stage == "neighbours":
        assert all(len(v[0]) for v in here.values())  # the sample has near-duplicate pairs to compare


def namespace_refusal() -> str | None:
    """Why a loopback-only network namespace cannot be made here (None: it can)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed"
    try:
        done = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up && ip -o link show | wc -l"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -n failed: {exc}"
    if done.returncode != 0:
        return f"unshare -n refused (needs root or user namespaces): {done.stderr.strip()[:200]}"
    if done.stdout.strip() != "1":
        return f"the namespace holds {done.stdout.strip()} links, not only loopback"
    return None


def test_ray_gives_the_in_process_output_on_a_two_worker_cluster_inside_a_loopback_only_namespace(tmp_path):
    """A local two-CPU Ray (usage stats off) in its own network namespace: no test traffic can leave loopback."""
    pytest.importorskip("ray", reason='ray is not installed: pip install "ray[data]" (requirements-test.txt)')
    refusal = namespace_refusal()
    if refusal:
        pytest.skip(refusal)
    script = (f"ip link set lo up && RAY_USAGE_STATS_ENABLED=0 PYTHONPATH={ROOT} "
              f"{sys.executable} -m tests.curation.executor_parity {tmp_path} {DATA or '-'} 300")
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["usage_stats"] == "0" and report["cpus"] == 2
    assert report["stages"] == {stage: [] for stage in parity.STAGES}  # signals, embeddings, pairs, scores: identical
    assert len(set(report["worker_pids"])) == 2  # two workers ran tasks
    assert report["records"] == (len(parity.INLINE) + 300 if DATA else len(parity.INLINE))
