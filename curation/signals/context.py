"""Signals about what the record refers to or leaves behind: placeholder inputs,
context it does not contain, merged instructions, template debris."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from curation.records import loads
from curation.signals.base import MAX_FOUND, Signal, Texts, matches, regex_signal, result
from curation.signals.cleaning import TRAILING_MARKERS_RE2, trailing_marker
from curation.signals.evidence import Evidence
from curation.signals.task import QUOTED, asks, line_ends, split_sentences
from curation.texts import placeholder_text


def placeholder_input(texts: Texts) -> pd.DataFrame:
    hits = [placeholder_text(v) if len(v) < 40 else False for v in texts.input]
    return result(hits, [[texts.found("input", i, 0, len(v), "input is {value!r}")] if h else None
                         for i, (v, h) in enumerate(zip(texts.input, hits))])


URL = r"(?i)(https?://[^\s)\]]+|\bwww\.[a-z0-9-]+\.[^\s)\]]+)"
MARKER = r"(?i)(<\s*picture attached\s*>|\[(image|picture|photo|attachment)\]|<image>)"
MEDIA = (
    r"(?i)(<\s*picture attached\s*>|\[(image|picture|photo|attachment)\]|<image>|\b(this|the|following|attached|above|below|given"
    r"|provided|uploaded) (image|picture|photo|photograph|graph|chart|diagram|figure|video|audio|recording|attachment|screenshot"
    r"|spreadsheet|pdf|drawing|painting|map)s?\b)"
)
MISSING_TEXT = (
    r"(?i)\b(the following|given|this|the below|below|above|provided|attached) (text|passage|article|paragraph|sentence|document"
    r"|email|code|poem|story|essay|review|list|table|data|dataset|tweet|conversation|dialogue|statement|excerpt|report|letter"
    r"|lyrics|product description|recipe|input|question)\b"
)
# The request needs what it points at: it asks to describe, analyse, summarise… it, or what it shows.
LOOKS_AT = re.compile(
    r"(?i)\b(describe|analy[sz]e|interpret|caption|explain|summari[sz]e|outline|look at|examine|study|watch|listen to|transcribe"
    r"|review|critique|evaluate|identify|read|based on|according to|main points|key points|tell me about|visit|open|check out"
    r"|from|(?:what|who|which)\s+(?:\w+\s+)?(?:is|are)\s+(?:in|on|shown in))\b[^.?!\n]{0,40}$"
)
WORKS_ON = re.compile(
    r"(?i)\b(describe|analy[sz]e|interpret|summari[sz]e|outline|explain|review|critique|evaluate|read|watch|listen to"
    r"|transcribe|main points|key points|tell me about|based on|according to|visit|check out|colori[sz]e|classify|categori[sz]e)\b"
)
URL_DATA = re.compile(r"(?i)\b(html|css|code|script|domain|subdomain|links? to|hyperlink|button|anchor|href|qr|shorten|"
                      r"regex|regular expression|parse|encode|decode|validate|url format|markdown)\b")
LABEL = re.compile(r"^\W*[\w ]{1,20}:\s*\S")  # "Question 1: …", "Link to page: …": a field of the material
PAGE = re.compile(r"(?i)\b(website|web ?page|web ?site|site|home ?page|article|blog|post|page|video|paper|content|news|"
                  r"painting|image|photo|picture|chart|graph|diagram)s?\b")
SHOWS = re.compile(r"(?i)^\s*(?:\w+\s+)?(shows?|depicts?|illustrates?|represents?|displays?|says|contains?)\b")
NAMED = re.compile(r"^\s*(?:[\"“'«]|:\s*\S|of\s+[\"“A-Z]|titled|called|named|by\s+[A-Z])")
TEXT_BLOCK = re.compile(r"\S+(?:\s+\S+)+")  # two words or more
OPEN_QUOTE = re.compile(r"[\"“«']\s*\S+(?:\s+\S+){2,}")


def _earlier_turns(raw) -> bool:
    """Does the conversation hold turns before its last exchange (where a referenced text could be)?"""
    turns = loads(raw) if isinstance(raw, str) else None
    return bool(turns) and sum(t.get("role") == "user" for t in turns if isinstance(t, dict)) > 1


MISSING_TEXT_RE = re.compile(MISSING_TEXT)
GENERIC = re.compile(r"(?i)\b(a|an|any|each|every|some)\s+$")  # "analyse a given text": any text, not one meant to be here


def _texts_given(instruction: str) -> tuple[int, list[re.Match]]:
    """(how many texts the instruction itself holds besides its request, the references its requests make): quoted
    passages, text after a colon, every other sentence or line of two words or more ("W: Speaking. What was said before
    this conversation?"). References inside the material ("…I never released this code.") are not requests."""
    given = len(QUOTED.findall(instruction))
    references = []
    enough = 3  # no request refers to more texts than this: counting further changes nothing
    for line in QUOTED.sub(" ", instruction).split("\n"):
        if given >= enough:
            break
        if not MISSING_TEXT_RE.search(line):
            given += bool(TEXT_BLOCK.search(line.strip()))  # a line of material (one text, however many sentences)
            continue
        for sentence in split_sentences(line_ends(line)):
            colon = sentence.find(":")  # what follows a colon is material: "Build a plot around this: When does this story…"
            refs = [r for r in MISSING_TEXT_RE.finditer(sentence) if not GENERIC.search(sentence[: r.start()])
                    and not 0 <= colon < r.start()]
            if not refs or not asks(sentence):
                given += bool(TEXT_BLOCK.search(sentence.strip()))
                continue
            references += refs
            after, before = sentence[refs[-1].end():], sentence[: refs[0].start()]
            colon = after.find(":")
            if colon >= 0 and TEXT_BLOCK.search(after[colon + 1:]):
                given += 1  # "Rewrite this sentence: The cat …"
            elif OPEN_QUOTE.match(after.lstrip(" :")):
                given += 1  # a quotation opened and never closed
            elif re.match(r"\s*[\w ]{1,20}:\s*\S", before):
                given += 1  # "Question: What is true about this story?" is itself the question referred to
    return given, references


def _inside(spans: list[tuple[int, int]], m: re.Match) -> bool:
    return any(lo <= m.start() < hi for lo, hi in spans)


def _url_needed(prompt: str, m: re.Match, task) -> bool:
    """The request works on the page itself (summarise, describe, classify what is on it) and gives nothing else to work
    on. Not a URL that is a tool's argument, data for code or a link ("the domain of that URL", "a button that links
    to"), part of a quoted or labelled text ("Question 1: What are reviews of www…?"), or inside a pasted text."""
    if task.tools or _inside([q.span() for q in QUOTED.finditer(prompt)], m):
        return False
    line = prompt[prompt.rfind("\n", 0, m.start()) + 1 : m.start()]
    if LABEL.match(line):
        return False
    rest = prompt[: m.start()] + prompt[m.end():]
    if len(rest.strip()) > 300 or URL_DATA.search(task.request):
        return False
    return bool(WORKS_ON.search(task.request) or PAGE.search(task.request))


def _media_needed(prompt: str, m: re.Match, no_input: bool, task) -> bool:
    """A marker of an attachment always; otherwise 'the chart' etc. when the request looks at it, it is not named
    (a title, 'Painting: The Mona Lisa'), it is not part of given text ("…matches this summary: Olivia can't caption the
    photo"), not an object of a role play ("You are Frida Kahlo… the painting"), and no description of it is given (an
    input, a long prompt)."""
    if re.fullmatch(MARKER, m.group(0)):
        return True
    if task().role_play or not no_input or len(prompt.strip()) > 300 or NAMED.match(prompt[m.end():]):
        return False
    line_start = prompt.rfind("\n", 0, m.start()) + 1
    head = prompt[line_start : m.start()]
    if ":" in head and len(head[: head.index(":")].split()) >= 3:
        return False  # inside the material that follows the request
    return bool(LOOKS_AT.search(prompt[: m.start()]) or SHOWS.match(prompt[m.end():]))


def needs_context(texts: Texts) -> pd.DataFrame:
    """What the task needs and the record does not hold: a web page it is asked about (not a URL that is a tool's
    argument, nor one in a pasted text), an attachment, or an image or chart it is asked to look at, or "the following
    text" when neither the input nor the instruction holds it (quoted, after a colon, on a line of its own)."""
    prompt = texts.prompt
    url = matches(texts, prompt, URL)
    media = matches(texts, prompt, MEDIA)
    no_input = ((texts.input.str.strip().str.len().to_numpy() == 0) | np.array([placeholder_text(v) for v in texts.input])
                | matches(texts, texts.input, r"^\s*" + URL[4:] + r"\s*$"))  # a bare link describes nothing
    missing = matches(texts, texts.instruction, MISSING_TEXT) & no_input
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    prompts, instructions, conversations = texts.values("prompt"), texts.values("instruction"), texts.values("messages")
    for i in np.flatnonzero(url | media | missing):
        text, found = prompts[i], []
        if url[i]:
            task = texts.task(i)
            found += [texts.found("prompt", i, *m.span(), "URL {value}") for m in re.finditer(URL, text)
                      if _url_needed(text, m, task)][:2]
        if media[i]:
            found += [texts.found("prompt", i, *m.span(), "refers to {value!r}") for m in re.finditer(MEDIA, text)
                      if _media_needed(text, m, no_input[i], functools.partial(texts.task, i))][:2]
        if missing[i] and not _earlier_turns(conversations[i]):
            instruction = instructions[i]
            given, references = _texts_given(instruction)
            if references and given < len({r.group(2).lower() for r in references}):
                value = references[-1].group(0)
                at = instruction.rfind(value)
                found.append(texts.found("instruction", i, at, at + len(value), "refers to {value!r} but the input is empty"))
        score[i] = len(found)
        evidence[i] = found or None
    return result(score, evidence)


MERGED = r"(?im)(^|\n)\s*(\d+\s*[.)]\s*)?(#+\s*)?(instruction|###\s*response|###\s*input)\s*:"
TEMPLATE = (
    r"(\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\{%[^%]{0,80}%\}|<\|[a-z_]+\|>|</s>|<s>|\[/?INST\]|<</?SYS>>|###\s*(Instruction|Response)\s*:)"
)


def template_leftovers(texts: Texts) -> pd.DataFrame:
    """Template placeholders and special tokens left in the record's fields ({{name}}, [INST], <|im_start|>, a marker
    in the middle of the text); the end-of-text marker that closes an output is `end_marker`'s."""
    fields = texts.fields
    hit = matches(texts, fields, TEMPLATE)
    # The common case, a marker that closes the output and nothing else, is end_marker's: skipped without a loop.
    closing = matches(texts, texts.output, TRAILING_MARKERS_RE2)
    alone = pc.count_substring_regex(texts.arrow(fields), TEMPLATE).to_numpy(zero_copy_only=False) == 1
    hit &= ~(closing & alone)
    compiled = re.compile(TEMPLATE)
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    for i in np.flatnonzero(hit):
        text = fields.iat[i]
        closing = trailing_marker(texts.output.iat[i])
        end = len(text) - len(texts.output.iat[i]) + closing.start() if closing else len(text)
        spans = [m.span() for m in compiled.finditer(text) if m.start() < end]
        if spans:
            score[i] = len(spans)
            found[i] = [texts.found("fields", i, lo, hi) for lo, hi in spans[:MAX_FOUND]]
    return result(score, found)


def end_marker(texts: Texts) -> pd.DataFrame:
    """The output ends with an end-of-text marker (`<|endoftext|>`, `</s>`, `<|im_end|>`, `<|eot_id|>`…): the convention
    of the format the record came from, which export strips (`curation.signals.cleaning.clean_output`)."""
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    output = texts.values("output")
    for i in np.flatnonzero(matches(texts, texts.output, TRAILING_MARKERS_RE2)):
        out = output[i]
        m = trailing_marker(out)
        if m:
            lo = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
            hi = m.end() - (len(m.group(0)) - len(m.group(0).rstrip()))
            score[i] = 1.0
            found[i] = [Evidence(out[lo:hi], "output", lo, hi, "ends with {value}")]
    return result(score, found)


SIGNALS = [
    Signal("placeholder_input", "The input is a placeholder for \"no input\" (<noinput>, No input, N/A…): treat it as empty.",
           "placeholder_input", "flag", placeholder_input, severity=0.1, fields=("input",),
           fix="export writes a placeholder input as an empty input", auto_fix=True),
    Signal("needs_context", "The record needs something it does not contain: a web page it asks about, an attachment, an "
           "image or chart it asks to look at, or \"the following text\" that neither the input nor the instruction holds.",
           "needs_context", "flag", needs_context, severity=0.5, fields=("instruction", "input")),
    Signal("merged_instructions", "The output runs on into another task (\"19. Instruction: …\").", "merged_instructions", "flag",
           regex_signal("output", MERGED), severity=0.7),
    Signal("template_leftovers", "Template placeholders or special tokens left in the text ({{name}}, [INST], <|im_start|>, a "
           "marker in the middle of the text).", "template_leftovers", "flag", template_leftovers, severity=0.6,
           fields=("instruction", "input", "output", "system"),
           fix="fill in or remove the placeholders (edit the source, then ingest again): review these records"),
    Signal("end_marker", "The output ends with an end-of-text marker (<|endoftext|>, </s>, <|im_end|>, <|eot_id|>): a format "
           "convention, not part of the answer.", "end_marker", "flag", end_marker, severity=0.0,
           fix="export strips end-of-text markers that close an output (on by default)", auto_fix=True),
]
