"""The Load page's progress bar for a big file (issue 18): how far, and the time left at the rate measured so far."""

from __future__ import annotations

from ui import jobs


class Bar:
    def __init__(self):
        self.shown = []

    def progress(self, fraction, text=""):
        self.shown.append((fraction, text))


def test_the_bar_shows_how_far_and_the_time_left_at_the_measured_rate(monkeypatch):
    bar, clock = Bar(), iter([100.0, 110.0, 130.0])
    monkeypatch.setattr(jobs.time, "time", lambda: next(clock))
    monkeypatch.setattr(jobs.st, "progress", lambda value: bar)
    update = jobs.progress_bar()  # started at 100 s
    update(250, 1000, "MB of big.jsonl loaded")  # 10 s for 250 MB: 30 s left
    update(1000, 1000, "MB of big.jsonl loaded")
    assert bar.shown == [(0.25, "MB of big.jsonl loaded: 250 of 1,000 · about 30 s left"),
                         (1.0, "MB of big.jsonl loaded: 1,000 of 1,000")]
