"""Transcripts of a source (a file or a folder) into conversations and store-ready records, with provenance.

The steps, in order, each in its own module: read (one reader per format) → clean (fillers, inline timestamps)
→ merge a speaker's consecutive turns → roles (guess per file, curator's overrides on top) → split into
conversations → shape into records. `collect` is what ingest calls; `inspect` is what the Load page shows before
loading (speakers with their guessed role, problems, and each shape's counts and lengths).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from curation.errors import CurationError, Phrased
from curation.readers import SURROGATE, Problem, decode, read_bytes, unreadable, utf16_encoding
from curation.records import canonical_json, check_source, dumps, record_id
from curation.transcripts.clean import clean, merge
from curation.transcripts.model import Transcript
from curation.transcripts.roles import ROLES, apply_overrides, guess_roles, parse_speaker_roles
from curation.transcripts.shapes import SHAPES, Conversation, preview, records_of
from curation.transcripts.split import split

SUFFIXES = {".vtt": "vtt", ".srt": "srt", ".txt": "text", ".json": "whisper"}
SNIFFED = (".txt", ".json")  # read as transcripts when their content says so; .vtt and .srt always are
OTHER_DATA = (".jsonl", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class Options:
    """How transcripts become records; the defaults suit support calls."""

    shape: str = "conversation"
    roles: dict = field(default_factory=dict)  # speaker name -> role, on top of the guess
    split_gap: float | None = 120.0  # seconds of silence that end a conversation (None: never)
    max_turns: int | None = 40  # turns per conversation, about (None: no budget)
    topics: bool = True  # split at opening phrases ("moving on", "another question" …)
    fillers: bool = True  # drop um, uh, "you know" at the edges …


def make_options(*, shape: str | None = None, roles=None, split_gap: float | None = None, max_turns: int | None = None,
                 topics: bool = True, fillers: bool = True) -> Options:
    """Options from user input, checked: a bad shape, role, gap or budget is a CurationError that says the fix."""
    shape = shape or "conversation"
    if shape not in SHAPES:
        raise CurationError(f"unknown transcript shape {shape!r}: choose one of {', '.join(SHAPES)}")
    if split_gap is not None and not split_gap >= 0:
        raise CurationError(f"--split-gap {split_gap}: give seconds ≥ 0 (0 splits at every pause)",
                            dashboard=f"a silence of {split_gap} s: give seconds ≥ 0 (0 splits at every pause)")
    if max_turns is not None and max_turns < 2:
        raise CurationError(f"--max-turns {max_turns}: give at least 2 (a user turn and its answer)",
                            dashboard=f"{max_turns} turns per conversation: give at least 2 (a user turn and its answer)")
    default = Options()
    return Options(shape, parse_speaker_roles(roles), default.split_gap if split_gap is None else split_gap,
                   default.max_turns if max_turns is None else max_turns, topics, fillers)


# --- which files -------------------------------------------------------------------------


def kind_of(path: Path, *, explicit: bool) -> str | None:
    """The reader for a file: by suffix for .vtt/.srt; for .txt/.json by suffix when the caller said these are
    transcripts (`explicit`), else only when the content looks like one."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None or explicit or path.suffix.lower() not in SNIFFED:
        return kind
    from curation.transcripts import READERS

    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
            if kind == "whisper":  # a big records file is read whole only when it is a JSON object naming "segments"
                if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
                    return None
                head += fh.read()
                if b'"segments"' not in head:
                    return None
    except OSError:
        return None
    return kind if READERS[kind].sniff(head.decode("utf-8", "replace")) else None


def files_of(path: Path, skip: Path | None = None) -> list[Path]:
    """The files a path names: itself, or a folder's files (sorted, hidden ones and the workspace `skip` left out)."""
    if not path.is_dir():
        return [path]
    skip = skip.resolve() if skip is not None and skip.is_dir() else None
    if skip is not None and skip in path.resolve().parents:
        skip = None  # a folder inside the workspace named on purpose (the dashboard's uploads/; ingest refuses its own data)
    out = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).parts
        if any(p.startswith(".") for p in rel) or not f.is_file():
            continue
        if skip is not None and (f.resolve() == skip or skip in f.resolve().parents):
            continue
        out.append(f)
    return out


