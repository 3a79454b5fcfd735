"""Template limits: time, output per record, output in all, memory; a clear error naming the limit; normal output unchanged."""

from __future__ import annotations

import json

import pytest

from curation.cli import main as cli
from curation.errors import CurationError
from curation.export import TEMPLATES, Options, export, prepare
from curation.export.sandbox import render_batch
from curation.export.shapes import conversation, prompt_completion, render, single_turn_fields
from curation.export.templates import RECORD_CHARS, RECORD_SECONDS, TOTAL_CHARS, TOTAL_SECONDS, Limits, custom
from curation.ingest import ingest
from curation.records import dumps
from tests.conftest import write_jsonl
from tests.curation.test_export import CHAT_TEMPLATE, MULTI, SINGLE, WITH_INPUT

PER_RECORD = f"limit of {RECORD_CHARS:,} characters per record"
NESTED_EMPTY = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
NESTED_OUTPUT = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
# Builds a list of about 50 million items (some 400 MB) without printing it: no per-record check sees it, memory does.
MEMORY_BOMB = ("{% set r = ('y' * 999999)|list %}{% set a = [r, r, r, r, r, r, r, r, r, r]|sum(start=[]) %}"
               "{% set b = [a, a, a, a, a]|sum(start=[]) %}{{ b|length }}")


def items(*rows) -> list:
    return [(conversation(row), single_turn_fields(row)) for row in rows]


@pytest.mark.parametrize("isolate", [True, False])
def test_nested_range_loops_without_output_stop_at_the_time_limit(isolate):
    with pytest.raises(CurationError, match=r"'custom' stopped at record 1 \(r1\): it ran longer than the limit of 1 s per record"):
        render_batch(custom(NESTED_EMPTY), items(SINGLE), limits=Limits(seconds=1), ids=["r1"], isolate=isolate)


def test_nested_range_loops_with_output_stop_at_the_output_limit():
    with pytest.raises(CurationError, match=f"its output passed the {PER_RECORD}"):
        render_batch(custom(NESTED_OUTPUT), items(SINGLE), isolate=True)


def test_a_macro_that_calls_itself_twice_stops_at_the_time_limit():
    source = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    with pytest.raises(CurationError, match="ran longer than the limit of 1 s per record"):
        render_batch(custom(source), items(SINGLE), limits=Limits(seconds=1), isolate=True)


def test_lipsum_stops_before_building_its_text():
    with pytest.raises(CurationError, match=f"lipsum would make .* characters, past the {PER_RECORD}"):
        render_batch(custom("{{ lipsum(n=10**7) }}"), items(SINGLE), isolate=True)


@pytest.mark.parametrize("source", [
    "{{ 'y' * 20000000 }}",
    "{{ 'y' * 2e7 }}",
    "{{ 20000000 * 'y' }}",
    "{{ 'y' * (2e7|int) }}",
    "{{ messages * 1000000 }}",
    "{{ 'y'.center(10**9) }}",
    "{{ 'y'|center(10**9) }}",
    "{{ 'y'|center(200000000) }}",  # constant: Jinja would fold it while compiling, in the caller's process
    "{{ [1]|batch(200000000, 'x')|list }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ 'x'|indent(10**8, true) }}",
    "{{ 2 ** 100000000 }}",
    "{% set ns = namespace(s='y') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='y') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(s='y') %}{% for i in range(40) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}",
])
def test_values_past_the_output_limit_are_refused_before_they_are_built(source):
    with pytest.raises(CurationError, match=f"template 'custom' stopped: .* would make [0-9,]+ characters, past the {PER_RECORD}"):
        render(custom(source), SINGLE)


def test_the_output_limit_grows_with_a_long_record():
    long = {**SINGLE, "output": "z" * (RECORD_CHARS + 10)}  # the limit: twice the record's text
    assert render(custom("{{ messages[-1].content ~ messages[-1].content }}"), long) == long["output"] * 2
    with pytest.raises(CurationError, match=f"limit of {2 * (RECORD_CHARS + 10 + len(SINGLE['instruction'])):,} characters per record"):
        render(custom("{{ messages[-1].content * 3 }}"), long)


