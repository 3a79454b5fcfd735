"""Background jobs: progress, the result, an error, and cancelling through the progress callback."""

from __future__ import annotations

import threading
import time

from ui import jobs


def wait(job: jobs.Job, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not job.finished and time.monotonic() < end:
        time.sleep(0.01)
    assert job.finished


def test_a_job_returns_its_result_and_reports_an_error():
    job = jobs.start("test-result", lambda j: (j.update(1, 1, "work"), 42)[1])
    wait(job)
    assert job.result == 42 and job.error is None and job.cancelled is None and job.fraction == 1.0
    job = jobs.start("test-error", lambda j: 1 / 0)
    wait(job)
    assert job.error.startswith("ZeroDivisionError") and job.cancelled is None


def test_cancel_stops_the_work_at_its_next_progress_call_and_keeps_what_it_did():
    kept, go = [], threading.Event()

    def work(job):
        for i in range(1000):
            kept.append(i)  # "written to the cache" before progress is reported
            job.update(i + 1, 1000, "batches")
            go.wait(5)

    job = jobs.start("test-cancel", work)
    while not kept:
        time.sleep(0.01)
    assert jobs.start("test-cancel", work) is job  # one job per key while it runs
    jobs.cancel("test-cancel")
    go.set()
    wait(job)
    assert job.error is None and job.result is None
    assert job.cancelled.startswith("cancelled after ") and "what was finished is kept" in job.cancelled
    assert len(kept) <= 2  # stopped at the next batch, not at the end
    again = jobs.start("test-cancel", lambda j: "done")  # a finished job's key can start a new one
    wait(again)
    assert again is not job and again.result == "done"