def is_transcript_source(path: str | Path, skip: Path | None = None) -> bool:
    """Auto-detection for ingest: a .vtt/.srt file, a .txt/.json file whose content is a transcript, or a folder
    with at least one transcript and no other data file (a folder that mixes both loads its records files as before;
    name --format transcript to read its transcripts). Never raises."""
    try:
        p = Path(str(path)).expanduser()
        if not p.exists():
            return False
        if p.is_file():
            return kind_of(p, explicit=False) is not None
        found = False
        for f in files_of(p, skip):
            suffix = f.suffix.lower()
            if suffix in OTHER_DATA:
                return False
            if suffix in SUFFIXES:
                if kind_of(f, explicit=False) is None:
                    if suffix == ".json":
                        return False  # a records file
                    continue  # a .txt that is not a transcript: skipped with a warning
                found = True
        return found
    except OSError:
        return False


# --- reading ---------------------------------------------------------------------------------


def read_transcripts(path: str | Path, *, explicit: bool = True, skip: Path | None = None
                     ) -> tuple[list[Transcript], list[str]]:
    """Every transcript a path names (problems inside each), and warnings about files left out."""
    from curation.transcripts import READERS

    p = Path(str(path)).expanduser()
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as exc:
        raise CurationError(unreadable(str(path), exc)) from None
    if not exists:
        raise CurationError(f"{path}: no such file or directory")
    transcripts, skipped = [], []
    for f in files_of(p, skip):
        name = f.relative_to(p).as_posix() if is_dir else f.name
        kind = kind_of(f, explicit=explicit)
        if kind is None:
            if not is_dir:
                raise CurationError(f"{name}: not a transcript; transcripts are {', '.join(SUFFIXES)} files "
                                    "(WebVTT, SubRip, speaker-labelled text, Whisper JSON)")
            skipped.append(name)
            continue
        transcripts.append(read_one(f, name, kind, READERS[kind].read))
    warnings = []
    if skipped:
        listed = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        warnings.append(f"{p.name}: skipped {len(skipped)} file(s) that are not transcripts: {listed}")
    if not transcripts:
        raise CurationError(f"{path}: no transcripts here ({', '.join(SUFFIXES)} files)")
    return transcripts, warnings


def read_one(f: Path, name: str, kind: str, reader) -> Transcript:
    try:
        data = read_bytes(f)
    except CurationError as exc:
        return Transcript(name, kind, problems=[Problem(name, None, str(exc))])
    if not data.strip():
        return Transcript(name, kind, problems=[Problem(name, None, "the file is empty")])
    utf16 = utf16_encoding(data)
    if utf16:
        return Transcript(name, kind, problems=[Problem(name, None, f"the file looks like UTF-16 text ({utf16}), not "
                                                                    "UTF-8; re-save it as UTF-8 (e.g. with iconv)")])
    warnings: list[str] = []
    text, bad = decode(data, name, warnings)
    transcript = reader(name, text)
    transcript.warnings[:0] = warnings
    if bad:  # lines that are not UTF-8: reported once each, and the turns holding them left out
        transcript.problems.extend(Problem(name, line, reason) for line, reason in bad.items())
        transcript.turns = [t for t in transcript.turns if not SURROGATE.search(t.text) and not SURROGATE.search(t.speaker)]
    transcript.problems.sort(key=lambda q: (q.line is not None, q.line or 0))
    return transcript


# --- conversations and records ---------------------------------------------------------------------


def prepared(transcripts: list[Transcript], opts: Options) -> list[tuple[Transcript, list, dict]]:
    """Each transcript with its turns cleaned and merged, and the guessed role of each speaker."""
    out = []
    for t in transcripts:
        turns = merge(clean(t.turns, fillers=opts.fillers), max_gap=opts.split_gap)
        out.append((t, turns, guess_roles(turns)))
    return out


def conversations(transcripts: list[Transcript], opts: Options, ready: list | None = None) -> list[Conversation]:
    """Each transcript cleaned, merged, given roles and split: the conversations of the whole source, in order."""
    out = []
    for t, turns, guesses in ready or prepared(transcripts, opts):
        roles = apply_overrides(guesses, opts.roles)
        pieces = split(turns, roles, split_gap=opts.split_gap, max_turns=opts.max_turns, topics=opts.topics)
        out.extend(Conversation(t.file, t.kind, i, piece, roles, why) for i, (piece, why) in enumerate(pieces))
    return out