def test_memory_bomb_hits_the_memory_limit_of_the_child_process():
    with pytest.raises(CurationError, match=r"stopped at record 2 \(b\): it needed more than the memory limit of 256 MiB"):
        render_batch(custom("{% if messages|length > 2 %}" + MEMORY_BOMB + "{% endif %}"), items(SINGLE, MULTI),
                     limits=Limits(memory_bytes=256 * 1024**2, record_chars=10**6), ids=["a", "b"], isolate=True)


def test_one_long_operation_is_killed_at_the_hard_time_limit():
    # A single multiplication in C (seconds long) gives the render no chance to check its time: the parent kills the child.
    template = custom("{{ (7 ** 30000000) % 10 }}")
    with pytest.raises(CurationError, match="stopped at record 1: it ran longer than the limit of 0.5 s per record"):
        render_batch(template, items(SINGLE), limits=Limits(seconds=0.5, record_chars=10**9), isolate=True)


def test_the_output_of_a_batch_has_a_limit_in_all():
    template = custom("{{ 'y' * 600 }}")
    assert len(render_batch(template, items(SINGLE, SINGLE), limits=Limits(total_chars=1500), isolate=True)) == 2
    with pytest.raises(CurationError, match=r"stopped at record 3: .*limit of 1,500 characters in all"):
        render_batch(template, items(SINGLE, SINGLE, SINGLE), limits=Limits(total_chars=1500), isolate=True)


