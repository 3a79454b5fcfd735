"""Messages a page can show never name a command-line option (issue 17): each that does carries a dashboard wording."""

from __future__ import annotations

import ast
import pickle
import re

from curation.errors import CurationError, Phrased, UnknownFormat, for_dashboard
from tests.conftest import ROOT

FLAG = re.compile(r"(?<![\w-])--[a-z]")
# Messages of the command line alone: no page can cause them, or the fix is a command to run in a terminal.
CLI_ONLY = {
    ("curation/ingest.py", "parse_mapping"),  # parses `--map FIELD=COLUMN`; the Load page's form builds the mapping itself
    ("curation/ingest.py", "ingest"),  # --table/--query/--key/--password-env: options the pages never pass
    ("curation/export/write.py", "check"),  # --max-tokens: the page's number input cannot go below 0
    ("curation/scorers/base.py", "sampled"),  # --sample: the Score tab's number input starts at 1
    ("curation/tokenize.py", None),  # `pip install --no-deps …`: a pip option, for a terminal on either surface
    ("curation/doctor.py", None),  # doctor's own report and the ingest commands it prints
    ("curation/workspace.py", "doctor_command"),  # damage: the doctor command is the fix on either surface
}
# Files whose messages are still to be worded for the dashboard (none: keep it that way).
PENDING: set = set()


def strings(node, worded: set) -> list[str]:
    """String constants under `node`, less those inside a call that gives a dashboard wording."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in worded]


def flagged_calls():
    """(file, function, line, text) of every call in the library with a string naming an option and no dashboard wording."""
    for path in sorted((ROOT / "curation").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name.startswith("cli"):  # the command line itself (cli.py, cli_<part>.py)
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = {}
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for n in ast.walk(fn):
                    owner.setdefault(n, fn.name)
        worded = {id(n) for call in ast.walk(tree) if isinstance(call, ast.Call) and (
            any(k.arg == "dashboard" for k in call.keywords) or getattr(call.func, "id", None) == "Phrased")
            for n in ast.walk(call)}
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or id(call) in worded:
                continue
            texts = [t for arg in call.args for t in strings(arg, worded) if FLAG.search(t)]
            fn = owner.get(call)
            if texts and not {(rel, fn), (rel, None)} & (CLI_ONLY | PENDING):
                yield rel, fn, call.lineno, texts[0]


def test_every_message_naming_a_cli_option_has_a_dashboard_wording():
    found = list(flagged_calls())
    assert not found, "\n".join(f"{f}:{line} ({fn}): {text!r}" for f, fn, line, text in found)


def test_dashboard_wordings_name_no_option_and_survive_pickling():
    e = UnknownFormat("use --map", ["a"], dashboard="use the form")
    assert (str(e), for_dashboard(e), e.columns) == ("use --map", "use the form", ["a"])
    assert for_dashboard(CurationError("plain")) == "plain" and CurationError().args == ()
    w = Phrased("use --kept-only", "use the toggle")
    assert w == "use --kept-only" and for_dashboard(w) == "use the toggle" and for_dashboard("x") == "x"
    back = pickle.loads(pickle.dumps(w))
    assert back == w and back.dashboard == "use the toggle"


def test_unknown_format_says_where_to_fix_it_on_each_surface():
    from curation.formats import detect

    try:
        detect([(1, {"question": "q", "answer": "a"})])
    except UnknownFormat as exc:
        assert "--map" in str(exc) and not FLAG.search(for_dashboard(exc)) and "Map the columns" in for_dashboard(exc)
    else:
        raise AssertionError("no error")
