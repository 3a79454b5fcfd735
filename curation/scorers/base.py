"""What every model-based scorer shares: the scored exchange, the content-keyed cache, the run loop.

A scorer turns each record's last exchange (the turns before the answer, and the
answer) into a number, higher meaning better, and optionally a one-line reason.
`Scorer.score(ws, frame, progress, *, sample, seed, cancel, **options)` returns a
frame `record_id, score, reason` (plus any extra columns the scorer adds) with a
summary in `frame.attrs["info"]`.

Cache: `scores/<scorer>-<key>/`, where the key covers the scorer, what it runs
(model folder and its files' sizes and times, hub id, endpoint + model, rubric…)
and `FORMAT_VERSION`; `identity.json` in the folder says what the key covers.
Each row is keyed by a hash of the exchange, so the same text in two records, in
two datasets or after re-ingest is scored once. New rows go to Parquet shards
written atomically as work proceeds (a cancelled or interrupted run keeps what
it scored); many shards are compacted into one under the folder's lock; a
damaged shard is removed (its rows are scored again). A row
that failed (an endpoint that kept answering 429) is not cached: the next run
tries it again.

Light on purpose: numpy, pandas and the models are imported inside functions, so
`python -m curation --help` (which lists the scorer names) stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.errors import CurationError
from curation.progress import Cancelled, Progress
from curation.workspace import Workspace, file_lock, remove, write_atomically

if TYPE_CHECKING:
    import pandas as pd

FORMAT_VERSION = 1
FLUSH_ROWS = 512  # rows gathered before a shard is written
FLUSH_SECONDS = 30.0  # …or time since the last shard (slow scorers: an endpoint)
COMPACT_SHARDS = 32  # more shards than this are merged into one when the cache is read
Cancel = Callable[[], bool]



@dataclass(frozen=True)
class Exchange:
    """What a scorer judges: the turns before the answer (role/content dicts) and the answer."""

    turns: tuple[tuple[str, str], ...]  # (role, content), roles system/user/assistant
    answer: str

    @property
    def messages(self) -> list[dict]:
        return [{"role": r, "content": c} for r, c in self.turns]

    @property
    def prompt(self) -> str:
        """The turns as plain text: the user's words alone for one turn, role-labelled lines for several."""
        asked = [(r, c) for r, c in self.turns if r != "system"]
        if len(asked) == 1:
            return asked[0][1]
        return "\n\n".join(f"{r.capitalize()}: {c}" for r, c in asked)

    @property
    def system(self) -> str:
        return "\n".join(c for r, c in self.turns if r == "system")

    @functools.cached_property
    def key(self) -> str:
        """A hash of the exchange's content: the cache key of its score."""
        data = json.dumps([self.turns, self.answer], ensure_ascii=False, separators=(",", ":"))
        return hashlib.blake2b(data.encode(), digest_size=16).hexdigest()


