"""Long work (embedding, projection) in a background thread per workspace.

The registry lives in the server process (st.cache_resource), so a job keeps
running while the curator uses other pages, and a reloaded page finds it and
shows its progress. The work itself writes its results to the workspace cache
as it goes: after a server restart a new job resumes from there.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from ui.show import plain


@dataclass
class Job:
    what: str = "starting"
    done: int = 0
    total: int = 0
    error: str | None = None
    finished: bool = False
    started: float = field(default_factory=time.time)

    def update(self, done: int, total: int, what: str) -> None:
        self.done, self.total, self.what = done, total, what

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0


@st.cache_resource
def _registry() -> dict[str, Job]:
    return {}


def get(key: str) -> Job | None:
    return _registry().get(key)


def start(key: str, work) -> Job:
    """Run `work(job)` in a thread unless a job with this key is already running."""
    registry = _registry()
    job = registry.get(key)
    if job is not None and not job.finished:
        return job
    job = Job()
    registry[key] = job

    def run():
        try:
            work(job)
        except Exception as exc:  # shown on the page, with its cause
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = True

    threading.Thread(target=run, name=f"job-{key}", daemon=True).start()
    return job


@st.fragment(run_every=1.0)
def follow(key: str) -> None:
    """The job's progress, refreshed every second; the page reruns when it finishes."""
    job = get(key)
    if job is None:
        return
    if job.finished:
        st.rerun()
    elapsed = int(time.time() - job.started)
    what = plain(job.what)
    st.progress(job.fraction, text=f"{what}: {job.done:,}/{job.total:,} · {elapsed} s" if job.total else f"{what} · {elapsed} s")
    st.caption("This runs in the background: other pages stay usable, and a reload picks it up again.")