def old_environment():
    """The environment as it was before the limits: Jinja's immutable sandbox with Hugging Face's settings."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def old_render(template, messages, fields) -> str:
    context = {"messages": messages, "bos_token": template.bos_token, "eos_token": template.eos_token, "add_generation_prompt": False,
               "multi_turn": fields is None, **({"instruction": "", "input": "", "output": "", "system": ""} | (fields or {}))}
    return old_environment().from_string(template.source).render(**context)


FEATURES = custom(  # loops with loop.*, a filtered loop with else, namespace, a macro, a set block, ~, tojson, filters, %, format
    "{% macro turn(m) %}<{{ m.role|upper }}>{{ m.content|trim }}{% endmacro %}"
    "{% set ns = namespace(n=0) %}{% set head %}{{ bos_token }}{{ messages|length }} turns{% endset %}{{ head }}\n"
    "{% for m in messages %}{% set ns.n = ns.n + m.content|length %}{{ loop.index }}/{{ loop.length }}{{ turn(m) }}"
    "{% if not loop.last %}{{ '\\n' }}{% endif %}{% endfor %}\n"
    "{% for m in messages if m.role == 'tool' %}{{ m.content }}{% else %}no tools{% endfor %} ~{{ ns.n ~ ' chars' }}\n"
    "{{ messages[-1]|tojson }} {{ '%s|%5d'|format('a', 7) }} {{ '{}-{:>4}'.format('b', 3) }} {{ '%-3s|' % 'c' }}"
    "{{ (messages|map(attribute='role')|join(',')) * 2 }} {{ range(3)|list }} {{ 'ab'|center(6) }}", eos_token="</s>")


@pytest.mark.parametrize("isolate", [True, False])
def test_normal_templates_render_byte_identically_to_before(isolate, tmp_path):
    from curation.export.templates import from_tokenizer

    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE, "bos_token": "<s>", "eos_token": "</s>"}))
    many = [{**SINGLE, "output": f"answer {i} " * i} for i in range(30)]
    rows = [SINGLE, WITH_INPUT, MULTI, *many]
    for template in [*TEMPLATES.values(), FEATURES, from_tokenizer(tmp_path)]:
        texts = render_batch(template, items(*rows), isolate=isolate)
        assert texts == [old_render(template, m, f) for m, f in items(*rows)], template.name
        split = render_batch(template, items(*rows), split=True, isolate=isolate)
        assert split == [(render(template, row), *prompt_completion(template, row)) for row in rows], template.name
    assert FEATURES.render(*items(MULTI)[0]).startswith("5 turns\n1/5<SYSTEM>Be brief.\n")


def test_prepare_and_export_apply_the_limits(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Q{i}", "input": "", "output": f"A{i}"} for i in range(5)])))
    bomb = tmp_path / "bomb.jinja"
    bomb.write_text("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ messages[0].content }}")
    opts = Options(template=str(bomb), split="train=1", similarity=False, limits=Limits(seconds=1))
    with pytest.raises(CurationError, match=r"template 'bomb' stopped at record 1 \(.+\): it ran longer than the limit of 1 s"):
        export(ws, tmp_path / "out", opts)
    assert not (tmp_path / "out").exists()
    plan = prepare(ws, Options(template="custom", template_source="{{ messages[0].content }}", shape="prompt-completion",
                               split="train=1", similarity=False, limits={"seconds": 5}))
    assert sorted(plan["texts"]) == [f"Q{i}" for i in range(5)] and plan["shaped"][0] == {"prompt": plan["texts"][0], "completion": ""}


def test_cli_export_stops_with_a_one_line_error_naming_the_limit(ws, tmp_path, capsys):
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Q", "input": "", "output": "A"}])))
    bomb = tmp_path / "bomb.jinja"
    bomb.write_text("{{ lipsum(n=10**7) }}")
    code = cli(["export", "--workspace", str(ws.root), "--template", str(bomb), "--out", str(tmp_path / "out"), "--no-similarity"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and PER_RECORD in err and "Traceback" not in err


def test_multi_turn_rows_and_bad_limits():
    assert render_batch(TEMPLATES["chatml"], items({**MULTI, "messages": dumps(json.loads(MULTI["messages"])[:3])}), isolate=True)
    with pytest.raises(CurationError, match="must be positive"):
        Limits(seconds=0)


@pytest.mark.parametrize("isolate", [True, False])
def test_a_batch_stops_at_its_time_limit_in_all(isolate):
    """Each record stays far inside its own limit, but the batch as a whole may not run on for hours."""
    template = custom("{% for i in range(100000) %}{% endfor %}{{ instruction }}")
    many = items(*[SINGLE] * 400)
    with pytest.raises(CurationError, match=r"stopped at record [\d,]+.*limit of 0.3 s in all"):
        render_batch(template, many, limits=Limits(total_seconds=0.3), isolate=isolate)


def test_the_default_limits_suit_one_training_text(ws, tmp_path, capsys):
    assert (RECORD_CHARS, TOTAL_CHARS, RECORD_SECONDS, TOTAL_SECONDS) == (200_000, 1_000_000_000, 2.0, 300.0)
    assert Limits() == Limits(record_chars=200_000, total_chars=10**9, seconds=2, total_seconds=300)
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Q{i}", "input": "", "output": "A"} for i in range(3)])))
    big = tmp_path / "t.jinja"
    big.write_text("{{ 'y' * 999990 }}")  # a million characters a record: refused before it is built
    code = cli(["export", "--workspace", str(ws.root), "--template", str(big), "--out", str(tmp_path / "x"), "--no-similarity"])
    err = capsys.readouterr().err
    assert code == 1 and "would make 999,990 characters, past the limit of 200,000 characters per record" in err
    assert not (tmp_path / "x").exists()


def test_an_export_past_the_limit_in_all_stops_at_the_record_that_passes_it(ws, tmp_path):
    ingest(ws, str(write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"Q{i}", "input": "", "output": "A"} for i in range(50)])))
    opts = Options(template="custom", template_source="{{ 'y' * 1000 }}", split="train=1", similarity=False,
                   limits=Limits(total_chars=2500))
    with pytest.raises(CurationError, match=r"stopped at record 3 \(.+\): the output of the batch passed the limit of 2,500 characters"):
        export(ws, tmp_path / "out", opts)  # not after rendering all 50: the Export page's zip is never built past the limit
    assert not (tmp_path / "out").exists()
