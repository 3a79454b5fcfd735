"""Which speaker is which role (user / assistant / system): a guess per file, overridden by the curator by name.

The guess, first rule that applies:
1. a name that says it (system: System, IVR, Recording, Automated …; assistant: Agent, Support, Rep, Assistant,
   Host, Operator, Advisor, Moderator …; user: Customer, Caller, Client, User, Guest, Patient …);
2. if no speaker is the assistant yet: the one who speaks like an agent ("thank you for calling", "how can I help",
   "is there anything else I can help with" …), else the one who speaks most (most words);
3. everyone else is a user.
Overrides (`Speaker 1=assistant`) match names case-insensitively and apply to every file of the source.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from curation.errors import CurationError
from curation.transcripts.model import Turn

ROLES = ("user", "assistant", "system")
NAMED = {
    "system": re.compile(r"\b(system|ivr|recording|automated|auto[- ]?attendant|voicemail|announcement)\b", re.I),
    "assistant": re.compile(r"\b(agent|support|rep|representative|assistant|host|operator|advisor|adviser|moderator|"
                            r"interviewer|helpdesk|help desk|service desk|csr|technician|tech|bot|pharmacist|"
                            r"specialist|concierge|receptionist|facilitator|chair)\b", re.I),
    "user": re.compile(r"\b(customer|caller|client|user|guest|patient|member|interviewee|visitor|student|"
                       r"subscriber|buyer|requester)\b", re.I),
}
AGENT_SPEECH = re.compile(
    r"thank(s| you) for (calling|contacting|reaching out|holding|your patience)|how (can|may|could) i (help|assist)|"
    r"what can i (do|help) (for|with)|anything else i can (help|do|assist)|you'?re speaking (with|to)|"
    r"my name is \w+,? (and|how)|i'?ll be (helping|assisting) you|let me (check|look|pull up)|"
    r"can i (have|get) your (name|account|date of birth|email|phone)", re.I)


@dataclass(frozen=True)
class Guess:
    role: str
    why: str


def guess_roles(turns: list[Turn]) -> dict[str, Guess]:
    """A role for every speaker of one file, with the reason."""
    words: Counter = Counter()
    agentish: Counter = Counter()
    for t in turns:
        words[t.speaker] += len(t.text.split())
        agentish[t.speaker] += len(AGENT_SPEECH.findall(t.text))
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    guesses: dict[str, Guess] = {}
    for s in speakers:
        for role in ("system", "assistant", "user"):
            m = NAMED[role].search(s)
            if m:
                guesses[s] = Guess(role, f"the name says {m.group(0)!r}")
                break
    if not any(g.role == "assistant" for g in guesses.values()):
        open_ = [s for s in speakers if s not in guesses]
        if open_:
            talk = max(open_, key=lambda s: (agentish[s], words[s]))
            if agentish[talk]:
                guesses[talk] = Guess("assistant", f"speaks like an agent ({agentish[talk]} phrase(s) such as "
                                                   "'thank you for calling', 'how can I help')")
            elif len(speakers) > 1:
                guesses[talk] = Guess("assistant", f"speaks most ({words[talk]} words)")
    for s in speakers:
        guesses.setdefault(s, Guess("user", "everyone but the assistant"))
    return guesses


def apply_overrides(guesses: dict[str, Guess], overrides: dict[str, str]) -> dict[str, str]:
    """speaker -> role: the guesses, with the curator's choices on top (names matched case-insensitively)."""
    lowered = {k.strip().lower(): v for k, v in overrides.items()}
    return {s: lowered.get(s.strip().lower(), g.role) for s, g in guesses.items()}


def parse_speaker_roles(pairs: list[str] | dict | None) -> dict[str, str]:
    """`["Speaker 1=assistant", "IVR=system"]` -> {"Speaker 1": "assistant", …}; a bad pair or role is a CurationError."""
    if not pairs:
        return {}
    items = pairs.items() if isinstance(pairs, dict) else [p.rpartition("=")[::2] for p in pairs]
    out = {}
    for name, role in items:
        name, role = str(name).strip(), str(role).strip().lower()
        if not name or not role:
            raise CurationError(f"bad --speaker-role {name}={role}: write NAME=ROLE, e.g. \"Speaker 1=assistant\"",
                                dashboard=f"a speaker role needs a name and a role (got {name!r}, {role!r})")
        if role not in ROLES:
            raise CurationError(f"unknown role {role!r} for speaker {name!r}: choose one of {', '.join(ROLES)}")
        out[name] = role
    return out
