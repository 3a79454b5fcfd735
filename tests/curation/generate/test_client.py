"""The shared LLM client and a run's session against a local OpenAI-compatible stub on 127.0.0.1: streaming, 429 then
success, malformed JSON, timeouts, refused keys, a missing completions API, the budget, the cache, the key never
written anywhere."""

from __future__ import annotations

import json

import pytest

from curation.errors import CurationError
from curation.llm import client as llm
from curation.llm.client import NoCompletionsAPI
from curation.llm.session import Session
from tests.curation.generate.stub import GenStub, Reply

FAST = {"backoff": 0.01, "timeout": 0.5, "max_retries": 3, "model": "stub-model"}


def by_marker(body: dict, n: int):
    text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
    if text == "429 twice" and n <= 2:
        return Reply(429, headers={"Retry-After": "0"})
    if text == "not json once" and n == 1:
        return Reply(200, body="<html>bad gateway</html>")
    if text == "slow once" and n == 1:
        return Reply(delay=1.5)
    if text == "always 500":
        return Reply(500)
    return f"echo: {text}"


@pytest.fixture
def stub():
    s = GenStub(by_marker)
    yield s
    s.close()


def chat(text: str, **params) -> dict:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 20, **params}


def test_retries_429_malformed_json_and_timeouts_then_succeeds(stub, ws):
    session = Session(ws, endpoint=stub.url, concurrency=4, **FAST)
    replies = session.ask_many([chat("429 twice"), chat("not json once"), chat("slow once"), chat("plain")])
    assert [r["text"] for r in replies] == ["echo: 429 twice", "echo: not json once", "echo: slow once", "echo: plain"]
    texts = [r["messages"][0]["content"] for r in stub.requests]
    assert texts.count("429 twice") == 3 and texts.count("not json once") == 2 and texts.count("slow once") == 2
    assert session.spend.sent == 4 and session.spend.failed == 0


def test_a_request_failing_every_try_is_an_error_not_an_exception(stub, ws):
    session = Session(ws, endpoint=stub.url, **FAST)
    reply = session.ask(chat("always 500"))
    assert reply["error"] == "failed after 4 tries: 500 InternalServerError"
    assert session.spend.failed == 1
    assert session.cached(chat("always 500")) is None  # failures are not cached: the next run asks again


def test_streamed_replies_are_joined(stub, ws):
    session = Session(ws, endpoint=stub.url, stream=True, **FAST)
    reply = session.ask(chat("a fairly long message to be streamed in pieces"))
    assert reply["text"] == "echo: a fairly long message to be streamed in pieces"
    assert stub.requests[-1]["stream"] is True
    plain = Session(ws, endpoint=stub.url, **FAST).ask(chat("a fairly long message to be streamed in pieces"))
    assert plain["cached"] and plain["text"] == reply["text"]  # streamed or not, one cache key


def test_the_cache_answers_a_request_met_again_for_free(stub, ws):
    first = Session(ws, endpoint=stub.url, **FAST)
    first.ask_many([chat("one"), chat("two")])
    again = Session(ws, endpoint=stub.url, **FAST)
    replies = again.ask_many([chat("one"), chat("two"), chat("three")])
    assert [r["cached"] for r in replies] == [True, True, False]
    assert again.spend.cached == 2 and again.spend.sent == 1 and len(stub.requests) == 3
    assert again.ask(chat("one", temperature=0.5))["cached"] is False  # any sampling change is a new request


def test_the_budget_stops_sending_before_it_is_passed(stub, ws):
    limit = 200
    session = Session(ws, endpoint=stub.url, budget_tokens=limit, concurrency=1, **FAST)
    replies = session.ask_many([chat(f"question number {i} " + "x" * 120, max_tokens=40) for i in range(10)])
    sent = [r for r in replies if "text" in r]
    skipped = [r for r in replies if r.get("skipped") == "budget"]
    assert sent and skipped and len(sent) + len(skipped) == 10
    assert session.exhausted and session.spend.skipped == len(skipped)
    assert session.spent_tokens() <= limit and len(stub.requests) == len(sent)


def test_a_cost_budget_needs_a_price(ws):
    with pytest.raises(CurationError, match="--budget-cost needs --price-per-1k"):
        Session(ws, endpoint="http://127.0.0.1:9/v1", budget_cost=1.0)
    s = Session(ws, endpoint="http://127.0.0.1:9/v1", budget_cost=0.5, price_per_1k=2.0)
    assert s.limit == 250


def test_a_refused_key_stops_at_once(ws):
    s = GenStub(lambda body, n: Reply(401))
    try:
        with pytest.raises(CurationError, match=r"refused the request \(401 AuthenticationError\)"):
            Session(ws, endpoint=s.url, **FAST).ask(chat("hello"))
        assert len(s.requests) == 1
    finally:
        s.close()


