"""Tool definitions travel into exports instead of being dropped.

Function-calling data keeps the tools a conversation may call beside it: glaive
and LLaMA-Factory's ShareGPT files a `tools` field (a JSON string of function
specs), OpenAI-style files a `tools` list, older ones `functions`. Ingest keeps
that field in the record's `meta`, untouched; `tools_of` reads it back as a list
of tool definitions in the form Hugging Face chat templates and OpenAI expect
(`{"type": "function", "function": {name, description, parameters}}`; a bare
function spec is wrapped, anything else is kept as it is).

Export then
- passes them to the template as `tools` (what `tokenizer.apply_chat_template(messages, tools=...)` gives a Hugging
  Face chat template), so a template that writes tools into the prompt writes them;
- adds a `tools` column to every exported row when any record has tools: the definitions as a JSON string (None
  for a record without), the way glaive and LLaMA-Factory keep them, since Arrow cannot hold tools of different
  shapes in one typed column (`json.loads` it for `apply_chat_template`).
"""

from __future__ import annotations

import json

from curation.records import loads

KEYS = ("tools", "functions")  # where a source row keeps its tool definitions


def normalised(tool):
    """One tool definition in the OpenAI / Hugging Face form (a bare function spec is wrapped)."""
    if isinstance(tool, dict) and "name" in tool and "type" not in tool and "function" not in tool:
        return {"type": "function", "function": tool}
    return tool


def tools_of(meta) -> list | None:
    """The tool definitions a record's meta keeps (a list, or a JSON string of one), normalised; None when it has none."""
    meta = loads(meta) if isinstance(meta, str) else meta
    if not isinstance(meta, dict):
        return None
    for key in KEYS:
        value = meta.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict):
            value = [value]
        if isinstance(value, list) and value:
            return [normalised(t) for t in value]
    return None


def column(tools: list | None) -> str | None:
    """The `tools` column's value: the definitions as JSON text (fixed key order: exports stay byte-identical)."""
    return None if tools is None else json.dumps(tools, ensure_ascii=False, sort_keys=True)


def template_uses_tools(source: str) -> bool:
    """Whether a template's Jinja text reads `tools` at all (the built-ins do not)."""
    import re

    return bool(re.search(r"\btools\b", source or ""))
