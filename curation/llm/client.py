"""One client for any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, TGI, `transformers serve`, OpenAI).

`endpoint_url` turns `--endpoint` (or `$OPENAI_BASE_URL`) into a base URL (a bare `http://host:port` gets `/v1`).
`connect` builds an `openai.OpenAI` client whose key comes from an environment variable (default `OPENAI_API_KEY`)
and is never stored: not in the workspace, the cache keys, the logs or the provenance. `request` sends one chat or
raw-completions request and retries 429, 5xx, timeouts, dropped connections and replies that are not the protocol's
JSON with exponential backoff (honouring `Retry-After`); 401/403/404 raise at once (every request would fail the
same way). `count_tokens` counts tokens for the estimates shown before anything is sent.
"""

from __future__ import annotations

import math
import os
import random
import time
from urllib.parse import urlsplit

from curation.errors import CurationError

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
FATAL = ("AuthenticationError", "PermissionDeniedError", "NotFoundError")
RETRIED = ("RateLimitError", "InternalServerError", "APITimeoutError", "APIConnectionError")


class NoCompletionsAPI(CurationError):
    """The endpoint has no raw completions API (`/completions` answered 404 or 405)."""


def endpoint_url(url: str | None) -> str:
    url = (url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_ENDPOINT).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CurationError(f"bad --endpoint {url!r}: give an http(s) URL such as http://127.0.0.1:8000/v1",
                            dashboard=f"bad endpoint {url!r}: give an http(s) URL such as http://127.0.0.1:8000/v1 in the "
                                      "Endpoint field")
    return url if parts.path not in ("", "/") else url + "/v1"


def endpoint_host(url: str | None) -> str:
    """host[:port] of the endpoint: what provenance records (never a path with a token in it, never the key)."""
    return urlsplit(endpoint_url(url)).netloc.rsplit("@", 1)[-1]


def one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def connect(url: str | None, api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60.0, *, who: str = "the client"):
    """An `openai.OpenAI` client for the endpoint; the key is read from `$api_key_env` and kept only in memory."""
    import openai

    url = endpoint_url(url)
    env = api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(env)
    if not key:
        if urlsplit(url).hostname == "api.openai.com":
            raise CurationError(f"{who} needs an API key for {url}: set ${env} (or --api-key-env VAR)",
                                dashboard=f"{who} needs an API key for {url}: set ${env} where the dashboard runs (or name "
                                          "another variable in the API key variable field)")
        key = "none"  # local servers (vLLM, Ollama, llama.cpp) accept any key
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=float(timeout))


SERVERS = "vLLM, Ollama, the llama.cpp server, TGI, transformers serve"


def nothing_answers(url: str | None, kind: str) -> CurationError:
    """No server at the endpoint's address (connection refused, unknown host): naming a model would not help."""
    where = endpoint_url(url)
    return CurationError(f"nothing answers at {where} ({kind}): start an OpenAI-compatible server there ({SERVERS}) "
                         "or give the address of one with --endpoint URL (or $OPENAI_BASE_URL)",
                         dashboard=f"nothing answers at {where} ({kind}): start an OpenAI-compatible server there "
                                   f"({SERVERS}) or give the address of one in the Endpoint field")


def list_models(client, url: str | None) -> list[str]:
    """The models the endpoint lists; CurationError when nothing answers or it cannot list them."""
    try:
        return [m.id for m in client.models.list()]
    except Exception as exc:  # openai raises many types; the endpoint may not list models at all
        if type(exc).__name__ == "APIConnectionError":
            raise nothing_answers(url, type(exc).__name__) from None
        raise CurationError(f"could not list the models of {endpoint_url(url)} ({type(exc).__name__}): give --model NAME",
                            dashboard=f"could not list the models of {endpoint_url(url)} ({type(exc).__name__}): name one "
                                      "in the Model field") from None


def probe(url: str | None, api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 10.0) -> list[str]:
    """Whether the endpoint answers, before a run: the models it lists (perhaps none); CurationError saying why not."""
    return list_models(connect(url, api_key_env, timeout, who="the endpoint"), url)


def first_model(client, url: str | None) -> str:
    """The first model the endpoint lists (for a missing --model)."""
    models = list_models(client, url)
    if not models:
        raise CurationError(f"{endpoint_url(url)} answers but lists no model (transformers serve lists none): give --model "
                            "NAME (for transformers serve, the folder or hub id it serves)",
                            dashboard=f"{endpoint_url(url)} answers but lists no model (transformers serve lists none): "
                                      "name it in the Model field (for transformers serve, the folder or hub id it serves)")
    return models[0]


