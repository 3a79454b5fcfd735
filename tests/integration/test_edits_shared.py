"""Edits on real data (issue 17): LLaMA-Factory's identity set leaves {{name}} and {{author}} in its answers."""

from __future__ import annotations

from curation import edits, remove
from curation.annotated import annotate
from curation.ingest import ingest
from curation.query import Filter
from curation.store import load_records


def test_fill_placeholder_clears_template_leftovers_on_identity(ws, shared_data, tmp_path):
    ingest(ws, shared_data / "chat" / "identity.json", name="identity")
    before = annotate(ws, stages=("signals",), compute=("signals",))
    flagged = set(Filter(flags=("template_leftovers",)).apply(before)["record_id"])
    assert len(flagged) >= 77  # every answer naming {{name}}
    preview = edits.bulk_fix(ws, "fill_placeholder", ids=sorted(flagged), value="name=Ava,author=Acme Labs", dry_run=True)
    assert preview["changed"] == len(flagged) and edits.edited_ids(ws) == set()
    done = edits.bulk_fix(ws, "fill_placeholder", ids=sorted(flagged), value="name=Ava,author=Acme Labs", curator="ana")
    assert done["changed"] == len(flagged)
    after = annotate(ws, stages=("signals",), compute=("signals",))
    assert Filter(flags=("template_leftovers",)).apply(after).empty  # recomputed on the edited text
    outputs = " ".join(load_records(ws)["output"])
    assert "{{" not in outputs and "I am Ava, an AI assistant developed by Acme Labs." in outputs
    assert set(Filter(edited=True).apply(after)["record_id"]) == flagged
    # the whole set removed and restored: the edits come back with it
    remove.remove_dataset(ws, "identity")
    assert edits.edited_ids(ws) == set() and load_records(ws).empty
    remove.restore_dataset(ws, "identity")
    assert edits.edited_ids(ws) == flagged
