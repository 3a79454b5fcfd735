"""What each exported line holds: a record turned into a conversation, rendered, and shaped.

- `text`: the fully rendered string with the template's special tokens;
- `messages`: role/content messages (TRL, OpenAI-style fine-tuning);
- `prompt-completion`: the rendered text split before the last answer;
- `alpaca`: instruction, input, output (+ system, and history for earlier turns);
- `sharegpt`: conversations [{from, value}] (+ system when it is not a turn).

Placeholder inputs (`<noinput>` and its spellings) become empty inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curation import names
from curation.export.templates import Template
from curation.records import loads


@dataclass(frozen=True)
class Shape:
    """What an exported line holds: `row(record, template)` gives it, rendering in this process.

    `from_render(text, prompt, completion)`, when there is one, gives it from the child process's rendering instead
    (`split`: that rendering needs the prompt and completion, not only the text); see `rendered`."""

    name: str
    description: str
    row: Callable[[dict, Template], dict]
    from_render: Callable[[str, str | None, str | None], dict] | None = None
    split: bool = False


SENTINEL = "\x00\x01answer\x01\x00"


def clean_input(value) -> str:
    from curation.texts import placeholder_text

    return "" if not isinstance(value, str) or placeholder_text(value) else value


def turns(row: dict) -> list[dict] | None:
    messages = loads(row.get("messages"))
    return messages or None


def conversation(row: dict) -> list[dict]:
    """The record as role/content messages, the system prompt first when there is one."""
    messages = turns(row)
    system = row.get("system") or ""
    if messages:
        out = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        if system and not any(m["role"] == "system" for m in out):
            out.insert(0, {"role": "system", "content": system})
        return out
    user = row.get("instruction") or ""
    inp = clean_input(row.get("input"))
    out = [{"role": "system", "content": system}] if system else []
    answer = {"role": "assistant", "content": row.get("output") or ""}
    return out + [{"role": "user", "content": f"{user}\n\n{inp}" if inp else user}, answer]


def single_turn_fields(row: dict) -> dict | None:
    if turns(row):
        return None
    return {"instruction": row.get("instruction") or "", "input": clean_input(row.get("input")), "output": row.get("output") or "",
            "system": row.get("system") or ""}


def row_tools(row: dict) -> list | None:
    from curation.export.tools import tools_of

    return tools_of(row.get("meta"))


def render(template: Template, row: dict) -> str:
    return template.render(conversation(row), single_turn_fields(row), row_tools(row))


def prompt_completion(template: Template, row: dict) -> tuple[str, str]:
    """Split the rendered text where the last answer starts: the template's tokens before it go to the prompt."""
    return split_rendered(template, conversation(row), single_turn_fields(row), tools=row_tools(row))


def split_rendered(template: Template, messages: list[dict], fields: dict | None, text: str | None = None,
                   tools: list | None = None) -> tuple[str, str]:
    """prompt_completion of a conversation; `text` is its full rendering when known already."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return template.render(messages, fields, tools) if text is None else text, ""
    answer = messages[last]["content"]
    marked = [dict(m) for m in messages]
    marked[last]["content"] = SENTINEL
    marked_fields = None if fields is None else {**fields, "output": SENTINEL}
    marked_text = template.render(marked, marked_fields, tools)
    if marked_text.count(SENTINEL) != 1:  # a template that transforms the answer: fall back to rendering without it
        prompt = template.render(messages[:last], None, tools)
        return prompt, (template.render(messages, fields, tools) if text is None else text)[len(prompt):]
    before, after = marked_text.split(SENTINEL)
    return before, answer + after


def alpaca_row(row: dict) -> dict:
    messages = turns(row)
    out: dict = {}
    if messages:
        pairs, user = [], None
        for m in messages:
            if m["role"] == "user":
                user = m.get("content") or ""
            elif m["role"] == "assistant" and user is not None:
                pairs.append([user, m.get("content") or ""])
                user = None
        out = {"instruction": row.get("instruction") or "", "input": clean_input(row.get("input")), "output": row.get("output") or ""}
        if len(pairs) > 1:
            out["history"] = pairs[:-1]
    else:
        out = {"instruction": row.get("instruction") or "", "input": clean_input(row.get("input")), "output": row.get("output") or ""}
    if row.get("system"):
        out["system"] = row["system"]
    return out


def sharegpt_row(row: dict) -> dict:
    from curation.formats.conversation import SHAREGPT

    messages = turns(row) or [m for m in conversation(row) if m["role"] != "system"]
    out = {"conversations": [SHAREGPT.from_message(m) for m in messages]}
    if row.get("system") and not any(m["role"] == "system" for m in messages):
        out["system"] = row["system"]
    return out


def pair_row(prompt: str, completion: str) -> dict:
    return {"prompt": prompt, "completion": completion}


SHAPES: dict[str, Shape] = names.registry(names.SHAPES, (
    Shape("text", "the rendered training string with its special tokens", lambda row, template: {"text": render(template, row)},
          from_render=lambda text, prompt, completion: {"text": text}),
    Shape("messages", "messages [{role, content}] for TRL / OpenAI-style fine-tuning",
          lambda row, template: {"messages": conversation(row)}),
    Shape("prompt-completion", "prompt (rendered up to the answer) and completion (the answer and its end tokens)",
          lambda row, template: pair_row(*prompt_completion(template, row)),
          from_render=lambda text, prompt, completion: pair_row(prompt, completion), split=True),
    Shape("alpaca", "the original Alpaca shape: instruction, input, output (system and history when present)",
          lambda row, template: alpaca_row(row)),
    Shape("sharegpt", "the original ShareGPT shape: conversations [{from, value}]", lambda row, template: sharegpt_row(row)),
))


def rendered(template: Template, rows: list[dict], shape: str = "text", limits=None, budget=None,
             first: int = 0) -> tuple[list[str], list[dict]]:
    """Each row's text and the row in `shape`, rendered once, in a child process within `limits` (see sandbox).
    `budget`, `first`: the rows are a slice of a larger batch, starting at its record `first` (sandbox.Budget)."""
    from curation.export.sandbox import render_batch

    chosen = names.lookup(SHAPES, shape, "shape")
    items = [(conversation(row), single_turn_fields(row), row_tools(row)) for row in rows]
    results = render_batch(template, items, split=chosen.split, limits=limits, ids=[str(row.get("record_id", "")) for row in rows],
                           budget=budget, first=first)
    parts = results if chosen.split else [(text, None, None) for text in results]
    texts = [text for text, _, _ in parts]
    if chosen.from_render:
        return texts, [chosen.from_render(*part) for part in parts]
    return texts, [chosen.row(row, template) for row in rows]


def shaped(row: dict, shape: str, template: Template) -> dict:
    return names.lookup(SHAPES, shape, "shape").row(row, template)
