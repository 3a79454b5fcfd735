"""Render a batch of records in a child process: a template typed by a curator cannot exhaust the caller.

The templates module checks the limits it can foresee inside the render (time,
output, values past the output limit). This module adds what it cannot: the
batch runs in a fresh Python process (the dashboard's server has threads, so no
fork) that imports only Jinja and the template modules, whose memory is limited
(RLIMIT_AS) and which the parent kills when one record runs past its time limit
(the child writes the number of the record it is rendering into a shared page).
Records go over in chunks and come back in parts, so neither side holds more
than a chunk beyond the results. Every limit ends in a CurationError naming it.

An export renders its records a slice at a time (issue 18): one `Budget` carries the batch's limits (characters in
all, seconds of rendering in all) from slice to slice, and `first` numbers the records in errors as in the whole batch.
Only the time spent rendering counts, as when the batch was rendered in one call.

The built-in templates only join the record's text with fixed markers: they
render in the calling process, with the same in-render checks (no process to
start, no records to copy). So does every template on a platform without
`resource` (Windows).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from curation.errors import CurationError
from curation.export.templates import Limits, Template, builtin, record_budget, size_text, stopped, text_chars

CHUNK_ITEMS = 2000  # records sent to the child at a time
CHUNK_CHARS = 8_000_000  # ... or this much text, whichever comes first
PART_CHARS = 16_000_000  # the child sends its results back whenever it holds this much
GRACE_SECONDS = 2.0  # beyond a record's time limit before the child is killed (its own check speaks first)
IDLE_SECONDS = 120.0  # a child that starts no record for this long (while the parent waits) is killed
POLL_SECONDS = 0.1
PROGRESS = struct.Struct("q")

# The child imports curation.export's modules without running the package's __init__ (it would load pandas).
BOOT = """import sys, types
sys.path.insert(0, sys.argv[1])
import curation
package = types.ModuleType("curation.export")
package.__path__ = [sys.argv[2]]
sys.modules["curation.export"] = package
from curation.export.sandbox import serve
serve(*map(int, sys.argv[3:]))
"""


@dataclass
class Budget:
    """What a batch rendered in slices has spent of its limits: the characters written and the seconds spent rendering."""

    seconds_left: float
    chars: int = 0
    deadline: float = 0.0  # of the slice being rendered: now + the seconds left

    @classmethod
    def start(cls, limits: Limits | dict | None) -> Budget:
        return cls(Limits.of(limits).total_seconds)

    @contextlib.contextmanager
    def slice(self):
        """Render one slice: its deadline is the batch's seconds left; the time it takes is spent."""
        started = time.monotonic()
        self.deadline = started + self.seconds_left
        try:
            yield self
        finally:
            self.seconds_left -= time.monotonic() - started


def label(index: int, ids: list[str] | None, first: int = 0) -> str:
    """The record at `index` of a slice that starts at record `first` of the batch (ids are the slice's)."""
    rid = ids[index] if ids and 0 <= index < len(ids) and ids[index] else ""
    return f"record {first + index + 1:,}" + (f" ({rid})" if rid else "")


def render_one(template: Template, messages, fields, split: bool, limits: Limits, where: str, size: int, tools=None):
    with record_budget(limits, where, size):
        text = template.render(messages, fields, tools)
        if not split:
            return text
        from curation.export.shapes import split_rendered

        return (text, *split_rendered(template, messages, fields, text, tools))


def result_chars(result) -> int:
    return len(result) if isinstance(result, str) else sum(map(len, result))


def compact(result):
    """(text, prompt, completion) as (text, where the completion starts) when they join to the text: half the bytes to send."""
    if isinstance(result, tuple) and len(result) == 3:
        text, prompt, completion = result
        if len(prompt) + len(completion) == len(text) and text.startswith(prompt) and text.endswith(completion):
            return text, len(prompt)
    return result


def expand(result):
    if isinstance(result, tuple) and len(result) == 2:
        text, cut = result
        return text, text[:cut], text[cut:]
    return result


def total_error(template: Template, limits: Limits, where: str) -> CurationError:
    return CurationError(f"template {template.name!r} stopped at {where}: the output of the batch passed the limit of "
                         f"{limits.total_chars:,} characters in all; export fewer records or check the template")


