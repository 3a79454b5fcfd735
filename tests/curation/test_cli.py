"""The command line contract: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from curation.cli import build_parser, main
from tests.conftest import ROOT, write_jsonl


def run(capsys, *args) -> tuple[int, dict | str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except json.JSONDecodeError:
        return code, out, err


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "data.jsonl", [
        {"instruction": "Say hi", "output": "Hi", "source": "human"},
        {"instruction": "Say <script>bye</script>", "output": "Bye"},
        {"bad": "row"},
    ])


def test_ingest_json(capsys, tmp_path, data):
    ws = str(tmp_path / "ws")
    code, out, _ = run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    assert code == 0
    assert set(out) >= {"dataset", "format", "added", "skipped", "errors", "rejects_file"}
    assert (out["dataset"], out["format"], out["added"], out["skipped"]) == ("data", "alpaca", 2, 0)
    assert out["errors"][0]["file"] == "data.jsonl" and out["errors"][0]["line"] == 3
    code, out, _ = run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    assert (code, out["added"], out["skipped"]) == (0, 0, 2)


def test_ingest_exits_non_zero_only_when_nothing_loads(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    code, out, err = run(capsys, "ingest", str(bad), "--workspace", str(tmp_path / "ws"), "--json")
    assert code == 1 and out["added"] == 0 and "nothing could be loaded" in err


def test_errors_are_one_line_on_stderr(capsys, tmp_path):
    code, out, err = run(capsys, "ingest", str(tmp_path / "missing.json"), "--workspace", str(tmp_path / "ws"))
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "no such file" in err


def test_stats_records_decide_undo(capsys, tmp_path, data):
    ws = str(tmp_path / "ws")
    run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    code, stats, _ = run(capsys, "stats", "--workspace", ws, "--json")
    assert stats == {"records": 2, "datasets": {"data": 2}, "by_source": {"human": 1, "unknown": 1},
                     "decisions": {"keep": 0, "reject": 0, "undecided": 2}, "by_reason": {}, "needs_reingest": []}
    code, recs, _ = run(capsys, "records", "--workspace", ws, "--json", "--search", "SCRIPT")
    assert recs["total"] == 1
    rec = recs["records"][0]
    assert set(rec) >= {"record_id", "dataset", "row", "source", "system", "instruction", "input", "output", "messages", "meta",
                        "decision", "reason"}
    assert rec["row"] == 2 and rec["decision"] == "undecided" and rec["reason"] is None
    code, out, _ = run(capsys, "decide", "--reject", "--reason", "manual", "--ids", rec["record_id"], "--workspace", ws, "--json")
    assert out == {"changed": 1, "decisions": {"keep": 0, "reject": 1, "undecided": 1}}
    code, recs, _ = run(capsys, "records", "--workspace", ws, "--json", "--decision", "reject")
    assert [r["reason"] for r in recs["records"]] == ["manual"]
    code, stats, _ = run(capsys, "stats", "--workspace", ws, "--json")
    assert stats["by_reason"] == {"manual": 1}
    code, out, _ = run(capsys, "decide", "--undo", "--ids", rec["record_id"], "--workspace", ws, "--json")
    assert out == {"changed": 1, "decisions": {"keep": 0, "reject": 0, "undecided": 2}}


def test_records_pagination_and_filters(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    path = write_jsonl(tmp_path / "many.jsonl", [{"instruction": f"Q{i}", "output": "A"} for i in range(25)])
    run(capsys, "ingest", str(path), "--workspace", ws, "--source", "synthetic", "--json")
    code, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--limit", "10", "--offset", "20")
    assert out["total"] == 25 and [r["instruction"] for r in out["records"]] == [f"Q{i}" for i in range(20, 25)]
    code, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--source", "human")
    assert out["total"] == 0
    code, out, _ = run(capsys, "records", "--workspace", ws, "--json", "--dataset", "many", "--decision", "undecided")
    assert out["total"] == 25


def test_decide_needs_a_reason_and_known_ids(capsys, tmp_path, data):
    ws = str(tmp_path / "ws")
    run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    code, _, err = run(capsys, "decide", "--keep", "--ids", "abc", "--workspace", ws)
    assert code == 1 and "--reason" in err
    code, _, err = run(capsys, "decide", "--keep", "--reason", "manual", "--ids", "abc", "--workspace", ws)
    assert code == 1 and "unknown record id(s): abc" in err


def test_workspace_from_environment_and_module_entry_point(tmp_path, data):
    env = {"CURATION_WORKSPACE": str(tmp_path / "envws"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "curation", "ingest", str(data), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 2 and (tmp_path / "envws" / "curation.db").exists()


def test_mapping_from_the_command_line(capsys, tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer,level\nWhy?,Because.,easy\n", encoding="utf-8")
    code, out, _ = run(capsys, "ingest", str(path), "--map", "instruction=question", "output=answer",
                       "--workspace", str(tmp_path / "ws"), "--json")
    assert (code, out["added"], out["format"]) == (0, 1, "mapped")


def test_every_command_and_option_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert f"python -m curation {name}" in readme, name
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in readme, f"{name} {flag}"


@pytest.fixture
def flagged_ws(capsys, tmp_path):
    ws = str(tmp_path / "ws")
    path = write_jsonl(tmp_path / "q.jsonl", [
        {"instruction": "Write an essay about rivers.", "output": "Rivers."},
        {"instruction": "Say hi.", "output": "I'm sorry, but I can't help with that."},
        {"instruction": "Name a colour.", "output": "Teal is a blue-green colour."},
    ])
    run(capsys, "ingest", str(path), "--workspace", ws, "--json")
    return ws


def test_signals_json(capsys, flagged_ws):
    code, out, _ = run(capsys, "signals", "--workspace", flagged_ws, "--json")
    assert code == 0 and set(out) >= {"records", "flags", "lengths", "seconds"}
    assert out["records"] == 3 and out["flags"]["short_output"] == 1 and out["flags"]["refusal"] == 1
    assert set(out["lengths"]) == {"instruction", "input", "output", "record"}
    assert set(out["lengths"]["output"]) == {"p50", "p90", "max"} and out["lengths"]["output"]["max"] > 0
    code, out, _ = run(capsys, "signals", "--workspace", flagged_ws, "--json", "--threshold", "short_output=1")
    assert out["flags"]["short_output"] == 0 and out["computed"] == 0
    code, _, err = run(capsys, "signals", "--workspace", flagged_ws, "--threshold", "refusal=2")
    assert code == 1 and "has no threshold" in err


def test_records_carry_flags_and_quality_and_filter_by_flag(capsys, flagged_ws):
    code, out, _ = run(capsys, "records", "--workspace", flagged_ws, "--json", "--flag", "refusal")
    assert out["total"] == 1 and out["records"][0]["flags"] == ["refusal"] and out["records"][0]["quality"] < 0.2
    code, out, _ = run(capsys, "records", "--workspace", flagged_ws, "--json", "--sort", "quality-desc")
    assert [r["quality"] for r in out["records"]] == sorted((r["quality"] for r in out["records"]), reverse=True)
    assert out["records"][0]["flags"] == []
    code, _, err = run(capsys, "records", "--workspace", flagged_ws, "--flag", "nonsense")
    assert code == 1 and "unknown flag" in err


def test_decide_reject_by_flag(capsys, flagged_ws):
    code, out, _ = run(capsys, "decide", "--reject", "--flag", "short_output", "--reason", "short_output",
                       "--workspace", flagged_ws, "--json", "--force")
    assert out == {"changed": 1, "decisions": {"keep": 0, "reject": 1, "undecided": 2}}
    code, out, _ = run(capsys, "records", "--workspace", flagged_ws, "--json", "--decision", "reject")
    assert [r["reason"] for r in out["records"]] == ["short_output"]


def test_rejecting_every_record_of_a_review_flag_needs_force(capsys, flagged_ws, monkeypatch):
    from curation.signals import measured

    monkeypatch.setattr(measured, "MEASURED", {"refusal": (0.23, 31), "wrong_language": (0.97, 31)})
    code, out, err = run(capsys, "decide", "--reject", "--flag", "refusal", "--reason", "refusal", "--workspace", flagged_ws)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "refusal is a review flag (measured precision 0.23 on 31 labelled records" in err and "--force" in err
    code, out, err = run(capsys, "decide", "--reject", "--flag", "end_marker", "--reason", "x", "--workspace", flagged_ws)
    assert code == 1 and "end_marker is a fix flag" in err  # a cleaning flag: export repairs its records
    code, out, _ = run(capsys, "stats", "--workspace", flagged_ws, "--json")
    assert out["decisions"]["reject"] == 0  # nothing was decided
    code, out, _ = run(capsys, "decide", "--keep", "--flag", "refusal", "--reason", "fine", "--workspace", flagged_ws, "--json")
    assert code == 0 and out["changed"] == 1  # keeping them all is harmless
    code, out, _ = run(capsys, "decide", "--reject", "--flag", "refusal", "--reason", "refusal", "--workspace", flagged_ws,
                       "--json", "--force")
    assert code == 0 and out["changed"] == 1
    code, out, _ = run(capsys, "decide", "--reject", "--flag", "wrong_language", "--reason", "lang", "--workspace", flagged_ws,
                       "--json")
    assert code == 0 and out["changed"] == 0  # a reject flag needs no --force (and marks none of these English records)


@pytest.fixture
def mapped_ws(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = str(tmp_path / "ws")
    topics = {"bread": ["bake bread", "sourdough bread recipe", "bread flour and yeast", "knead bread dough", "bread oven time",
                        "rye bread loaf"],
              "space": ["planet orbit", "black hole gravity", "telescope stars", "moon phases", "galaxy stars", "comet tail"]}
    rows = [{"instruction": f"Tell me about {t}.", "output": f"Some facts on {t}."} for ts in topics.values() for t in ts]
    run(capsys, "ingest", str(write_jsonl(tmp_path / "t.jsonl", rows)), "--workspace", ws, "--json")
    return ws


def test_embed_map_near_and_cluster(capsys, mapped_ws):
    code, out, _ = run(capsys, "records", "--workspace", mapped_ws, "--json", "--limit", "1")
    assert out["records"][0]["cluster"] is None  # no map yet: map columns are null, nothing is computed
    code, out, _ = run(capsys, "embed", "--workspace", mapped_ws, "--json")
    assert code == 0 and out["model"] == "minilm" and out["dim"] == 384 and out["text"] == "prompt"
    assert (out["embedded"], out["reused"]) == (12, 0) and "seconds" in out
    code, out, _ = run(capsys, "embed", "--workspace", mapped_ws, "--json")
    assert (out["embedded"], out["reused"]) == (0, 12)
    code, out, _ = run(capsys, "map", "--workspace", mapped_ws, "--json", "--method", "kmeans", "--k", "2")
    assert code == 0 and out["clusters"] == 2 and out["noise"] == 0 and set(out["labels"]) == {"0", "1"}
    assert {"by_dataset", "by_source"} <= set(out["diversity"]) and "seconds" in out
    code, out, _ = run(capsys, "records", "--workspace", mapped_ws, "--json", "--near", "rocket to the planets", "--limit", "3")
    sims = [r["similarity"] for r in out["records"]]
    assert len(sims) == 3 and sims == sorted(sims, reverse=True)
    assert all("Tell me about" in r["instruction"] for r in out["records"])
    space = out["records"][0]["cluster"]
    assert isinstance(out["records"][0]["x"], float) and out["records"][0]["cluster_label"]
    code, out, _ = run(capsys, "records", "--workspace", mapped_ws, "--json", "--cluster", str(space), "--limit", "50")
    assert out["total"] == 6 and {r["cluster"] for r in out["records"]} == {space}
    code, out, _ = run(capsys, "decide", "--reject", "--cluster", str(space), "--reason", f"cluster:{space}",
                       "--workspace", mapped_ws, "--json")
    assert out == {"changed": 6, "decisions": {"keep": 0, "reject": 6, "undecided": 6}}


def test_cluster_selectors_need_a_map(capsys, mapped_ws):
    code, _, err = run(capsys, "records", "--workspace", mapped_ws, "--cluster", "0")
    assert code == 1 and "run `python -m curation map` first" in err


@pytest.mark.parametrize("kind", ["file", "symlink", "dot", "home"])
def test_export_to_a_file_a_link_the_current_or_home_folder_is_a_one_line_error(capsys, tmp_path, data, monkeypatch, kind):
    ws = str(tmp_path / "ws")
    run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = {"file": str(data), "symlink": str(tmp_path / "link"), "dot": ".", "home": str(empty)}[kind]
    (tmp_path / "link").symlink_to(empty, target_is_directory=True)
    monkeypatch.chdir(empty if kind == "dot" else tmp_path)
    monkeypatch.setenv("HOME", str(empty))
    before = data.read_bytes()
    code, _, err = run(capsys, "export", "--workspace", ws, "--template", "alpaca", "--out", out, "--no-similarity")
    assert code == 1 and err.startswith("error: cannot export to") and err.count("\n") == 1 and "Traceback" not in err
    assert {"file": "is a file", "symlink": "symbolic link", "dot": "current directory", "home": "home directory"}[kind] in err
    assert data.read_bytes() == before and list(empty.iterdir()) == [] and (tmp_path / "link").is_symlink()


def test_doctor_json_text_and_exit_codes(capsys, tmp_path, data):
    ws = str(tmp_path / "ws")
    run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    code, out, err = run(capsys, "doctor", "--workspace", ws, "--json")
    assert (code, err) == (0, "") and out["healthy"] and out["reingest"] == []
    assert {"fixed", "lost", "action", "database", "parts", "duplicates", "temp_files", "caches"} <= set(out)
    [part] = (tmp_path / "ws" / "records" / "data").glob("part-*.parquet")
    part.write_bytes(part.read_bytes()[:100])
    code, out, err = run(capsys, "doctor", "--workspace", ws)
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: ")
    assert "fixed: moved the damaged record part records/data/part-" in out
    assert "needs you: re-ingest data.jsonl rows 1-2" in out and f"python -m curation ingest {data} --name data" in out
    code, out, _ = run(capsys, "doctor", "--workspace", ws)  # not forgotten by a second doctor
    assert code == 1 and "needs you: re-ingest data.jsonl rows 1-2" in out
    code, out, _ = run(capsys, "stats", "--workspace", ws, "--json")
    assert [(e["source"], e["rows"]) for e in out["needs_reingest"]] == [("data.jsonl", "1-2")]
    code, out, _ = run(capsys, "ingest", str(data), "--workspace", ws, "--json")
    assert out["added"] == 2
    code, out, _ = run(capsys, "doctor", "--workspace", ws)
    assert code == 0 and "healthy" in out


def test_damaged_part_or_database_gives_one_line_naming_the_file(capsys, tmp_path, data):
    ws = tmp_path / "ws"
    run(capsys, "ingest", str(data), "--workspace", str(ws), "--json")
    [part] = (ws / "records" / "data").glob("part-*.parquet")
    part.write_bytes(part.read_bytes()[:100])
    for command in ("stats", "records", "signals", "decide"):
        extra = ("--keep", "--reason", "manual", "--ids", "x") if command == "decide" else ()
        code, out, err = run(capsys, command, *extra, "--workspace", str(ws), "--json")
        assert code == 1 and out == "" and err.count("\n") == 1, command
        assert err.startswith(f"error: record part records/data/{part.name} is damaged (") and "curation doctor" in err
    (ws / "curation.db").write_bytes(b"not a database" * 500)
    code, out, err = run(capsys, "stats", "--workspace", str(ws), "--json")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: workspace database {ws / 'curation.db'} is damaged (") and "curation doctor" in err


def test_os_errors_are_one_line(capsys, tmp_path, data):
    ws = tmp_path / "ws"
    (ws / "records").mkdir(parents=True)
    (ws / "records" / "data").write_text("a file where a folder belongs")
    code, out, err = run(capsys, "ingest", str(data), "--workspace", str(ws), "--json")
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "records/data" in err


@pytest.mark.parametrize("command", ["stats", "records", "signals", "decide", "export", "doctor", "dedup"])
def test_only_ingest_creates_a_workspace_doctor_stats_and_the_others_say_there_is_none(capsys, tmp_path, command, monkeypatch):
    extra = {"decide": ("--keep", "--reason", "manual", "--ids", "x"),
             "export": ("--template", "alpaca", "--out", str(tmp_path / "out"))}.get(command, ())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    for where in (("--workspace", str(tmp_path / "typo")), ("--workspace", "empty"), ()):
        code, out, err = run(capsys, command, *extra, *where)
        root = tmp_path / (where[1] if where else "workspace")
        assert (code, out) == (1, "") and err == f"error: no workspace at {root} (ingest creates one)\n", command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and list((tmp_path / "empty").iterdir()) == []


def test_damage_names_the_doctor_command_with_its_workspace(capsys, tmp_path, data, monkeypatch):
    ws = tmp_path / "ws"
    run(capsys, "ingest", str(data), "--workspace", str(ws), "--json")
    [part] = (ws / "records" / "data").glob("part-*.parquet")
    part.write_bytes(part.read_bytes()[:100])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, "stats", "--workspace", "../ws")
    assert code == 1 and err.endswith(f"run `python -m curation doctor --workspace {ws}`\n")
    code, out, _ = run(capsys, "doctor", "--workspace", str(ws))  # the command as shown, from another folder
    assert code == 1 and "moved the damaged record part" in out
    assert list(elsewhere.iterdir()) == []


def test_ingest_then_records_into_a_closed_pipe_is_quiet(tmp_path):
    path = write_jsonl(tmp_path / "long.jsonl", [{"instruction": f"Q{i}", "output": "x" * 2000} for i in range(200)])
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(path), "--workspace", ws, "--json"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "curation", "records", "--limit", "200", "--workspace", ws, "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = proc.stdout.read(2)  # `| head -c 2`: the rest (over 400 kB) finds the pipe closed
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 141) and err == "" and head == b'{"'


def test_embed_fast_is_for_this_call_unless_kept(capsys, mapped_ws, monkeypatch):
    import numpy as np

    from curation import embed
    from curation.embed import EmbedSettings
    from curation.workspace import Workspace

    monkeypatch.setattr(embed, "get_embedder", lambda ws, name="minilm": embed.Embedder(  # the settings are tested here
        name, lambda texts: np.ones((len(texts), 4), dtype=np.float32), 4))

    code, out, _ = run(capsys, "embed", "--workspace", mapped_ws, "--fast", "--json")
    assert code == 0 and out["model"] == "static" and out["workspace_model"] == "minilm" and out["embedded"] == 12
    assert EmbedSettings.load(Workspace(mapped_ws)).model == "minilm"  # the dashboard's model did not change
    code, _, err = run(capsys, "embed", "--workspace", mapped_ws, "--keep")
    assert code == 1 and "--keep goes with --fast" in err
    code, out, _ = run(capsys, "embed", "--workspace", mapped_ws, "--fast", "--keep", "--json")
    assert code == 0 and out["reused"] == 12 and out["workspace_model"] == "static"
    assert EmbedSettings.load(Workspace(mapped_ws)).model == "static"
