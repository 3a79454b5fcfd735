"""Showing record text safely: always as text, never as HTML or Markdown."""

from __future__ import annotations

import re

import streamlit as st

MAX_SHOWN = 20_000
# Characters that start Markdown, HTML, LaTeX or Streamlit directives (:red[..], :material/..:). CommonMark lets a
# backslash escape any ASCII punctuation, so each is shown as itself. Not "@", "." or "," (harmless inline, and common).
# "/" because Streamlit rewrites ":material/" in the source, before escapes are read, and then shows an icon.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~$:&=/])")
_LEADING_NUMBER = re.compile(r"^(\s*\d+)([.)])")
# GFM (remark-gfm's autolink literal) makes links of bare URLs and e-mail addresses in text *after* escapes are read,
# so no escape stops it: "http://", "https://" and "www." in any case, and "name@host.tld" (also after mailto:/xmpp:).
# Text holding any of these goes in a code span instead, which GFM neither parses nor links.
_LINKABLE = re.compile(r"://|www\.|@", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")


def plain(value) -> str:
    """Any string (a dataset name, a file name, a reason, record text, an error) made safe to put inside Markdown:
    widget labels, st.markdown/caption/info/error/success, tabs, expanders and metric labels all interpret Markdown,
    and `![x](http://...)` in them makes the browser fetch a remote image. Runs of white space (line breaks included)
    become one space, as a browser shows them anyway: no indented code, hard break or new paragraph either.

    Escaped, it reads as itself; but a bare URL or e-mail address would still become a link, so text holding one is
    shown as an inline code span instead (see `_LINKABLE`). Either way: no link, image, HTML, icon or formatting.
    One quirk of Streamlit remains in code spans: it shows ":material/" as ":material_"."""
    text = " ".join(str(value if value is not None else "").split())
    if _LINKABLE.search(text):
        return _code_span(text)
    return _LEADING_NUMBER.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))


def _code_span(text: str) -> str:
    """`text` (on one line) as a CommonMark code span: fenced by one more backtick than its longest run of backticks,
    padded with a space where it starts or ends with one (CommonMark strips one space on each side)."""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def text(label: str, value: str | None) -> None:
    """A labelled block of record text. HTML or <script> in it is shown, not run."""
    value = value or ""
    st.caption(plain(label))
    if not value.strip():
        st.caption("(empty)")
        return
    shown = value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN]
    st.code(shown, language="text", wrap_lines=True)
    if len(value) > MAX_SHOWN:
        st.caption(f"showing the first {MAX_SHOWN:,} of {len(value):,} characters")


def snippet(value: str | None, n: int = 160) -> str:
    value = (value or "").replace("\n", " ")
    return value if len(value) <= n else value[: n - 1] + "…"


def highlighted(label: str, value: str | None, terms: list[str] | tuple[str, ...] = (), spans: list[tuple[int, int]] | None = None) -> None:
    """Record text with `spans` (start, end) marked, or else every occurrence of `terms`. Each piece is HTML-escaped,
    so nothing in the record renders."""
    import html

    from curation.texts import find_spans, merge_spans

    value = (value or "")[:MAX_SHOWN]
    st.caption(plain(label))
    if not value.strip():
        st.caption("(empty)")
        return
    marks = find_spans(value, terms) if spans is None else merge_spans((lo, min(hi, len(value))) for lo, hi in spans if lo < len(value))
    pieces, last = [], 0
    for lo, hi in marks:
        pieces.append(html.escape(value[last:lo]) + "<mark>" + html.escape(value[lo:hi]) + "</mark>")
        last = hi
    pieces.append(html.escape(value[last:]))
    st.html(
        "<div class='record-text' style='white-space: pre-wrap; font-family: monospace; font-size: 0.85rem; "
        f"background: #f6f6f9; padding: 0.6rem; border-radius: 0.4rem'>{''.join(pieces)}</div>"
    )


def sentence(text: str) -> str:
    """The text with its first letter capitalised: library messages start in lower case to follow "warning:" in the CLI."""
    return text[:1].upper() + text[1:]


def counted(n: int, noun: str) -> str:
    """`n` and the noun, plural unless n is 1: "1 problem", "3 problems", "1,204 flags"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
