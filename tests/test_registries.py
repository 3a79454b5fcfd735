"""Every pluggable part is described and documented in the README (each is also covered by its own tests);
the command line offers exactly the registries' names, without importing numpy or pandas."""

import subprocess
import sys
from collections import namedtuple

import pytest

from curation import names
from curation.clusters import METHODS
from curation.embed import EMBEDDERS
from curation.errors import CurationError
from curation.formats import FORMATS
from curation.signals import SIGNALS
from curation.texts import TEXT_CHOICES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_formats_are_described_and_documented():
    for name, fmt in FORMATS.items():
        assert fmt.description and f"`{name}`" in README, name
    assert "`mapped`" in README


def test_signals_are_described_and_documented():
    for name, s in SIGNALS.items():
        assert s.description and f"`{name}`" in README and f"`{s.reason}`" in README, name


def test_embedders_text_choices_and_clusterings_are_documented():
    for name in (*EMBEDDERS, *TEXT_CHOICES, *METHODS):
        assert f"`{name}`" in README, name
    assert all(TEXT_CHOICES.values()) and described(EMBEDDERS) and described(METHODS)


def test_duplicate_methods_rules_and_indexes_are_documented():
    from curation.dedup import GROUPINGS, INDEXES, METHODS, RESCORERS, RULES

    for name in (*METHODS, *RULES, *INDEXES, *GROUPINGS, *RESCORERS):
        assert f"`{name}`" in README, name
    assert described(METHODS) and described(RULES) and described(INDEXES) and described(GROUPINGS) and described(RESCORERS)


def test_templates_shapes_and_export_formats_are_documented():
    from curation.export import FORMATS, OVER, SHAPES, STRATIFY, TEMPLATES

    for name in (*TEMPLATES, *SHAPES, *FORMATS, *STRATIFY):
        assert f"`{name}`" in README, name
    assert all(t.description for t in TEMPLATES.values()) and described(SHAPES) and described(FORMATS) and described(STRATIFY)
    assert all(OVER.values())


def test_selection_strategies_are_described_and_documented():
    from curation.select import STRATEGIES

    for name in STRATEGIES:
        assert f"`{name}`" in README, name
    assert described(STRATEGIES)


def test_generation_methods_are_described_and_documented():
    from curation.generate import METHODS

    for name, method in METHODS.items():
        assert f"`{name}`" in README and method.reference and method.version, name
    assert described(METHODS)


def test_transcript_readers_and_shapes_are_described_and_documented():
    from curation.transcripts import READERS, SHAPES

    for name in (*READERS, *SHAPES):
        assert f"`{name}`" in README, name
    assert described(READERS) and described(SHAPES)


def described(registry: dict) -> bool:
    """Every part has a description and is filed under its own name."""
    return all(part.description and part.name == name for name, part in registry.items())


def cli_options() -> dict[tuple[str, str], object]:
    """(command, option) -> its argparse action, for every option of every command."""
    from curation.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a.choices, dict)).choices
    return {(command, action.option_strings[-1]): action for command, sub in commands.items() for action in sub._actions
            if action.option_strings}


def test_cli_choices_are_the_registries_names():
    from curation import clusters, dedup, export, generate, select, transcripts
    from curation.decisions import STATES
    from curation.embed import BACKENDS
    from curation.executor import EXECUTORS
    from curation.formats import FORMATS as SOURCE_FORMATS
    from curation.records import SOURCES
    from curation.scorers import SCORERS

    expected = {
        ("ingest", "--format"): sorted([*SOURCE_FORMATS, transcripts.FORMAT]), ("ingest", "--source"): list(SOURCES),
        ("ingest", "--shape"): list(transcripts.SHAPES),
        ("records", "--source"): list(SOURCES), ("records", "--decision"): list(STATES),
        ("embed", "--text"): list(TEXT_CHOICES), ("embed", "--backend"): ["auto", *BACKENDS], ("map", "--method"): list(clusters.METHODS),
        ("dedup", "--method"): list(dedup.METHODS), ("dedup", "--text"): list(TEXT_CHOICES), ("dedup", "--rule"): list(dedup.RULES),
        ("dedup", "--index"): list(dedup.INDEXES), ("dedup", "--grouping"): list(dedup.GROUPINGS),
        ("dedup", "--rescore"): list(dedup.RESCORERS),
        ("export", "--format"): list(export.FORMATS), ("export", "--shape"): list(export.SHAPES),
        ("export", "--stratify"): list(export.STRATIFY), ("export", "--over"): list(export.OVER),
        ("score", "--scorer"): ["length", *SCORERS],  # length: the default ranker, chosen with --use
        ("select", "--strategy"): list(select.STRATEGIES),
        ("generate", "--method"): list(generate.METHODS),
        **{(command, "--executor"): list(EXECUTORS) for command in ("signals", "embed", "dedup", "score")},  # issue 18
    }
    cli_only = {("records", "--sort"), ("dedup", "--boilerplate")}  # options of the command line alone, no registry behind them
    options = cli_options()
    offered = {option: list(action.choices) for option, action in options.items() if action.choices}
    assert set(offered) == set(expected) | cli_only  # a new option with choices is added here, with its registry
    for option, choices in expected.items():
        assert offered[option] == choices, option
    assert all(name in options["embed", "--model"].help for name in EMBEDDERS)  # any name, so no choices: the help lists them


@pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["dedup", "--help"], ["map", "--help"],
                                  ["generate", "--help"]])
def test_help_imports_neither_numpy_nor_pandas(args):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "curation", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "curation" in imported  # the import log was read
    assert not imported & {"numpy", "pandas", "pyarrow"}, sorted(imported & {"numpy", "pandas", "pyarrow"})


def test_a_registry_holds_exactly_the_names_the_cli_offers_and_lookup_lists_them():
    from curation.export import SHAPES

    Part = namedtuple("Part", "name")
    assert list(names.registry(("a", "b"), [Part("a"), Part("b")])) == ["a", "b"]
    for parts in ([Part("a")], [Part("b"), Part("a")], [Part("a"), Part("b"), Part("c")]):
        with pytest.raises(RuntimeError, match="curation.names"):
            names.registry(("a", "b"), parts)
    assert names.lookup(SHAPES, "alpaca", "shape") is SHAPES["alpaca"]
    with pytest.raises(CurationError, match="unknown shape 'chat': choose one of text, messages, prompt-completion, alpaca, sharegpt"):
        names.lookup(SHAPES, "chat", "shape")
