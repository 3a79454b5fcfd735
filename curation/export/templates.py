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

Every render is bounded (`Limits`): the environment refuses, before building
it, a value past the per-record output limit (`'y' * 10**8`, `lipsum(n=10**7)`,
a huge `center` or format width, a `~` or `join` that grows too long), stops a
render whose time runs out (checked in every loop and call) and one whose
output passes the limit. A render past a limit raises CurationError naming the
limit. Those checks run in the calling process; `curation.export.sandbox` also
renders whole batches in a child process with a memory limit and a hard time
limit, for what no check foresees.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

from curation.errors import CurationError

RECORD_CHARS = 200_000  # output of one record (or twice the record's own text, when that is longer)
TOTAL_CHARS = 1_000_000_000  # output of a whole batch (an export, the preview)
RECORD_SECONDS = 2.0  # time to render one record
TOTAL_SECONDS = 300.0  # time to render a whole batch (an export, the preview)
BATCH_SECONDS_PER_RECORD = 0.001  # a big export's time limit: this much a record on average (1M records: 1,000 s)
MEMORY_BYTES = 2 * 1024**3  # memory of the child process that renders a batch
LIMITED_MEMORY = False  # set in that child once its memory is limited

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
class Limits:
    """What one render may use: output characters per record and for the whole batch, seconds per record and for the batch, memory."""

    record_chars: int = RECORD_CHARS
    total_chars: int = TOTAL_CHARS
    seconds: float = RECORD_SECONDS
    memory_bytes: int = MEMORY_BYTES
    total_seconds: float = TOTAL_SECONDS

    @classmethod
    def of(cls, value: Limits | dict | None) -> Limits:
        return cls(**value) if isinstance(value, dict) else value or DEFAULT_LIMITS

    @classmethod
    def for_batch(cls, records: int, chars: int) -> Limits:
        """The default limits for a batch of `records` records holding `chars` characters of text: the whole batch may
        write twice its own text (as one record may) and take BATCH_SECONDS_PER_RECORD a record, never less than the
        fixed totals. A streamed export of a million records writes about a gigabyte, past the fixed total; a template
        that multiplies its input is still stopped, at its first record past twice that record's text."""
        return cls(total_chars=max(TOTAL_CHARS, 2 * chars), total_seconds=max(TOTAL_SECONDS, records * BATCH_SECONDS_PER_RECORD))

    def __post_init__(self):
        if not (self.record_chars > 0 and self.total_chars > 0 and self.seconds > 0 and self.memory_bytes > 0 and self.total_seconds > 0):
            raise CurationError(f"render limits must be positive: {self}")


DEFAULT_LIMITS = Limits()


def size_text(n: int) -> str:
    return f"{n / 1024**3:g} GiB" if n >= 1024**3 else f"{n / 1024**2:g} MiB"


class LimitExceeded(Exception):
    """Raised inside a render past a limit (Template.render turns it into a CurationError)."""


class Budget:
    """The limits of the record being rendered now (one per record, shared by its renders)."""

    __slots__ = ("chars", "deadline", "label", "limits")

    def __init__(self, limits: Limits, label: str = "", text_chars: int = 0):
        self.limits = limits
        self.chars = max(limits.record_chars, 2 * text_chars)
        self.deadline = time.monotonic() + limits.seconds
        self.label = label

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"it ran longer than the limit of {self.limits.seconds:g} s per record")

    def check(self, size: float, what: str) -> None:
        if size > self.chars:
            raise LimitExceeded(f"{what} would make {size:,.0f} characters, past the limit of {self.chars:,} characters per record")

    def output(self) -> LimitExceeded:
        return LimitExceeded(f"its output passed the limit of {self.chars:,} characters per record")


BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget", default=None)


@contextlib.contextmanager
def record_budget(limits: Limits | None = None, label: str = "", text_chars: int = 0):
    """Every render inside shares one record's limits (a record's prompt/completion renders count against one deadline)."""
    token = BUDGET.set(Budget(Limits.of(limits), label, text_chars))
    try:
        yield
    finally:
        BUDGET.reset(token)


def text_chars(messages: list[dict], fields: dict | None) -> int:
    """The record's own text: the longer of its messages and its single-turn fields, in characters."""
    said = sum(len(m["content"]) for m in messages if isinstance(m.get("content"), str))
    return max(said, sum(len(v) for v in (fields or {}).values() if isinstance(v, str)))


