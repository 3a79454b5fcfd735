"""The README's test line and .ci/run stay the same command."""

from tests.conftest import ROOT


def test_ci_runs_exactly_the_readme_test_line():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_line = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci_line in readme.splitlines()
    assert "pytest" in ci_line and "requirements-test.txt" in ci_line