def render_batch(template: Template, items: list[tuple], *, split: bool = False,
                 limits: Limits | dict | None = None, ids: list[str] | None = None, isolate: bool | None = None,
                 budget: Budget | None = None, first: int = 0) -> list:
    """Render each (messages, fields) or (messages, fields, tools) item: its text, or (text, prompt, completion) when
    `split`, within `limits`.

    `ids` name the records in error messages. Raises CurationError at the first record past a limit. `isolate`
    (default: every template but the built-ins, whose output only joins the record's text) renders in a child process.
    `budget`: this is one slice of a larger batch (the batch's characters and deadline, spent here too); `first`: the
    number of records of the batch before this slice.
    """
    limits = Limits.of(limits)
    budget = budget or Budget.start(limits)
    if not items:
        return []
    if isolate is None:
        isolate = not builtin(template)
    with budget.slice():
        if not isolate or os.name != "posix":
            return render_here(template, items, split, limits, ids, budget, first)
        out = Child(template, split, limits, ids, budget, first).run(items)
    budget.chars += sum(map(result_chars, out))
    return out


def batch_time_error(template: Template, limits: Limits, where: str) -> CurationError:
    return stopped(template.name, where, f"the batch ran longer than the limit of {limits.total_seconds:g} s in all")


def render_here(template: Template, items, split: bool, limits: Limits, ids, budget: Budget, first: int = 0) -> list:
    out = []
    for i, (messages, fields, *tools) in enumerate(items):
        where = label(i, ids, first)
        if time.monotonic() > budget.deadline:
            raise batch_time_error(template, limits, where)
        out.append(render_one(template, messages, fields, split, limits, where, text_chars(messages, fields), *tools[:1]))
        budget.chars += result_chars(out[-1])
        if budget.chars > limits.total_chars:
            raise total_error(template, limits, where)
    return out


class Child:
    """One child process for one batch: start, send chunks, watch the time, collect, always reap."""

    def __init__(self, template: Template, split: bool, limits: Limits, ids: list[str] | None, budget: Budget | None = None,
                 first: int = 0):
        from multiprocessing.connection import Connection

        self.template, self.split, self.limits, self.ids, self.first = template, split, limits, ids, first
        self.failed: list[BaseException] = []
        self.budget = budget or Budget.start(limits)
        self.deadline = self.budget.deadline if budget else time.monotonic() + limits.total_seconds
        self.progress_file = tempfile.TemporaryFile()
        self.progress_file.write(b"\0" * PROGRESS.size)
        self.progress_file.flush()
        self.progress = mmap.mmap(self.progress_file.fileno(), PROGRESS.size)
        self.stderr = tempfile.TemporaryFile()
        to_child, from_parent = os.pipe()[::-1]  # (write end, read end)
        from_child, to_parent = os.pipe()
        package = Path(__file__).resolve().parent
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOT, str(package.parents[1]), str(package), str(from_parent), str(to_parent),
                 str(self.progress_file.fileno())],
                pass_fds=(from_parent, to_parent, self.progress_file.fileno()), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=self.stderr)
        except BaseException:
            for fd in (to_child, from_parent, from_child, to_parent):
                os.close(fd)
            self.close_files()
            raise
        os.close(from_parent)
        os.close(to_parent)
        self.send_conn = Connection(to_child, readable=False)
        self.recv_conn = Connection(from_child, writable=False)

    def close_files(self) -> None:
        self.progress.close()
        self.progress_file.close()
        self.stderr.close()

    def run(self, items: list) -> list:
        """Chunks go out from a thread while results come back here, so the parent's pickling overlaps the rendering."""
        out: list = []
        sender = threading.Thread(target=self.send_all, args=(items,), daemon=True)
        try:
            sender.start()
            while len(out) < len(items):
                kind, payload = self.receive()
                if kind == "error":
                    raise CurationError(payload)
                out.extend(payload)
            return [expand(result) for result in out] if self.split else out
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            sender.join()
            self.send_conn.close()
            self.recv_conn.close()
            self.close_files()

    def send_all(self, items: list) -> None:
        try:
            self.send_conn.send(("start", self.template, self.split, self.limits, self.budget.chars))
            for start, chunk in chunks(items, self.ids, self.first):
                self.send_conn.send(("chunk", start, chunk))
            self.send_conn.send(("stop",))
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the child stopped: the receiving side reports why
        except BaseException as exc:  # noqa: BLE001 (a record that cannot be sent: handed to the receiving thread)
            self.failed.append(exc)
            self.process.kill()

    def current(self) -> int:
        return PROGRESS.unpack_from(self.progress, 0)[0]

    def receive(self):
        """The child's next message; kills it when one record runs past its time limit."""
        seen, since = None, time.monotonic()
        hard = self.limits.seconds + GRACE_SECONDS
        while not self.recv_conn.poll(POLL_SECONDS):
            index, now = self.current(), time.monotonic()
            if now > self.deadline:
                self.process.kill()
                raise batch_time_error(self.template, self.limits, label(max(index - 1, 0), self.ids, self.first))
            if index != seen:
                seen, since = index, now
            elif index and now - since > hard:
                self.process.kill()
                where = label(index - 1, self.ids, self.first)
                raise stopped(self.template.name, where, f"it ran longer than the limit of {self.limits.seconds:g} s per record")
            elif not index and now - since > IDLE_SECONDS:
                self.process.kill()
                raise RuntimeError(f"the template renderer started no record in {IDLE_SECONDS:g} s")
        try:
            return self.recv_conn.recv()
        except (EOFError, OSError):
            raise self.died() from None

    def died(self) -> BaseException:
        code = self.process.wait()
        if self.failed:
            return self.failed[0]
        index = self.current()
        where = label(index - 1, self.ids, self.first) if index else "the start"
        if code < 0:  # killed by a signal: the kernel's out-of-memory killer, or a crash past the memory limit
            return stopped(self.template.name, where, f"the rendering process was killed (signal {-code}), most likely past "
                                                      f"the memory limit of {size_text(self.limits.memory_bytes)}")
        self.stderr.seek(0)
        tail = self.stderr.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        return RuntimeError(f"the template renderer exited with code {code} at {where}: " + " | ".join(tail))