def stopped(name: str, label: str, detail: str) -> CurationError:
    where = f" at {label}" if label else ""
    return CurationError(f"template {name!r} stopped{where}: {detail}; check the template's loops and repeated values")


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    source: str  # the Jinja text
    bos_token: str = ""
    eos_token: str = ""
    special: tuple[str, ...] = ()

    def render(self, conversation: list[dict], fields: dict | None = None, tools: list | None = None) -> str:
        """The training text of one conversation (fields: instruction, input, output, system of a single-turn record;
        tools: its tool definitions, given to the template as `tools` as `apply_chat_template(tools=...)` does)."""
        context = {"messages": conversation, "bos_token": self.bos_token, "eos_token": self.eos_token, "tools": tools,
                   "add_generation_prompt": False, "multi_turn": fields is None,
                   **({"instruction": "", "input": "", "output": "", "system": ""} | (fields or {}))}
        budget = BUDGET.get()
        token = None
        if budget is None:  # rendered alone: the default limits, for this render
            budget = Budget(DEFAULT_LIMITS, text_chars=text_chars(conversation, fields))
            token = BUDGET.set(budget)
        try:  # generate(): the output is counted as it comes (render() is the same chunks joined)
            parts, size = [], 0
            for part in compiled(self.source, builtin(self)).generate(**context):
                size += len(part)
                if size > budget.chars:
                    raise budget.output()
                parts.append(part)
            return "".join(parts)
        except LimitExceeded as exc:
            raise stopped(self.name, budget.label, str(exc)) from None
        except MemoryError:
            limit = size_text(budget.limits.memory_bytes)
            memory = f"more than the memory limit of {limit}" if LIMITED_MEMORY else "more memory than there is"
            raise stopped(self.name, budget.label, f"it needed {memory}") from None
        except CurationError:
            raise
        except Exception as exc:  # SecurityError, TemplateError, UndefinedError, TypeError…
            raise CurationError(f"template {self.name!r} failed: {type(exc).__name__}: {exc}") from None
        finally:
            if token is not None:
                BUDGET.reset(token)


def builtin(template: Template) -> bool:
    """One of TEMPLATES, unchanged: code of ours, so it compiles without the checks on values (see environment())."""
    return TEMPLATES.get(template.name) == template


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


def rendered_size(value, limit: int) -> int:
    """About how many characters str(value) makes, counted no further than past `limit` (before Python builds it)."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, int) and not isinstance(item, bool):
            total += int(item.bit_length() * 0.302) + 2
        else:
            total += 8
    return total


PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
NUMBER = re.compile(r"\d+")


def biggest_int(values) -> int:
    values = values.values() if isinstance(values, dict) else values if isinstance(values, (tuple, list)) else (values,)
    return max((v for v in values if isinstance(v, int)), default=0)


def check_percent(budget: Budget, text, args) -> None:
    """`text % args` and the `format` filter: a width or precision that would pass the limit."""
    if not isinstance(text, str) or "%" not in text:
        return
    widths = [int(n) for field in PERCENT_FIELD.finditer(text) for n in field.groups() if n and n != "*"]
    if any(n == "*" for field in PERCENT_FIELD.finditer(text) for n in field.groups()):
        widths.append(biggest_int(args))
    budget.check(len(text) + max(widths, default=0) + rendered_size(args, budget.chars), "a % format")


def check_format(budget: Budget, text: str, args, kwargs) -> None:
    """str.format / format_map: widths in the fields (and nested ones from the arguments)."""
    widths = [0]
    try:
        for _, _, spec, _ in string.Formatter().parse(text):
            if spec:
                widths += [int(n) for n in NUMBER.findall(spec)]
                if "{" in spec:
                    widths += [biggest_int(args), biggest_int(kwargs)] + [biggest_int(a) for a in args if isinstance(a, dict)]
    except ValueError:
        return  # a malformed format string: str.format reports it
    budget.check(len(text) + max(widths) + rendered_size((args, kwargs), budget.chars), "a format width")


def repeat_size(budget: Budget, left, right):
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, (int, float)) and not isinstance(times, bool):
            return (len(seq) if isinstance(seq, (str, bytes)) else rendered_size(seq, budget.chars)) * max(times, 0)
    return None


def check_binop(budget: Budget, operator: str, left, right) -> None:
    if operator == "*":
        size = repeat_size(budget, left, right)
        if size is not None:
            budget.check(size, "a repeat (*)")
        elif isinstance(left, int) and isinstance(right, int):
            budget.check(0.302 * (abs(left).bit_length() + abs(right).bit_length()), "a product (*)")
    elif operator == "+":
        if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
            budget.check(rendered_size(left, budget.chars) + rendered_size(right, budget.chars), "a sum (+)")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            budget.check(0.302 * right * math.log2(abs(left)), "a power (**)")
    elif operator == "%":
        check_percent(budget, left, right)


def check_str_method(budget: Budget, method, args: tuple, kwargs: dict) -> tuple:
    """Calls of str methods that can build a long string; returns the arguments (an iterable to join is listed once)."""
    wrapped = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format
    owner, name = getattr(wrapped, "__self__", None), getattr(wrapped, "__name__", "")
    if not isinstance(owner, str):
        return args
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(first, int):
        budget.check(max(len(owner), first), f"str.{name}")
    elif name == "expandtabs":
        budget.check(len(owner) + owner.count("\t") * (first if isinstance(first, int) else 8), "str.expandtabs")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = owner.count(args[0]) if args[0] else len(owner) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        budget.check(len(owner) + count * (len(args[1]) - len(args[0])), "str.replace")
    elif name == "join" and args:
        items = list(budget_iter(budget, args[0]))
        budget.check(sum(len(x) if isinstance(x, str) else 0 for x in items) + len(owner) * max(len(items) - 1, 0), "str.join")
        return (items, *args[1:])
    elif name == "format":
        check_format(budget, owner, args, kwargs)
    elif name == "format_map" and args:
        check_format(budget, owner, (), args[0] if isinstance(args[0], dict) else {})
    return args


def budget_iter(budget: Budget | None, iterable):
    """Items of a loop, the record's time checked every 256 items."""
    if budget is None:
        yield from iterable
        return
    for n, item in enumerate(iterable):
        if not n & 255:
            budget.tick()
        yield item


