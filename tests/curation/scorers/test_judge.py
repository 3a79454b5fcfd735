"""The LLM judge against a local OpenAI-compatible stub server on 127.0.0.1: replies good and bad, 429, 5xx, timeouts."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curation.errors import CurationError
from curation.scorers import exchanges, get_scorer
from curation.scorers.judge import RUBRIC, count_tokens, endpoint_url, parse_reply, user_message
from tests.curation.scorers.test_base import frame

FAST = {"backoff": 0.01, "timeout": 2.0, "max_retries": 3, "concurrency": 4, "model": "stub-model"}


class Stub:
    """A chat-completions server whose behaviour is chosen by a marker in the judged answer."""

    def __init__(self, status: int | None = None):
        self.hits: Counter[str] = Counter()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.status = status  # answer every request with this status (401…)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code: int, body: str | bytes, headers: dict | None = None):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self.send(200, json.dumps({"object": "list", "data": [{"id": "listed-model", "object": "model", "created": 0,
                                                                           "owned_by": "stub"}]}))
                else:
                    self.send(404, "{}")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append(body)
                if stub.status:
                    return self.send(stub.status, json.dumps({"error": {"message": "nope", "type": "auth"}}))
                judged = body["messages"][1]["content"]
                marker = judged.split("[", 1)[1].split("]", 1)[0] if "[" in judged else "plain"
                with stub.lock:
                    stub.hits[marker] += 1
                    n = stub.hits[marker]
                reminded = len(body["messages"]) > 2
                code, reply, headers = 200, '{"score": 4, "reason": "correct and clear"}', None
                if marker == "fenced":
                    reply = 'Sure! Here is my rating:\n```json\n{"score": 5, "reason": "excellent\\nanswer"}\n```'
                elif marker == "prose":
                    reply = "Score: 2\nThe answer is off-topic."
                elif marker == "junk":
                    reply = "I would rather not say."
                elif marker == "junk-once":
                    reply = '{"score": 3, "reason": "fine after a reminder"}' if reminded else "Hmm, hard to tell."
                elif marker == "out-of-range":
                    reply = '{"score": 9, "reason": "too good"}'
                elif marker == "429x2" and n <= 2:
                    code, headers = 429, {"Retry-After": "0"}
                elif marker == "500":
                    code = 500
                elif marker == "slow-once" and n == 1:
                    time.sleep(1.5)
                elif marker == "not-json" and n == 1:
                    return self.send(200, "<html>gateway error</html>")
                elif marker == "no-choices":
                    return self.send(200, json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                                      "choices": []}))
                if code != 200:
                    return self.send(code, json.dumps({"error": {"message": "try later", "type": "server"}}), headers)
                self.send(200, json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    s = Stub()
    yield s
    s.close()


ANSWERS = ["plain", "fenced", "prose", "junk", "junk-once", "out-of-range", "429x2", "500", "slow-once", "not-json", "no-choices"]


def judged(stub, ws, **extra):
    f = frame([{"instruction": f"Question {i}", "output": f"Answer [{m}] {i}"} for i, m in enumerate(ANSWERS)])
    return f, get_scorer("judge").score(ws, f, endpoint=stub.url, **{**FAST, "timeout": 0.5, **extra})


def test_judge_scores_parses_retries_and_fails_cleanly(stub, ws):
    f, out = judged(stub, ws)
    by = dict(zip(ANSWERS, zip(out["score"], out["reason"])))
    assert by["plain"] == (4.0, "correct and clear")
    assert by["fenced"] == (5.0, "excellent answer")  # text and a code fence around the JSON; one line
    assert by["prose"] == (2.0, "The answer is off-topic.")
    assert by["junk-once"] == (3.0, "fine after a reminder")
    assert by["429x2"] == (4.0, "correct and clear") and stub.hits["429x2"] == 3
    assert by["slow-once"][0] == 4.0 and stub.hits["slow-once"] == 2  # timed out once, then answered
    assert by["not-json"][0] == 4.0 and stub.hits["not-json"] == 2
    assert math.isnan(by["junk"][0]) and by["junk"][1].startswith("unparseable reply: I would rather not say")
    assert stub.hits["junk"] == 2  # asked once more with a reminder of the format
    assert math.isnan(by["out-of-range"][0])
    assert math.isnan(by["500"][0]) and by["500"][1] == "failed after 4 tries: 500 InternalServerError"
    assert stub.hits["500"] == 4
    assert math.isnan(by["no-choices"][0])
    info = out.attrs["info"]
    assert (info["scored"], info["failed"], info["computed"]) == (7, 4, 7)
    first = stub.requests[0]
    assert first["model"] == "stub-model" and first["temperature"] == 0
    assert first["messages"][0] == {"role": "system", "content": RUBRIC}

    before = sum(stub.hits.values())
    again = get_scorer("judge").score(ws, f, endpoint=stub.url, **FAST)
    assert again.attrs["info"]["cached"] == 7
    retried = sum(stub.hits.values()) - before
    assert retried == 2 + 2 + 4 + 2  # only the failed ones are asked again: junk, out-of-range, 500, no-choices
    assert again["score"].notna().sum() == 7


def test_a_refused_key_stops_the_run(ws):
    s = Stub(status=401)
    try:
        f = frame([{"instruction": "q", "output": f"a{i}"} for i in range(5)])
        with pytest.raises(CurationError, match="refused the request .401 AuthenticationError.: check --endpoint"):
            get_scorer("judge").score(ws, f, endpoint=s.url, **FAST)
        assert len(s.requests) <= FAST["concurrency"]  # no retry of a 401
    finally:
        s.close()


def test_model_defaults_to_the_endpoints_first(stub, ws):
    f = frame([{"instruction": "q", "output": "a"}])
    out = get_scorer("judge").score(ws, f, endpoint=stub.url, **{**FAST, "model": None})
    assert out["score"].tolist() == [4.0] and stub.requests[-1]["model"] == "listed-model"


def test_cost_estimate_before_running(stub, ws):
    f = frame([{"instruction": "Question", "output": "An answer of some length."}] * 2 + [{"instruction": "Q2", "output": "B"}])
    judge = get_scorer("judge")
    est = judge.estimate(ws, f, endpoint=stub.url, price_per_1k=0.5, reply_tokens=40, **FAST)
    tokens, how = count_tokens([RUBRIC + "\n" + user_message(e) for e in exchanges(f)[1:]])
    assert (est["records"], est["to_compute"], est["cached"]) == (3, 2, 0)
    assert est["input_tokens"] == tokens > 100 and est["output_tokens"] == 80
    assert est["cost"] == round((tokens + 80) / 1000 * 0.5, 4)
    assert stub.requests == []  # nothing was sent
    judge.score(ws, f, endpoint=stub.url, **FAST)
    assert judge.estimate(ws, f, endpoint=stub.url, price_per_1k=0.5, **FAST)["to_compute"] == 0


def test_endpoint_urls_and_keys(monkeypatch):
    assert endpoint_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert endpoint_url("http://localhost:11434/v1/") == "http://localhost:11434/v1"
    with pytest.raises(CurationError, match="bad --endpoint"):
        endpoint_url("localhost:8000")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CurationError, match="needs an API key"):
        get_scorer("judge").client(get_scorer("judge").resolve({"endpoint": "https://api.openai.com/v1"}))


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"score": 4, "reason": "good"}', (4.0, "good")),
    ("{'score': 2, 'reason': 'single quotes'}", (2.0, "single quotes")),
    ('<think>{"score": 1}</think>{"Score": "5", "Explanation": "case and strings"}', (5.0, "case and strings")),
    ('{"verdict": {"score": 3, "reason": "nested"}}', (3.0, "nested")),
    ("Rating: 4/5 — mostly right", (4.0, "mostly right")),
    ("3\nIt is acceptable.", (3.0, "It is acceptable.")),
    ("Score: 7", None),
    ("", None),
    (None, None),
    ("no number here at all", None),
    ('{"score": "high"}', None),
])
def test_parse_reply(reply, expected):
    assert parse_reply(reply) == expected
