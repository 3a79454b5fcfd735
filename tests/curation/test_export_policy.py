"""Export policy (protected, blocking flags, contaminated, undecided, selection) and tool definitions in exports."""

from __future__ import annotations

import json
import shutil

import pytest

from curation import decontaminate as dc
from curation.cli import main as cli
from curation.decisions import decide
from curation.errors import CurationError
from curation.export import Options, export, get_template
from curation.export.policy import blocking_flags, set_blocking
from curation.export.shapes import conversation, render
from curation.export.tools import tools_of
from curation.ingest import ingest
from curation.records import dumps
from curation.store import load_records
from tests.conftest import write_jsonl

QUESTION = ("A farmer has 17 sheep and all but nine run away through a gap in the fence. "
            "How many sheep does the farmer have left at the end of the day?")
TRAIN = [{"instruction": f"Explain topic number {i} of the course on rivers, stars and bread in detail.",
          "output": f"Topic {i} is explained here in several long and careful sentences for the reader."} for i in range(8)]
TRAIN += [{"instruction": "Quick: " + QUESTION, "output": "Nine sheep are left, since all but nine ran away."},
          {"instruction": "Write a story about a dragon who learns to fly.",
           "output": "I'm sorry, but as an AI language model, I cannot write stories."}]  # refusal flags this one
EVAL = [{"instruction": QUESTION, "output": "9"}]


@pytest.fixture
def project(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "train.jsonl", TRAIN)))
    ingest(ws, str(write_jsonl(tmp_path / "bench.jsonl", EVAL)))
    return ws


def rows_of(folder, fmt="jsonl") -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines()]


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_without_protection_nothing_changes_but_a_warning_says_it_was_not_checked(project, tmp_path):
    result = export(project, tmp_path / "out", Options(similarity=False))
    assert result["excluded"] == {} and sum(result["splits"].values()) == len(TRAIN) + len(EVAL)
    assert any("no evaluation set is protected" in w for w in result["warnings"])
    assert any(f"{len(TRAIN) + len(EVAL)} exported records are undecided" in w for w in result["warnings"])


def test_protected_records_are_never_exported_and_contaminated_ones_are_left_out_by_default(project, tmp_path):
    dc.protect(project, ["bench"])
    result = export(project, tmp_path / "out", Options(similarity=False, split="train=1"))
    assert result["excluded"] == {"protected": 1, "contaminated": 1} and result["contaminated"] == 1
    texts = [r["text"] for r in rows_of(tmp_path / "out")]
    assert len(texts) == len(TRAIN) - 1 and not any("sheep" in t for t in texts)
    m = manifest(tmp_path / "out")
    assert m["policy"]["protected"] == {"datasets": ["bench"], "rule": "never exported"}
    assert m["decontamination"]["contaminated"] == 1 and m["decontamination"]["by_match"] == {"ngram": 1}
    assert any("1 training records match a protected evaluation item" in w and "left out" in w for w in m["warnings"])
    assert any("embedding check of decontamination did not run" in w for w in m["warnings"])  # no similarity, nothing embedded


def test_contaminated_records_can_be_kept_and_are_warned_about_and_protected_ones_still_are_not(project, tmp_path):
    dc.protect(project, ["bench"])
    result = export(project, tmp_path / "out", Options(similarity=False, split="train=1", contaminated="keep"))
    assert result["excluded"] == {"protected": 1}
    texts = [r["text"] for r in rows_of(tmp_path / "out")]
    assert sum("sheep" in t for t in texts) == 1 and all("Quick: " + QUESTION in t for t in texts if "sheep" in t)
    assert any("EXPORTED (contaminated=keep)" in w for w in result["warnings"])


def test_a_protected_record_is_left_out_even_when_kept(project, tmp_path):
    dc.protect(project, ["bench"])
    decide(project, list(load_records(project, "bench")["record_id"]) + [load_records(project, "train")["record_id"].iat[0]],
           "keep", "manual")
    result = export(project, tmp_path / "out", Options(similarity=False, kept_only=True, split="train=1"))
    assert result["excluded"] == {"protected": 1, "contaminated": 1, "undecided": len(TRAIN) - 2} and result["splits"] == {"train": 1}


