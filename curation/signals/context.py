"""Signals about what the record refers to or leaves behind: placeholder inputs,
context it does not contain, merged instructions, template debris."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from curation.signals.base import Signal, Texts, matches, regex_signal, result
from curation.texts import placeholder_text


def placeholder_input(texts: Texts) -> pd.DataFrame:
    hits = [placeholder_text(v) if len(v) < 40 else False for v in texts.input]
    return result(hits, [[texts.found("input", i, 0, len(v), "input is {value!r}")] if h else None
                         for i, (v, h) in enumerate(zip(texts.input, hits))])


URL = r"(?i)(https?://[^\s)\]]+|\bwww\.[a-z0-9-]+\.[^\s)\]]+)"
MEDIA = (
    r"(?i)(<\s*picture attached\s*>|\[(image|picture|photo|attachment)\]|<image>|\b(this|the|following|attached|above|below|given"
    r"|provided|uploaded) (image|picture|photo|photograph|graph|chart|diagram|figure|video|audio|recording|attachment|screenshot"
    r"|spreadsheet|pdf|drawing|painting|map)s?\b)"
)
MISSING_TEXT = (
    r"(?i)\b(the following|given|this|the below|below|above|provided|attached) (text|passage|article|paragraph|sentence|document"
    r"|email|code|poem|story|essay|review|list|table|data|dataset|tweet|conversation|dialogue|statement|excerpt|report|letter"
    r"|lyrics|product description|recipe|input)\b"
)


def needs_context(texts: Texts) -> pd.DataFrame:
    """URLs, attachments and images the record does not contain, or a 'following text' that is not there."""
    prompt = texts.prompt
    url = matches(texts, prompt, URL)
    media = matches(texts, prompt, MEDIA)
    no_input = (texts.input.str.strip().str.len().to_numpy() == 0) | np.array([placeholder_text(v) for v in texts.input])
    short = texts.instruction.str.len().to_numpy() < 200
    missing = matches(texts, texts.instruction, MISSING_TEXT) & no_input & short & texts.frame["messages"].isna().to_numpy()
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    for i in np.flatnonzero(url | media | missing):
        found = []
        if url[i]:
            found += [texts.found("prompt", i, *m.span(), "URL {value}") for m in re.finditer(URL, prompt.iat[i])][:2]
        if media[i]:
            found += [texts.found("prompt", i, *m.span(), "refers to {value!r}") for m in re.finditer(MEDIA, prompt.iat[i])][:2]
        if missing[i]:
            m = re.search(MISSING_TEXT, texts.instruction.iat[i])
            found.append(texts.found("instruction", i, *m.span(), "refers to {value!r} but the input is empty"))
        score[i] = len(found)
        evidence[i] = found
    return result(score, evidence)


MERGED = r"(?im)(^|\n)\s*(\d+\s*[.)]\s*)?(#+\s*)?(instruction|###\s*response|###\s*input)\s*:"
TEMPLATE = (
    r"(\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\{%[^%]{0,80}%\}|<\|[a-z_]+\|>|</s>|<s>|\[/?INST\]|<</?SYS>>|###\s*(Instruction|Response)\s*:)"
)

SIGNALS = [
    Signal("placeholder_input", "The input is a placeholder for \"no input\" (<noinput>, No input, N/A…): treat it as empty.",
           "placeholder_input", "flag", placeholder_input, severity=0.1, fields=("input",)),
    Signal("needs_context", "The record needs something it does not contain: a URL, an image, chart or attachment, "
           "or \"the following text\" with an empty input.", "needs_context", "flag", needs_context, severity=0.5,
           fields=("instruction", "input")),
    Signal("merged_instructions", "The output runs on into another task (\"19. Instruction: …\").", "merged_instructions", "flag",
           regex_signal("output", MERGED), severity=0.7),
    Signal("template_leftovers", "Template placeholders or special tokens left in the text ({{name}}, <|endoftext|>, </s>, [INST]).",
           "template_leftovers", "flag", regex_signal("everything", TEMPLATE), severity=0.6,
           fields=("instruction", "input", "output", "system")),
]
