"""What each exported line holds: a record turned into a conversation, rendered, and shaped.

- `text`: the fully rendered string with the template's special tokens;
- `messages`: role/content messages (TRL, OpenAI-style fine-tuning);
- `prompt-completion`: the rendered text split before the last answer;
- `alpaca`: instruction, input, output (+ system, and history for earlier turns);
- `sharegpt`: conversations [{from, value}] (+ system when it is not a turn).

Placeholder inputs (`<noinput>` and its spellings) become empty inputs.
"""

from __future__ import annotations

from curation.export.templates import Template
from curation.records import loads

SHAPES = {
    "text": "the rendered training string with its special tokens",
    "messages": "messages [{role, content}] for TRL / OpenAI-style fine-tuning",
    "prompt-completion": "prompt (rendered up to the answer) and completion (the answer and its end tokens)",
    "alpaca": "the original Alpaca shape: instruction, input, output (system and history when present)",
    "sharegpt": "the original ShareGPT shape: conversations [{from, value}]",
}
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


def render(template: Template, row: dict) -> str:
    return template.render(conversation(row), single_turn_fields(row))


def prompt_completion(template: Template, row: dict) -> tuple[str, str]:
    """Split the rendered text where the last answer starts: the template's tokens before it go to the prompt."""
    return split_rendered(template, conversation(row), single_turn_fields(row))


def split_rendered(template: Template, messages: list[dict], fields: dict | None, text: str | None = None) -> tuple[str, str]:
    """prompt_completion of a conversation; `text` is its full rendering when known already."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return template.render(messages, fields) if text is None else text, ""
    answer = messages[last]["content"]
    marked = [dict(m) for m in messages]
    marked[last]["content"] = SENTINEL
    marked_fields = None if fields is None else {**fields, "output": SENTINEL}
    marked_text = template.render(marked, marked_fields)
    if marked_text.count(SENTINEL) != 1:  # a template that transforms the answer: fall back to rendering without it
        prompt = template.render(messages[:last], None)
        return prompt, (template.render(messages, fields) if text is None else text)[len(prompt):]
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


def rendered(template: Template, rows: list[dict], shape: str = "text", limits=None) -> tuple[list[str], list[dict]]:
    """Each row's text and the row in `shape`, rendered once, in a child process within `limits` (see sandbox)."""
    from curation.export.sandbox import render_batch

    split = shape == "prompt-completion"
    items = [(conversation(row), single_turn_fields(row)) for row in rows]
    results = render_batch(template, items, split=split, limits=limits, ids=[str(row.get("record_id", "")) for row in rows])
    if split:
        return [text for text, _, _ in results], [{"prompt": prompt, "completion": completion} for _, prompt, completion in results]
    if shape == "text":
        return results, [{"text": text} for text in results]
    return results, [shaped(row, shape, template) for row in rows]


def shaped(row: dict, shape: str, template: Template) -> dict:
    if shape == "text":
        return {"text": render(template, row)}
    if shape == "messages":
        return {"messages": conversation(row)}
    if shape == "prompt-completion":
        prompt, completion = prompt_completion(template, row)
        return {"prompt": prompt, "completion": completion}
    if shape == "alpaca":
        return alpaca_row(row)
    return sharegpt_row(row)