def wait(exc, attempt: int, backoff: float) -> float:
    """Seconds before the next try: Retry-After when the server says (at most 60), else backoff × 2^attempt ± 25%."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        if header is not None:
            return min(max(float(header), 0.0), 60.0)
    except ValueError:
        pass
    return min(backoff * 2**attempt, 60.0) * random.uniform(0.75, 1.25)


def usage_of(response) -> dict | None:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion}


def request(client, payload: dict, *, url: str | None, max_retries: int = 4, backoff: float = 1.0,
            who: str = "the endpoint", stop=None) -> dict:
    """Send one request: `payload` is the body of a chat completion (it has `messages`) or of a raw completion (it
    has `prompt`). Returns {"text", "usage", "finish_reason"} or {"error": why, "kind": the error's type} after the
    retries (fewer once `stop()` is true: a cancelled run sends no retry); raises CurationError when no request can
    succeed (a refused key, an unknown model) and NoCompletionsAPI when a raw completion meets an endpoint without
    that API."""
    import openai

    completion = "prompt" in payload
    tries = int(max_retries) + 1
    for attempt in range(tries):
        try:
            if payload.get("stream"):
                return streamed(client, payload, completion)
            if completion:
                response = client.completions.create(**payload)
            else:
                response = client.chat.completions.create(**payload)
            choices = getattr(response, "choices", None) or []
            first = choices[0] if choices else None
            if completion:
                text = getattr(first, "text", None) if first is not None else None
            else:
                message = getattr(first, "message", None) if first is not None else None
                text = getattr(message, "content", None) if message is not None else None
            return {"text": text or "", "usage": usage_of(response),
                    "finish_reason": getattr(first, "finish_reason", None) if first is not None else None}
        except openai.OpenAIError as exc:
            kind = type(exc).__name__
            status = getattr(exc, "status_code", None)
            if completion and status in (404, 405):
                raise NoCompletionsAPI(
                    f"{endpoint_url(url)} has no raw completions API ({status} on /completions): this method sends a "
                    "chat template's text itself and needs one (vLLM, llama.cpp server, TGI and Ollama have it; "
                    "`transformers serve` and some hosted APIs do not)") from None
            if kind in FATAL:
                raise CurationError(f"{who} {endpoint_url(url)} refused the request "
                                    f"({status} {kind}): check --endpoint, --model and the API key",
                                    dashboard=f"{who} {endpoint_url(url)} refused the request ({status} {kind}): check the "
                                              "Endpoint, the Model and the API key") from None
            retried = kind in RETRIED or (isinstance(status, int) and status >= 500)
            if not retried or attempt == tries - 1 or (stop is not None and stop()):
                why = f"{status} {kind}" if status else kind
                return {"error": f"failed after {attempt + 1} tries: {why}", "kind": kind}
            time.sleep(wait(exc, attempt, backoff))
        except ValueError as exc:  # a reply that is not the protocol's JSON
            if attempt == tries - 1 or (stop is not None and stop()):
                return {"error": f"failed after {attempt + 1} tries: bad response ({one_line(str(exc), 80)})", "kind": "bad response"}
            time.sleep(wait(None, attempt, backoff))
    return {"error": "failed"}  # not reached


def streamed(client, payload: dict, completion: bool) -> dict:
    """A streamed reply (server-sent events), joined: the same shape as a plain one."""
    create = client.completions.create if completion else client.chat.completions.create
    pieces: list[str] = []
    finish = usage = None
    for chunk in create(**payload):
        usage = usage_of(chunk) or usage
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "text", None) if completion else getattr(getattr(choice, "delta", None), "content", None)
            if delta:
                pieces.append(delta)
            finish = getattr(choice, "finish_reason", None) or finish
    return {"text": "".join(pieces), "usage": usage, "finish_reason": finish}


def count_tokens(texts: list[str]) -> tuple[int, str]:
    """Total tokens of the texts with the Llama-3 tokenizer, or characters / 4 when it is not installed."""
    try:
        from curation.tokenize import DEFAULT, get_counter

        return int(get_counter(DEFAULT).count(texts).sum()), DEFAULT
    except (CurationError, ImportError):
        return sum(math.ceil(len(t) / 4) for t in texts), "characters / 4"


def rough_tokens(text: str) -> int:
    """Characters / 4: the per-request count the budget reserves before a reply says how many were used."""
    return math.ceil(len(text) / 4)
