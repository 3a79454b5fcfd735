"""A run's requests to one endpoint: cached by content, `concurrency` in flight, at most `rpm` a minute, and a
budget that stops the run before it is overspent.

The budget is in tokens (`budget_tokens`) or money (`budget_cost` at `price_per_1k`): before a request is sent, its
prompt (characters / 4) and its `max_tokens` are reserved, and a request that would take the total past the budget is
not sent — so the run stops before it would pass the budget (as exactly as characters / 4 counts the prompt: a
server whose tokenizer counts more can pass it by that difference). Once a reply comes, its reported usage (or the
characters / 4 of prompt and reply) replaces the reservation. Replies from the cache cost nothing.

While nothing has ever answered, a request that fails because no server is there (connection refused, unknown host)
stops the run with a message that says so, rather than every later request failing the same way. `cancelled()`, when
given, is asked before each request and each retry: once it is true nothing more is sent (a request in flight still
waits for its reply or its timeout, and then counts as failed if it did). `on_spend(spend)` is called when a request
is sent and after each reply, for a live view of the run.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from curation.errors import CurationError
from curation.llm import client as llm
from curation.llm.cache import ResponseCache, request_key
from curation.workspace import Workspace


@dataclass
class Spend:
    sent: int = 0  # requests that reached the endpoint
    cached: int = 0  # answered from the workspace's cache, free
    failed: int = 0  # failed after every retry
    skipped: int = 0  # not sent: the budget would have been passed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    waiting: int = 0  # sent, no reply yet (each retry included)
    last_error: str = ""  # the last failed request's error, e.g. "failed after 5 tries: APITimeoutError"

    def as_dict(self) -> dict:
        return {**asdict(self), "cost": round(self.cost, 6), "tokens": self.prompt_tokens + self.completion_tokens}


def prompt_text(payload: dict) -> str:
    if "prompt" in payload:
        return str(payload["prompt"])
    return "\n".join(str(m.get("content") or "") for m in payload.get("messages") or [])


class Session:
    def __init__(self, ws: Workspace, *, endpoint: str | None, model: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, max_retries: int = 4, backoff: float = 1.0, concurrency: int = 4,
                 rpm: float | None = None, budget_tokens: int | None = None, budget_cost: float | None = None,
                 price_per_1k: float = 0.0, stream: bool = False, omit: tuple[str, ...] = (),
                 who: str = "the generation endpoint", cancelled=None, on_spend=None):
        if int(concurrency) < 1 or int(max_retries) < 0:
            raise CurationError("--concurrency must be at least 1 and --max-retries at least 0",
                                dashboard="Concurrency must be at least 1 and retries at least 0")
        if budget_cost is not None and not price_per_1k:
            raise CurationError("--budget-cost needs --price-per-1k (the price per 1,000 tokens) to count money",
                                dashboard="a cost budget needs the Price per 1,000 tokens to count money")
        self.url = llm.endpoint_url(endpoint)
        self.host = llm.endpoint_host(endpoint)
        self.api_key_env = api_key_env or "OPENAI_API_KEY"
        self.timeout, self.max_retries, self.backoff = float(timeout), int(max_retries), float(backoff)
        self.concurrency, self.rpm, self.who = int(concurrency), rpm, who
        self.omit = frozenset(omit or ())  # sampling parameters this endpoint refuses (transformers serve: stop)
        self.stream = bool(stream)  # ask for server-sent events (some gateways time out long non-streamed replies)
        self.price = float(price_per_1k or 0.0)
        limits = [int(budget_tokens)] if budget_tokens is not None else []
        if budget_cost is not None:
            limits.append(int(float(budget_cost) / self.price * 1000))
        self.limit = min(limits) if limits else None
        self.spend = Spend()
        self.reserved = 0
        self.exhausted = False
        self.lock = threading.Lock()
        self.next_start = 0.0
        self.cache = ResponseCache(ws)
        self._client = None
        self._model = model
        self.cancelled, self.on_spend = cancelled, on_spend
        self.answered = 0  # requests the endpoint answered (not failed)

    @property
    def client(self):
        if self._client is None:
            self._client = llm.connect(self.url, self.api_key_env, self.timeout, who=self.who)
        return self._client

    @property
    def model(self) -> str:
        if not self._model:
            self._model = llm.first_model(self.client, self.url)
        return self._model

    def key(self, payload: dict) -> str:
        return request_key(self.url, {**{k: v for k, v in payload.items() if k not in self.omit}, "model": self.model})

    def cached(self, payload: dict) -> dict | None:
        return self.cache.get(self.key(payload))

    def reserve(self, payload: dict) -> int | None:
        """Tokens held for this request, or None when sending it would pass the budget."""
        need = llm.rough_tokens(prompt_text(payload)) + int(payload.get("max_tokens") or 0)
        with self.lock:
            if self.limit is not None and self.spent_tokens() + self.reserved + need > self.limit:
                self.exhausted = True
                return None
            self.reserved += need
        return need

    def spent_tokens(self) -> int:
        return self.spend.prompt_tokens + self.spend.completion_tokens

    def pace(self) -> None:
        if not self.rpm:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + 60.0 / float(self.rpm)
        if start > now:
            time.sleep(start - now)

    def ask(self, payload: dict) -> dict:
        """{"text", "usage", "cached": bool, "key"} or {"error"} or {"skipped": "budget"}."""
        if self.omit:
            payload = {k: v for k, v in payload.items() if k not in self.omit}
        key = self.key(payload)
        hit = self.cache.get(key)
        if hit is not None:
            with self.lock:
                self.spend.cached += 1
            return {**hit, "cached": True, "key": key}
        if self.cancelled is not None and self.cancelled():
            return {"skipped": "cancelled", "key": key}
        held = self.reserve(payload)
        if held is None:
            with self.lock:
                self.spend.skipped += 1
            return {"skipped": "budget", "key": key}
        try:
            self.pace()
            sent = {**payload, "model": self.model, **({"stream": True} if self.stream else {})}  # streamed or not: one key
            with self.lock:
                self.spend.waiting += 1
            self.notify()
            try:
                reply = llm.request(self.client, sent, url=self.url, max_retries=self.max_retries,
                                    backoff=self.backoff, who=self.who, stop=self.cancelled)
            finally:
                with self.lock:
                    self.spend.waiting -= 1
        finally:
            with self.lock:
                self.reserved -= held
        with self.lock:
            self.spend.sent += 1
            if "error" in reply:
                self.spend.failed += 1
                self.spend.last_error = reply["error"]
                # a failed request may still have been paid for: count its prompt
                self.spend.prompt_tokens += llm.rough_tokens(prompt_text(payload))
                nobody = reply.get("kind") == "APIConnectionError" and not self.answered
            else:
                self.answered += 1
                usage = reply.get("usage") or {"prompt_tokens": llm.rough_tokens(prompt_text(payload)),
                                               "completion_tokens": llm.rough_tokens(reply["text"])}
                self.spend.prompt_tokens += usage["prompt_tokens"]
                self.spend.completion_tokens += usage["completion_tokens"]
            self.spend.cost = self.spent_tokens() / 1000 * self.price
        self.notify()
        if "error" in reply:
            if nobody:
                raise llm.nothing_answers(self.url, reply["kind"])
            return {**reply, "key": key}
        self.cache.put(key, {**payload, "model": self.model}, reply)
        return {**reply, "cached": False, "key": key}

    def notify(self) -> None:
        if self.on_spend is not None:
            self.on_spend(self.spend.as_dict())

    def ask_many(self, payloads: list[dict]) -> list[dict]:
        """Replies in the order of the payloads; `concurrency` requests in flight at once."""
        if not payloads:
            return []
        if len(payloads) == 1 or self.concurrency == 1:
            return [self.ask(p) for p in payloads]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(payloads))) as pool:
            return list(pool.map(self.ask, payloads))

    def close(self) -> None:
        self.cache.close()
