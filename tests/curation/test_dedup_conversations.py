"""Conversations: compared on what differs after the shared prefix; OASST paths of one tree are siblings, not duplicates;
the keep rule can prefer the human rank (OASST `rank`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation import dedup
from curation.dedup.families import exact_texts, is_conversation
from curation.dedup.groups import assign
from curation.ingest import ingest
from curation.signals.duplicates import normalised_hashes
from curation.store import load_records
from curation.texts import record_texts
from curation.workspace import Workspace
from tests.conftest import write_jsonl

QUESTION = "hello there, could you tell me what the capital city of france is and why it became the capital"


def chat(*turns):
    roles = ["user", "assistant"] * len(turns)
    return {"messages": [{"role": r, "content": t} for r, t in zip(roles, turns)]}


def test_siblings_that_differ_in_their_replies_are_not_duplicates(tmp_path):
    rows = [chat(QUESTION, "Paris, since the Capetian kings ruled from there."),
            chat(QUESTION, "It is Paris; it grew around the royal court."),  # a sibling: same prompt, another reply
            chat(QUESTION, "PARIS,   since the Capetian kings ruled from there."),  # an exact copy of the first
            chat(QUESTION, "Paris since the Capetian kings ruled from there")]  # the same words
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "chats.jsonl", rows)))
    frame = load_records(ws)
    assert all(is_conversation(m) for m in frame["messages"])
    prompts = record_texts(frame, "prompt")
    assert len(set(prompts)) == 1 and len(set(normalised_hashes(exact_texts(frame, prompts)))) == 3  # the whole conversation
    found = dedup.find(ws, method="minhash", rule="first_seen")
    t = found.table
    assert t["why"].tolist() == ["representative", None, "exact", "same_values"]
    assert t["family"].iloc[0].startswith("conversation from hello there")
    assert found.summary()["family_pairs_set_aside"] == 3  # the sibling against each of the three others


def test_human_rank_keeps_the_reply_people_ranked_best():
    frame = pd.DataFrame({"record_id": ["a", "b", "c"], "dataset": "d", "source": "human", "output": "x", "decision": "undecided",
                          "reason": None, "meta": ['{"ranks": [null, 1]}', '{"ranks": [null, 0]}', None]})
    table = assign(frame, np.array([1, 1, 1]), np.array(["h1", "h2", "h3"]), "human_rank")
    assert table.loc[table["representative"] == True, "record_id"].tolist() == ["b"]  # noqa: E712
    assert dedup.RULES["human_rank"].needs is None


def test_oasst_paths_of_one_tree_are_siblings(shared_data, tmp_path):
    """Real OASST trees: 626 root-to-leaf paths; paths sharing a prompt used to be exact copies (on the prompt) and most
    would have been rejected. Now only paths whose whole conversations match could go."""
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(shared_data / "oasst" / "en_100_tree.jsonl"))
    found = dedup.find(ws, method="minhash", rule="human_rank")
    s = found.summary()
    assert s["records"] == 626
    assert s["would_reject"] <= 10 and s["family_pairs_set_aside"] > 300
    assert found.families.label[0].startswith("conversation from id ")
    exact = dedup.find(ws, method="exact", rule="human_rank").summary()
    assert exact["would_reject"] == 0  # no two paths are the same conversation
