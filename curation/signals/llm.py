"""Patterns of LLM-generated data that hurt training: refusals and boilerplate."""

from __future__ import annotations

from curation.signals.base import Signal, regex_signal

# A refusal opens the output; a refusal quoted inside a story does not start it
# (an opening quote mark is not skipped).
NEGATION = r"(can'?t|cannot|unable to|not able to|won'?t|will not)"
ACTS = r"(help|assist|provide|comply|do|fulfil|fulfill|create|generate|answer|write|share|browse|access|give|make|support|engage)"
REFUSAL = (
    # An apology that opens the output and goes on to decline …
    r"(?i)^[\s*_#>-]*(i'?m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)[^.\n]{0,80}?\b" + NEGATION + r"\b[^.\n]{0,60}"
    # … or a flat "I cannot help / As an AI, I am not able to browse".
    r"|^[\s*_#>-]*(as an ai[^.\n]{0,40}?,?\s*)?(i|i'?m|i am)\s+(not able to|unable to|can'?t|cannot|won'?t|will not)\s+" + ACTS
    + r"\b[^.\n]{0,60}"
)
BOILERPLATE = (
    r"(?i)(as an ai( language model| assistant| model)?|as a (large )?language model|i hope (this|that) helps|"
    r"(certainly|sure|of course|absolutely)[!,.] here (is|are|'s)|sure, here'?s|i'?d be (happy|glad) to help|great question|"
    r"it'?s important to note that|it is important to note that|feel free to (ask|reach out)|"
    r"let me know if you (have any|need any)( other| further| more)? questions)"
)

SIGNALS = [
    Signal("refusal", "The output refuses the request (\"I'm sorry, but I can't…\").", "refusal", "flag",
           regex_signal("output", REFUSAL, count=False), severity=0.9),
    Signal("llm_boilerplate", "LLM boilerplate in the output: \"As an AI language model\", \"I hope this helps\", "
           "\"Certainly! Here is…\".", "llm_boilerplate", "flag", regex_signal("output", BOILERPLATE), severity=0.4),
]
