"""The progress callback every long stage takes: `progress(done, total, what)`, and how a run is cancelled.

Signals, embedding, neighbour search, the map and the scorers call it as work
proceeds; the command line prints it, the dashboard draws a progress bar from
it. A callback may raise `Cancelled` to stop the run at that point: every stage
writes its cache as it goes, so what was finished before is kept and the next
run resumes from there. The dashboard's background jobs cancel this way.
"""

from __future__ import annotations

from collections.abc import Callable

from curation.errors import CurationError

Progress = Callable[[int, int, str], None]


class Cancelled(CurationError):
    """The run was cancelled between two batches; what was finished before is cached."""
