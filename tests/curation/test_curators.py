"""Named curators (issue 17): the default is never the OS user; who decided what; agreement and Cohen's kappa."""

from __future__ import annotations

import getpass

import pytest

from curation import curators, decisions, edits
from curation.annotated import annotate
from curation.errors import CurationError
from curation.ingest import ingest
from curation.query import Filter
from curation.store import read_records
from tests.conftest import write_jsonl


@pytest.fixture
def ids(ws, tmp_path, monkeypatch) -> list[str]:
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    rows = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(10)]
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows), name="d")
    return sorted(read_records(ws)["record_id"])


def test_default_curator_is_anonymous_not_the_os_user(monkeypatch):
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    assert decisions.default_curator() == "anonymous"
    monkeypatch.setattr(getpass, "getuser", lambda: "root")
    assert decisions.default_curator() != "root"


def test_the_environment_variable_names_the_curator(monkeypatch, ws, ids):
    monkeypatch.setenv("CURATION_CURATOR", "  maria ")
    assert decisions.default_curator() == "maria"
    decisions.decide(ws, ids[:1], "reject", "manual")
    edits.edit(ws, ids[1], {"output": "Better."})
    assert decisions.history(ws, ids[0])[0]["curator"] == "maria"
    assert edits.edit_history(ws, ids[1])[1]["curator"] == "maria"
    monkeypatch.setenv("CURATION_CURATOR", "")
    assert decisions.default_curator() == "anonymous"


def test_kappa_on_a_small_example():
    # 10 items: both keep 4, both reject 3, a keeps b rejects 2, a rejects b keeps 1.
    pairs = [("keep", "keep")] * 4 + [("reject", "reject")] * 3 + [("keep", "reject")] * 2 + [("reject", "keep")]
    # observed 0.7; a keeps 0.6, b keeps 0.5: expected 0.6*0.5 + 0.4*0.5 = 0.5; kappa (0.7-0.5)/(1-0.5) = 0.4
    assert curators.kappa(pairs) == pytest.approx(0.4)
    assert curators.kappa([("keep", "keep")] * 3) is None  # one label only: undefined
    assert curators.kappa([("keep", "keep"), ("reject", "reject")]) == pytest.approx(1.0)
    assert curators.kappa([("keep", "reject"), ("reject", "keep")]) == pytest.approx(-1.0)
    assert curators.kappa([]) is None


def test_agreement_over_records_both_decided(ws, ids):
    a = {ids[i]: d for i, d in enumerate(["keep"] * 6 + ["reject"] * 4)}
    b = {ids[i]: d for i, d in enumerate(["keep"] * 4 + ["reject"] * 2 + ["reject"] * 3)}  # b decided 9 of 10
    for rid, d in a.items():
        decisions.decide(ws, [rid], d, "manual", curator="ana")
    for rid, d in b.items():
        decisions.decide(ws, [rid], d, "manual", curator="bob")
    out = curators.agreement(ws, "ana", "bob")
    assert out["n"] == 9 and out["only_a"] == 1 and out["only_b"] == 0
    assert out["agreement"] == pytest.approx(7 / 9) and out["disagree"] == sorted([ids[4], ids[5]])
    assert out["table"] == {"keep": {"keep": 4, "reject": 2}, "reject": {"keep": 0, "reject": 3}}
    # a keeps 6/9, b keeps 4/9: expected 6/9*4/9 + 3/9*5/9 = 39/81; observed 63/81; kappa = 24/42
    assert out["kappa"] == pytest.approx(24 / 42, abs=1e-6)


def test_agreement_uses_each_curators_latest_decision_not_undone(ws, ids):
    decisions.decide(ws, ids[:1], "reject", "manual", curator="ana")
    decisions.decide(ws, ids[:1], "keep", "manual", curator="bob")
    decisions.decide(ws, ids[:1], "keep", "manual", curator="ana")  # ana changes her mind: they agree now
    assert curators.agreement(ws, "ana", "bob")["agreement"] == 1.0
    decisions.undo(ws, ids[:1], curator="ana")  # undoes ana's keep: her reject stands again
    out = curators.agreement(ws, "ana", "bob")
    assert out["n"] == 1 and out["agreement"] == 0.0 and out["disagree"] == ids[:1]


