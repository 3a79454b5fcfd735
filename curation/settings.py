"""Workspace settings: each stage owns a small typed settings object, kept as one JSON value per stage.

The values live in the workspace database's `settings` table (key: the stage's
name, value: JSON). `get` and `put` are the storage; `StageSettings` is the base
of every stage's settings (`SignalSettings` in `signals/compute.py`,
`EmbedSettings` in `embed.py`, `MapSettings` in `atlas.py`, `DedupSettings` in
`dedup/detect.py`): `load(ws)` gives the settings in force, `save(ws, **changes)`
validates and keeps changes in one transaction (nothing is kept when a value is
bad).

A read is a plain SELECT: no transaction, no lock, no table created (a database
that predates the table reads as defaults; opening the workspace adds the table).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, TypeVar

import orjson

from curation.workspace import Workspace

Read = Callable[[str], object]  # a stage name -> its stored JSON value, or None
S = TypeVar("S", bound="StageSettings")


def _read(conn: sqlite3.Connection, key: str):
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # a database not opened by this version yet: nothing saved
            return None
        raise
    return orjson.loads(row[0]) if row else None


def _write(conn: sqlite3.Connection, key: str, value) -> None:
    conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, orjson.dumps(value).decode()))


def get(ws: Workspace, key: str, default=None):
    """The JSON value kept under `key` (a stage's name), or `default`; a plain read that takes no lock."""
    conn = ws.connect()
    try:
        value = _read(conn, key)
    finally:
        conn.close()
    return default if value is None else value


def put(ws: Workspace, key: str, value) -> None:
    """Keep a JSON value under `key` (a stage's name)."""
    with ws.transaction() as conn:
        _write(conn, key, value)


@dataclass(frozen=True)
class StageSettings:
    """A stage's settings: its fields are the values, with their defaults; `stage` names the stored value.

    Subclasses override `check` (raise a CurationError naming a bad value), and where needed `merge`
    (how changes combine with what is stored) and `stored` (to read values an older version kept elsewhere).
    What is stored holds only what was ever saved, so a default that changes in a later version applies to
    every workspace that never chose otherwise; keys the class does not know are kept as they are.
    """

    stage: ClassVar[str] = ""

    @classmethod
    def stored(cls, read: Read) -> dict:
        """What the workspace keeps for this stage (only the values ever saved)."""
        return dict(read(cls.stage) or {})

    @classmethod
    def from_stored(cls: type[S], raw: dict) -> S:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        return {**raw, **changes}

    def check(self) -> None:
        """Raise a CurationError that names a bad value."""

    @classmethod
    def load(cls: type[S], ws: Workspace) -> S:
        """The settings in force (a plain read: no lock, nothing written)."""
        conn = ws.connect()
        try:
            raw = cls.stored(lambda key: _read(conn, key))
        finally:
            conn.close()
        return cls.from_stored(raw)

    @classmethod
    def _changed(cls, raw: dict, changes: dict) -> tuple[dict, S]:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no setting {', '.join(unknown)}")
        new = cls.merge(raw, {k: v for k, v in changes.items() if v is not None})
        settings = cls.from_stored(new)
        settings.check()
        return new, settings

    @classmethod
    def checked(cls: type[S], ws: Workspace, **changes) -> S:
        """The settings these changes would give, validated; nothing is kept (to check several stages before saving any)."""
        conn = ws.connect()
        try:
            raw = cls.stored(lambda key: _read(conn, key))
        finally:
            conn.close()
        return cls._changed(raw, changes)[1]

    @classmethod
    def save(cls: type[S], ws: Workspace, **changes) -> S:
        """Validate and keep the changes (a value of None leaves a setting as it is); returns the settings now in force."""
        with ws.transaction() as conn:
            new, settings = cls._changed(cls.stored(lambda key: _read(conn, key)), changes)
            _write(conn, cls.stage, new)
        return settings
