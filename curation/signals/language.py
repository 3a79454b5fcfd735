"""The language of each record, detected offline (py3langid's bundled model).

The record's language is the language of its request (the instruction's first and last sentences: a
foreign passage, review or name list in between is material) and of its output, when the output is prose
and the instruction did not ask for another language ("Translate into German", "a sentence in Spanish").
Too few letters, or a detection the model is not confident of (names, numbers, mixed text), says nothing.
"""

from __future__ import annotations

import functools
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
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
MIN_CONFIDENCE = 0.5  # the model's normalised probability of its best language


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _english(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return len(words) >= 6 and sum(w in ENGLISH_WORDS for w in words) / len(words) >= 0.2


def detect(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when too short to tell or when the model is unsure."""
    sample = text[:500]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    if _english(sample):
        return "en"
    code, confidence = _identifier().classify(sample)
    return code if confidence >= MIN_CONFIDENCE else None


def looks_english(texts: Texts, series: pd.Series) -> np.ndarray:
    """Vectorised fast path: the share of English function words in the first 500 characters."""
    import pyarrow.compute as pc

    sample = pc.utf8_lower(pc.utf8_slice_codeunits(texts.arrow(series), 0, 500))
    words = pc.count_substring_regex(sample, r"[a-z']+").to_numpy(zero_copy_only=False)
    pattern = r"\b(" + "|".join(sorted(ENGLISH_WORDS)) + r")\b"
    common = pc.count_substring_regex(sample, pattern).to_numpy(zero_copy_only=False)
    return (words >= 6) & (common >= 0.2 * np.maximum(words, 1))


def prose(text: str) -> bool:
    """Running text, not a list of names or numbers: enough words, and lines of four words or more on average."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    words = len(text.split()) + len(CJK.findall(text))  # a Chinese or Japanese character is about a word
    return words >= 4 and words >= 4 * len(lines)


def language(texts: Texts) -> pd.DataFrame:
    """Evidence is the detected language of the request and (when it is prose in no language asked for) the output;
    flagged when it is not the expected one."""
    both = texts.instruction.str.slice(0, 250) + "\n" + texts.output.str.slice(0, 250)
    english = looks_english(texts, both)
    codes: list[str | None] = ["en" if en else None for en in english]
    for i in np.flatnonzero(~english):
        task = texts.task(i)
        output = texts.output.iat[i]
        judged = "" if task.translation or task.target_language or not prose(output) else output[:250]
        codes[i] = detect(task.request[:300] + "\n" + judged)
    return result(np.zeros(texts.n), [[Evidence(code)] if code else None for code in codes])


SIGNALS = [
    Signal("language", "The record is not in the expected language (threshold: an ISO 639-1 code such as en); a language the "
           "instruction asks for (a translation) is expected, and names, numbers and short texts are not judged.", "wrong_language",
           "differs", language, threshold="en", unit="language", severity=0.5, fields=("instruction", "output")),
]
