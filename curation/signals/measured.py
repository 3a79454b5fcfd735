"""Each flag's measured precision, and the action it offers because of it.

`MEASURED` is written from `python bench/flags_precision.py` (bench/RESULTS.md, "Flag precision … after"):
per reason code, (precision, labelled records it fires on) on the labelled development set
`bench/data/flags_dev.jsonl`. A flag offers "reject every record it marks" only when it has earned it:

- `fix`: a cleaning flag (`Signal.fix`): its records are repaired, not rejected;
- `reject`: precision at least `REJECT_PRECISION` on at least `REJECT_LABELS` labelled records;
- `review`: every other flag, unmeasured ones included: its records open as a queue, to decide one by one.
"""

from __future__ import annotations

REJECT_PRECISION = 0.9
REJECT_LABELS = 20

MEASURED_ON = "2026-12-01 (flags of the issue 12 commit, parent ff1eff4), bench/flags_precision.py on bench/data/flags_dev.jsonl"
# reason code -> (precision, labelled records the flag fires on). The rules were reworked on this same set, so these
# are in-sample figures: bench/RESULTS.md gives the intervals and a spot check outside the set. end_marker carries no
# labels of its own (the 79 labels of t0's closing <|endoftext|>, all correct, were filed under template_leftovers).
MEASURED: dict[str, tuple[float, int]] = {
    "exact_duplicate": (1.00, 24),
    "wrong_language": (1.00, 31),
    "template_leftovers": (1.00, 33),
    "llm_boilerplate": (1.00, 13),
    "text_debris": (1.00, 12),
    "placeholder_input": (1.00, 11),
    "truncated": (0.90, 10),
    "refusal": (1.00, 7),
    "needs_context": (1.00, 4),
    "repetition": (1.00, 3),
    "pii": (0.50, 2),
    "repeats_prompt": (1.00, 1),
}


# Flags true by construction: what they test is what they claim, so their precision is 1 without labels.
BY_DEFINITION = {"empty_output": "the output holds nothing but whitespace"}


def measured(code: str) -> tuple[float, int] | None:
    return MEASURED.get(code)


def action(signal) -> str:
    """`fix`, `reject` or `review` for a signal (see the module's docstring)."""
    if signal.fix:
        return "fix"
    m = MEASURED.get(signal.reason)
    if signal.reason in BY_DEFINITION or (m and m[0] >= REJECT_PRECISION and m[1] >= REJECT_LABELS):
        return "reject"
    return "review"


def describe(signal) -> str:
    """One line on the flag's precision and action, for people."""
    m = MEASURED.get(signal.reason)
    if signal.reason in BY_DEFINITION:
        return f"true by definition ({BY_DEFINITION[signal.reason]}): bulk reject offered"
    measured_text = f"measured precision {m[0]:.2f} on {m[1]} labelled records" if m else "precision not measured"
    if signal.fix:
        return f"cleaning flag ({measured_text}): {signal.fix}"
    if action(signal) == "reject":
        return f"{measured_text}: bulk reject offered"
    if not m:
        return f"{measured_text} (no labelled record carries it), so review its records one by one"
    if m[1] < REJECT_LABELS:
        return (f"{measured_text}: too few labels to trust for a bulk reject (it takes precision {REJECT_PRECISION} or more "
                f"on {REJECT_LABELS}+ labelled records), so review its records one by one")
    return f"{measured_text}: under the {REJECT_PRECISION} a bulk reject needs, so review its records one by one"
