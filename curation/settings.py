"""Workspace settings (signal thresholds, tokenizer, expected language), shared by the CLI and the dashboard."""

from __future__ import annotations

import orjson

from curation.workspace import Workspace

SCHEMA = "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def get(ws: Workspace, key: str, default=None):
    with ws.transaction() as conn:
        conn.execute(SCHEMA)
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else default


def put(ws: Workspace, key: str, value) -> None:
    with ws.transaction() as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, orjson.dumps(value).decode()))
