"""Prompt templates: a record's conversation -> one training string with the template's special tokens.

Every template is a Jinja chat template, the same kind Hugging Face tokenizers
carry, rendered in an immutable sandboxed environment: a template cannot reach
Python internals (attribute tricks such as `''.__class__.__mro__` fail), so a
template typed in the dashboard or read from a tokenizer folder is safe to run.

A template sees `messages` (role, content; the system prompt first when there is
one), `bos_token`, `eos_token`, `add_generation_prompt` (false), and for
single-turn records `instruction`, `input`, `output` and `system` as well (the
Alpaca templates use them). `Template.special` lists the markers that the
dashboard highlights.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from curation.errors import CurationError

ALPACA_PREAMBLE = ("Below is an instruction that describes a task. Write a response that appropriately completes the request.")
ALPACA_INPUT_PREAMBLE = ("Below is an instruction that describes a task, paired with an input that provides further context. "
                         "Write a response that appropriately completes the request.")
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")

ALPACA = (  # newlines are written as expressions: trim_blocks would eat a newline that follows a tag
    "{% set system = system or (messages[0].content if messages and messages[0].role == 'system' else '') %}"
    "{% if system %}{{ system }}{% elif input %}" + ALPACA_INPUT_PREAMBLE + "{% else %}" + ALPACA_PREAMBLE + "{% endif %}"
    "{{ '\\n\\n' }}"
    "{% if not multi_turn %}"
    "{{ '### Instruction:\\n' + instruction + '\\n\\n' }}"
    "{% if input %}{{ '### Input:\\n' + input + '\\n\\n' }}{% endif %}"
    "{{ '### Response:\\n' + output }}"
    "{% else %}"
    "{% for m in messages if m.role != 'system' %}"
    "{% if m.role == 'user' %}{{ '### Instruction:\\n' + m.content + '\\n\\n' }}"
    "{% elif m.role == 'assistant' %}{{ '### Response:\\n' + m.content }}{% if not loop.last %}{{ '\\n\\n' }}{% endif %}"
    "{% else %}{{ '### ' + m.role | capitalize + ':\\n' + m.content + '\\n\\n' }}{% endif %}"
    "{% endfor %}"
    "{% endif %}"
)
CHATML = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA_3 = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for m in messages %}"
    "{% if m.role == 'system' %}{% set ns.system = m.content + '\\n\\n' %}"
    "{% elif m.role == 'user' %}{{ '[INST] ' + ns.system + m.content + ' [/INST]' }}{% set ns.system = '' %}"
    "{% elif m.role == 'assistant' %}{{ ' ' + m.content + eos_token }}"
    "{% else %}{{ '[INST] ' + m.role + ': ' + m.content + ' [/INST]' }}{% endif %}"
    "{% endfor %}"
)
VICUNA = (  # FastChat's vicuna_v1.1: system, then "USER: … ASSISTANT: …</s>" turns separated by spaces
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}{% else %}" + VICUNA_SYSTEM + "{% endif %}{{ ' ' }}"
    "{% for m in messages if m.role != 'system' %}"
    "{% if m.role == 'user' %}{{ 'USER: ' + m.content + ' ' }}"
    "{% elif m.role == 'assistant' %}{{ 'ASSISTANT: ' + m.content + eos_token }}"
    "{% else %}{{ m.role | upper + ': ' + m.content + ' ' }}{% endif %}"
    "{% endfor %}"
)


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    source: str  # the Jinja text
    bos_token: str = ""
    eos_token: str = ""
    special: tuple[str, ...] = ()

    def render(self, conversation: list[dict], fields: dict | None = None) -> str:
        """The training text of one conversation (fields: instruction, input, output, system of a single-turn record)."""
        context = {"messages": conversation, "bos_token": self.bos_token, "eos_token": self.eos_token,
                   "add_generation_prompt": False, "multi_turn": fields is None,
                   **({"instruction": "", "input": "", "output": "", "system": ""} | (fields or {}))}
        try:
            return compiled(self.source).render(**context)
        except CurationError:
            raise
        except Exception as exc:  # SecurityError, TemplateError, UndefinedError, TypeError…
            raise CurationError(f"template {self.name!r} failed: {type(exc).__name__}: {exc}") from None


TEMPLATES = {
    "alpaca": Template("alpaca", "Alpaca: a preamble, ### Instruction / ### Input (when there is one) / ### Response", ALPACA,
                       special=("### Instruction:", "### Input:", "### Response:")),
    "chatml": Template("chatml", "ChatML (OpenAI, Qwen): <|im_start|>role … <|im_end|>", CHATML, special=("<|im_start|>", "<|im_end|>")),
    "llama-3": Template("llama-3", "Llama 3 instruct: <|start_header_id|>role<|end_header_id|> … <|eot_id|>", LLAMA_3,
                        bos_token="<|begin_of_text|>",
                        special=("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
    "mistral": Template("mistral", "Mistral instruct: <s>[INST] … [/INST] answer</s> (system prompt joined to the first turn)",
                        MISTRAL, bos_token="<s>", eos_token="</s>", special=("<s>", "</s>", "[INST]", "[/INST]")),
    "vicuna": Template("vicuna", "Vicuna v1.1: system line, USER: … ASSISTANT: …</s>", VICUNA, eos_token="</s>",
                       special=("USER:", "ASSISTANT:", "</s>")),
}


def environment():
    """Hugging Face's chat-template environment: sandboxed and immutable, trim_blocks and lstrip_blocks, loop controls."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


@functools.lru_cache(maxsize=64)
def compiled(source: str):
    try:
        return environment().from_string(source)
    except Exception as exc:  # TemplateSyntaxError with its line
        raise CurationError(f"the template does not parse: {exc}") from None


def custom(source: str, name: str = "custom", eos_token: str = "", bos_token: str = "") -> Template:
    """A template typed by a curator (checked by compiling it)."""
    compiled(source)
    return Template(name, "a custom Jinja chat template", source, bos_token=bos_token, eos_token=eos_token)


def token_text(value) -> str:
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return value or ""


def from_tokenizer(folder: str | Path) -> Template:
    """The `chat_template` of a local Hugging Face tokenizer folder (tokenizer_config.json or chat_template.jinja)."""
    folder = Path(folder)
    config_path = folder / "tokenizer_config.json"
    if not config_path.exists():
        raise CurationError(f"{folder} has no tokenizer_config.json: not a Hugging Face tokenizer folder")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: use the default one
        source = next((t["template"] for t in source if t.get("name") == "default"), source[0]["template"] if source else None)
    if not source and (folder / "chat_template.jinja").exists():
        source = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if not source:
        raise CurationError(f"the tokenizer in {folder} has no chat_template")
    compiled(source)
    return Template(f"hf:{folder.name}", f"the chat template of the tokenizer in {folder}", source,
                    bos_token=token_text(config.get("bos_token")), eos_token=token_text(config.get("eos_token")))


def get_template(name: str, source: str | None = None) -> Template:
    """A built-in by name, `custom` with its Jinja source, a tokenizer folder, or a .jinja file."""
    if name in TEMPLATES:
        return TEMPLATES[name]
    if name == "custom":
        if not source:
            raise CurationError("a custom template needs its Jinja text")
        return custom(source)
    path = Path(name)
    if path.is_dir():
        return from_tokenizer(path)
    if path.is_file():
        return custom(path.read_text(encoding="utf-8"), name=path.stem)
    raise CurationError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}, a tokenizer folder or a .jinja file")
