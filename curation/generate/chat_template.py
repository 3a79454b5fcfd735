"""Magpie's pre-query prefix, read from a model's own chat template (a local tokenizer folder or a GGUF file).

The prefix is what the template writes before a user's message: the template is rendered with a single user message
whose content is a sentinel, and everything before the sentinel is the prefix — so a template that injects a default
system prompt when none is given (SmolLM2, Qwen2.5) keeps it, as the model saw it in training; a `system` text
renders a system message first. The stop strings are the special tokens the template writes between the end of a
user's message and the start of the assistant's turn (`<|im_end|>`, `<|im_start|>` for ChatML; `<|eot_id|>`,
`<|start_header_id|>` … for Llama 3), else that text itself, plus the end-of-sequence token.

The template is rendered as `transformers`' `apply_chat_template` renders it (a sandboxed jinja2 environment with
trim_blocks, lstrip_blocks, loop controls, `raise_exception`, `strftime_now`, a `tojson` that does not escape HTML,
and the tokenizer's special tokens as variables), without importing transformers (tested equal to it on SmolLM2's
and a Llama 3 template). Where the template lives:

- a folder: `chat_template.jinja`, else `chat_template` in `tokenizer_config.json` (a string, or named templates:
  `default`), else `chat_template.json`; special tokens from `tokenizer_config.json` and `tokenizer.json`;
- a `.gguf` file (or a folder holding exactly one): `tokenizer.chat_template` and the control tokens of its vocabulary.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from curation.errors import CurationError

SENTINEL = "MAGPIEQUERYSENTINEL"
ANSWER = "MAGPIEANSWERSENTINEL"
MAX_STOPS = 4  # OpenAI's completions API takes at most four stop strings


@dataclass(frozen=True)
class Template:
    source: str  # where it was read
    text: str  # the jinja template
    tokens: dict  # bos_token, eos_token, unk_token, pad_token (the template's variables)
    special: tuple[str, ...]  # every special / control token's text


@dataclass(frozen=True)
class PreQuery:
    prefix: str
    stop: list
    source: str  # how it was found, for the provenance: "chat template of PATH", "chatml (guessed from …)", …


def _content(token) -> str | None:
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) and token else None


def _gguf(path: Path) -> Template:
    try:
        import gguf
    except ImportError:
        raise CurationError("reading a GGUF file's chat template needs the package gguf: pip install gguf") from None
    try:
        fields = gguf.GGUFReader(str(path)).fields
    except Exception as exc:  # not a GGUF file, or a damaged one
        raise CurationError(f"could not read {path} as a GGUF file: {type(exc).__name__}: {str(exc)[:200]}") from None
    if "tokenizer.chat_template" not in fields:
        raise CurationError(f"{path} holds no chat template (tokenizer.chat_template)")
    text = fields["tokenizer.chat_template"].contents()
    vocab = fields["tokenizer.ggml.tokens"].contents() if "tokenizer.ggml.tokens" in fields else []
    types = fields["tokenizer.ggml.token_type"].contents() if "tokenizer.ggml.token_type" in fields else []
    special = tuple(t for t, kind in zip(vocab, types) if kind in (3, 4))  # CONTROL, USER_DEFINED
    tokens = {}
    for name, key in (("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"),
                      ("pad_token", "padding_token_id")):
        field = fields.get(f"tokenizer.ggml.{key}")
        if field is not None and 0 <= int(field.contents()) < len(vocab):
            tokens[name] = vocab[int(field.contents())]
    return Template(str(path), text, tokens, special)


def _folder(path: Path) -> Template:
    config = {}
    if (path / "tokenizer_config.json").exists():
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    text = None
    if (path / "chat_template.jinja").exists():
        text = (path / "chat_template.jinja").read_text(encoding="utf-8")
    elif config.get("chat_template"):
        text = config["chat_template"]
        if isinstance(text, list):  # named templates: the default one
            named = {t.get("name"): t.get("template") for t in text if isinstance(t, dict)}
            text = named.get("default") or next(iter(named.values()), None)
    elif (path / "chat_template.json").exists():
        text = json.loads((path / "chat_template.json").read_text(encoding="utf-8")).get("chat_template")
    if not isinstance(text, str) or not text.strip():
        raise CurationError(f"{path} holds no chat template (chat_template.jinja, or chat_template in tokenizer_config.json): "
                            "give the folder of an instruct (chat) model's tokenizer, or a pre-query template name")
    tokens = {k: _content(config.get(k)) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    special = [_content(t) for t in (config.get("added_tokens_decoder") or {}).values()
               if isinstance(t, dict) and t.get("special", True)]
    special += [_content(v) for k, v in config.items() if k.endswith("_token")]
    for key in ("additional_special_tokens", "extra_special_tokens"):  # transformers 4 and 5 names
        extra = config.get(key) or []
        special += [_content(t) for t in (extra.values() if isinstance(extra, dict) else extra)]
    if (path / "tokenizer.json").exists():
        added = json.loads((path / "tokenizer.json").read_text(encoding="utf-8")).get("added_tokens") or []
        special += [t.get("content") for t in added if isinstance(t, dict) and t.get("special")]
    return Template(str(path), text, {k: v for k, v in tokens.items() if v},
                    tuple(dict.fromkeys(t for t in special if t)))


@functools.lru_cache(maxsize=16)
def load(path: str) -> Template:
    """The chat template of a tokenizer folder, a model folder or a GGUF file."""
    p = Path(path).expanduser()
    if p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        has_config = any((p / f).exists() for f in ("tokenizer_config.json", "chat_template.jinja", "chat_template.json"))
        if not has_config and len(ggufs) == 1:
            return load(str(ggufs[0]))  # the same cached reading as the file named
        if not has_config:
            raise CurationError(f"{p} holds no tokenizer (tokenizer_config.json or chat_template.jinja) "
                                + (f"and {len(ggufs)} GGUF files: name one" if ggufs else "and no GGUF file"))
        return _folder(p)
    if p.is_file() and p.suffix.lower() == ".gguf":
        return _gguf(p)
    if p.is_file() and p.name in ("tokenizer_config.json", "chat_template.jinja"):
        return _folder(p.parent)
    raise CurationError(f"no tokenizer at {path}: give a local tokenizer or model folder, or a .gguf file")


def render(template: Template, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The template applied to `messages`, as transformers' `apply_chat_template(..., tokenize=False)` does."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):  # `{% generation %}…{% endgeneration %}` marks assistant text: rendered as is
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_same"), [], [], body).set_lineno(lineno)

        def _same(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template.text).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                     tools=None, documents=None, **template.tokens)
    except jinja2.exceptions.TemplateError as exc:
        raise CurationError(f"the chat template of {template.source} failed: {exc}") from None


def pre_query_from(path: str, system: str | None = None) -> PreQuery:
    """Magpie's pre-query prefix and stop strings from the chat template at `path` (see the module's docstring)."""
    template = load(str(path))
    head = [{"role": "system", "content": system}] if system else []
    alone = render(template, head + [{"role": "user", "content": SENTINEL}])
    if SENTINEL not in alone:
        raise CurationError(f"the chat template of {template.source} does not write the user's message")
    prefix = alone[:alone.index(SENTINEL)]
    if not prefix.strip():
        raise CurationError(f"the chat template of {template.source} writes nothing before a user's message: it has no "
                            "pre-query prefix to give Magpie")
    turn = render(template, head + [{"role": "user", "content": SENTINEL}, {"role": "assistant", "content": ANSWER}])
    if ANSWER in turn:  # what the template writes between a user's message and the assistant's reply
        between = turn[turn.index(SENTINEL) + len(SENTINEL):turn.index(ANSWER)]
    else:
        between = alone[alone.index(SENTINEL) + len(SENTINEL):]
    stop = special_in(between, template.special)
    if not stop and between.strip():
        stop = [between.strip().splitlines()[0].strip()]
    eos = template.tokens.get("eos_token")
    if eos and eos not in stop:
        stop.append(eos)
    return PreQuery(prefix, stop[:MAX_STOPS], f"chat template of {template.source}")


def special_in(text: str, special: tuple[str, ...]) -> list[str]:
    """The special tokens written in `text`, in order of appearance, each once (the longest one at a position)."""
    found, i = [], 0
    ordered = sorted((s for s in special if s), key=len, reverse=True)
    while i < len(text):
        hit = next((s for s in ordered if text.startswith(s, i)), None)
        if hit is None:
            i += 1
            continue
        if hit not in found:
            found.append(hit)
        i += len(hit)
    return found