def test_no_completions_api_is_said_clearly(ws):
    s = GenStub(by_marker, completions=False)
    try:
        with pytest.raises(NoCompletionsAPI, match="has no raw completions API .404 on /completions."):
            Session(ws, endpoint=s.url, **FAST).ask({"prompt": "<|im_start|>user\n", "max_tokens": 5})
    finally:
        s.close()


def test_usage_missing_is_estimated(ws):
    s = GenStub(by_marker, usage=False)
    try:
        session = Session(ws, endpoint=s.url, **FAST)
        session.ask(chat("x" * 400))
        assert session.spend.prompt_tokens == 100 and session.spend.completion_tokens == llm.rough_tokens("echo: " + "x" * 400)
    finally:
        s.close()


def test_the_key_is_sent_but_never_written(stub, ws, monkeypatch):
    monkeypatch.setenv("GEN_TEST_KEY", "sk-very-secret-123")
    session = Session(ws, endpoint=stub.url, api_key_env="GEN_TEST_KEY", **FAST)
    session.ask(chat("hello"))
    session.close()
    assert stub.requests[-1]["_auth"] == "Bearer sk-very-secret-123"
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert b"sk-very-secret-123" not in path.read_bytes(), path


def test_model_defaults_to_the_endpoints_first(stub, ws):
    session = Session(ws, endpoint=stub.url, **{**FAST, "model": None})
    session.ask(chat("hi"))
    assert stub.requests[-1]["model"] == "stub-model"


def test_rate_limit_spaces_request_starts(stub, ws, monkeypatch):
    class Clock:  # a clock that moves only when the session sleeps: no real time in the assertion
        now = 1000.0
        waits: list[float] = []

        def monotonic(self):
            return self.now

        def sleep(self, s):
            self.waits.append(s)
            self.now += s

    clock = Clock()
    monkeypatch.setattr("curation.llm.session.time", clock)
    session = Session(ws, endpoint=stub.url, rpm=600, concurrency=1, **FAST)
    session.ask_many([chat(f"r{i}") for i in range(3)])
    assert clock.waits == pytest.approx([0.1, 0.1])  # 600 a minute: one start every 0.1 s


def test_endpoint_urls_and_hosts(monkeypatch):
    assert llm.endpoint_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert llm.endpoint_host("https://user:pw@api.example.com/v1") == "api.example.com"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    assert llm.endpoint_url(None) == "http://localhost:11434/v1"
    with pytest.raises(CurationError, match="bad --endpoint"):
        llm.endpoint_url("localhost:8000")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CurationError, match="needs an API key"):
        llm.connect("https://api.openai.com/v1", "OPENAI_API_KEY")


def test_the_cache_file_holds_requests_not_keys(stub, ws):
    session = Session(ws, endpoint=stub.url, **FAST)
    session.ask(chat("remember me"))
    session.close()
    import sqlite3

    rows = sqlite3.connect(ws.root / "llm" / "cache.db").execute("SELECT request, response FROM responses").fetchall()
    assert len(rows) == 1 and json.loads(rows[0][0])["messages"][0]["content"] == "remember me"
    assert json.loads(rows[0][1])["text"] == "echo: remember me"


def dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_nothing_listening_is_said_at_once_not_as_a_missing_model(ws):
    url = f"http://127.0.0.1:{dead_port()}/v1"
    with pytest.raises(CurationError, match=r"nothing answers at .* \(APIConnectionError\): start an OpenAI-compatible server") as err:
        assert Session(ws, endpoint=url, backoff=0.01, timeout=1.0).model
    assert "Endpoint field" in err.value.dashboard and "Model" not in str(err.value)
    session = Session(ws, endpoint=url, **{**FAST, "max_retries": 1})  # a model given: the first request says it
    with pytest.raises(CurationError, match="nothing answers at"):
        session.ask_many([chat("a"), chat("b")])
    assert session.spend.failed >= 1 and "APIConnectionError" in session.spend.last_error


def test_an_endpoint_that_answered_once_then_drops_fails_requests_not_the_run(stub, ws):
    session = Session(ws, endpoint=stub.url, **{**FAST, "max_retries": 0})
    assert session.ask(chat("plain"))["text"] == "echo: plain"
    stub.close()
    assert session.ask(chat("after"))["error"] == "failed after 1 tries: APIConnectionError"


def test_cancel_sends_nothing_more_and_the_spend_is_reported_live(stub, ws):
    stop, seen = [False], []
    session = Session(ws, endpoint=stub.url, concurrency=1, cancelled=lambda: stop[0], on_spend=seen.append, **FAST)
    assert session.ask(chat("first"))["text"] == "echo: first"
    assert [s["waiting"] for s in seen] == [1, 0] and seen[-1]["sent"] == 1
    stop[0] = True
    assert session.ask_many([chat("second"), chat("third")]) == [{"skipped": "cancelled", "key": session.key(chat(t))}
                                                                 for t in ("second", "third")]
    assert len(stub.requests) == 1 and session.spend.sent == 1 and session.spend.skipped == 0
    assert session.ask(chat("first"))["cached"]  # the cache still answers: it costs nothing
