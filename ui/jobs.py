"""Long work (embedding, projection, scoring) in a background thread per workspace.

The registry lives in the server process (st.cache_resource), so a job keeps
running while the curator uses other pages, and a reloaded page finds it and
shows its progress. The work itself writes its results to the workspace cache
as it goes: after a server restart a new job resumes from there.

Every job can be cancelled: the Cancel button sets a flag, and the job's
progress callback (`job.update`, which every stage calls after each batch)
raises `Cancelled` at the next batch. The work stops there, keeping what its
cache holds; the job ends with `cancelled` set (not an error).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from curation.errors import CurationError, for_dashboard
from curation.progress import Cancelled
from ui.show import plain


@dataclass
class Job:
    what: str = "starting"
    done: int = 0
    total: int = 0
    error: str | None = None
    finished: bool = False
    started: float = field(default_factory=time.time)
    cancel_requested: bool = False  # set by the Cancel button; the work stops at its next batch
    cancelled: str | None = None  # once it stopped so: what the cancellation said (what was kept)
    result: object = None  # what the work returned, for the page to show once it finished

    def requested(self) -> bool:
        """For work that checks a cancel flag itself (the scorers' `cancel=`)."""
        return self.cancel_requested

    def update(self, done: int, total: int, what: str) -> None:
        """The progress callback: records progress, and raises `Cancelled` once the curator asked to cancel."""
        self.done, self.total, self.what = done, total, what
        if self.cancel_requested:
            raise Cancelled(f"cancelled after {done:,} of {total:,} ({what}); what was finished is kept")

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0


@st.cache_resource
def _registry() -> dict[str, Job]:
    return {}


def get(key: str) -> Job | None:
    return _registry().get(key)


def start(key: str, work) -> Job:
    """Run `work(job)` in a thread unless a job with this key is already running; its return value is `job.result`."""
    registry = _registry()
    job = registry.get(key)
    if job is not None and not job.finished:
        return job
    job = Job()
    registry[key] = job

    def run():
        try:
            job.result = work(job)
        except Cancelled as exc:
            job.cancelled = str(exc)
        except Exception as exc:  # shown on the page, with its cause
            job.error = for_dashboard(exc) if isinstance(exc, CurationError) else f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = True

    threading.Thread(target=run, name=f"job-{key}", daemon=True).start()
    return job


def remaining(job: Job) -> str:
    """Time left at the rate measured so far in this job."""
    return left_at_rate(job.started, job.done, job.total)


def left_at_rate(started: float, done: int, total: int) -> str:
    """Time left for `total - done` at the rate measured since `started` (done > 0)."""
    return duration((time.time() - started) / done * (total - done))


def duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(seconds, 1):.0f} s"


def cancel(key: str) -> None:
    job = get(key)
    if job is not None:
        job.cancel_requested = True


@st.fragment(run_every=1.0)
def follow(key: str, actions: tuple[tuple[str, object], ...] = ()) -> None:
    """The job's progress, refreshed every second, with a Cancel button and any `actions` ((label, on_click), e.g.
    switching the running map build to fast mode); the page reruns when the job finishes."""
    job = get(key)
    if job is None:
        return
    if job.finished:
        st.rerun()
    elapsed = int(time.time() - job.started)
    what = plain(job.what)
    left = f" · about {remaining(job)} left" if job.done and job.total > job.done else ""
    st.progress(job.fraction, text=f"{what}: {job.done:,}/{job.total:,} · {elapsed} s{left}" if job.total else f"{what} · {elapsed} s")
    st.caption("This runs in the background: other pages stay usable, and a reload picks it up again.")
    if job.cancel_requested:
        st.caption("Cancelling: the work stops after the batch it is on; what it finished is kept.")
        return
    buttons = st.columns([1] * (1 + len(actions)) + [4 - len(actions)])  # buttons side by side, left-aligned
    buttons[0].button("Cancel", key=f"cancel_{key}", icon=":material/stop_circle:", on_click=cancel, args=(key,))
    for column, (label, on_click) in zip(buttons[1:], actions):
        column.button(label, key=f"{label}_{key}", on_click=on_click)


def progress_bar():
    """A progress callback drawing a bar (shown once a big file reports its first slice) with the time left at the
    rate measured so far."""
    started, bar = time.time(), None

    def update(done: int, total: int, what: str) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        left = f" · about {left_at_rate(started, done, total)} left" if 0 < done < total else ""
        bar.progress(min(done / max(total, 1), 1.0), text=f"{plain(what)}: {done:,} of {total:,}{left}")

    return update
