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


def quiet_libraries() -> None:
    """Silence the progress bars and load reports that libraries print on stderr (tqdm in transformers, datasets,
    sentence-transformers and huggingface_hub; their logging below errors; Python warnings): for `--json`, whose
    stderr holds only a one-line error. Our own progress goes through `Progress` callbacks, untouched by this.
    Set before those libraries are imported (they read the environment then), and applied to any already imported."""
    import logging
    import os
    import sys
    import warnings

    for name, value in (("TQDM_DISABLE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
                        ("TRANSFORMERS_VERBOSITY", "error"), ("DATASETS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                        ("HF_HUB_VERBOSITY", "error"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ[name] = value
    warnings.simplefilter("ignore")
    for name in ("transformers", "datasets", "sentence_transformers", "huggingface_hub", "umap", "numba", "pynndescent"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
