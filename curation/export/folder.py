"""Where an export may write: `--out` checked before any work, and a folder replaced only when export wrote it.

Every export ends by writing a marker (`.curation-export`) that lists each file it wrote with its size and hash. A
folder is replaced only when it is empty or holds exactly those files, unchanged; it is checked again, with hashes,
once moved aside. New exports are written into a uniquely named temporary folder beside `--out` that carries a writer
file (pid, host), so the next export can remove the folder of a killed one, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

from curation.errors import CurationError
from curation.export.manifest import sha256_file
from curation.workspace import Workspace, pid_alive

MARKER = ".curation-export"  # written last into every export: lists each file export wrote, with its size and hash
WRITER = ".curation-export-writer"  # in export's temporary folder beside --out: the writing process (see remove_stale)
WRITTEN_BY = "curation export"
DATASETS_CACHE = re.compile(r"cache-[^/]*\.arrow")


def check_out(ws: Workspace, out: str | Path) -> Path:
    """The export folder, resolved, or a CurationError that says why it cannot be written (nothing is touched)."""
    text = str(out).strip()
    if not text:
        raise CurationError("no export folder given: name a new folder, e.g. --out exports/v1",
                            dashboard="no export folder given: name a new folder in 'Write to this folder on the server'")

    def refuse(why: str, fix: str = "name a new or empty folder") -> CurationError:
        return CurationError(f"cannot export to {out}: {why}; {fix}")

    given = Path(text).expanduser()
    try:
        if given.is_symlink():
            raise refuse("it is a symbolic link (export never replaces a link)", "name the real folder")
        target = given.resolve()
        if target.exists() and not target.is_dir():
            raise refuse("it is a file, not a folder")
        for above in target.parents:
            if above.exists():
                if not above.is_dir():
                    raise refuse(f"{above} is a file, not a folder")
                break
        for place, what in ((Path.cwd().resolve(), "the current directory"), (Path.home().resolve(), "the home directory")):
            if place.is_relative_to(target):
                raise refuse(f"it is {what} or a folder above it", "name a new folder for the export")
        root = ws.root.resolve()
        if root.is_relative_to(target):
            raise refuse(f"it is or holds the workspace {ws.root}", f"name a folder outside it or under {ws.root / 'exports'}")
        if target.is_relative_to(root) and not target.is_relative_to(root / "exports"):
            raise refuse(f"it is inside the workspace's own data {ws.root}", f"name a folder under {ws.root / 'exports'} or outside")
        for (path,) in ws.query("SELECT DISTINCT path FROM ingests"):
            if "://" in path:
                continue
            source = Path(path).expanduser().resolve()
            if source.is_relative_to(target) or target.is_relative_to(source):
                raise refuse(f"it is, holds or lies inside the ingested source {path}", "name a folder apart from your data")
        if target.exists():
            replaceable(target, out, hashes=False)
    except OSError as exc:
        raise refuse(exc.strerror or str(exc), "name a folder you can write") from None
    return target


def walk(folder: Path, descend=lambda path: True):
    """Every entry below `folder` (files, folders, links), links not followed, nor folders `descend` says no to."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        path = Path(entry.path)
        yield path
        if entry.is_dir(follow_symlinks=False) and descend(path):
            yield from walk(path, descend)


def more(items: list[str], noun: str = "entry", nouns: str = "entries") -> str:
    """The first item, and how many more: 'notes.txt and 3 more entries'."""
    rest = len(items) - 1
    return f"{items[0]} and {rest:,} more {noun if rest == 1 else nouns}" if rest else items[0]


def cache_file(name: str) -> bool:
    """A cache file that datasets' .map() (or .filter(), …) writes beside the Arrow files of a dataset loaded from disk."""
    return bool(DATASETS_CACHE.fullmatch(Path(name).name))


