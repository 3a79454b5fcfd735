"""The review queue: any set of records (a filter, a flag, a cluster, a duplicate group, a selection margin, search hits)
stepped through one at a time, with one key each for keep, reject, skip, next and previous.

A queue is a name and an ordered list of record ids, with its position, its reason and the records skipped. Queues live
in the session (`state.REVIEW_QUEUES`, under a key no widget owns), so they survive going to another page and back.
A queue's reason is its own: it starts from the reason the queue was opened with, an edit is remembered for that queue,
and opening another queue never carries it over. Every decision goes through `curation.decisions` with the curator
named in the sidebar.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd
import streamlit as st

from curation import decisions
from curation.records import loads
from ui import show, state
from ui.data import cluster_labels, flag_codes, largest_groups, positions, record_datasets, shown_errors
from ui.decide import curator

PAGE = "pages/review.py"
# One key each (Streamlit reserves C and R, and punctuation is not supported).
SHORTCUTS = {"previous": "P", "keep": "K", "reject": "X", "skip": "S", "next": "N"}


def queues() -> dict[str, dict]:
    return dict(state.get(state.REVIEW_QUEUES) or {})


def _save(name: str, queue: dict) -> None:
    """Replace the queue (a new dict each time: the defaults and other sessions never share one)."""
    all_queues = queues()
    all_queues[name] = queue
    state.set(state.REVIEW_QUEUES, all_queues)


def open_queue(name: str, ids: list[str], *, reason: str = "manual", pos: int = 0) -> None:
    """Make `ids` the queue shown, under `name`. The same name with the same records goes back to that queue (its place
    and reason kept, or the place `pos` asked for); with other records it starts again, with `reason`."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    old = queues().get(name)
    if old is not None and old["ids"] == ids:
        queue = {**old, "pos": pos if pos else old["pos"]}
    else:
        queue = {"ids": ids, "pos": min(max(pos, 0), len(ids)), "reason": reason or "manual", "skipped": []}
    _save(name, queue)
    state.set(state.REVIEW_QUEUE, name)


def review_button(label: str, name: str, ids: list[str], *, key: str, reason: str = "manual", pos: int = 0,
                  container=None, help: str | None = None, type: str = "secondary") -> None:
    """A button that opens `ids` as the queue `name` on the Review page."""
    where = container if container is not None else st
    if where.button(label, key=key, on_click=open_queue, args=(name, list(ids)), kwargs={"reason": reason, "pos": pos},
                    disabled=not len(ids), type=type,
                    help=help or "Opens these records as a review queue: one key each for keep, reject, skip, next"):
        st.switch_page(PAGE)


def filter_name(f) -> str:
    """A queue name that says which filter made it, e.g. “Records: flag refusal · search recipe”."""
    parts = [f"search “{f.search.strip()}”"] if f.search.strip() else []
    for label, values in (("dataset", f.datasets), ("source", f.sources), ("decision", f.decisions), ("flag", f.flags)):
        if values:
            parts.append(f"{label} {', '.join(map(str, values))}")
    for label, value in (("reason", ", ".join(f.reasons)), ("duplicate group", f.dup_group), ("selection", f.selection),
                         ("edited", {True: "yes", False: "no"}.get(f.edited)), ("decided by", f.curator)):
        if value not in (None, ""):
            parts.append(f"{label} {value}")
    return "Records: " + (" · ".join(parts) if parts else "all")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _set_reason(name: str, widget: str) -> None:
    queue = queues().get(name)
    if queue is not None:
        _save(name, {**queue, "reason": st.session_state[widget]})


def _move(name: str, queue: dict, pos: int, skipped: str | None = None) -> None:
    changes = {"pos": min(max(pos, 0), len(queue["ids"]))}
    if skipped is not None and skipped not in queue["skipped"]:
        changes["skipped"] = [*queue["skipped"], skipped]
    _save(name, {**queue, **changes})


