"""The language of each record, detected offline (py3langid's bundled model)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from curation.signals.base import Signal, Texts, result
from curation.signals.evidence import Evidence

# Texts where at least this share of words are common English function words are
# English without asking the model (fast path; the model decides the rest).
ENGLISH_WORDS = set(
    "the a an and or of to in on for with is are was were be been it this that these those you your i we they he she "
    "his her their our as at by from not but if then so do does did have has had can will would should could what which "
    "who how when where why there here all any some no yes my me".split()
)
MIN_LETTERS = 20


def detect(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when too short to tell."""
    import py3langid

    sample = text[:500]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    words = re.findall(r"[a-z']+", sample.lower())
    if len(words) >= 6 and sum(w in ENGLISH_WORDS for w in words) / len(words) >= 0.2:
        return "en"
    return py3langid.classify(sample)[0]


def looks_english(texts: Texts, series: pd.Series) -> np.ndarray:
    """Vectorised fast path: the share of English function words in the first 500 characters."""
    import pyarrow.compute as pc

    sample = pc.utf8_lower(pc.utf8_slice_codeunits(texts.arrow(series), 0, 500))
    words = pc.count_substring_regex(sample, r"[a-z']+").to_numpy(zero_copy_only=False)
    pattern = r"\b(" + "|".join(sorted(ENGLISH_WORDS)) + r")\b"
    common = pc.count_substring_regex(sample, pattern).to_numpy(zero_copy_only=False)
    return (words >= 6) & (common >= 0.2 * np.maximum(words, 1))


def language(texts: Texts) -> pd.DataFrame:
    """Evidence is the detected language of instruction + output; flagged when it is not the expected one."""
    both = texts.instruction.str.slice(0, 250) + "\n" + texts.output.str.slice(0, 250)
    english = looks_english(texts, both)
    codes = ["en" if en else detect(text) for en, text in zip(english, both)]
    return result(np.zeros(texts.n), [[Evidence(code)] if code else None for code in codes])


SIGNALS = [
    Signal("language", "The record is not in the expected language (threshold: an ISO 639-1 code such as en).", "wrong_language",
           "differs", language, threshold="en", unit="language", severity=0.5, fields=("instruction", "output")),
]