def replaceable(folder: Path, shown, hashes: bool) -> None:
    """Raise unless `folder` is an empty folder or an export holding only the files export wrote, unchanged."""
    def refuse(why: str, fix: str = "move it away or name a new or empty folder") -> CurationError:
        return CurationError(f"cannot export to {shown}: {why}; {fix}")

    if folder.is_symlink() or not folder.is_dir():
        raise refuse("it is no longer a plain folder")
    with os.scandir(folder) as scan:
        top = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in scan)
    if not top:
        return
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        raise refuse(f"it is not empty (it holds {more(top)}) and holds no {MARKER} marker, so export did not write it")
    try:
        listed = json.loads(marker.read_text(encoding="utf-8")).get("files")
    except (ValueError, AttributeError):
        listed = None
    if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
        raise refuse(f"its {MARKER} marker is not one export wrote")
    parents = {p.as_posix() for name in listed for p in Path(name).parents}
    unexpected: list[str] = []  # what export did not write (a folder, not what it holds)
    changed: list[str] = []
    for path in walk(folder, descend=lambda path: path.relative_to(folder).as_posix() in parents):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            unexpected.append(f"{name} (a link)")
        elif path.is_dir():
            if name not in parents:
                unexpected.append(f"{name}/")
        elif name == MARKER:
            continue
        elif not path.is_file() or name not in listed:
            unexpected.append(name)
        elif path.stat().st_size != listed[name].get("bytes") or (hashes and sha256_file(path) != listed[name].get("sha256")):
            changed.append(name)
    if unexpected:
        why, caches = f"it holds {more(unexpected)}, which export did not write", sum(map(cache_file, unexpected))
        if not caches:
            raise refuse(why)
        what = ("a cache file" if len(unexpected) == 1 else "cache files" if caches == len(unexpected)
                else f"{caches:,} of them cache files")
        raise refuse(f"{why} ({what} written by datasets' .map())", "delete them or export to a new folder")
    if changed:
        one = len(changed) == 1
        raise refuse(f"{more(changed, 'file', 'files')} {'was' if one else 'were'} changed after export wrote {'it' if one else 'them'}")


def swap_in(new: Path, target: Path, aside: Path, shown) -> None:
    """Move `new` to `target`; an earlier export there is moved aside first, checked again, and kept there on failure."""
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    os.rename(target, aside)
    try:
        replaceable(aside, shown, hashes=True)  # checked again once moved aside: nothing can be added to it any more
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise


def temp_prefix(target: Path) -> str:
    return f".{target.name}.export-tmp-"


def writer() -> dict:
    """What export writes into its temporary folder first: who writes there, so a later export can tell a killed one's folder."""
    return {"written_by": WRITTEN_BY, "pid": os.getpid(), "host": socket.gethostname()}


def dead(pid) -> bool:
    """Whether no process `pid` runs on this machine (False when unsure: a process of another user, a system without kill 0)."""
    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and not pid_alive(pid)


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary folders beside `target` that a killed export left; returns them.

    Only folders named like export's, holding export's writer file, written on this machine by a process that is gone.
    An earlier export that the killed one had moved aside, and not yet replaced, goes back to `target`.
    """
    prefix, host, removed = temp_prefix(target), socket.gethostname(), []
    try:
        with os.scandir(target.parent) as scan:
            candidates = sorted(Path(e.path) for e in scan if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False))
    except OSError:
        return removed
    for work in candidates:
        mark = work / WRITER
        try:
            info = json.loads(mark.read_text(encoding="utf-8")) if mark.is_file() and not mark.is_symlink() else None
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or info.get("written_by") != WRITTEN_BY or info.get("host") != host or not dead(info.get("pid")):
            continue
        old = work / "old"
        try:
            if old.is_dir() and not old.is_symlink() and not os.path.lexists(target):
                os.rename(old, target)  # killed between moving the earlier export aside and moving the new one in
        except OSError:
            continue  # kept, with the earlier export in it
        shutil.rmtree(work, ignore_errors=True)
        removed.append(work)
    return removed