def test_the_same_decision_by_a_second_curator_is_logged_as_theirs(ws, ids):
    assert decisions.decide(ws, ids[:2], "reject", "manual", curator="ana") == 2
    assert decisions.decide(ws, ids[:2], "reject", "manual", curator="ana") == 0  # the same curator again: nothing
    assert decisions.decide(ws, ids[:2], "reject", "manual", curator="bob") == 2
    assert curators.agreement(ws, "ana", "bob")["agreement"] == 1.0


def test_curators_counts_and_errors(ws, ids):
    decisions.decide(ws, ids[:3], "reject", "manual", curator="ana")
    decisions.decide(ws, ids[:1], "keep", "manual", curator="bob")
    edits.edit(ws, ids[5], {"output": "x"}, curator="cy")
    listed = {c["curator"]: c for c in curators.curators(ws)}
    assert listed["ana"] == {"curator": "ana", "decisions": 3, "current": 2, "edits": 0, "removals": 0}
    assert listed["bob"]["current"] == 1 and listed["cy"]["edits"] == 1
    with pytest.raises(CurationError, match="no decisions by 'zed'"):
        curators.agreement(ws, "ana", "zed")
    with pytest.raises(CurationError, match="two different"):
        curators.agreement(ws, "ana", "ana")


def test_filter_by_curator_edit_state_and_reason(ws, ids):
    decisions.decide(ws, ids[:2], "reject", f"near_duplicate_of:{ids[9]}", curator="ana")
    decisions.decide(ws, ids[2:3], "reject", "manual", curator="bob")
    edits.edit(ws, ids[5], {"output": "Edited."})
    frame = annotate(ws, stages=("decisions",))
    assert sorted(Filter(curator="ana").apply(frame)["record_id"]) == ids[:2]
    assert sorted(Filter(curator="bob").apply(frame)["record_id"]) == ids[2:3]
    assert sorted(Filter(reasons=("near_duplicate_of",)).apply(frame)["record_id"]) == ids[:2]
    assert sorted(Filter(reasons=("near_duplicate_of", "manual")).apply(frame)["record_id"]) == ids[:3]
    assert list(Filter(edited=True).apply(frame)["record_id"]) == [ids[5]]
    assert len(Filter(edited=False).apply(frame)) == 9
    with pytest.raises(CurationError, match="curator"):
        Filter(curator="ana").apply(read_records(ws))  # without the decisions columns: a clear error


def test_filter_by_selection_and_its_margin(ws, ids, monkeypatch):
    import numpy as np

    from curation import embed, select

    def embedder(ws, name=None):
        class Fake:
            batch_size = 64

            def encode(self, texts):
                out = np.array([[len(t), sum(map(ord, t)) % 89, 1.0] for t in texts], dtype="float32")
                return out / np.linalg.norm(out, axis=1, keepdims=True)
        return Fake()

    monkeypatch.setattr(embed, "get_embedder", embedder)
    frame = annotate(ws, stages=("decisions",))
    assert frame["selection"].isna().all()
    sel = select.plan(select.load_pool(ws, model="fake"), 4, "random", seed=1)
    select.apply(ws, sel)
    ids_of = sel.pool.frame["record_id"].to_numpy()
    chosen, margin = sorted(ids_of[sel.chosen]), sorted(ids_of[sel.margin])
    assert len(chosen) == 4 and len(margin) == 6 and not set(chosen) & set(margin)
    frame = annotate(ws, stages=("decisions",))
    assert sorted(Filter(selection="selected").apply(frame)["record_id"]) == chosen
    assert sorted(Filter(selection="margin").apply(frame)["record_id"]) == margin
    with pytest.raises(CurationError, match="unknown selection filter"):
        Filter(selection="chosen").apply(frame)
    select.undo_last(ws)
    assert annotate(ws, stages=("decisions",))["selection"].isna().all()  # undone: no selection to filter by
