"""The progress callback every long stage takes: `progress(done, total, what)`.

Signals, embedding, neighbour search and the map call it as work proceeds; the
command line ignores it, the dashboard draws a progress bar from it.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]

