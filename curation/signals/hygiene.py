"""Text hygiene: control characters, escape debris, mojibake; personal data."""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import pandas as pd

from curation.signals.base import MAX_FOUND, Signal, Texts, matches, result
from curation.signals.evidence import Evidence

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{200b}\x{fffd}]"
ENTITY = r"&(amp|lt|gt|quot|apos|nbsp|#\d{2,4}|#x[0-9a-fA-F]{2,4});"
# Characters that UTF-8 read as Latin-1 or cp1252 produces; only texts holding one are checked with ftfy.
MOJIBAKE_HINT = r"[ÃÂÅÐÑÎÏâ€™œ][\x{80}-\x{bf}€™œžŸ¡-¿]|â€"
LITERAL_ESCAPES = r"\\[nt]"
PER_KIND = 10  # pieces of evidence kept per kind of debris


def text_debris(texts: Texts) -> pd.DataFrame:
    """Control characters, HTML entities or literal \\n left from bad escaping, and mojibake (UTF-8 read as Latin-1)."""
    from ftfy.badness import is_bad

    everything = texts.everything
    control = matches(texts, everything, CONTROL)
    entity = matches(texts, everything, ENTITY)
    escapes = matches(texts, everything, LITERAL_ESCAPES)
    non_ascii = matches(texts, everything, MOJIBAKE_HINT)
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    py_control, py_entity = re.compile(CONTROL.replace(r"\x{200b}", "\u200b").replace(r"\x{fffd}", "\ufffd")), re.compile(ENTITY)
    py_escapes = re.compile(LITERAL_ESCAPES)
    for i in np.flatnonzero(control | entity | escapes | non_ascii):
        text = everything.iat[i]
        found, kinds = [], 0
        if control[i]:
            spans = [m.span() for m in py_control.finditer(text)]
            note = "control characters " + ", ".join(sorted({f"U+{ord(text[lo]):04X}" for lo, _ in spans})[:4])
            found += [texts.found("everything", i, lo, hi, note, strip=False) for lo, hi in spans[:PER_KIND]]
            kinds += 1
        if entity[i]:
            spans = [m.span() for m in py_entity.finditer(text)]
            note = "HTML entities " + ", ".join(sorted({text[lo:hi] for lo, hi in spans})[:4])
            found += [texts.found("everything", i, lo, hi, note) for lo, hi in spans[:PER_KIND]]
            kinds += 1
        if escapes[i] and "```" not in text and text.count("\\n") + text.count("\\t") >= 2 and text.strip().count("\n") <= 3:
            note = "literal \\n or \\t escapes"
            found += [texts.found("everything", i, *m.span(), note) for m in py_escapes.finditer(text)][:PER_KIND]
            kinds += 1
        if non_ascii[i] and is_bad(text):
            word = next((m for m in re.finditer(r"\S+", text) if is_bad(m.group(0))), None)
            found.append(texts.found("everything", i, word.start(), word.start() + len(word.group(0)[:40]), "mojibake: {value}")
                         if word else Evidence("", note="mojibake: {value}"))
            kinds += 1
        score[i] = kinds
        evidence[i] = found or None
    return result(score, evidence)


EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE = r"(\+\d{1,3}[ .-]?)?(\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}\b"
IPV4 = r"\b(\d{1,3}\.){3}\d{1,3}\b"
CARD = r"\b(\d[ -]?){12,18}\d\b"
API_KEY = r"\b(sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})"
PII = f"({EMAIL})|({PHONE})|({IPV4})|({CARD})|({API_KEY})"


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _public_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return ip.is_global


def pii_found(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each piece of personal data in the text: emails, API keys, cards, public IPs, then phones."""
    found = [("email", *m.span()) for m in re.finditer(EMAIL, text)]
    found += [("api key", *m.span()) for m in re.finditer(API_KEY, text)]
    long_numbers = []  # digit runs too long for a phone number, card or not
    for m in re.finditer(CARD, text):
        digits = re.sub(r"\D", "", m.group(0))
        long_numbers.append(m.span())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            found.append(("card number", *m.span()))
    found += [("IP address", *m.span()) for m in re.finditer(IPV4, text) if _public_ip(m.group(0))]
    taken = " ".join(text[lo:hi][:12] + "…" if kind == "api key" else text[lo:hi] for kind, lo, hi in found)
    for m in re.finditer(PHONE, text):
        digits = re.sub(r"\D", "", m.group(0))
        if any(lo <= m.start() < hi for lo, hi in long_numbers):
            continue
        if 7 <= len(digits) <= 15 and m.group(0) not in taken and not re.fullmatch(r"(19|20)\d\d[ .-]\d{3,4}", m.group(0).strip()):
            found.append(("phone", *m.span()))
    return found


NOTES = {"api key": "api key {value:.12}…"}  # a key is shown by its first characters only


def pii(texts: Texts) -> pd.DataFrame:
    everything = texts.everything
    candidates = np.flatnonzero(matches(texts, everything, PII))
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    for i in candidates:
        found = pii_found(everything.iat[i])
        score[i] = len(found)
        evidence[i] = [texts.found("everything", i, lo, hi, NOTES.get(kind, f"{kind} {{value}}")) for kind, lo, hi in found[:MAX_FOUND]]
    return result(score, evidence)


SIGNALS = [
    Signal("text_debris", "Control characters, escape debris (HTML entities, literal \\n) or mojibake (UTF-8 read as Latin-1).",
           "text_debris", "flag", text_debris, severity=0.3, fields=("instruction", "input", "output", "system")),
    Signal("pii", "Personal data: email addresses, phone numbers, public IP addresses, card numbers (Luhn-checked), API keys.",
           "pii", "flag", pii, severity=0.3, fields=("instruction", "input", "output", "system")),
]
