"""The Duplicates page: why each rejection is proposed, and "apply to all" held back by a large near group until confirmed."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import dedup, embed
from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from tests.curation.test_dedup import bag_of_words


@pytest.fixture
def crowded(tmp_path, monkeypatch):
    """20 texts that differ in one word, 3 copies each: one near group of 60 (over the limit of 50)."""
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    rows = [{"instruction": f"please describe the weather we had today in great detail for the {w} village", "output": "ok"}
            for w in [f"w{chr(97 + k)}x" for k in range(20)] for _ in range(3)]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "crowd.jsonl", rows)))
    dedup.save_settings(ws, method="embedding", threshold=0.8, rule="first_seen")
    dedup.find(ws)  # the pairs are cached, as after "Find duplicates"
    return ws


def test_apply_to_all_waits_for_confirmation_of_a_large_group(crowded):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception and not app.error
    assert any("Why 59 would be rejected" in c.value and "2** exact copies" in c.value for c in app.caption)
    assert any("holds 60 records" in w.value for w in app.warning)
    button = app.button(key="apply_all")
    assert button.disabled and "largest 60 records" in button.label
    app.checkbox(key="confirm_large").check().run()
    assert not app.button(key="apply_all").disabled
    app.button(key="apply_all").click().run()
    assert not app.exception and (load_records(crowded)["decision"] == "reject").sum() == 59


@pytest.mark.parametrize("model, rescore, warned", [("static", "none", True), ("static", "surface", False), ("minilm", "none", False)])
def test_fast_mode_without_a_second_stage_is_warned_about(tmp_path, monkeypatch, model, rescore, warned):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)  # the model's name is what matters here
    rows = [{"instruction": f"tell me about the {w} river and its banks", "output": "ok"} for w in ("red", "blue", "green")]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "r.jsonl", rows)))
    embed.EmbedSettings.save(ws, model=model)
    dedup.save_settings(ws, method="embedding", rescore=rescore)
    dedup.find(ws)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception
    assert any("Fast mode's static vectors" in w.value for w in app.warning) == warned
