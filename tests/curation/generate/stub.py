"""A local OpenAI-compatible server on 127.0.0.1 for the generation tests: chat completions (plain and streamed),
raw completions (optional), /v1/models; what it answers is decided by a Python function of the request body."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Reply:
    """What the stub sends instead of a normal answer."""

    def __init__(self, status: int = 200, body: str | None = None, headers: dict | None = None, delay: float = 0.0):
        self.status, self.body, self.headers, self.delay = status, body, headers or {}, delay


class GenStub:
    def __init__(self, answer, *, completions: bool = True, usage: bool = True):
        self.answer = answer  # answer(body: dict, n: int) -> str | Reply  (n: how often this exact body came)
        self.completions = completions
        self.usage = usage
        self.requests: list[dict] = []
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code: int, body: str, headers: dict | None = None, ctype: str = "application/json"):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    return self.send(200, json.dumps({"object": "list", "data": [{"id": "stub-model", "object": "model",
                                                                                  "created": 0, "owned_by": "stub"}]}))
                self.send(404, "{}")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                completion = self.path.rstrip("/").endswith("/v1/completions")
                if completion and not stub.completions:
                    return self.send(404, json.dumps({"detail": "Not Found"}))
                key = hashlib.md5(json.dumps(body, sort_keys=True).encode()).hexdigest()
                with stub.lock:
                    stub.requests.append({**body, "_path": self.path, "_auth": self.headers.get("Authorization")})
                    stub.seen[key] += 1
                    n = stub.seen[key]
                reply = stub.answer(body, n)
                if isinstance(reply, Reply):
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.status != 200 or reply.body is not None:
                        return self.send(reply.status, reply.body or json.dumps({"error": {"message": "stub"}}), reply.headers)
                    reply = "ok"
                prompt_len = len(json.dumps(body.get("messages") or body.get("prompt"))) // 4
                usage = {"prompt_tokens": prompt_len, "completion_tokens": max(1, len(reply) // 4),
                         "total_tokens": prompt_len + max(1, len(reply) // 4)}
                if body.get("stream"):
                    chunks = [reply[i:i + 8] for i in range(0, len(reply), 8)] or [""]
                    lines = [json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                                         "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]})
                             for c in chunks]
                    lines.append(json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
                    return self.send(200, "".join(f"data: {x}\n\n" for x in lines) + "data: [DONE]\n\n",
                                     ctype="text/event-stream")
                if completion:
                    out = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}]}
                else:
                    out = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": reply}}]}
                if stub.usage:
                    out["usage"] = usage
                self.send(200, json.dumps(out))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def prompts(self) -> list[str]:
        return [r["messages"][-1]["content"] if "messages" in r else r["prompt"] for r in self.requests]


# --- a scripted "model" that plays each method's part ---------------------------------------------------------------

VERBS = ["Describe", "Explain", "Summarize", "Compare", "List", "Suggest", "Rewrite", "Classify", "Translate", "Outline",
         "Evaluate", "Estimate", "Recommend", "Identify", "Convert"]
THINGS = ["volcano eruptions", "tax returns", "chess openings", "sourdough bread", "solar panels", "medieval castles",
          "jazz harmony", "rainforest frogs", "credit scores", "marathon training", "glacier retreat", "cloud storage",
          "origami cranes", "coral reefs", "wind turbines", "ancient Rome", "coffee roasting", "bike repair"]
ASPECTS = ["history", "main risks", "costs", "benefits", "common myths", "daily routine", "key vocabulary", "safety rules",
           "best practices", "future trends"]


def invented(seed: str, i: int) -> str:
    h = int(hashlib.md5(f"{seed}:{i}".encode()).hexdigest(), 16)
    verb, thing, aspect = VERBS[h % len(VERBS)], THINGS[(h // 97) % len(THINGS)], ASPECTS[(h // 9973) % len(ASPECTS)]
    return f"{verb} the {aspect} of {thing} for a curious {['child', 'student', 'expert', 'tourist'][(h // 7) % 4]}."


def scripted(body: dict, n: int) -> str:
    """One plausible answer per kind of prompt of the four methods; a generation list always holds one candidate each
    filter rejects, so every reason code shows up."""
    text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
    seed = str(body.get("seed", "")) + text[-200:]
    if text.startswith("Come up with a series of tasks"):
        start = int(re.findall(r"(\d+)\.$", text)[0])
        items = [invented(seed, 0), "Create an image of a cat sitting on a wall.", "Tell a joke.",
                 "Write a program that sorts a list of numbers in Python.", invented(seed, 1),
                 "Éxplain the French revolution in two paragraphs.", "- Name three colours of the rainbow please.",
                 re.findall(r"\n1\. (.*)\n", text)[0], invented(seed, 2)]
        return " " + items[0] + "".join(f"\n{start + i}. {it}" for i, it in enumerate(items[1:], 1))
    if text.startswith("Can the following task be regarded"):
        task = text.rsplit("Task: ", 1)[1]
        return " Yes" if task.startswith("Classify") else " No"
    if text.startswith("Come up with examples"):
        return "Example 1\nText: a short example input\nOutput: a fitting answer"
    if text.startswith("Given the classification task"):
        return "Class label: Positive\nSentence: I loved every minute of it.\nClass label: Negative\nSentence: Dull."
    if text.startswith("You are asked to come up with a set of 20"):
        start = int(re.findall(r"(\d+)\. Instruction:$", text)[0])
        tasks = [(invented(seed, 0), "<noinput>", "An answer."), ("Draw a map of the city centre for tourists.", "", "x"),
                 (invented(seed, 1), "Some input text here.", "Another answer.")]
        out = ""
        for i, (a, b, c) in enumerate(tasks):
            k = start + i
            out += ("" if i == 0 else f"###\n{k}. Instruction: ") + f"{a}\n{k}. Input:\n{b}\n{k}. Output:\n{c}\n"
        return " " + out + f"###\n{start + 3}. Instruction: broken item without fields\n"
    if text.startswith("I want you act as a Prompt"):
        given = text.split("Prompt#:\n", 1)[1].rsplit("\n#", 1)[0]
        if "Hello" in given:
            return "#Rewritten Prompt#: The given prompt, rewritten."
        return given.strip() + " Answer in exactly three numbered steps and cite one source."
    if text.startswith("Here are two Instructions"):
        return "Equal" if "Summarize" in text.split("The Second Prompt:")[1] else "Not Equal"
    if text.startswith("<|im_start|>user"):
        return invented(seed, 0) if n == 1 else "Explain photosynthesis to a child."
    if "refuse" in text.lower():
        return "I'm sorry, I cannot help with that."
    return "A detailed and helpful answer with several concrete points about the topic."
