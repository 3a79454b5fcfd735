"""Single-turn formats: Alpaca, Dolly, prompt/completion, and any column mapping."""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.formats.base import Format, RowError, as_text, rest


@dataclass(frozen=True)
class FieldFormat(Format):
    """A format that is a renaming of columns: record field -> source column."""

    fields: dict = field(default_factory=dict)
    optional: tuple[str, ...] = ()

    def to_records(self, row: dict) -> list[dict]:
        if not isinstance(row, dict):
            raise RowError(f"expected an object, got {type(row).__name__}")
        rec = {"system": "", "instruction": "", "input": "", "output": "", "messages": None}
        for target, column in self.fields.items():
            rec[target] = as_text(row, column, required=column not in self.optional)
        if not rec["instruction"].strip() and not rec["output"].strip() and not rec["input"].strip():
            raise RowError("every text field is empty")
        rec["meta"] = rest(row, tuple(self.fields.values()))
        return [rec]

    def record_to_row(self, record: dict) -> dict:
        row = {column: record[target] for target, column in self.fields.items()}
        return {**row, **(record.get("meta") or {})}


ALPACA = FieldFormat(
    name="alpaca",
    description="Alpaca: instruction, input (optional), output",
    keys=("instruction", "output"),
    fields={"instruction": "instruction", "input": "input", "output": "output"},
    optional=("input",),
)
DOLLY = FieldFormat(
    name="dolly",
    description="Dolly: instruction, context, response, category",
    keys=("instruction", "response"),
    fields={"instruction": "instruction", "input": "context", "output": "response"},
    optional=("context",),
)
PROMPT_COMPLETION = FieldFormat(
    name="prompt-completion",
    description="prompt / completion pairs (OpenAI legacy fine-tuning, T0)",
    keys=("prompt", "completion"),
    fields={"instruction": "prompt", "output": "completion"},
)


def mapped(mapping: dict[str, str]) -> FieldFormat:
    """A format for any tabular schema: `{"instruction": "question", "output": "answer"}`."""
    allowed = {"system", "instruction", "input", "output"}
    unknown = set(mapping) - allowed
    if unknown:
        raise RowError(f"cannot map {sorted(unknown)}: map only {sorted(allowed)}")
    if "instruction" not in mapping and "output" not in mapping:
        raise RowError("a mapping needs at least instruction=COLUMN or output=COLUMN")
    return FieldFormat(
        name="mapped",
        description="any table, through a column mapping",
        keys=tuple(mapping.values()),
        fields=dict(mapping),
        optional=tuple(c for f, c in mapping.items() if f in ("system", "input")),
    )
