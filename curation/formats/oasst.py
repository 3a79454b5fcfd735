"""OpenAssistant conversation trees, in their three export shapes.

- tree rows: `{message_tree_id, tree_state, prompt: {…, replies: […]}}`;
- message rows rooted at a message, replies nested: `{message_id, text, role, replies}`;
- a flat message table: one message a row, linked by `parent_id`.

Each root-to-leaf path becomes one record; message ids and ranks go to `meta`,
every other attribute of a message stays on it (`node`) so the tree can be rebuilt.
"""

from __future__ import annotations

from curation.formats.base import Format, RowError, as_text, last_exchange, rest

ROLES = {"prompter": "user", "assistant": "assistant"}
LABELS = {"user": "prompter", "assistant": "assistant"}
NODE_TEXT = ("text", "role", "replies")


def _message(node: dict) -> dict:
    label = as_text(node, "role")
    role = ROLES.get(label, label)
    msg = {"role": role, "content": as_text(node, "text"), "node": rest(node, NODE_TEXT)}
    if LABELS.get(role) != label:
        msg["label"] = label
    return msg


def _paths(node: dict, children) -> list[list[dict]]:
    kids = children(node)
    if not kids:
        return [[node]]
    return [[node, *p] for kid in kids for p in _paths(kid, children)]


def _records(root: dict, children, tree_meta: dict, shape: str) -> list[dict]:
    records = []
    for path in _paths(root, children):
        messages = [_message(n) for n in path]
        source = "synthetic" if any(n.get("synthetic") is True for n in path) else "human"
        meta = {
            **tree_meta,
            "shape": shape,
            "message_ids": [n.get("message_id") for n in path],
            "ranks": [n.get("rank") for n in path],
        }
        records.append({**last_exchange(messages), "messages": messages, "meta": meta, "source": source})
    return records


def _nested_children(node: dict) -> list[dict]:
    replies = node.get("replies") or []
    if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
        raise RowError("field 'replies' must be a list of messages")
    return replies


class OpenAssistant(Format):
    def matches(self, row: dict) -> bool:
        tree = "message_tree_id" in row and isinstance(row.get("prompt"), dict)
        return tree or all(k in row for k in ("message_id", "text", "role"))

    def convert(self, rows: list[tuple[int, dict]]):
        nested = [(n, r) for n, r in rows if "message_tree_id" in r and isinstance(r.get("prompt"), dict)]
        messages = [(n, r) for n, r in rows if not ("message_tree_id" in r and isinstance(r.get("prompt"), dict))]
        for number, row in nested:
            yield from self._emit(number, lambda row=row: _records(row["prompt"], _nested_children, rest(row, ("prompt",)), "tree"))
        if any(r.get("replies") for _, r in messages):
            for number, row in messages:
                yield from self._emit(number, lambda row=row: _records(row, _nested_children, {}, "nested"))
        elif messages:
            yield from self._flat(messages)

    @staticmethod
    def _emit(number, make):
        try:
            records = make()
        except RowError as exc:
            yield number, None, exc
            return
        for sub, rec in enumerate(records):
            yield number, sub, rec

    def _flat(self, rows):
        ids = {r.get("message_id") for _, r in rows}
        kids: dict = {}
        roots = []
        for number, row in rows:
            parent = row.get("parent_id")
            if parent is None:
                roots.append((number, row))
            elif parent not in ids:
                yield number, None, RowError(f"parent message {parent!r} is not in the file")
            else:
                kids.setdefault(parent, []).append(row)
        for number, root in roots:
            yield from self._emit(number, lambda root=root: _records(root, lambda n: kids.get(n.get("message_id"), []), {}, "flat"))

    def to_source(self, records: list[dict]) -> list[dict]:
        roots: dict = {}  # path key of a root -> (shape, tree fields)
        nodes: dict = {}  # path key (message ids from the root) -> source node
        children: dict = {}  # path key -> path keys of its replies, in order
        for rec in records:
            meta = rec["meta"]
            key: tuple = ()
            for msg in rec["messages"]:
                label = msg.get("label", LABELS.get(msg["role"], msg["role"]))
                node = {**msg["node"], "text": msg["content"], "role": label}
                child = (*key, node.get("message_id"))
                if child not in nodes:
                    nodes[child] = node
                    if key:
                        children.setdefault(key, []).append(child)
                    else:
                        tree = {k: v for k, v in meta.items() if k not in ("shape", "message_ids", "ranks")}
                        roots[child] = (meta["shape"], tree)
                key = child
        out = []
        for root, (shape, tree) in roots.items():
            if shape == "flat":
                out.extend(self._walk(root, nodes, children))
            elif shape == "tree":
                out.append({**tree, "prompt": self._nest(root, nodes, children)})
            else:
                out.append(self._nest(root, nodes, children))
        return out

    def _nest(self, key, nodes, children) -> dict:
        return {**nodes[key], "replies": [self._nest(k, nodes, children) for k in children.get(key, [])]}

    def _walk(self, key, nodes, children) -> list[dict]:
        return [nodes[key], *(n for k in children.get(key, []) for n in self._walk(k, nodes, children))]


OASST = OpenAssistant(
    name="oasst",
    description="OpenAssistant trees (nested replies with rank) or flat message tables (parent_id); one record per root-to-leaf path",
    keys=("message_id", "text", "role"),
)
