"""Export's work beside the rendering (issue 18): the splits and the leakage check found while the records render. The
files must be those of doing it all in order."""

from __future__ import annotations

import threading

import pytest

from curation.export import Options, export, write
from curation.ingest import ingest
from tests.conftest import write_jsonl
from tests.curation.test_export import ROWS, digest_folder


@pytest.fixture
def filled(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", ROWS)))
    return ws


def test_splits_and_leakage_found_beside_the_rendering_give_the_same_export(filled, tmp_path, monkeypatch):
    threads = []
    real = write.leakage

    def spied(*args):
        import faiss

        threads.append((threading.current_thread().name, faiss.omp_get_max_threads()))
        return real(*args)

    monkeypatch.setattr(write, "leakage", spied)
    export(filled, tmp_path / "beside", Options(seed=5))
    import faiss

    cores = faiss.omp_get_max_threads()
    assert len(threads) == 1 and threads[0][0].startswith("export-splits") and threads[0][1] == 1  # faiss on one thread
    assert faiss.omp_get_max_threads() == cores  # only that thread's setting
    monkeypatch.setattr(write, "lengths_decide", lambda opts: True)  # as when --max-tokens drops records: in order
    export(filled, tmp_path / "in-order", Options(seed=5))
    assert threads[1] == (threading.main_thread().name, cores)
    assert digest_folder(tmp_path / "beside") == digest_folder(tmp_path / "in-order")


def test_dropping_records_for_length_assigns_the_splits_after_the_lengths(filled, tmp_path):
    long = [{"instruction": f"Tell the story of harbour {i}", "output": "It began at dawn. " * (10 + i)} for i in range(6)]
    ingest(filled, str(write_jsonl(tmp_path / "long.jsonl", long)), name="long")
    lengths = sorted(write.preview_plan(filled, Options(similarity=False))["lengths"])
    cut = lengths[-1] - 1  # the longest records are left out
    assert lengths[0] <= cut
    result = export(filled, tmp_path / "out", Options(max_tokens=cut, over="drop"))
    assert result["excluded"]["too_long"] == sum(n > cut for n in lengths)
    assert result["excluded"]["too_long"] and sum(result["splits"].values()) == len(lengths) - result["excluded"]["too_long"]
    assert result["leakage"]["splits"]["test"] is not None


def test_a_failed_render_reports_without_waiting_for_the_leakage_check(filled, tmp_path, monkeypatch):
    from curation.errors import CurationError

    release, finished = threading.Event(), threading.Event()

    def slow(*args):
        release.wait(10)
        finished.set()

    def failing(*args, **kwargs):
        raise CurationError("the template failed")

    monkeypatch.setattr(write, "leakage", slow)
    monkeypatch.setattr(write, "spill_rendered", failing)
    try:
        with pytest.raises(CurationError, match="the template failed"):
            export(filled, tmp_path / "out", Options())
        assert not finished.is_set()  # the error came without waiting for the check (which waits for `release`)
    finally:
        release.set()
    assert not (tmp_path / "out").exists()


def test_the_leakage_search_takes_one_core_while_the_records_render_and_every_core_after(filled, monkeypatch):
    import faiss

    seen = []
    real = write.leakage

    def spied(ws, frame, split, names, threads=None):
        seen.append(threads())
        return real(ws, frame, split, names, threads)

    monkeypatch.setattr(write, "leakage", spied)
    cores = faiss.omp_get_max_threads()
    plan = write.plan_export(filled, Options())
    rendered = threading.Event()
    worker = threading.Thread(target=write.splits_and_leakage, args=(filled, plan, Options(), rendered))
    worker.start()
    worker.join()
    rendered.set()
    worker = threading.Thread(target=write.splits_and_leakage, args=(filled, plan, Options(), rendered))
    worker.start()
    worker.join()
    assert seen == [1, cores]