class Ticking:
    """A for-loop's iterable: its length as before (loop.length), its items with the time checked."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)  # TypeError for iterators: LoopContext then counts by listing them

    def __iter__(self):
        return budget_iter(BUDGET.get(), self.items)


def checked_filter(original, check):
    """A filter that first checks its arguments against the record's budget."""
    from jinja2.utils import _PassArg

    skip = 1 if _PassArg.from_obj(original) else 0

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        budget = BUDGET.get() or Budget(DEFAULT_LIMITS)  # none while compiling: Jinja folds constant filters then
        if len(args) > skip:
            budget.tick()
            replaced = check(budget, *args[skip:], **kwargs)
            if replaced is not None:
                args = (*args[:skip], replaced, *args[skip + 1:])
        return original(*args, **kwargs)

    return guarded


def check_center(budget, value, width=80):
    budget.check(max(rendered_size(value, budget.chars), width if isinstance(width, int) else 0), "the center filter")


def check_indent(budget, s, width=4, first=False, blank=False):
    text = str(s) if isinstance(s, str) else ""
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    budget.check(rendered_size(s, budget.chars) + step * (text.count("\n") + 1), "the indent filter")


def check_replace(budget, s, old="", new="", count=None):
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        times = s.count(old) if old else len(s) + 1
        budget.check(len(s) + min(times, count if isinstance(count, int) and count >= 0 else times) * (len(new) - len(old)),
                     "the replace filter")


def check_join(budget, value, d="", attribute=None):
    items = list(budget_iter(budget, value))
    budget.check(sum(rendered_size(x, budget.chars) for x in items) + len(str(d)) * max(len(items) - 1, 0), "the join filter")
    return items


def check_format_filter(budget, value, *args, **kwargs):
    check_percent(budget, value, kwargs or args)


def check_size(what):
    def check(budget, value, *args, **kwargs):
        budget.check(rendered_size(value, budget.chars), what)
    return check


def check_count(what):
    def check(budget, value, count=0, fill_with=None):
        if isinstance(count, int):
            budget.check(count, what)
    return check


def check_tojson(budget, value, indent=None, *args, **kwargs):
    step = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    budget.check(rendered_size(value, budget.chars) * (1 + step), "tojson")


FILTER_CHECKS = {"center": check_center, "indent": check_indent, "replace": check_replace, "join": check_join,
                 "format": check_format_filter, "batch": check_count("the batch filter"), "slice": check_count("the slice filter"),
                 "tojson": check_tojson, "string": check_size("the string filter"), "pprint": check_size("the pprint filter")}


def lipsum(n=5, html=True, min=20, max=100):  # noqa: A002 (Jinja's names)
    """Jinja's lorem ipsum, built a paragraph at a time within the record's budget."""
    import markupsafe
    from jinja2.utils import generate_lorem_ipsum

    budget = BUDGET.get()
    if budget is not None and isinstance(max, int):
        budget.check(2 * max, "lipsum")
    paragraphs, size = [], 0
    for _ in budget_iter(budget, range(n)):
        paragraphs.append(generate_lorem_ipsum(n=1, html=False, min=min, max=max))
        size += len(paragraphs[-1]) + 2
        if budget is not None:
            budget.check(size, "lipsum")
    if not html:
        return "\n\n".join(paragraphs)
    return markupsafe.Markup("\n".join(f"<p>{markupsafe.escape(x)}</p>" for x in paragraphs))


