"""What every generation method shares: the candidate it yields, the state of a run, the method's shape.

A method works in rounds: `round(state, session, opts)` builds a fixed number of prompts from the run's random
generator (so the same seed builds the same prompts), sends them through the session (cached, budgeted,
concurrent), parses the replies and returns candidates — each either accepted or rejected with a reason code.
Everything it accepts joins the pool that later rounds draw on and that novelty is measured against.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from curation.generate.novelty import Novelty


@dataclass
class Candidate:
    instruction: str
    input: str = ""
    output: str = ""
    reason: str | None = None  # None: accepted; else a reason code (novelty, keyword, length, parse, …)
    detail: str = ""
    seed_ids: list[str] = field(default_factory=list)  # the records shown in the prompt (or evolved)
    passed: list[str] = field(default_factory=list)  # the filters it passed, in order
    requests: list[str] = field(default_factory=list)  # cache keys of the requests that made it
    extra: dict = field(default_factory=dict)  # method-specific provenance (mutation, is_classification, …)


@dataclass
class Seed:
    record_id: str
    instruction: str
    input: str = ""
    output: str = ""
    is_classification: bool | None = None


@dataclass
class State:
    seeds: list[Seed]
    rng: random.Random
    novelty: Novelty
    machine: list[Seed] = field(default_factory=list)  # accepted so far, in order
    backlog: list[Candidate] = field(default_factory=list)  # passed the filters, not finished yet (more than a round needed)
    notes: dict = field(default_factory=dict)  # what the method says about the run, for its report (magpie: pre_query)

    def accept(self, cand: Candidate, record_id: str) -> None:
        """An accepted candidate joins the machine pool later prompts draw on (the method put it in the novelty pool)."""
        self.machine.append(Seed(record_id, cand.instruction, cand.input, cand.output, cand.extra.get("is_classification")))


class Method:
    name = ""
    description = ""
    reference = ""
    version = "1"  # the prompt templates' version: part of every record's provenance
    options: dict = {}  # method options and their defaults (prompts per round, sampling parameters…)

    def resolve(self, options: dict | None) -> dict:
        from curation.errors import CurationError

        unknown = set(options or {}) - set(self.options)
        if unknown:
            raise CurationError(f"{self.name} has no option {', '.join(sorted(unknown))}: it takes {', '.join(self.options)}")
        return {**self.options, **{k: v for k, v in (options or {}).items() if v is not None}}

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        raise NotImplementedError

    def estimate(self, state: State, n: int, opts: dict) -> list[tuple[dict, int]]:
        """Representative request payloads and how many of each `n` accepted records take (an assumption the
        method's docstring states), for the token and cost estimate shown before anything is sent."""
        raise NotImplementedError


def chat(text: str, params: dict, cap: int | None = None) -> dict:
    """A chat-completions payload of one user message; `cap` lowers max_tokens (the run's --max-tokens)."""
    body = {"messages": [{"role": "user", "content": text}], **params}
    if cap and body.get("max_tokens"):
        body["max_tokens"] = min(int(body["max_tokens"]), int(cap))
    return body


def completion(prompt: str, params: dict, cap: int | None = None) -> dict:
    body = {"prompt": prompt, **params}
    if cap and body.get("max_tokens"):
        body["max_tokens"] = min(int(body["max_tokens"]), int(cap))
    return body


def failed(reply: dict) -> str | None:
    """Why a reply holds no text: its error, or "budget" when it was not sent."""
    if "skipped" in reply:
        return "budget"
    if "error" in reply:
        return reply["error"]
    return None


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()
