"""Every pluggable part is described and documented in the README (each is also covered by its own tests)."""

from curation.clusters import METHODS
from curation.embed import EMBEDDERS
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
    assert all(TEXT_CHOICES.values()) and all(EMBEDDERS.values())


def test_duplicate_methods_rules_and_indexes_are_documented():
    from curation.dedup import GROUPINGS, INDEXES, METHODS, RULES

    for name in (*METHODS, *RULES, *INDEXES, *GROUPINGS):
        assert f"`{name}`" in README, name
    assert all(METHODS.values()) and all(RULES.values()) and all(INDEXES.values())


def test_templates_shapes_and_export_formats_are_documented():
    from curation.export import FORMATS, SHAPES, STRATIFY, TEMPLATES

    for name in (*TEMPLATES, *SHAPES, *FORMATS, *STRATIFY):
        assert f"`{name}`" in README, name
    assert all(t.description for t in TEMPLATES.values()) and all(SHAPES.values()) and all(FORMATS.values())
