"""The demo dataset shipped with the project, and the list of what was planted in it."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
DEMO_PATH = HERE / "demo.jsonl"
PLANTED_PATH = HERE / "planted.json"
DEMO_NAME = "demo"


def planted() -> dict[str, list]:
    """Problem kind -> demo_ids (pairs [original, copy] for duplicates)."""
    return json.loads(PLANTED_PATH.read_text(encoding="utf-8"))


def load_demo(ws) -> dict:
    """Ingest the demo dataset into a workspace (adds nothing when already there)."""
    from curation.ingest import ingest

    return ingest(ws, DEMO_PATH, name=DEMO_NAME)
