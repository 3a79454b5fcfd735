"""Mechanical repairs the cleaning flags stand for (pure functions, no imports beyond `re`).

Export calls `clean_output` on every output (on by default, recorded in the manifest): a trailing
end-of-text marker is a convention of the format a record came from (t0's completions all end in
`<|endoftext|>`), not part of the answer, and the training template adds its own.
"""

from __future__ import annotations

import re

END_MARKERS = ("<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|end_of_text|>", "<eos>", "<|eos|>")
_MARKERS = r"(?:\s*(?:" + "|".join(re.escape(m) for m in END_MARKERS) + r"))+\s*"
TRAILING_MARKERS = re.compile(_MARKERS + r"\Z")
TRAILING_MARKERS_RE2 = _MARKERS + "$"  # the same for Arrow's RE2 (where `$` is the end of the text)


def trailing_marker(text: str) -> re.Match | None:
    """The run of end-of-text markers (and the white space around them) that ends the text, if any."""
    if not isinstance(text, str):
        return None
    rest = text.rstrip()
    if not rest.endswith(">"):
        return None
    # Where the run starts, found from the end (a search from the start would try every position of a long output).
    stripped = True
    while stripped:
        stripped = False
        for marker in END_MARKERS:
            if rest.endswith(marker):
                rest, stripped = rest[: -len(marker)].rstrip(), True
                break
    return TRAILING_MARKERS.match(text, len(rest))


def clean_output(text: str) -> str:
    """The output without the end-of-text markers that end it (`"Paris.<|endoftext|>"` → `"Paris."`); a marker
    inside the text is left alone (that is `template_leftovers`' to report)."""
    m = trailing_marker(text)
    return text[: m.start()] if m else text
