"""Export: golden templates, Hugging Face chat templates, the sandbox, shapes, splits, round trips, determinism, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import dedup, embed
from curation.cli import main as cli
from curation.decisions import decide
from curation.errors import CurationError
from curation.export import TEMPLATES, Options, assign_splits, export, get_template, parse_splits
from curation.export.shapes import conversation, prompt_completion, render, shaped
from curation.export.templates import custom, from_tokenizer
from curation.ingest import ingest
from curation.records import dumps
from curation.store import load_records
from tests.conftest import write_jsonl
from tests.curation.test_dedup import bag_of_words

SINGLE = {"instruction": "Name a primary colour.", "input": "", "output": "Red.", "system": "", "messages": None}
WITH_INPUT = {"instruction": "Translate to French.", "input": "cat", "output": "chat", "system": "", "messages": None}
MULTI = {"instruction": "And tomorrow?", "input": "", "output": "Rain.", "system": "Be brief.",
         "messages": dumps([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather today?"},
                            {"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "And tomorrow?"},
                            {"role": "assistant", "content": "Rain."}])}
ALPACA_HEAD = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
ALPACA_INPUT_HEAD = ("Below is an instruction that describes a task, paired with an input that provides further context. "
                     "Write a response that appropriately completes the request.\n\n")
VICUNA_HEAD = ("A chat between a curious user and an artificial intelligence assistant. "
               "The assistant gives helpful, detailed, and polite answers to the user's questions. ")
GOLDEN = {
    "alpaca": (
        ALPACA_HEAD + "### Instruction:\nName a primary colour.\n\n### Response:\nRed.",
        ALPACA_INPUT_HEAD + "### Instruction:\nTranslate to French.\n\n### Input:\ncat\n\n### Response:\nchat",
        "Be brief.\n\n### Instruction:\nWeather today?\n\n### Response:\nSunny.\n\n### Instruction:\nAnd tomorrow?\n\n### Response:\nRain.",
    ),
    "chatml": (
        "<|im_start|>user\nName a primary colour.<|im_end|>\n<|im_start|>assistant\nRed.<|im_end|>\n",
        "<|im_start|>user\nTranslate to French.\n\ncat<|im_end|>\n<|im_start|>assistant\nchat<|im_end|>\n",
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWeather today?<|im_end|>\n<|im_start|>assistant\nSunny.<|im_end|>\n"
        "<|im_start|>user\nAnd tomorrow?<|im_end|>\n<|im_start|>assistant\nRain.<|im_end|>\n",
    ),
    "llama-3": (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nName a primary colour.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nRed.<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nTranslate to French.\n\ncat<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nchat<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWeather today?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nSunny.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd tomorrow?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nRain.<|eot_id|>",
    ),
    "mistral": (
        "<s>[INST] Name a primary colour. [/INST] Red.</s>",
        "<s>[INST] Translate to French.\n\ncat [/INST] chat</s>",
        "<s>[INST] Be brief.\n\nWeather today? [/INST] Sunny.</s>[INST] And tomorrow? [/INST] Rain.</s>",
    ),
    "vicuna": (
        VICUNA_HEAD + "USER: Name a primary colour. ASSISTANT: Red.</s>",
        VICUNA_HEAD + "USER: Translate to French.\n\ncat ASSISTANT: chat</s>",
        "Be brief. USER: Weather today? ASSISTANT: Sunny.</s>USER: And tomorrow? ASSISTANT: Rain.</s>",
    ),
}


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_golden_output_of_each_built_in_template(name):
    template = TEMPLATES[name]
    assert (render(template, SINGLE), render(template, WITH_INPUT), render(template, MULTI)) == GOLDEN[name]


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_prompt_and_completion_join_to_the_text_and_split_before_the_last_answer(name):
    template = TEMPLATES[name]
    for row in (SINGLE, WITH_INPUT, MULTI):
        prompt, completion = prompt_completion(template, row)
        assert prompt + completion == render(template, row)
        assert completion.startswith(row["output"]) and row["output"] not in prompt[-len(row["output"]) - 2 :]


def test_placeholder_inputs_become_empty():
    row = {**WITH_INPUT, "input": "<noinput>"}
    assert "noinput" not in render(TEMPLATES["alpaca"], row) and "### Input" not in render(TEMPLATES["alpaca"], row)
    assert shaped(row, "alpaca", TEMPLATES["alpaca"])["input"] == ""
    assert conversation(row)[0]["content"] == "Translate to French."


CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system = false %}{% endif %}"
    "{{ bos_token }}{% if system %}<<SYS>>{{ system }}<</SYS>>\n{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] | trim + eos_token }}\n"
    "{% else %}{{ '<|assistant|>\n' + message['content'] | tojson + eos_token }}\n{% endif %}"
    "{% endfor %}"
)


@pytest.fixture
def tokenizer_dir(tmp_path):
    """The bundled MiniLM tokenizer files, with a chat template added to their tokenizer_config.json."""
    from curation.embed import bundled_model_path

    folder = tmp_path / "tok"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino", "*.onnx"))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(chat_template=CHAT_TEMPLATE, bos_token="<s>", eos_token="</s>")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_hugging_face_chat_template_renders_like_apply_chat_template(tokenizer_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    template = get_template(str(tokenizer_dir))
    assert template.name == "hf:tok" and template.eos_token == "</s>"
    for row in (SINGLE, WITH_INPUT, MULTI):
        messages = conversation(row)
        assert render(template, row) == tokenizer.apply_chat_template(messages, tokenize=False)
    bad = {**SINGLE, "messages": dumps([{"role": "assistant", "content": "no user first"}])}
    with pytest.raises(CurationError, match="roles must alternate"):
        render(template, bad)


def test_a_tokenizer_folder_without_a_chat_template_is_a_clear_error(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(CurationError, match="no chat_template"):
        from_tokenizer(tmp_path)
    with pytest.raises(CurationError, match="unknown template"):
        get_template("gpt-5")


@pytest.mark.parametrize("name", ["/x/nosuch.jinja", "nosuch.jinja", "templates/chat", "NoSuch.JINJA"])
def test_a_template_path_that_does_not_exist_is_no_such_file(name):
    with pytest.raises(CurationError, match=f"no such file or folder: {re.escape(name)} "):
        get_template(name)


@pytest.mark.parametrize("attack", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__init__.__globals__ }}",
    "{{ raise_exception.__globals__['__builtins__'] }}",
    "{% set x = messages.append(1) %}{{ x }}",
])
def test_custom_templates_cannot_reach_python_internals(attack):
    with pytest.raises(CurationError, match="SecurityError|UndefinedError|failed"):
        render(custom(attack), SINGLE)


def test_a_custom_template_renders_and_a_broken_one_is_reported():
    template = custom("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}")
    assert render(template, WITH_INPUT) == "[user] Translate to French.\n\ncat\n[assistant] chat\n"
    with pytest.raises(CurationError, match="does not parse"):
        custom("{% for m in messages %}")


# splits

def test_parse_splits():
    assert parse_splits("train=0.9,validation=0.05,test=0.05") == pytest.approx({"train": 0.9, "validation": 0.05, "test": 0.05})
    assert parse_splits("a=3,b=1") == {"a": 0.75, "b": 0.25}
    for bad in ("train", "train=x", "train=0.5,train=0.5", "", "a=0"):
        with pytest.raises(CurationError):
            parse_splits(bad)


@pytest.mark.parametrize("spec", ["train=nan,test=0.1", "train=inf,test=1", "train=1,test=-inf", "train=1,test=0",
                                  "train=NaN"])
def test_split_ratios_must_be_finite_and_above_zero(spec):
    with pytest.raises(CurationError, match=r"bad split '\w+=[-\w]+': a ratio is a finite number above 0"):
        parse_splits(spec)
    with pytest.raises(CurationError, match="too large to add up"):
        parse_splits("a=1e308,b=1e308")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=120), st.integers(0, 2**16),
       st.sampled_from(["train=0.9,test=0.1", "train=0.8,validation=0.1,test=0.1", "a=1,b=1,c=1"]),
       st.sampled_from(["none", "source"]))
def test_splits_keep_groups_whole_match_ratios_and_are_deterministic(group_of, seed, spec, stratify):
    n = len(group_of)
    frame = pd.DataFrame({"record_id": [f"r{i:04d}" for i in range(n)], "source": ["human" if i % 3 else "synthetic" for i in range(n)]})
    groups = pd.Series([g if g else pd.NA for g in group_of], dtype="Int64")
    ratios = parse_splits(spec)
    split = assign_splits(frame, ratios, seed, stratify, groups)
    assert split.notna().all() and set(split) <= set(ratios)
    for g in set(group_of) - {0}:
        assert split[groups == g].nunique() == 1
    if stratify == "none":
        largest = max([int((groups == g).sum()) for g in set(group_of) - {0}] or [1])
        for name, ratio in ratios.items():
            assert abs(int((split == name).sum()) - ratio * n) <= largest + 1e-9
    assert split.equals(assign_splits(frame, ratios, seed, stratify, groups))
    shuffled = frame.sample(frac=1.0, random_state=1)
    again = assign_splits(shuffled, ratios, seed, stratify, groups[shuffled.index])
    assert again.sort_index().equals(split)  # a record's split does not depend on the order of the others


# exporting a workspace

ROWS = [{"instruction": f"Question {i} about {topic}?", "input": "" if i % 4 else "<noinput>", "output": f"Answer {i}.",
         "source": "human" if i % 2 else "synthetic"} for i, topic in enumerate(["rivers", "stars", "bread", "jazz"] * 10)]


@pytest.fixture
def filled(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", ROWS)))
    return ws


def digest_folder(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_two_exports_are_byte_identical(filled, tmp_path, fmt):
    opts = Options(template="chatml", format=fmt, split="train=0.8,validation=0.1,test=0.1", seed=7, similarity=False)
    first = export(filled, tmp_path / "one", opts)
    export(filled, tmp_path / "two", opts)
    assert digest_folder(tmp_path / "one") == digest_folder(tmp_path / "two")
    assert sum(first["splits"].values()) == len(ROWS)
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    for f in manifest["files"]:
        assert hashlib.sha256((tmp_path / "one" / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    assert manifest["versions"]["python"] and manifest["options"]["seed"] == 7


def test_hf_export_folder_itself_opens_with_load_from_disk_and_ingests_back(filled, tmp_path):
    from datasets import DatasetDict, load_from_disk

    out = tmp_path / "out"
    result = export(filled, out, Options(template="llama-3", format="hf", shape="prompt-completion", similarity=False))
    loaded = load_from_disk(str(out))
    assert isinstance(loaded, DatasetDict) and {k: len(v) for k, v in loaded.items()} == result["splits"] == {"train": 36, "test": 4}
    assert loaded["train"].column_names == ["prompt", "completion"]
    assert loaded["train"][0]["prompt"].startswith("<|begin_of_text|>")
    assert (out / "manifest.json").is_file() and (out / "dataset_dict.json").is_file() and not (out / "hf").exists()
    assert all(not f.startswith("hf/") for f in (e["path"] for e in json.loads((out / "manifest.json").read_text())["files"]))
    again = type(filled)(tmp_path / "again")
    assert ingest(again, str(out))["added"] == len(ROWS)


def test_rejected_records_are_excluded_by_reason_and_kept_only_is_an_option(filled, tmp_path):
    frame = load_records(filled)
    decide(filled, list(frame["record_id"][:3]), "reject", "near_duplicate_of:abc")
    decide(filled, list(frame["record_id"][3:5]), "reject", "short_output")
    decide(filled, list(frame["record_id"][5:15]), "keep", "manual")
    result = export(filled, tmp_path / "out", Options(similarity=False))
    assert result["excluded"] == {"near_duplicate_of": 3, "short_output": 2}
    assert sum(result["splits"].values()) == len(ROWS) - 5
    kept = export(filled, tmp_path / "kept", Options(kept_only=True, similarity=False))
    assert sum(kept["splits"].values()) == 10 and kept["excluded"]["undecided"] == len(ROWS) - 15
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["decisions"]["counts"] == {"keep": 10, "reject": 5} and manifest["tokenizer"] == "llama-3"


def test_max_tokens_drops_or_keeps_and_reports(filled, tmp_path):
    ingest(filled, str(write_jsonl(tmp_path / "long.jsonl", [{"instruction": "Tell a long story.", "output": "and then " * 300}])))
    dropped = export(filled, tmp_path / "drop", Options(template="alpaca", max_tokens=200, similarity=False))
    assert dropped["excluded"] == {"too_long": 1} and sum(dropped["splits"].values()) == len(ROWS)
    kept = export(filled, tmp_path / "keep", Options(template="alpaca", max_tokens=200, over="keep", similarity=False))
    manifest = json.loads((tmp_path / "keep" / "manifest.json").read_text())
    assert sum(kept["splits"].values()) == len(ROWS) + 1 and manifest["over_max_tokens"] == 1
    assert manifest["tokens"]["train"]["max"] > 600 or manifest["tokens"]["test"]["max"] > 600


def strings(value) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings(item)]


def test_token_counts_of_ordinary_texts_are_exactly_those_of_the_whole_text(shared_data):
    from curation.demo import DEMO_PATH
    from curation.tokenize import get_counter, llama3_files, pieces

    texts = [t for line in DEMO_PATH.read_text().splitlines() for t in strings(json.loads(line))]
    texts += strings(json.loads((shared_data / "alpaca" / "alpaca_data_cleaned_1000.json").read_text()))
    texts += [t for line in (shared_data / "oasst" / "en_100_tree.jsonl").read_text().splitlines() for t in strings(json.loads(line))]
    texts += ["\n\n".join(texts[i:i + 200]) for i in range(0, len(texts), 200)]  # long texts, of ordinary words
    assert len(texts) > 4000 and max(map(len, texts)) > 50_000
    assert all(pieces(t) == [t] for t in texts)
    for counter in (get_counter(), get_counter(str(llama3_files()))):
        assert list(counter.count(texts)) == list(counter._count(texts)), counter.name  # _count: the tokenizer on the whole text


def test_a_huge_run_without_a_break_is_counted_in_pieces_of_bounded_length():
    from curation.tokenize import PIECE, get_counter, pieces

    counter = get_counter()
    text = "Say " + "y" * 1_000_000 + " then\n" + "\n" * 5000 + "stop " + "." * 2500 + " end"
    parts = pieces(text)
    assert "".join(parts) == text and len(parts) == 1000 + 5 + 2
    # No piece holds a run past PIECE characters, so no pre-token is much longer: BPE's cost stays linear in the text.
    assert not any(re.search(rf"\S{{{PIECE + 1}}}|\s{{{PIECE + 1}}}", part) for part in parts)
    assert counter.count([text, "hello"])[0] == sum(counter._count(parts))
    for run in ("y" * 5000, " " * 5000, "." * 5000, "\n" * 5000, "1" * 5000, "ab" * 2500):
        cuts = len(pieces(run)) - 1
        assert cuts == 4 and abs(counter.count([run])[0] - counter._count([run])[0]) <= 2 * cuts  # a token or two per cut


def test_token_counts_are_encoded_a_batch_at_a_time(monkeypatch):
    from curation import tokenize

    calls = []

    def lengths(texts):
        calls.append(sum(map(len, texts)))
        return [len(t) for t in texts]

    monkeypatch.setattr(tokenize, "BATCH_CHARS", 10_000)
    texts = ["word " * 1000] * 20 + ["z" * 30_000, "", "end"]
    assert list(tokenize.Counter("lengths", lengths).count(texts)) == [len(t) for t in texts]
    assert sum(calls) == sum(map(len, texts)) and len(calls) > 10 and max(calls) < 10_000 + 5000  # never all the text at once
    assert len(tokenize.Counter("lengths", lengths).count([])) == 0


def test_tokens_are_counted_beside_the_rendering_with_the_same_counts(filled, monkeypatch):
    """Issue 18: a slice's tokens are counted on another thread while the next slice renders."""
    import threading

    from curation.export import write

    threads = []
    real = write.token_lengths

    def spied(texts, template, counter):
        threads.append(threading.current_thread().name)
        return real(texts, template, counter)

    monkeypatch.setattr(write, "token_lengths", spied)
    opts = Options(similarity=False)
    plan = write.plan_export(filled, opts)
    parts = list(write.render_slices(plan, opts, rows_at_a_time=7))
    assert len(parts) == -(-len(ROWS) // 7) and all(t.startswith("export-tokens") for t in threads)
    from curation.tokenize import get_counter

    counter = get_counter(plan["tokenizer"])
    for _, texts, _, lengths in parts:  # each slice's counts are its own texts'
        assert list(lengths) == list(real(texts, plan["template"], counter))


def test_stratified_by_source_and_counts_in_the_manifest(filled, tmp_path):
    export(filled, tmp_path / "out", Options(split="train=0.5,test=0.5", stratify="source", similarity=False))
    counts = json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"]
    assert counts["train"]["by_source"] == counts["test"]["by_source"] == {"human": 10, "synthetic": 10}
    with pytest.raises(CurationError, match="needs the map"):
        export(filled, tmp_path / "cl", Options(stratify="cluster", similarity=False))


def test_refuses_to_write_into_a_folder_with_other_files(filled, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CurationError, match="not empty"):
        export(filled, tmp_path / "mine", Options(similarity=False))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_folder_without_the_marker_is_refused_naming_what_it_holds(filled, tmp_path):
    mine = tmp_path / "mine"
    (mine / "raw").mkdir(parents=True)
    for name in ("notes.txt", "b.csv", "raw/deep.txt"):
        (mine / name).write_text("keep me")
    before = digest_folder(mine)
    with pytest.raises(CurationError, match=r"it is not empty \(it holds b\.csv and 2 more entries\) and holds no \.curation-export"):
        export(filled, mine, Options(similarity=False))
    (mine / "b.csv").unlink()
    (mine / "raw" / "deep.txt").unlink()
    (mine / "raw").rmdir()
    with pytest.raises(CurationError, match=r"it is not empty \(it holds notes\.txt\) and holds no"):
        export(filled, mine, Options(similarity=False))
    assert (mine / "notes.txt").read_text() == "keep me" and len(before) == 3


# what export may replace

def test_a_manifest_json_does_not_make_a_folder_an_earlier_export(filled, tmp_path):
    data = tmp_path / "project"
    (data / "raw").mkdir(parents=True)
    (data / "manifest.json").write_text("{}")
    (data / "raw" / "source.csv").write_text("a,b\n1,2\n")
    before = digest_folder(data)
    with pytest.raises(CurationError, match=r"not empty \(it holds manifest\.json and 1 more entry\) and holds no \.curation-export"):
        export(filled, data, Options(similarity=False))
    assert digest_folder(data) == before


@pytest.fixture
def project(tmp_path):
    """A workspace in project/ws with a manifest.json in it, its source in data/a.jsonl beside a manifest.json."""
    from curation.workspace import Workspace

    ws = Workspace(tmp_path / "project" / "ws")
    (tmp_path / "data").mkdir()
    ingest(ws, str(write_jsonl(tmp_path / "data" / "a.jsonl", ROWS)))
    for folder in (ws.root, tmp_path / "data"):
        (folder / "manifest.json").write_text("{}")
    return ws


@pytest.mark.parametrize("where, match", [
    ("project/ws", "holds the workspace"),
    ("project", "holds the workspace"),
    ("data", "ingested source"),
    ("project/ws/records/x", "inside the workspace's own data"),
    ("project/ws/uploads", "inside the workspace's own data"),
])
def test_out_that_is_or_holds_the_workspace_or_a_source_is_refused_before_prepare(project, tmp_path, monkeypatch, where, match):
    from curation.export import write

    monkeypatch.setattr(write, "plan_export", lambda *a: pytest.fail("--out must be checked before the slow prepare step"))
    before = digest_folder(tmp_path)
    with pytest.raises(CurationError, match=match):
        export(project, tmp_path / where, Options(similarity=False))
    assert digest_folder(tmp_path) == before and not (tmp_path / where / ".curation-export").exists()


def test_out_under_the_workspace_exports_folder_is_allowed(project, tmp_path):
    out = project.root / "exports" / "latest"  # the Export page's default
    export(project, out, Options(similarity=False))
    export(project, out, Options(similarity=False, format="parquet"))
    assert (out / "train.parquet").is_file() and not (out / "train.jsonl").exists()


def test_a_neighbour_named_like_a_temporary_folder_survives(filled, tmp_path):
    (tmp_path / ".out.tmp").mkdir()
    (tmp_path / ".out.tmp" / "precious.txt").write_text("mine")
    export(filled, tmp_path / "out", Options(similarity=False))
    assert (tmp_path / ".out.tmp" / "precious.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.tmp", "a.jsonl", "out", "ws"]  # no temporary folder left


def test_re_export_replaces_our_own_earlier_export(filled, tmp_path):
    out = tmp_path / "out"
    export(filled, out, Options(similarity=False, split="train=0.8,validation=0.1,test=0.1"))
    result = export(filled, out, Options(similarity=False, format="parquet"))
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert present == [".curation-export", "manifest.json", "test.parquet", "train.parquet"]
    marker = json.loads((out / ".curation-export").read_text())["files"]
    assert sorted(marker) == ["manifest.json", "test.parquet", "train.parquet"]
    assert all(marker[n]["sha256"] == hashlib.sha256((out / n).read_bytes()).hexdigest() for n in marker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"] and result["splits"] == {"train": 36, "test": 4}


@pytest.mark.parametrize("change, named", [
    (lambda out: (out / "notes.txt").write_text("mine"), "notes.txt"),
    (lambda out: ((out / "extra").mkdir(), (out / "extra" / "notes.txt").write_text("mine")), "extra/"),
    (lambda out: (out / "train.jsonl").write_text("my edit\n"), "train.jsonl was changed"),
    (lambda out: (out / "link").symlink_to(out / "train.jsonl"), "link"),
])
def test_an_earlier_export_holding_anything_else_is_refused(filled, tmp_path, change, named):
    out = tmp_path / "out"
    export(filled, out, Options(similarity=False))
    change(out)
    before = digest_folder(out)
    with pytest.raises(CurationError, match=named):
        export(filled, out, Options(similarity=False))
    assert digest_folder(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"]


def test_an_earlier_export_holding_several_extra_files_names_the_first_and_counts_the_rest(filled, tmp_path):
    out = tmp_path / "out"
    export(filled, out, Options(similarity=False))
    (out / "extra").mkdir()
    for name in ("extra/one.txt", "extra/two.txt", "notes.txt", "zz.txt"):
        (out / name).write_text("mine")
    with pytest.raises(CurationError, match=r"it holds extra/ and 2 more entries, which export did not write; move it away"):
        export(filled, out, Options(similarity=False))
    for name in ("extra/one.txt", "extra/two.txt", "notes.txt", "zz.txt"):
        (out / name).unlink()
    (out / "extra").rmdir()
    (out / "train.jsonl").write_text("edit\n")
    (out / "test.jsonl").write_text("edit\n")
    with pytest.raises(CurationError, match="test.jsonl and 1 more file were changed after export wrote them"):
        export(filled, out, Options(similarity=False))


def test_an_hf_export_holding_datasets_cache_files_is_refused_with_a_hint(filled, tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "out"
    export(filled, out, Options(format="hf", similarity=False))
    loaded = load_from_disk(str(out))
    for part in loaded.values():
        part.map(lambda row: {"n": len(row["text"])})
    assert len(list(out.rglob("cache-*.arrow"))) == 2
    before = digest_folder(out)
    with pytest.raises(CurationError, match=r"it holds test/cache-\w+\.arrow and 1 more entry, which export did not write "
                                            r"\(cache files written by datasets' \.map\(\)\); delete them or export to a new folder$"):
        export(filled, out, Options(format="hf", similarity=False))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CurationError, match=r"\(2 of them cache files written by datasets' \.map\(\)\)"):
        export(filled, out, Options(format="hf", similarity=False))
    (out / "notes.txt").unlink()
    assert digest_folder(out) == before
    for cache in out.rglob("cache-*.arrow"):
        cache.unlink()
    assert export(filled, out, Options(format="hf", similarity=False))["splits"] == {"train": 36, "test": 4}


def test_a_file_dropped_into_the_earlier_export_while_preparing_is_kept(filled, tmp_path, monkeypatch):
    from curation.export import write

    out = tmp_path / "out"
    export(filled, out, Options(similarity=False))
    real = write.plan_export

    def slow_prepare(*args):
        (out / "late.txt").write_text("mine")
        return real(*args)

    monkeypatch.setattr(write, "plan_export", slow_prepare)
    with pytest.raises(CurationError, match="late.txt"):
        export(filled, out, Options(similarity=False))
    assert (out / "late.txt").read_text() == "mine" and (out / "train.jsonl").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"]


def test_a_failed_export_removes_only_its_own_temporary_folder(filled, tmp_path, monkeypatch):
    from curation.export import write

    out = tmp_path / "out"
    export(filled, out, Options(similarity=False))
    before = digest_folder(out)

    def broken(path, rows):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(write, "write_jsonl", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(filled, out, Options(similarity=False))
    assert digest_folder(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"]


def dead_pid() -> int:
    """The id of a process that ran here and was killed (and reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    process.kill()
    process.wait()
    return process.pid


def leftover(folder, writer: dict | None):
    """A temporary folder as a killed export leaves it: a half-written export in new/, and the writer file (or none)."""
    from curation.export import folder as folder_module

    (folder / "new").mkdir(parents=True)
    (folder / "new" / "train.jsonl").write_text("half\n")
    if writer is not None:
        (folder / folder_module.WRITER).write_text(json.dumps(writer))
    return folder


def test_an_export_writes_who_writes_into_its_temporary_folder(filled, tmp_path, monkeypatch):
    from curation.export import folder as folder_module
    from curation.export import write

    seen = []
    real = write.write_files

    def spy(ws, folder, *args):
        seen.append(json.loads((folder.parent / folder_module.WRITER).read_text()))
        return real(ws, folder, *args)

    monkeypatch.setattr(write, "write_files", spy)
    export(filled, tmp_path / "out", Options(similarity=False))
    assert seen == [{"written_by": "curation export", "pid": os.getpid(), "host": socket.gethostname()}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"]


def test_the_temporary_folder_of_a_killed_export_is_removed_by_the_next_export(filled, tmp_path):
    from curation.export import folder as folder_module

    me, gone = folder_module.writer(), dead_pid()
    killed = leftover(tmp_path / ".out.export-tmp-killed", {**me, "pid": gone})
    kept = [
        leftover(tmp_path / ".out.export-tmp-running", me),  # this process: still running
        leftover(tmp_path / ".out.export-tmp-elsewhere", {**me, "pid": gone, "host": "another-machine"}),  # a pid of another host
        leftover(tmp_path / ".out.export-tmp-unmarked", None),  # no writer file: not ours to judge
        leftover(tmp_path / ".out.export-tmp-foreign", {"pid": gone, "host": me["host"]}),  # a writer file not export's
        leftover(tmp_path / ".out.export-tmp-bad", {**me, "pid": "x"}),
        leftover(tmp_path / ".other.export-tmp-killed", {**me, "pid": gone}),  # beside another --out
    ]
    (tmp_path / ".out.export-tmp-file").write_text("not a folder")
    export(filled, tmp_path / "out", Options(similarity=False))
    assert not killed.exists() and all((folder / "new" / "train.jsonl").read_text() == "half\n" for folder in kept)
    assert (tmp_path / ".out.export-tmp-file").read_text() == "not a folder"
    assert (tmp_path / "out" / "train.jsonl").is_file()


def test_an_export_killed_while_it_swapped_folders_gets_the_earlier_export_back(filled, tmp_path):
    from curation.export import folder as folder_module

    out = tmp_path / "out"
    export(filled, out, Options(similarity=False, split="train=1"))
    before = digest_folder(out)
    work = leftover(tmp_path / ".out.export-tmp-killed", {**folder_module.writer(), "pid": dead_pid()})
    out.rename(work / "old")  # killed after moving the earlier export aside, before moving the new one in
    assert folder_module.remove_stale(out) == [work]
    assert digest_folder(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out", "ws"]
    work = leftover(tmp_path / ".out.export-tmp-later", {**folder_module.writer(), "pid": dead_pid()})
    shutil.copytree(out, work / "old")  # killed after the new export was moved in: the earlier one goes
    assert folder_module.remove_stale(out) == [work] and digest_folder(out) == before and not work.exists()


def test_split_names_cannot_leave_the_export_folder(filled, tmp_path):
    with pytest.raises(CurationError, match="cannot be a file name"):
        export(filled, tmp_path / "out", Options(similarity=False, split="../escape=1"))
    assert not (tmp_path / "escape.jsonl").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec, why", [
    (".curation-export=1", "split name '.curation-export' cannot be a file name: it must start with a letter, a digit or '_', not '.'"),
    ("a b=1", "split name 'a b' cannot be a file name: ' ' is not allowed: use only letters, digits"),
    ("manifest.json=1", "split name 'manifest.json' is reserved"),
    ("train=1,Dataset_Dict.json=1", "split name 'Dataset_Dict.json' is reserved"),
    ("train=1,Train=1", "split names 'train' and 'Train' differ only in case"),
])
def test_a_refused_split_name_says_what_is_wrong_with_it(filled, tmp_path, spec, why):
    with pytest.raises(CurationError, match=re.escape(why)):
        export(filled, tmp_path / "out", Options(similarity=False, split=spec, format="hf"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "ws"]


def test_split_names_of_letters_digits_dots_dashes_and_underscores_are_fine(filled, tmp_path):
    result = export(filled, tmp_path / "out", Options(similarity=False, split="train.v2=3,_dev-1=1", format="hf"))
    assert result["splits"] == {"train.v2": 30, "_dev-1": 10} and (tmp_path / "out" / "_dev-1").is_dir()


def test_duplicate_groups_stay_in_one_split_and_the_manifest_reports_train_test_similarity(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    # Distinct records in words, and pairs of near copies (records differing only in numbers would be one template
    # family since issue 13: not duplicates, and the leakage check would rightly see them across splits).
    words = ["rivers", "stars", "bread", "jazz", "tides", "comets", "yeast", "violins", "glaciers", "lichens", "pumice",
             "sonnets", "falcons", "quartz", "monsoons", "ferns", "origami", "sherpas", "lagoons", "mosaics"]
    rows = [{"instruction": f"Describe {w} briefly", "output": f"About {w}."} for w in words]
    rows += [{"instruction": text, "output": "An answer."} for topic in ("harbours", "caravans", "orchards", "beacons")
             for text in (f"Explain how {topic} shape our world and culture", f"Explain how {topic} shape our world and our culture")]
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", rows)))
    filled = ws
    dedup.find(filled, rule="first_seen", threshold=0.8)
    found = dedup.find(filled, compute=False)
    assert found.summary()["near_groups"] > 0
    result = export(filled, tmp_path / "out", Options(split="train=0.7,test=0.3", seed=3))
    frame = load_records(filled)
    where = {}
    for name in result["splits"]:
        for line in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines():
            where[json.loads(line)["text"]] = name
    from curation.export.templates import TEMPLATES as T

    split_of = {rid: where[render(T["alpaca"], row)] for rid, row in zip(frame["record_id"], frame.to_dict("records"))}
    for _, members in found.table.dropna(subset=["dup_group"]).groupby("dup_group"):
        assert len({split_of[r] for r in members["record_id"]}) == 1
    check = result["leakage"]["splits"]["test"]
    assert check["max_similarity"] < 0.8 + 1e-6 and check["record"] in split_of and split_of[check["train_record"]] == "train"
    from curation.dedup.calibration import embedding_threshold

    assert check["method"] == "exact" and result["leakage"]["near_duplicate_threshold"] == embedding_threshold("minilm")[0]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["duplicate_groups"]["method"] == "embedding" and manifest["duplicate_groups"]["note"] is None


def test_round_trip_alpaca_shape(filled, tmp_path):
    export(filled, tmp_path / "out", Options(shape="alpaca", split="all=1", similarity=False))
    again = tmp_path / "again"
    ingest(again_ws := type(filled)(again), str(tmp_path / "out" / "all.jsonl"))
    fields = ["instruction", "input", "output", "system"]
    before = load_records(filled)[fields].assign(input=lambda f: f["input"].replace("<noinput>", ""))
    assert load_records(again_ws)[fields].equals(before)


def test_round_trip_sharegpt_shape(ws, tmp_path, shared_data):
    ingest(ws, str(shared_data / "chat" / "dummy_conversation.json"))
    export(ws, tmp_path / "out", Options(shape="sharegpt", split="all=1", similarity=False))
    other = type(ws)(tmp_path / "again")
    ingest(other, str(tmp_path / "out" / "all.jsonl"))
    fields = ["system", "instruction", "input", "output"]
    a, b = load_records(ws), load_records(other)
    assert a[fields].equals(b[fields])
    assert [json.loads(m) for m in a["messages"]] == [json.loads(m) for m in b["messages"]]


def test_cli_export(filled, tmp_path, capsys):
    code = cli(["export", "--workspace", str(filled.root), "--json", "--template", "mistral", "--out", str(tmp_path / "out"),
                "--split", "train=0.75,test=0.25", "--seed", "1", "--shape", "messages", "--no-similarity"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"out", "splits", "files", "manifest", "excluded"}
    assert out["splits"] == {"train": 30, "test": 10} and all(p.endswith(".jsonl") for p in out["files"])
    assert json.loads(open(out["files"][0]).readline())["messages"][0]["role"] == "user"
    assert cli(["export", "--workspace", str(filled.root), "--template", "nope", "--out", str(tmp_path / "x")]) == 1
    assert "unknown template" in capsys.readouterr().err


@pytest.mark.parametrize("args, error", [
    (["--template", "/x/nosuch.jinja"], "error: no such file or folder: /x/nosuch.jinja"),
    (["--template", "alpaca", "--split", "train=nan,test=0.1"], "error: bad split 'train=nan': a ratio is a finite number above 0"),
    (["--template", "alpaca", "--split", "train=inf,test=1"], "error: bad split 'train=inf': a ratio is a finite number above 0"),
    (["--template", "alpaca", "--split", ".curation-export=1"], "it must start with a letter, a digit or '_', not '.'"),
])
def test_cli_export_refuses_bad_templates_and_splits_in_one_line(filled, tmp_path, capsys, args, error):
    code = cli(["export", "--workspace", str(filled.root), "--out", str(tmp_path / "x"), "--no-similarity", *args])
    err = capsys.readouterr().err
    assert code == 1 and error in err and err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_stratified_by_cluster_with_the_real_map(ws, tmp_path):
    from curation.atlas import build, save_settings
    from curation.demo import load_demo

    load_demo(ws)
    save_settings(ws, model="static", method="kmeans", k=5)
    build(ws, load_records(ws))
    export(ws, tmp_path / "out", Options(split="train=0.5,test=0.5", stratify="cluster", similarity=False))
    counts = json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"]
    train, test = counts["train"]["by_cluster"], counts["test"]["by_cluster"]
    assert set(train) == set(test) and len(train) >= 3
    crossed = counts["train"]["by_source_cluster"]
    assert sum(n for per in crossed.values() for n in per.values()) == counts["train"]["total"]
    assert {c for per in crossed.values() for c in per} == set(train)
    # Each cluster is halved (duplicate groups move whole, so allow a few records of slack).
    assert all(abs(train[c] - test[c]) <= 8 for c in train)


def test_a_source_ingested_by_a_relative_path_is_protected_from_any_folder(tmp_path, monkeypatch):
    """The ingest log keeps the absolute path, so an export started from another folder still recognises the source."""
    from curation.workspace import Workspace

    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "a.jsonl", ROWS)
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, "data/a.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(CurationError, match="ingested source"):
        export(ws, tmp_path / "data", Options(similarity=False))
    assert (tmp_path / "data" / "a.jsonl").is_file()


def test_answers_lose_the_end_markers_that_close_them_unless_kept(ws, tmp_path):
    """t0's completions all end in <|endoftext|>: a convention of the source, not part of the answer (a fix, not a rejection)."""
    rows = [{"prompt": "Question: 2+2?", "completion": " 4<|endoftext|>"},
            {"prompt": "Say hi.", "completion": "hi <|endoftext|> there</s>"},
            {"prompt": "Name a colour.", "completion": "Red"}]
    ingest(ws, str(write_jsonl(tmp_path / "t0.jsonl", rows)))
    ingest(ws, str(write_jsonl(tmp_path / "chat.jsonl", [{"messages": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!</s>"}]}])))
    result = export(ws, tmp_path / "out", Options(template="chatml", shape="messages", split="train=1", similarity=False))
    lines = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    answers = sorted(m["content"] for line in lines for m in line["messages"] if m["role"] == "assistant")
    assert answers == [" 4", "Hi!", "Red", "hi <|endoftext|> there"]  # a marker inside an answer stays (template_leftovers')
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["cleaning"] == {"end_markers": "strip", "outputs_changed": 3} and result["splits"] == {"train": 4}
    export(ws, tmp_path / "kept", Options(template="chatml", shape="messages", split="train=1", similarity=False, end_markers="keep"))
    kept = (tmp_path / "kept" / "train.jsonl").read_text()
    assert "4<|endoftext|>" in kept and "Hi!</s>" in kept


def test_records_asking_the_same_prompt_stay_in_one_split(ws, tmp_path):
    """OASST sibling replies share a prompt and are not duplicates: a test prompt must still not be a train prompt."""
    rows = [{"instruction": f"What is the gravitational constant, asked for the {i}th time?", "output": f"Reply {k} of {i}."}
            for i in range(12) for k in range(3)]
    ingest(ws, str(write_jsonl(tmp_path / "siblings.jsonl", rows)))
    result = export(ws, tmp_path / "out", Options(similarity=False, split="train=0.5,test=0.5", seed=1))
    split_of = {}
    for name in result["splits"]:
        for line in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines():
            text = json.loads(line)["text"]
            split_of.setdefault(text.split("### Response")[0], set()).add(name)
    assert len(split_of) == 12 and all(len(names) == 1 for names in split_of.values())
    assert set(result["splits"]) == {"train", "test"} and min(result["splits"].values()) > 0


def test_joined_merges_units_sharing_a_prompt():
    from curation.export.splits import joined

    assert joined(["a", "b", "c", "group:1"], ["Hi  there", "hi there", "other", "other"]) == ["a", "a", "c", "c"]
    assert joined(["a", "b"], ["", ""]) == ["a", "b"]  # no prompt: nothing to share