def test_blocking_flags_are_a_workspace_setting_and_their_records_are_left_out_unless_kept(project, tmp_path):
    with pytest.raises(CurationError, match="unknown flag 'nope'"):
        set_blocking(project, ["nope"])
    assert set_blocking(project, ["refusal"]) == ("refusal",) == blocking_flags(project)
    result = export(project, tmp_path / "out", Options(similarity=False, split="train=1"))
    assert result["excluded"] == {"blocked:refusal": 1}
    assert not any("dragon" in r["text"] for r in rows_of(tmp_path / "out"))
    assert manifest(tmp_path / "out")["policy"]["blocking_flags"] == ["refusal"]
    kept = export(project, tmp_path / "kept", Options(similarity=False, split="train=1", keep_blocked=True))
    assert kept["excluded"] == {} and kept["policy"]["blocked"] == "kept (keep_blocked)"
    once = export(project, tmp_path / "once", Options(similarity=False, split="train=1", blocking=()))  # this export: none
    assert once["excluded"] == {} and blocking_flags(project) == ("refusal",)


def test_a_rejection_reason_stands_before_a_blocking_flag(project, tmp_path):
    set_blocking(project, ["refusal"])
    short = load_records(project).query("instruction.str.contains('dragon')")["record_id"].tolist()
    decide(project, short, "reject", "manual")
    assert export(project, tmp_path / "out", Options(similarity=False))["excluded"] == {"manual": 1}


def test_the_manifest_names_the_selection_by_its_reasons(project, tmp_path):
    from curation import settings

    ids = list(load_records(project, "train")["record_id"])
    decide(project, ids[:6], "keep", "selected:quality")
    decide(project, ids[6:], "reject", "not_selected:budget")
    settings.put(project, "selection", {"strategy": "quality", "budget": 6, "applied": 123.0})
    result = export(project, tmp_path / "out", Options(similarity=False, kept_only=True, split="train=1"))
    assert sum(result["splits"].values()) == 6
    sel = manifest(tmp_path / "out")["selection"]
    assert sel == {"last": {"strategy": "quality", "budget": 6}, "by_reason": {"not_selected:budget": 4, "selected:quality": 6},
                   "exported_by_reason": {"selected:quality": 6}}
    assert export(project, tmp_path / "none", Options(similarity=False))["selection"] is not None
    settings.put(project, "selection", None)


def test_without_a_selection_the_manifest_says_none(project, tmp_path):
    assert export(project, tmp_path / "out", Options(similarity=False))["selection"] is None


# tools