def history_table(ws, rid: str) -> None:
    events = decisions.history(ws, rid)
    if not events:
        st.caption("No decisions yet.")
        return
    hist = pd.DataFrame(events)
    hist["time"] = hist["ts"].map(lambda t: datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S"))
    st.dataframe(hist[["time", "action", "reason", "curator"]], hide_index=True, width="stretch")


def context_line(rec: pd.Series) -> str:
    """Where the record stands: its flags, cluster and duplicate group (those computed), as safe Markdown."""
    parts = []
    flags = rec.get("flags")
    if isinstance(flags, (list, tuple)) or hasattr(flags, "__len__") and not isinstance(flags, str):
        parts.append("flags: " + (", ".join(show.plain(f) for f in flags) if len(flags) else "none"))
    cluster = rec.get("cluster_label")
    if isinstance(cluster, str):
        parts.append(f"cluster: {show.plain(cluster)}")
    group = rec.get("dup_group")
    if group is not None and not pd.isna(group):
        role = ("representative: rejecting it makes another member represent the group, which can regroup and renumber "
                "the groups (1 = the largest)" if bool(rec.get("representative"))
                else f"duplicate of {show.plain(rec.get('representative_id'))}")
        parts.append(f"duplicate group {int(group)} ({role})")
    elif "dup_group" in rec:
        parts.append("no duplicate group")
    return " · ".join(parts) if parts else "flags, cluster and duplicate group: not computed yet"


def record_body(rec: pd.Series) -> None:
    """The whole record as text: every message of a conversation with its role, else its fields."""
    messages = loads(rec["messages"])
    if messages:
        st.markdown(f"**Conversation** ({len(messages)} messages)")
        for m in messages:
            role = m.get("role", "?")
            show.text(role if "label" not in m else f"{role} ({m['label']})", m.get("content"))
        return
    if rec.get("system"):
        show.text("System", rec["system"])
    show.text("Instruction", rec["instruction"])
    show.text("Input", rec["input"])
    show.text("Output", rec["output"])


def record_view(ws, rec: pd.Series, *, key: str) -> None:
    """One record: where it comes from, its decision, flags, cluster and group; its text; its history; its editor."""
    from ui import edit

    st.markdown(f"**{show.plain(rec['record_id'])}** · **{show.plain(rec['dataset'])}** · {show.plain(rec.get('file', ''))}, "
                f"{show.plain(rec.get('where', ''))} · source **{show.plain(rec['source'])}**")
    verdict = rec["decision"] if rec["decision"] == "undecided" else f"{rec['decision']} ({rec['reason']})"
    st.markdown(f"Decision: **{show.plain(verdict)}**")
    st.caption(context_line(rec))
    left, right = st.columns([3, 2])
    with left:
        record_body(rec)
    with right:
        st.markdown("**Decision history**")
        history_table(ws, rec["record_id"])
        edit.history(ws, rec["record_id"], key=key)
    edit.editor(ws, rec, key=key)


def progress(queue: dict, decided: pd.Series, skipped: pd.Series) -> None:
    """`decided`: the decision of each record of the queue; `skipped`: that of each record skipped (one per record)."""
    n, pos = len(queue["ids"]), queue["pos"]
    kept, rejected = int((decided == "keep").sum()), int((decided == "reject").sum())
    still = int(skipped.eq("undecided").sum())  # skipped and still undecided
    where = f"Record {pos + 1:,} of {n:,}" if pos < n else f"End of the queue ({n:,} records)"
    st.progress(min(pos, n) / max(n, 1), text=f"{where} · {kept + rejected:,} decided ({kept:,} kept, {rejected:,} rejected) · "
                                             f"{still:,} skipped · {n - kept - rejected:,} undecided")


def choose_queue() -> str | None:
    names = list(queues())
    if not names:
        return None
    current = state.get(state.REVIEW_QUEUE)
    if current not in names:
        current = names[-1]
        state.set(state.REVIEW_QUEUE, current)
    st.selectbox("Queue", names, help="Every queue opened in this session keeps its place and its reason",
                 **state.bound(state.REVIEW_QUEUE, options=names))
    return state.get(state.REVIEW_QUEUE)


def reason_input(name: str, queue: dict) -> str:
    """The queue's reason: remembered for this queue, never carried to another one."""
    widget = f"w.review.reason.{_digest(name)}"
    if st.session_state.get(widget) != queue["reason"]:
        st.session_state[widget] = queue["reason"]
    return st.text_input("Reason for this queue", key=widget, on_change=_set_reason, args=(name, widget),
                         help="Every keep and reject in this queue records this reason (a code such as manual, "
                              "off_topic, low_quality). It belongs to this queue: another queue has its own.")


def act(ws, name: str, queue: dict, rid: str | None, action: str) -> None:
    """keep / reject (then the next record), skip, next, previous."""
    pos = queue["pos"]
    if action in ("keep", "reject"):
        with shown_errors(f"{action} {rid}"):
            reason = (queue["reason"] or "").strip() or "manual"
            decisions.decide(ws, [rid], action, reason, curator=curator(), index=record_datasets(ws, [rid]))
            _move(name, queue, pos + 1)
            st.rerun()
        return
    if action == "skip":
        _move(name, queue, pos + 1, skipped=rid)
    else:
        _move(name, queue, pos + (1 if action == "next" else -1))
    st.rerun()


def controls(ws, name: str, queue: dict, rid: str | None) -> None:
    n, pos = len(queue["ids"]), queue["pos"]
    labels = {"previous": "Previous", "keep": "Keep", "reject": "Reject", "skip": "Skip", "next": "Next"}
    columns = st.columns(len(labels))
    for column, (action, label) in zip(columns, labels.items()):
        disabled = (action == "previous" and pos == 0) or (action != "previous" and pos >= n)
        if column.button(label, key=f"review_{action}", shortcut=SHORTCUTS[action], disabled=disabled, width="stretch",
                         type="primary" if action == "keep" else "secondary"):
            act(ws, name, queue, rid, action)
    st.caption("Keys: " + " · ".join(f"{SHORTCUTS[a]} {labels[a].lower()}" for a in labels) +
               " (while no text box has the cursor). Keep and reject go on to the next record.")


def queue_view(ws, frame: pd.DataFrame, name: str) -> None:
    """The queue `name` over `frame`, all records in their order (`ui.data.annotated_records`): rows are found by id
    through the kept index of the records, never by a pass over every record (issue 18: one key per decision at 1M)."""
    queue = queues()[name]
    rows = positions(ws, queue["ids"])
    if (rows < 0).any():
        gone = int((rows < 0).sum())
        st.warning(f"{gone:,} record(s) of this queue no longer exist (their dataset was removed): they are left out.")
        queue = {**queue, "ids": [i for i, r in zip(queue["ids"], rows) if r >= 0]}
        queue["pos"] = min(queue["pos"], len(queue["ids"]))
        _save(name, queue)
        rows = rows[rows >= 0]
    if not queue["ids"]:
        st.info("This queue is empty.")
        return
    skipped = positions(ws, dict.fromkeys(queue["skipped"]))
    progress(queue, frame["decision"].iloc[rows], frame["decision"].iloc[skipped[skipped >= 0]])
    reason_input(name, queue)
    queue = queues()[name]  # the reason just typed
    pos = queue["pos"]
    rid = queue["ids"][pos] if pos < len(queue["ids"]) else None
    controls(ws, name, queue, rid)
    if rid is None:
        st.success(f"You reached the end of “{show.plain(name)}”. Go back with Previous, or open another queue.")
    else:
        rec = frame.iloc[rows[pos]]
        st.divider()
        record_view(ws, rec, key=f"review.{_digest(rid)}")
    from ui import edit

    with st.expander(f"Fix every record in this queue ({len(queue['ids']):,})"):
        edit.bulk_fix_panel(ws, queue["ids"], key=f"review.{_digest(name)}")


def curators_panel(ws) -> None:
    """Who decided and edited here, and where two curators decided the same records, how far they agree
    (`curation.curators`): the share, Cohen's kappa, the keep/reject table and a queue of the records they disagree on."""
    try:
        from curation import curators
    except ImportError:  # the library without named curators
        return
    people = curators.curators(ws)
    if not people:
        return
    with st.expander(f"Curators ({len(people)}) and their agreement"):
        st.dataframe(pd.DataFrame(people), hide_index=True, width="stretch")
        names = [c["curator"] for c in people if c["decisions"]]
        if len(names) < 2:
            st.caption("Agreement shows once two curators have decided records (name yourself in the sidebar).")
            return
        a, b = st.columns(2)
        first = a.selectbox("Curator", names, key="w.review.agree_a")
        second = b.selectbox("and", [n for n in names if n != first], key="w.review.agree_b")
        with shown_errors("compare the curators"):
            result = curators.agreement(ws, first, second)
            if not result["n"]:
                st.caption(f"{show.plain(first)} and {show.plain(second)} have not decided the same records yet.")
                return
            kappa = "undefined (one label only)" if result["kappa"] is None else f"{result['kappa']:.2f}"
            st.markdown(f"On the **{result['n']:,}** records both decided they agree on **{result['agreement']:.0%}** "
                        f"(Cohen's kappa {kappa}); {len(result['disagree']):,} disagreements. "
                        f"{result['only_a']:,} decided by {show.plain(first)} only, {result['only_b']:,} by {show.plain(second)} only.")
            table = pd.DataFrame(result["table"]).T
            table.index = [f"{first}: {d}" for d in table.index]
            table.columns = [f"{second}: {d}" for d in table.columns]
            st.dataframe(table, width="stretch")
            review_button(f"Review the {len(result['disagree']):,} disagreements", f"Disagreements: {first} / {second}",
                          result["disagree"], key="review_disagree")


def start_form(ws, frame: pd.DataFrame) -> None:
    """Open a queue from what is computed already: a flag, a cluster, a duplicate group."""
    from curation.query import Filter

    choices = {}  # the options are gathered once per signals, map and duplicate groups (ui.data), not on every key
    if "flags" in frame:
        for code in flag_codes(ws):
            choices[f"flag {code}"] = (Filter(flags=(code,)), code)
    if "cluster_label" in frame:
        for c, label in cluster_labels(ws):
            if int(c) >= 0:
                choices[f"cluster {label}"] = (Filter(cluster=int(c)), f"cluster:{label}")
    if "dup_group" in frame:
        for g, size in largest_groups(ws, 200):
            choices[f"duplicate group {int(g)} ({size} records)"] = (Filter(dup_group=int(g)), "manual")
    if not choices:
        st.caption("Flags, clusters and duplicate groups appear here once the Quality, Map and Duplicates pages have "
                   "computed them. Any filter on the Records page opens as a queue with its “Review these” button.")
        return
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    picked = a.selectbox("Open a queue of", list(choices), key="w.review.start")
    what, reason = choices[picked]
    read = ["record_id", "flags", "cluster", "dup_group", *(c for c in frame.columns if c.startswith("flag__"))]
    ids = list(what.apply(frame[[c for c in read if c in frame]])["record_id"])  # the few columns these filters read
    review_button(f"Open ({len(ids):,} records)", picked[:1].upper() + picked[1:], ids, key="review_start", reason=reason,
                  container=b, type="primary")