def chunks(items: list, ids: list[str] | None, first: int = 0):
    """(index of the first, [(messages, fields, characters of text, the record's label, tools)]) in pieces of CHUNK_* at most."""
    start, size, chunk = 0, 0, []
    for i, (messages, fields, *tools) in enumerate(items):
        chars = text_chars(messages, fields)
        chunk.append((messages, fields, chars, label(i, ids, first), tools[0] if tools else None))
        size += chars
        if len(chunk) >= CHUNK_ITEMS or size >= CHUNK_CHARS:
            yield start, chunk
            start, size, chunk = i + 1, 0, []
    if chunk:
        yield start, chunk


def serve(read_fd: int, write_fd: int, progress_fd: int) -> None:
    """The child: limit its memory, then render the chunks it is sent until told to stop."""
    import resource
    from multiprocessing.connection import Connection

    from curation.export import templates

    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    progress = mmap.mmap(progress_fd, PROGRESS.size)
    _, template, split, limits, total = inbox.recv()  # total: the characters earlier slices of the batch wrote
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    memory = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(limits.memory_bytes, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
        templates.LIMITED_MEMORY = True
    except (ValueError, OSError):  # a system that does not limit address space (macOS): the time limits still hold
        pass
    while True:
        message = inbox.recv()
        if message[0] == "stop":
            return
        _, start, chunk = message
        part, part_chars = [], 0
        for k, (messages, fields, chars, where, tools) in enumerate(chunk):
            PROGRESS.pack_into(progress, 0, start + k + 1)
            try:
                result = render_one(template, messages, fields, split, limits, where, chars, tools)
            except CurationError as exc:
                outbox.send(("error", str(exc)))
                return
            except MemoryError:  # outside the template's own code (Template.render reports those)
                part = None  # free this chunk's results before answering
                outbox.send(("error", str(stopped(template.name, where,
                                                  f"it needed more than the memory limit of {size_text(limits.memory_bytes)}"))))
                return
            size = result_chars(result)
            total += size
            if total > limits.total_chars:
                outbox.send(("error", str(total_error(template, limits, where))))
                return
            part.append(compact(result))
            part_chars += size
            if part_chars >= PART_CHARS:
                outbox.send(("part", part))
                part, part_chars = [], 0
        PROGRESS.pack_into(progress, 0, 0)
        outbox.send(("done", part))
