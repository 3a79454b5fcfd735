"""Every request and its response, kept by content in the workspace (`llm/cache.db`, SQLite in WAL mode).

The key is a hash of the endpoint's base URL, the model and the request body (prompt or messages and every sampling
parameter, the request's seed included), never the API key. A request met again is answered from here: a run that
was killed, cancelled or stopped by its budget resumes without paying twice, and a rerun with the same seed replays
the same prompts and replies. Failed requests are not kept (the next run asks again). Deleting the file only costs
money and time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import orjson

from curation.workspace import Workspace


def request_key(url: str, payload: dict) -> str:
    body = orjson.dumps({"url": url, "request": payload}, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class ResponseCache:
    def __init__(self, ws: Workspace):
        folder = ws.root / "llm"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "cache.db"
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # no fsync per reply: a crash can lose the last few cached replies, which costs asking them again, not data
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, request TEXT NOT NULL, "
                          "response TEXT NOT NULL, ts REAL NOT NULL)")
        self.conn.commit()

    def get(self, key: str) -> dict | None:
        with self.lock:
            row = self.conn.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, payload: dict, response: dict) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO responses VALUES (?,?,?,?)",
                              (key, orjson.dumps(payload).decode(), orjson.dumps(response).decode(), time.time()))
            self.conn.commit()

    def __len__(self) -> int:
        with self.lock:
            return self.conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self.lock:
            self.conn.close()
