"""One quality score per record, from its flags.

    quality = Π over the signals that flag the record of (1 − severity)

Each signal's severity (0–1) says how much that problem alone should cost: an
empty output (1.0) or a refusal (0.9) all but zeroes the score; a placeholder
input (0.1), which export turns into an empty input, barely moves it. A record
with no flag scores 1.0. Being an exact duplicate costs nothing here (the copy
is as good as the original); duplicates are handled by their own flag. Nor does
an end-of-text marker that closes the output (end_marker): export strips it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def quality(flags: pd.DataFrame, severities: dict[str, float]) -> pd.Series:
    score = np.ones(len(flags))
    for name, severity in severities.items():
        if name in flags:
            score *= np.where(flags[name].to_numpy(), 1.0 - severity, 1.0)
    return pd.Series(score, index=flags.index, name="quality")