def speakers(transcripts: list[Transcript], opts: Options, ready: list | None = None) -> list[dict]:
    """Every speaker of the source: its role (the curator's, else the guess most files make), why, and how much it says."""
    rows: dict[str, dict] = {}
    for _, turns, guesses in ready or prepared(transcripts, opts):
        for s, g in guesses.items():
            row = rows.setdefault(s, {"speaker": s, "guesses": Counter(), "why": g.why, "files": 0, "turns": 0, "words": 0})
            row["guesses"][g.role] += 1
            row["files"] += 1
        for turn in turns:
            rows[turn.speaker]["turns"] += 1
            rows[turn.speaker]["words"] += len(turn.text.split())
    chosen = {k.strip().lower(): v for k, v in opts.roles.items()}
    out = []
    for row in rows.values():
        guesses = row.pop("guesses")
        guess = guesses.most_common(1)[0][0]
        row["guess"] = guess
        if len(guesses) > 1:
            row["why"] = ", ".join(f"{role} in {n} file(s)" for role, n in guesses.most_common())
        row["role"] = chosen.get(row["speaker"].strip().lower(), guess)
        row["overridden"] = row["speaker"].strip().lower() in chosen
        out.append(row)
    return sorted(out, key=lambda r: (-r["words"], r["speaker"]))


def build_records(convs: list[Conversation], shape: str, dataset: str, source: str = "external") -> list[dict]:
    """Store-ready records (the columns of `curation.records.COLUMNS`) with stable ids: the same file, conversation,
    turn and text give the same id on every ingest."""
    check_source(source)
    chosen = SHAPES[shape]
    out = []
    for conv in convs:
        for turn_index, rec in records_of(conv, chosen):
            meta, row = rec["meta"], rec["meta"]["line"]
            content = canonical_json({"shape": shape, "conversation": conv.index, "messages": rec["messages"]})
            out.append({
                "record_id": record_id(dataset, conv.file, row, turn_index, content),
                "dataset": dataset,
                "file": conv.file,
                "row": row,
                "where": f"line {row}",
                "format": meta["format"],
                "source": source,
                "system": rec["system"],
                "instruction": rec["instruction"],
                "input": rec["input"],
                "output": rec["output"],
                "messages": dumps(rec["messages"]),
                "meta": dumps(meta),
            })
    return out


@dataclass
class Collected:
    records: list[dict]
    problems: list[Problem]
    warnings: list[str]
    formats: list[str]
    summary: dict


def collect(path: str | Path, dataset: str, opts: Options | None = None, *, source: str | None = None,
            explicit: bool = True, skip: Path | None = None) -> Collected:
    """What ingest stores for a transcript source: records, problems (file and line), warnings, format names."""
    opts = opts or Options()
    transcripts, warnings = read_transcripts(path, explicit=explicit, skip=skip)
    ready = prepared(transcripts, opts)
    convs = conversations(transcripts, opts, ready)
    records = build_records(convs, opts.shape, dataset, source or "external")
    problems = [q for t in transcripts for q in t.problems]
    warnings += [w for t in transcripts for w in t.warnings]
    answered = {(r["file"], orjson_meta(r)["conversation_index"]) for r in records}
    unanswered = sum(1 for c in convs if (c.file, c.index) not in answered)
    if unanswered:
        said = f"{unanswered} conversation(s) without an assistant turn answering a user made no record"
        warnings.append(Phrased(f"{said} (check the speakers' roles: --speaker-role NAME=assistant)",
                                f"{said} (check the speakers' roles: who is the assistant?)"))
    known = {turn.speaker.strip().lower() for _, turns, _ in ready for turn in turns}
    unknown = [name for name in opts.roles if name.strip().lower() not in known]
    if unknown:  # a typo in a name would silently keep the guess
        said = f"no speaker called {', '.join(map(repr, unknown))} in these transcripts; their role was not used"
        warnings.append(Phrased(f"--speaker-role: {said}", said))
    formats = list(dict.fromkeys(f"transcript-{t.kind}" for t in transcripts))
    summary = {"files": len(transcripts), "conversations": len(convs), "shape": opts.shape,
               "roles": {s["speaker"]: s["role"] for s in speakers(transcripts, opts, ready)}}
    return Collected(records, problems, warnings, formats, summary)


def orjson_meta(record: dict) -> dict:
    import orjson

    return orjson.loads(record["meta"])


def inspect(path: str | Path, opts: Options | None = None, *, skip: Path | None = None) -> dict:
    """What the Load page shows before loading: files, speakers with their role and why, each shape's preview,
    problems (file and line) and warnings. Reads the source; writes nothing."""
    opts = opts or Options()
    transcripts, warnings = read_transcripts(path, explicit=True, skip=skip)
    ready = prepared(transcripts, opts)
    convs = conversations(transcripts, opts, ready)
    return {
        "files": [{"file": t.file, "format": f"transcript-{t.kind}", "turns": len(t.turns), "problems": len(t.problems)}
                  for t in transcripts],
        "speakers": speakers(transcripts, opts, ready),
        "conversations": len(convs),
        "preview": preview(convs),
        "problems": [q.as_dict() for t in transcripts for q in t.problems],
        "warnings": warnings + [w for t in transcripts for w in t.warnings],
        "roles": ROLES,
    }
