"""`judge`: an LLM rates each answer 1–5 with a one-line reason, through any OpenAI-compatible endpoint.

Works with vLLM, Ollama, the llama.cpp server, `transformers serve`, OpenAI and
anything else that speaks chat completions (`--endpoint URL`; a bare
`http://host:port` gets `/v1`). The model is `--model`, else the endpoint's
first listed model. The API key is read from an environment variable
(`--api-key-env`, default `OPENAI_API_KEY`) and never stored.

The rubric (`RUBRIC` below, printed in the README) is AlpaGasus-style: one
score for accuracy and helpfulness on a 1–5 scale with anchored levels, and a
one-line reason, asked for as JSON. Replies are parsed tolerantly (code fences,
text around the JSON, single quotes, "Score: 4", "4/5"); an unparseable reply
is asked once more, then counted as failed. Requests run `concurrency` at a
time in threads; 429, 5xx, timeouts and dropped connections are retried with
exponential backoff (honouring `Retry-After`); 401/403/404 stop the run at once
(every request would fail the same way). Failed records are not cached: the
next run asks again. `estimate` counts tokens (Llama-3 tokenizer, else
characters / 4) times `price_per_1k` before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from curation.errors import CurationError
from curation.llm import client as llm
from curation.llm.client import count_tokens, endpoint_url, one_line
from curation.scorers.base import Exchange, Scorer
from curation.workspace import Workspace

RUBRIC = """\
You review training data for an instruction-following assistant. You are shown a conversation \
(the user's request, and earlier turns if any) and the assistant's response to its last request.

Rate the response on a scale of 1 to 5 for how accurately and helpfully it answers:
5 - excellent: correct, complete and directly useful; clear; nothing an expert would change.
4 - good: correct and helpful, with minor omissions or style issues.
3 - acceptable: partly helpful; vague, incomplete, or with small errors.
2 - poor: mostly unhelpful, off-topic, or with significant errors.
1 - unusable: wrong, harmful, empty, cut off, a refusal of a harmless request, or not an answer.
Judge accuracy first, then helpfulness, then clarity. Do not reward length for its own sake.

Reply with one JSON object and nothing else:
{"score": <integer 1-5>, "reason": "<one line>"}"""
REMINDER = 'Reply with only the JSON object, e.g. {"score": 3, "reason": "correct but incomplete"}.'
def user_message(item: Exchange) -> str:
    system = f"## System prompt\n{item.system}\n\n" if item.system else ""
    return f"{system}## Conversation\n{item.prompt}\n\n## Response\n{item.answer}"


# --- replies -------------------------------------------------------------------------------------------------

SCORE_PATTERNS = (
    r"""["']?score["']?\s*[:=]\s*["']?(\d+(?:\.\d+)?)""",
    r"\b(\d(?:\.\d+)?)\s*/\s*5\b",
    r"(?i)\brating\s*(?:of|:|=)?\s*(\d(?:\.\d+)?)",
    r"^\s*(\d(?:\.\d+)?)\s*(?:$|[-:.)\n])",
)


def json_objects(text: str):
    """Every {...} span of the text that parses as a JSON object (lenient about single quotes)."""
    starts = [m.start() for m in re.finditer(r"\{", text)]
    for s in starts:
        depth = 0
        for i in range(s, min(len(text), s + 4000)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    chunk = text[s : i + 1]
                    for candidate in (chunk, chunk.replace("'", '"')):
                        try:
                            value = json.loads(candidate)
                        except ValueError:
                            continue
                        if isinstance(value, dict):
                            yield value
                            break
                    break


def parse_reply(text) -> tuple[float, str] | None:
    """(score 1–5, one-line reason) from a judge's reply, or None when no score can be found in it."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.S)  # reasoning models
    for obj in json_objects(text):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        raw = next((lowered[k] for k in ("score", "rating", "grade") if k in lowered), None)
        try:
            score = float(raw)
        except (TypeError, ValueError):
            continue
        if 1 <= score <= 5:
            reason = next((lowered[k] for k in ("reason", "explanation", "rationale", "justification") if k in lowered), "")
            return score, one_line(reason)
    for pattern in SCORE_PATTERNS:
        m = re.search(pattern, text, flags=re.M | re.I)
        if m and 1 <= float(m.group(1)) <= 5:
            rest = text[: m.start()] + " " + text[m.end() :]
            rest = re.sub(r"""(?i)["']?\b(reason|score|rating)\b["']?\s*[:=]?\s*""", " ", rest)
            return float(m.group(1)), one_line(rest.lstrip(" \n\t:-–—.,;`{}\"'").rstrip(" \n\t:-–—,;`{}\"'"))
    return None


# --- the scorer ------------------------------------------------------------------------------------------------

class Judge(Scorer):
    name = "judge"
    description = ("an LLM judge through any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, OpenAI): "
                   "a published 1-5 rubric with a one-line reason; concurrent, retried, with a cost estimate first")
    options = {"endpoint": None, "model": None, "api_key_env": "OPENAI_API_KEY", "price_per_1k": 0.0, "concurrency": 8,
               "max_retries": 4, "timeout": 60.0, "backoff": 1.0, "max_tokens": 200, "reply_tokens": 40, "rubric": None,
               "batch_size": 32}

    def identity(self, ws: Workspace, opts: dict) -> dict:
        rubric = opts["rubric"] or RUBRIC
        return {"endpoint": endpoint_url(opts["endpoint"]), "model": self.model_name(opts),
                "rubric": hashlib.blake2b(rubric.encode(), digest_size=8).hexdigest(), "max_tokens": opts["max_tokens"]}

    def client(self, opts: dict):
        return llm.connect(opts["endpoint"], opts["api_key_env"], float(opts["timeout"]), who="the judge")

    def model_name(self, opts: dict) -> str:
        if opts["model"]:
            return str(opts["model"])
        if not opts.get("_model"):
            opts["_model"] = self.first_model(opts)
        return opts["_model"]

    def first_model(self, opts: dict) -> str:
        return llm.first_model(self.client(opts), opts["endpoint"])

    def resolve(self, options: dict) -> dict:
        opts = super().resolve(options)
        if int(opts["concurrency"]) < 1 or int(opts["max_retries"]) < 0:
            raise CurationError("--concurrency must be at least 1 and max_retries at least 0",
                                dashboard="Concurrency must be at least 1 and retries at least 0")
        return opts

    def load(self, ws: Workspace, opts: dict):
        return self.client(opts)

    def compute(self, client, items: list[Exchange], opts: dict) -> list[dict]:
        stop = threading.Event()  # set by a request the endpoint refuses: the requests not sent yet are not sent

        def one(item: Exchange) -> dict:
            if stop.is_set():
                return {"score": math.nan, "reason": "not sent", "failed": True}
            try:
                return self.judge_one(client, item, opts)
            except CurationError:
                stop.set()
                raise

        with ThreadPoolExecutor(max_workers=int(opts["concurrency"])) as pool:
            return list(pool.map(one, items))

    def judge_one(self, client, item: Exchange, opts: dict) -> dict:
        messages = [{"role": "system", "content": opts["rubric"] or RUBRIC}, {"role": "user", "content": user_message(item)}]
        reply = self.ask(client, messages, opts)
        if "error" in reply:
            return {"score": math.nan, "reason": reply["error"], "failed": True}
        parsed = parse_reply(reply["text"])
        if parsed is None:  # ask once more, reminding it of the format
            again = self.ask(client, [*messages, {"role": "assistant", "content": reply["text"] or ""},
                                      {"role": "user", "content": REMINDER}], opts)
            parsed = parse_reply(again.get("text"))
            if parsed is None:
                shown = one_line(again.get("text") or again.get("error") or reply["text"] or "(empty)", 80)
                return {"score": math.nan, "reason": f"unparseable reply: {shown}", "failed": True}
        score, reason = parsed
        return {"score": score, "reason": reason}

    def ask(self, client, messages: list[dict], opts: dict) -> dict:
        """{"text": reply} or {"error": why}, after retries; raises CurationError when no request can succeed."""
        payload = {"model": self.model_name(opts), "messages": messages, "temperature": 0, "max_tokens": int(opts["max_tokens"])}
        return llm.request(client, payload, url=opts["endpoint"], max_retries=int(opts["max_retries"]),
                           backoff=float(opts["backoff"]), who="the judge endpoint")

    wait = staticmethod(llm.wait)

    def estimate_cost(self, items: list[Exchange], opts: dict) -> dict:
        texts = [(opts["rubric"] or RUBRIC) + "\n" + user_message(it) for it in items]
        tokens, how = count_tokens(texts)
        out_tokens = int(opts["reply_tokens"]) * len(items)
        price = float(opts["price_per_1k"] or 0.0)
        return {"input_tokens": tokens, "output_tokens": out_tokens, "tokenizer": how, "price_per_1k": price,
                "cost": round((tokens + out_tokens) / 1000 * price, 4)}


SCORER = Judge()