@functools.cache
def environment_class():
    """The sandboxed, immutable environment with the record's budget checked in loops, calls, operators and output."""
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator, optimizeconst
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generator(CodeGenerator):
        def visit_For(self, node, frame):  # every loop's items go through Ticking: the time is checked as it runs
            checked = nodes.Call(nodes.EnvironmentAttribute("checked_iter"), [node.iter], [], None, None, lineno=node.iter.lineno)
            node = nodes.For(node.target, checked, node.body, node.else_, node.test, node.recursive, lineno=node.lineno)
            super().visit_For(node, frame)

        def visit_Call(self, node, frame, **kwargs):
            if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "checked_iter":
                self.write("environment.checked_iter(")  # our own wrapper: called directly, not through the sandbox's call
                self.visit(node.args[0], frame)
                self.write(")")
            else:
                super().visit_Call(node, frame, **kwargs)

        @optimizeconst
        def visit_Concat(self, node, frame):  # `a ~ b`: Jinja's own join, sized first
            if frame.eval_ctx.volatile:
                join = "(markup_join if context.eval_ctx.volatile else str_join)"
            else:
                join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
            self.write(f"environment.checked_join({join}, (")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class LimitedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        code_generator_class = Generator

        def __init__(self, *args, trusted: bool = False, **kwargs):
            super().__init__(*args, **kwargs if trusted else {**kwargs, "finalize": self.checked_value})
            if trusted:  # a built-in: its operators only join the record's text (its output is still counted, its loops timed)
                self.intercepted_binops = frozenset()
            self.globals["lipsum"] = lipsum
            for name, check in FILTER_CHECKS.items():
                self.filters[name] = checked_filter(self.filters[name], check)

        def call_binop(self, context, operator, left, right):  # no time check: an operator does not loop
            budget = BUDGET.get()
            if budget is not None:
                if operator == "+" and type(left) is str and type(right) is str:  # the common case, kept fast
                    if len(left) + len(right) > budget.chars:
                        budget.check(len(left) + len(right), "a sum (+)")
                else:
                    check_binop(budget, operator, left, right)
            return self.binop_table[operator](left, right)

        def call(self, context, obj, /, *args, **kwargs):
            budget = BUDGET.get()
            if budget is not None:
                budget.tick()
                args = check_str_method(budget, obj, args, kwargs)
            return super().call(context, obj, *args, **kwargs)

        @staticmethod
        def checked_iter(items):
            return Ticking(items)

        @staticmethod
        def checked_value(value):  # every {{ value }} before str() builds it (at compile time too, for constants)
            budget = BUDGET.get() or Budget(DEFAULT_LIMITS)
            if not isinstance(value, str):
                budget.check(rendered_size(value, budget.chars), "printing a value")
            return value

        @staticmethod
        def checked_join(join, values):
            budget = BUDGET.get()
            if budget is not None:
                budget.check(sum(len(v) if isinstance(v, str) else rendered_size(v, budget.chars) for v in values), "joining (~)")
            return join(values)

        @staticmethod
        def concat(parts):  # the text of macros, call and set blocks and filter sections
            parts = list(parts)
            budget = BUDGET.get()
            if budget is not None:
                budget.tick()
                if sum(map(len, parts)) > budget.chars:
                    raise budget.output()
            return "".join(parts)

    return LimitedEnvironment


def environment(trusted: bool = False):
    """Hugging Face's chat-template environment: sandboxed and immutable, trim_blocks and lstrip_blocks, loop controls,
    and the render's limits checked (see the module's docstring; `trusted`, for the built-ins, checks no operators
    or printed values)."""
    import jinja2

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = environment_class()(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"], trusted=trusted)
    env.filters["tojson"] = checked_filter(tojson, check_tojson)
    env.globals["raise_exception"] = raise_exception
    return env


@functools.lru_cache(maxsize=64)
def compiled(source: str, trusted: bool = False):
    try:
        return environment(trusted).from_string(source)
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
    if "/" in name or "\\" in name or name.lower().endswith(".jinja"):  # meant as a file or folder
        raise CurationError(f"no such file or folder: {name} (a template is a .jinja file, a tokenizer folder or one of "
                            f"{', '.join(TEMPLATES)})")
    raise CurationError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}, a tokenizer folder or a .jinja file")
