"""Splitting a long call or meeting into conversations, at three kinds of boundary (checked before each turn):

- silence: more than `split_gap` seconds between two turns (sources with times);
- topic: an opening phrase that starts a new subject ("moving on", "next item", "another question", "one more
  thing", "something else" …), or a new request right after the agent's "anything else I can help with?" (not a
  "no, that's all"). Lexical only, no embeddings: cheap, predictable and documented; it misses silent topic changes;
- budget: a conversation of `max_turns` turns ends before the next user turn (at the latest two turns later).
A conversation is never cut before it has two turns.
"""

from __future__ import annotations

import re

from curation.transcripts.clean import gap
from curation.transcripts.model import Turn

OPENING = re.compile(
    r"^(?:ok(?:ay)?[,.]?\s+|so[,.]?\s+|right[,.]?\s+|alright[,.]?\s+|and\s+|yes[,.]?\s+|actually[,.]?\s+)*"
    r"(?:moving on|let'?s move on|next (?:item|topic|up|on the agenda)|on to the next|another (?:question|issue|thing)|"
    r"one more (?:thing|question)|i (?:also )?have another|something else|a different (?:issue|question)|"
    r"(?:a )?separate (?:issue|question)|i also (?:wanted|need) to)", re.I)
CLOSING = re.compile(r"anything else (?:i|we) can (?:help|do|assist)|is there anything else", re.I)
DONE = re.compile(r"^(?:no\b|nope|that'?s (?:all|it|everything)|nothing else|i'?m (?:good|all set)|thanks?\b|thank you|bye)", re.I)
MIN_TURNS = 2


def split(turns: list[Turn], roles: dict[str, str], *, split_gap: float | None = None, max_turns: int | None = None,
          topics: bool = True) -> list[tuple[list[Turn], str]]:
    """The conversations of one file's (merged) turns, each with why it starts: start, gap, topic or budget."""
    out: list[tuple[list[Turn], str]] = []
    current: list[Turn] = []
    why = "start"
    for turn in turns:
        reason = None
        if len(current) >= MIN_TURNS:
            g = gap(current[-1], turn)
            role = roles.get(turn.speaker)
            if split_gap is not None and g is not None and g > split_gap:
                reason = "gap"
            elif topics and (OPENING.match(turn.text) or role == "user" and CLOSING.search(current[-1].text)
                             and not DONE.match(turn.text)):
                reason = "topic"
            elif max_turns and (len(current) >= max_turns and role == "user" or len(current) >= max_turns + 2):
                reason = "budget"
        if reason:
            out.append((current, why))
            current, why = [], reason
        current.append(turn)
    if current:
        out.append((current, why))
    return out
