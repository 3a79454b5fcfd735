"""Stage settings: typed, validated, kept in the workspace schema; reads take no lock; older workspaces keep their choices."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from curation import settings
from curation.atlas import MapSettings, map_settings, save_settings
from curation.dedup.detect import DedupSettings, dedup_settings, default_threshold, embedding_model
from curation.embed import EmbedSettings
from curation.errors import CurationError
from curation.signals.compute import SignalSettings, thresholds, tokenizer_name
from curation.workspace import SCHEMA, Workspace

OLD_SCHEMA = SCHEMA.replace("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);", "")


def tables(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def old_workspace(root, values: dict | None = None):
    """A workspace database as an older version left it: no `settings` table, or one with the old keys."""
    root.mkdir(parents=True)
    conn = sqlite3.connect(root / "curation.db")
    conn.executescript(OLD_SCHEMA)
    if values is not None:
        conn.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        import json

        conn.executemany("INSERT INTO settings VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()])
    conn.commit()
    conn.close()
    return root


def test_the_settings_table_is_part_of_the_schema_and_old_workspaces_gain_it(tmp_path):
    assert OLD_SCHEMA != SCHEMA  # the table is created with the others
    assert "settings" in tables(Workspace(tmp_path / "new").db_path)
    root = old_workspace(tmp_path / "old")
    assert "settings" not in tables(root / "curation.db")
    Workspace(root)
    assert "settings" in tables(root / "curation.db")


def test_a_settings_read_takes_no_write_lock(ws):
    MapSettings.save(ws, method="kmeans", k=4)
    holder = sqlite3.connect(ws.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    read = {}

    def reader():
        read["map"] = map_settings(ws)
        read["dedup"] = dedup_settings(ws)
        read["signals"] = (thresholds(ws), tokenizer_name(ws))
        read["raw"] = settings.get(ws, "map")

    try:
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(timeout=10)  # a read that waited for the lock would wait up to the 60 s busy timeout
        assert not thread.is_alive(), "a settings read waited for another writer's lock"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert read["map"]["method"] == "kmeans" and read["map"]["k"] == 4 and read["raw"] == {"method": "kmeans", "k": 4}
    assert read["dedup"]["threshold"] == default_threshold("embedding", "minilm")[0] and read["signals"][1] == "llama-3"


def test_a_settings_read_creates_no_table(tmp_path):
    root = old_workspace(tmp_path / "old")
    ws = Workspace(root, open_db=False)  # the database as it is: not upgraded
    assert settings.get(ws, "dedup", "none") == "none"
    assert DedupSettings.load(ws) == DedupSettings() and dedup_settings(ws)["threshold"] == default_threshold("embedding", "minilm")[0]
    assert map_settings(ws) == {"model": "minilm", "backend": "auto", "text": "prompt", "method": "kmeans", "k": None,
                               "min_size": None}
    assert tokenizer_name(ws) == "llama-3"
    assert "settings" not in tables(root / "curation.db")


def test_an_old_workspace_keeps_its_embedding_model_and_signal_settings(tmp_path):
    kept = {"model": "static", "text": "output", "method": "kmeans", "k": 5, "min_size": None}
    root = old_workspace(tmp_path / "old", {"map": kept, "thresholds": {"short_output": 3.0}, "tokenizer": "my/tokenizer"})
    ws = Workspace(root)
    assert EmbedSettings.load(ws) == EmbedSettings(model="static", text="output")
    assert MapSettings.load(ws) == MapSettings(method="kmeans", k=5)
    assert map_settings(ws) == {**kept, "backend": "auto"}  # the embedding backend (issue 18) reads as its default
    assert embedding_model(ws) == "static"  # dedup (and export's leakage check) embed with embed's model
    signals = SignalSettings.load(ws)
    assert signals.thresholds["short_output"] == 3.0 and signals.tokenizer == "my/tokenizer"
    MapSettings.save(ws, method="hdbscan")  # saving the map's own settings keeps the model chosen before
    assert EmbedSettings.load(ws).model == "static" and map_settings(ws)["method"] == "hdbscan"
    EmbedSettings.save(ws, text="prompt")  # embed's first save moves the old choice under its own key
    assert settings.get(ws, "embed") == {"model": "static", "text": "prompt"}
    assert map_settings(ws) == {"model": "static", "backend": "auto", "text": "prompt", "method": "hdbscan", "k": 5,
                               "min_size": None}
    SignalSettings.save(ws, thresholds={"short_output": 5})
    assert settings.get(ws, "signals") == {"thresholds": {"short_output": 5.0}, "tokenizer": "my/tokenizer"}
    assert tokenizer_name(ws) == "my/tokenizer"


def test_only_chosen_values_are_stored_and_unknown_keys_are_kept(ws):
    SignalSettings.save(ws, thresholds={"short_output": 3})
    assert settings.get(ws, "signals") == {"thresholds": {"short_output": 3.0}}  # the other thresholds follow their signal
    SignalSettings.save(ws, thresholds={"repetition": 0.5})
    assert settings.get(ws, "signals")["thresholds"] == {"short_output": 3.0, "repetition": 0.5}
    settings.put(ws, "map", {"method": "kmeans", "from_a_later_version": 1})
    MapSettings.save(ws, k=4, min_size=None)  # None leaves a setting as it is
    assert settings.get(ws, "map") == {"method": "kmeans", "from_a_later_version": 1, "k": 4}
    assert MapSettings.load(ws) == MapSettings(method="kmeans", k=4)


def test_bad_values_are_refused_with_the_same_errors_and_nothing_is_kept(ws):
    with pytest.raises(CurationError, match=r"unknown clustering method 'vibes': choose one of hdbscan, kmeans"):
        MapSettings.save(ws, method="vibes")
    with pytest.raises(CurationError, match=r"unknown text choice 'all': choose one of prompt, output, conversation"):
        save_settings(ws, method="hdbscan", text="all")
    assert map_settings(ws)["method"] == "kmeans"  # the good value of a refused save is not kept either
    with pytest.raises(CurationError, match="has no threshold"):
        SignalSettings.save(ws, thresholds={"short_output": 2, "refusal": 2})
    with pytest.raises(CurationError, match="must be a number"):
        SignalSettings.save(ws, thresholds={"short_output": "many"})
    with pytest.raises(CurationError, match="unknown flag"):
        SignalSettings.save(ws, thresholds={"nonsense": 1})
    assert SignalSettings.load(ws) == SignalSettings.from_stored({})
    with pytest.raises(CurationError, match="between 0 and 1"):
        DedupSettings.save(ws, threshold=1.5)
    with pytest.raises(CurationError, match="unknown rule"):
        DedupSettings.save(ws, rule="loudest")
    with pytest.raises(TypeError, match="no setting colour"):
        MapSettings.save(ws, colour="red")
    assert settings.get(ws, "map") is None and settings.get(ws, "signals") is None and settings.get(ws, "dedup") is None


def test_typed_settings_and_the_dict_views_agree(ws):
    conf = DedupSettings.save(ws, method="minhash")  # no threshold kept: the default in force, resolved by dedup_settings
    assert conf.threshold is None and dedup_settings(ws) == {**DedupSettings().__dict__, "method": "minhash", "threshold": 0.5}
    assert DedupSettings.save(ws, threshold=0.7).threshold == 0.7
    assert DedupSettings.save(ws, method="embedding").threshold is None  # a new method without a threshold: its default
    assert dedup_settings(ws)["threshold"] == default_threshold("embedding", "minilm")[0]
    SignalSettings.save(ws, thresholds={"short_output": 4})
    assert thresholds(ws)["short_output"] == 4.0 and thresholds(ws) == SignalSettings.load(ws).thresholds
