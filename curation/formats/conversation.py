"""Multi-turn formats: ShareGPT `conversations` and OpenAI-style `messages`.

Roles are normalised to system/user/assistant; any other role (function_call,
observation, tool…) is kept as it is. Whatever the canonical role cannot say
(the original role label, extra keys such as `loss_weight`, content parts) stays
on the message so that converting back loses nothing.
"""

from __future__ import annotations

from curation.formats.base import Format, RowError, as_text, last_exchange, rest

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
SHAREGPT_LABELS = {"user": "human", "assistant": "gpt", "system": "system"}
OPENAI_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def content_text(content) -> tuple[str, object]:
    """Text of a message's content; content given as a list of parts is joined."""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                texts.append(str(part.get("text", part.get("value", ""))))
            else:
                raise RowError("message content parts must be text or objects")
        return "\n".join(texts), content
    return as_text({"content": content}, "content"), None


class ShareGPT(Format):
    turns_key = "conversations"
    role_key = "from"
    text_key = "value"
    roles = SHAREGPT_ROLES
    labels = SHAREGPT_LABELS

    def to_records(self, row: dict) -> list[dict]:
        turns = row.get(self.turns_key)
        if not isinstance(turns, list) or not turns:
            raise RowError(f"field {self.turns_key!r} must be a non-empty list of messages")
        messages = [self.to_message(i, t) for i, t in enumerate(turns)]
        if isinstance(row.get("system"), str) and not any(m["role"] == "system" for m in messages):
            messages_for_tuple = [{"role": "system", "content": row["system"]}, *messages]
        else:
            messages_for_tuple = messages
        return [{**last_exchange(messages_for_tuple), "messages": messages, "meta": rest(row, (self.turns_key,))}]

    def to_message(self, i: int, turn) -> dict:
        if not isinstance(turn, dict):
            raise RowError(f"message {i} is not an object")
        if self.role_key not in turn:
            raise RowError(f"message {i} has no {self.role_key!r}")
        label = str(turn[self.role_key])
        role = self.roles.get(label, label)
        text, parts = content_text(turn.get(self.text_key))
        msg = {"role": role, "content": text}
        if self.labels.get(role, role) != label:
            msg["label"] = label
        if parts is not None:
            msg["parts"] = parts
        extra = rest(turn, (self.role_key, self.text_key))
        if extra:
            msg["extra"] = extra
        return msg

    def from_message(self, msg: dict) -> dict:
        turn = {
            self.role_key: msg.get("label", self.labels.get(msg["role"], msg["role"])),
            self.text_key: msg["parts"] if "parts" in msg else msg["content"],
        }
        return {**turn, **msg.get("extra", {})}

    def record_to_row(self, record: dict) -> dict:
        row = dict(record.get("meta") or {})
        row[self.turns_key] = [self.from_message(m) for m in record["messages"]]
        return row


class OpenAIMessages(ShareGPT):
    turns_key = "messages"
    role_key = "role"
    text_key = "content"
    roles = OPENAI_ROLES
    labels = {"user": "user", "assistant": "assistant", "system": "system"}


SHAREGPT = ShareGPT(
    name="sharegpt",
    description="ShareGPT: conversations[{from, value}], any roles (function_call, observation… kept)",
    keys=("conversations",),
)
MESSAGES = OpenAIMessages(
    name="messages",
    description="OpenAI-style messages[{role, content}], content as text or a list of parts",
    keys=("messages",),
)
