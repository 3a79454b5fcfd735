"""A conversation into training records, in one of two shapes (the `SHAPES` registry):

- `conversation`: one record per conversation; `messages` holds it whole, the last exchange fills
  instruction/output (as for every multi-turn record);
- `turns`: one record per assistant turn that answers a user; `messages` is the context before it plus that turn,
  instruction is the user turn just before, output is the assistant turn.

Consecutive turns of one role by different speakers (two users in a meeting) become one message whose lines say
who spoke (`Name: text`); a message of one speaker is its bare text.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from curation.formats.base import last_exchange
from curation.transcripts.model import Turn


@dataclass
class Conversation:
    """One conversation cut from a transcript: its turns, their roles, where it came from and why it starts there."""

    file: str
    kind: str
    index: int  # its place among the file's conversations, from 0
    turns: list[Turn]
    roles: dict[str, str]  # speaker -> role
    why: str  # start, gap, topic or budget

    def messages(self) -> list[dict]:
        """[{role, content, speakers, start, end, line}] with one role's consecutive turns as one message."""
        out: list[dict] = []
        for t in self.turns:
            role = self.roles.get(t.speaker, "user")
            if out and out[-1]["role"] == role:
                m = out[-1]
                m["parts"].append((t.speaker, t.text))
                m["end"] = t.end if t.end is not None else m["end"]
            else:
                out.append({"role": role, "parts": [(t.speaker, t.text)], "start": t.start, "end": t.end, "line": t.line})
        for m in out:
            parts = m.pop("parts")
            m["speakers"] = list(dict.fromkeys(s for s, _ in parts))
            m["content"] = parts[0][1] if len(m["speakers"]) == 1 else "\n".join(f"{s}: {text}" for s, text in parts)
        return out


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    build: Callable[[list[dict]], Iterator[tuple[int, list[dict]]]]  # messages -> (index of the output turn, messages)


def whole(messages: list[dict]) -> Iterator[tuple[int, list[dict]]]:
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is not None and any(m["role"] == "user" for m in messages[:last]):
        yield last, messages


def per_turn(messages: list[dict]) -> Iterator[tuple[int, list[dict]]]:
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and any(p["role"] == "user" for p in messages[:i]):
            yield i, messages[: i + 1]


SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("conversation", "one record per conversation: the whole multi-turn exchange in messages, its last exchange "
                          "as instruction/output", whole),
    Shape("turns", "one record per assistant turn: the preceding context and that turn in messages, the user turn "
                   "before it as instruction, the assistant turn as output", per_turn),
)}


def records_of(conv: Conversation, shape: Shape) -> Iterator[tuple[int, dict]]:
    """(turn index of the output, partial record) for each record the shape makes of a conversation."""
    full = conv.messages()
    for turn_index, msgs in shape.build(full):
        messages = [{"role": m["role"], "content": m["content"]} for m in msgs]
        starts = [m["start"] for m in msgs if m["start"] is not None]
        ends = [m["end"] for m in msgs if m["end"] is not None]
        meta = {
            "file": conv.file,
            "source": "external",
            "format": f"transcript-{conv.kind}",
            "shape": shape.name,
            "speakers": list(dict.fromkeys(s for m in msgs for s in m["speakers"])),
            "roles": {s: conv.roles.get(s, "user") for m in msgs for s in m["speakers"]},
            "start": min(starts) if starts else None,
            "end": max(ends) if ends else None,
            "conversation_index": conv.index,
            "turn_index": turn_index,
            "turns": len(msgs),
            "line": msgs[0]["line"],
            "split": conv.why,
        }
        yield turn_index, {**last_exchange(messages), "messages": messages, "meta": meta}


def preview(conversations: list[Conversation]) -> dict:
    """For each shape: how many records it makes and how long they are (messages per record; words per record, of
    the prompt and of the output), so a curator sees the effect of the choice before loading."""
    out = {}
    for name, shape in SHAPES.items():
        counts, words, prompt, output = [], [], [], []
        for conv in conversations:
            for _, rec in records_of(conv, shape):
                msgs = rec["messages"]
                counts.append(len(msgs))
                w = [len(m["content"].split()) for m in msgs]
                words.append(sum(w))
                prompt.append(sum(w[:-1]))
                output.append(w[-1])
        out[name] = {"records": len(counts), "description": shape.description, "messages": stats(counts),
                     "words": stats(words), "prompt_words": stats(prompt), "output_words": stats(output),
                     "total_words": sum(words)}
    return out


def stats(values: list[int]) -> dict:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p90": 0, "max": 0}
    ordered = sorted(values)
    return {"mean": round(statistics.fmean(values), 1), "median": float(statistics.median(ordered)),
            "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], "max": ordered[-1]}