def exchanges(frame: pd.DataFrame) -> list[Exchange]:
    """Each record's last exchange: for a conversation, every turn before its last answer and that answer;
    otherwise the system prompt, instruction + input (a placeholder input counts as none) and the output."""
    from curation.records import loads
    from curation.texts import placeholder_text

    out = []
    for ins, inp, output, system, messages in zip(frame["instruction"], frame["input"], frame["output"], frame["system"],
                                                   frame["messages"]):
        turns = loads(messages) if isinstance(messages, str) else None
        if turns:
            turns = [(str(m.get("role", "")), str(m.get("content") or "")) for m in turns if isinstance(m, dict)]
            last = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=None)
            if last is None:
                out.append(Exchange(tuple(turns), ""))
            else:
                out.append(Exchange(tuple(turns[:last]), turns[last][1]))
            continue
        inp = inp if isinstance(inp, str) and inp.strip() and not placeholder_text(inp) else ""
        ins = ins if isinstance(ins, str) else ""
        user = f"{ins}\n\n{inp}".strip() if inp else ins
        head = ((("system", system),) if isinstance(system, str) and system.strip() else ())
        out.append(Exchange((*head, ("user", user)), output if isinstance(output, str) else ""))
    return out


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def folder_fingerprint(path: str) -> str | None:
    """Name, size and modification time of a local model folder's files: a changed model gets a new cache."""
    p = Path(path)
    if not p.exists():
        return None
    files = sorted(f for f in (p.rglob("*") if p.is_dir() else [p]) if f.is_file())
    return text_key("|".join(f"{f.relative_to(p) if p.is_dir() else f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                             for f in files))


def torch_device(choice: str | None = None) -> str:
    if choice:
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# --- the cache ----------------------------------------------------------------------------------------------

class ScoreCache:
    """Scores of one scorer configuration, keyed by exchange hash, in Parquet shards under `scores/<name>-<key>/`."""

    def __init__(self, ws: Workspace, scorer: str, identity: dict):
        blob = json.dumps({"scorer": scorer, "format": FORMAT_VERSION, **identity}, sort_keys=True, default=str)
        self.key = hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()
        self.folder = ws.root / "scores" / f"{scorer}-{self.key}"
        self.identity = {"scorer": scorer, "format": FORMAT_VERSION, **identity}
        self.pending: list[dict] = []
        self.last_flush = time.monotonic()

    def shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.parquet"))

    def load(self) -> pd.DataFrame:
        """Every cached row (first one wins for a key in several shards); compacts many shards into one."""
        import pandas as pd

        shards = self.shards()
        if len(shards) > COMPACT_SHARDS:
            self.compact()
            shards = self.shards()
        frames = [f for f in (self._read(p) for p in shards) if f is not None]
        if not frames:
            return pd.DataFrame({"key": pd.Series(dtype=object), "score": pd.Series(dtype=float), "reason": pd.Series(dtype=object)})
        return pd.concat(frames, ignore_index=True).drop_duplicates("key", ignore_index=True)

    @staticmethod
    def _read(path: Path):
        import pandas as pd

        try:
            return pd.read_parquet(path)
        except FileNotFoundError:  # compacted away meanwhile
            return None
        except Exception:  # a damaged shard (pyarrow raises several types): ours, derived, so removed and scored again
            remove(path)
            return None

    def add(self, rows: list[dict]) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= FLUSH_ROWS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        import pandas as pd

        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "identity.json"
        if not meta.exists():
            write_atomically(meta, lambda tmp: Path(tmp).write_text(json.dumps(self.identity, indent=1, default=str)))
        frame = pd.DataFrame(self.pending)
        name = f"shard-{time.time_ns():020d}-{os.getpid()}.parquet"
        write_atomically(self.folder / name, lambda tmp: frame.to_parquet(tmp, index=False))
        self.pending = []
        self.last_flush = time.monotonic()

    def compact(self) -> None:
        """Merge every shard into one, under the folder's lock (another process may be adding shards)."""
        import pandas as pd

        with file_lock(self.folder / ".lock"):
            shards = self.shards()
            if len(shards) <= COMPACT_SHARDS:
                return
            frames = [f for f in (self._read(p) for p in shards) if f is not None]
            merged = pd.concat(frames, ignore_index=True).drop_duplicates("key", ignore_index=True)
            name = f"shard-{time.time_ns():020d}-{os.getpid()}.parquet"
            write_atomically(self.folder / name, lambda tmp: merged.to_parquet(tmp, index=False))
            for p in shards:
                remove(p)


# --- the scorer ------------------------------------------------------------------------------------------

class Scorer:
    """A model-based scorer. Subclasses set `name`, `description`, `options` (name -> default) and implement
    `identity` (what the cache key covers), `load` (the model or client; called only when something must be
    computed) and `compute` (a batch of exchanges -> one dict per exchange: `score` (NaN when it could not be
    scored), `reason`, optional extra numeric columns, and `failed: True` for a row not to cache)."""

    name: str = ""
    description: str = ""
    options: dict[str, Any] = {}
    batch_size: int = 16
    higher: str = "better"  # every scorer's score is oriented so that higher means better

    # -- to implement
    def identity(self, ws: Workspace, opts: dict) -> dict:
        raise NotImplementedError

    def load(self, ws: Workspace, opts: dict):
        raise NotImplementedError

    def compute(self, state, items: list[Exchange], opts: dict) -> list[dict]:
        raise NotImplementedError

    def estimate_cost(self, items: list[Exchange], opts: dict) -> dict:
        """Extra estimate fields for the exchanges still to score (the judge: tokens and price)."""
        return {}

    # -- shared
    def resolve(self, options: dict) -> dict:
        """The options in force: the scorer's defaults with the given values (None means default)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise CurationError(f"scorer {self.name!r} has no option {', '.join(unknown)}: its options are "
                                f"{', '.join(self.options) or 'none'}")
        return {**self.options, **{k: v for k, v in options.items() if v is not None}}

    def cache(self, ws: Workspace, opts: dict) -> ScoreCache:
        return ScoreCache(ws, self.name, self.identity(ws, opts))

    def estimate(self, ws: Workspace, frame: pd.DataFrame, *, sample: int | None = None, seed: int = 0, **options) -> dict:
        """What a run would do, before running it: records, how many are cached, how many must be computed."""
        opts = self.resolve(options)
        frame = sampled(frame, sample, seed)
        items = exchanges(frame)
        cache = self.cache(ws, opts)
        known = set(cache.load()["key"])
        todo = list({it.key: it for it in items if it.answer.strip() and it.key not in known}.values())
        return {"scorer": self.name, "records": len(frame), "cached": sum(1 for it in items if it.key in known),
                "to_compute": len(todo), "empty": sum(1 for it in items if not it.answer.strip()),
                **self.estimate_cost(todo, opts)}

    def cached(self, ws: Workspace, frame: pd.DataFrame, **options) -> pd.DataFrame:
        """The cached scores of the frame's records, computing nothing (NaN where none is cached)."""
        opts = self.resolve(options)
        items = exchanges(frame)
        return self._assemble(frame, items, self.cache(ws, opts).load(), {})

    def score(self, ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None, *, sample: int | None = None,
              seed: int = 0, cancel: Cancel | None = None, **options) -> pd.DataFrame:
        """Score the frame's records (or a seeded sample of `sample` of them), computing only exchanges not cached.

        `progress(done, total, what)` is called after each batch; `cancel()` is checked before each batch and
        a True stops the run with `Cancelled` (what was scored is kept in the cache)."""
        start = time.perf_counter()
        opts = self.resolve(options)
        frame = sampled(frame, sample, seed)
        items = exchanges(frame)
        cache = self.cache(ws, opts)
        table = cache.load()
        known = set(table["key"])
        todo = list({it.key: it for it in items if it.answer.strip() and it.key not in known}.values())
        fresh: dict[str, dict] = {}
        failed = 0
        if todo:
            state = self.load(ws, opts)
            size = int(opts.get("batch_size") or self.batch_size)
            from curation.executor import score_elsewhere  # issue 18: a process pool or Ray computes when one is in force

            elsewhere = score_elsewhere(self, ws, todo, size, opts)
            try:
                for lo in range(0, len(todo), size):
                    if cancel is not None and cancel():
                        raise Cancelled(f"{self.name} scoring cancelled after {lo:,} of {len(todo):,} texts; "
                                        "the scores computed so far are cached")
                    batch = todo[lo : lo + size]
                    results = self.compute(state, batch, opts) if elsewhere is None else elsewhere[lo : lo + size]
                    rows = []
                    for it, res in zip(batch, results):
                        row = {"key": it.key, "score": float(res.get("score", math.nan)), "reason": res.get("reason"),
                               **{k: v for k, v in res.items() if k not in ("score", "reason", "failed")}}
                        fresh[it.key] = row
                        if res.get("failed"):
                            failed += 1
                        else:
                            rows.append(row)
                    cache.add(rows)
                    if progress:
                        progress(min(lo + size, len(todo)), len(todo), f"scoring with {self.name}")
            finally:
                cache.flush()
        out = self._assemble(frame, items, table, fresh)
        scored = int(out["score"].notna().sum())
        out.attrs["info"] = {"scorer": self.name, "cache": cache.folder.name, "records": len(out), "scored": scored,
                             "computed": len(todo) - failed, "cached": sum(1 for it in items if it.key in known),
                             "failed": failed, "empty": sum(1 for it in items if not it.answer.strip()),
                             "sample": sample, "seconds": round(time.perf_counter() - start, 3)}
        return out

    def _assemble(self, frame, items: list[Exchange], table, fresh: dict[str, dict]):
        import numpy as np
        import pandas as pd

        rows = {**{r["key"]: r for r in table.to_dict("records")}, **fresh}
        extra = [c for c in dict.fromkeys(c for r in rows.values() for c in r) if c not in ("key", "score", "reason")]
        out = {"record_id": frame["record_id"].astype(str).to_numpy(),
               "score": np.array([rows[it.key]["score"] if it.key in rows else np.nan for it in items], dtype=float),
               "reason": [(rows[it.key].get("reason") if it.key in rows else ("empty output" if not it.answer.strip() else None))
                          for it in items]}
        for c in extra:
            out[c] = np.array([rows[it.key].get(c, np.nan) if it.key in rows else np.nan for it in items], dtype=float)
        result = pd.DataFrame(out)
        result["reason"] = result["reason"].astype(object).where(result["reason"].notna(), None)
        return result


def sampled(frame: pd.DataFrame, sample: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded random sample of `sample` records (in their original order), or the whole frame."""
    if sample is None or sample >= len(frame):
        return frame
    if sample < 1:
        raise CurationError(f"--sample must be at least 1, got {sample}")
    return frame.sample(n=sample, random_state=seed).sort_index()


def distribution(scores) -> dict:
    """Count, mean and percentiles of the scores that are not NaN."""
    import numpy as np

    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"count": 0}
    qs = np.percentile(values, [0, 10, 25, 50, 75, 90, 100])
    return {"count": int(len(values)), "mean": round(float(values.mean()), 6),
            **{name: round(float(q), 6) for name, q in zip(("min", "p10", "p25", "p50", "p75", "p90", "max"), qs)}}


def combined(quality, scores, gate: float = 0.5):
    """The flags gate over a ranker, in [0, 1]. `quality` is the flags-only score (1.0 for a record no signal
    flags, 0 for an empty output, 0.1 for a refusal, 0.4 for a truncated one); `rank` is the ranker's mid-rank
    percentile in (0, 1) among the records it scored (scale-free: any scorer's numbers work; a record the ranker could not score
    gets the median rank).

    - a record whose quality is at least `gate` (no flag, or only mild ones: boilerplate, debris, PII, a
      placeholder input) scores `(1 + rank) / 2`, in (0.5, 1]: the ranker alone orders these;
    - a broken one (quality under `gate`: empty, refusal, truncated, repetition…) scores `quality × (1 + rank) / 2`,
      under 0.5: below every record that is not broken, whatever the ranker says.
    """
    import numpy as np
    import pandas as pd

    s = pd.Series(np.asarray(scores, dtype=float))
    ranks = ((s.rank() - 0.5) / max(int(s.notna().sum()), 1)).fillna(0.5).to_numpy()  # mid-rank percentile: 0.5 is the middle
    q = np.asarray(quality, dtype=float)
    base = (1.0 + ranks) / 2.0
    return np.where(q >= gate, base, q * base)


def load_pretrained(auto_class: str, name_or_path: str, device: str, what: str):
    """(tokenizer, model) of a local folder or hub id through `transformers.<auto_class>`, in eval mode on `device`."""
    import transformers

    if Path(name_or_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name_or_path)
        model = getattr(transformers, auto_class).from_pretrained(name_or_path).to(device).eval()
    except Exception as exc:  # missing files, no network, the wrong kind of model…
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CurationError(f"could not load the {what} {name_or_path!r}: {type(exc).__name__}: {first}") from None
    return tokenizer, model