TOOLS = [{"name": "get_weather", "description": "The weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
GLAIVE = [{"conversations": [{"from": "human", "value": "Weather in Paris?"},
                             {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
                             {"from": "observation", "value": '{"temp": 21}'},
                             {"from": "gpt", "value": "It is 21 degrees in Paris."}],
           "tools": json.dumps(TOOLS)},
          {"conversations": [{"from": "human", "value": "Tell me a joke."}, {"from": "gpt", "value": "Why did the chicken…"}],
           "tools": "[]"}]
TOOL_TEMPLATE = (
    "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }}: {{ t.function.description }}\n{% endfor %}</tools>\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}\n{% endfor %}"
)


def test_tools_of_reads_a_json_string_or_a_list_and_wraps_bare_function_specs():
    wrapped = [{"type": "function", "function": TOOLS[0]}]
    assert tools_of(dumps({"tools": json.dumps(TOOLS)})) == wrapped == tools_of({"functions": TOOLS})
    assert tools_of({"tools": wrapped}) == wrapped
    assert tools_of({"tools": "[]"}) is None and tools_of({"tools": "not json"}) is None and tools_of(None) is None


@pytest.fixture
def tool_tokenizer(tmp_path):
    from curation.embed import bundled_model_path

    folder = tmp_path / "tooltok"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino", "*.onnx"))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(chat_template=TOOL_TEMPLATE, bos_token="<s>", eos_token="</s>")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_tools_reach_a_hugging_face_template_as_apply_chat_template_gives_them(ws, tmp_path, tool_tokenizer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    ingest(ws, str(write_jsonl(tmp_path / "glaive.jsonl", GLAIVE)), fmt="sharegpt")
    tokenizer = AutoTokenizer.from_pretrained(str(tool_tokenizer))
    template = get_template(str(tool_tokenizer))
    for row in load_records(ws).to_dict("records"):
        tools = tools_of(row["meta"])
        expected = tokenizer.apply_chat_template(conversation(row), tools=tools, tokenize=False)
        assert render(template, row) == expected
    result = export(ws, tmp_path / "out", Options(template=str(tool_tokenizer), similarity=False, split="all=1"))
    rows = rows_of(tmp_path / "out")
    with_tools = [r for r in rows if r["tools"]]
    assert len(with_tools) == 1 and with_tools[0]["text"].startswith("<tools>get_weather: The weather in a city")
    assert json.loads(with_tools[0]["tools"]) == [{"type": "function", "function": TOOLS[0]}]
    assert result["tools"] == {"records": 1, "column": "tools", "template_uses_tools": True}
    assert not any("tool definitions" in w for w in result["warnings"])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_a_tools_column_travels_in_every_format_and_shape_and_stays_byte_identical(ws, tmp_path, fmt):
    ingest(ws, str(write_jsonl(tmp_path / "glaive.jsonl", GLAIVE)), fmt="sharegpt")
    opts = Options(template="chatml", shape="messages", format=fmt, similarity=False, split="all=1")
    result = export(ws, tmp_path / "one", opts)
    export(ws, tmp_path / "two", opts)
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    assert one == {p.name: p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert any("template 'chatml' does not write them" in w for w in result["warnings"])
    if fmt == "jsonl":
        rows = rows_of(tmp_path / "one")
        assert sorted(r["tools"] is not None for r in rows) == [False, True] and set(rows[0]) == {"messages", "tools"}


def test_sharegpt_export_with_tools_ingests_back_with_the_same_tools(ws, tmp_path, shared_data):
    ingest(ws, str(shared_data / "chat" / "glaive_toolcall_en_demo.json"))
    export(ws, tmp_path / "out", Options(shape="sharegpt", similarity=False, split="all=1"))
    other = type(ws)(tmp_path / "again")
    ingest(other, str(tmp_path / "out" / "all.jsonl"))
    before = [tools_of(m) for m in load_records(ws)["meta"]]
    after = [tools_of(m) for m in load_records(other)["meta"]]
    assert sum(t is not None for t in before) > 100 and before == after


def test_cli_export_block_keep_contaminated_and_warnings(project, tmp_path, capsys):
    root = str(project.root)
    assert cli(["decontaminate", "--workspace", root, "--json", "--protect", "bench", "--no-embedding"]) == 0
    capsys.readouterr()
    assert cli(["export", "--workspace", root, "--json", "--template", "alpaca", "--out", str(tmp_path / "a"), "--no-similarity",
                "--block", "refusal"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["excluded"] == {"blocked:refusal": 1, "contaminated": 1, "protected": 1} and out["contaminated"] == 1
    assert out["policy"]["blocking_flags"] == ["refusal"] and out["warnings"]
    assert cli(["export", "--workspace", root, "--template", "alpaca", "--out", str(tmp_path / "b"), "--no-similarity",
                "--keep-contaminated", "--keep-blocked"]) == 0
    text = capsys.readouterr().out
    assert "excluded 1: protected" in text and "warning: 1 training records match" in text and "EXPORTED" in text
    assert cli(["export", "--workspace", root, "--json", "--template", "alpaca", "--out", str(tmp_path / "c"), "--no-similarity",
                "--block", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["policy"]["blocking_flags"] == []
    assert cli(["export", "--workspace", root, "--template", "alpaca", "--out", str(tmp_path / "d"), "--block", "nope"]) == 1
    assert "unknown flag 'nope'" in capsys.readouterr().err


def test_empty_outputs_are_blocked_by_default(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "d.jsonl", TRAIN[:3] + [{"instruction": "List five tips for an interview.", "output": ""}])))
    assert blocking_flags(ws) == ("empty_output",)
    result = export(ws, tmp_path / "out", Options(similarity=False, split="train=1"))
    assert result["excluded"] == {"blocked:empty_output": 1}
    assert not any("five tips" in r["text"] for r in rows_of(tmp_path / "out"))
    set_blocking(ws, [])  # the curator may unblock them
    assert export(ws, tmp_path / "again", Options(similarity=False, split="train=1"))["excluded"] == {}
