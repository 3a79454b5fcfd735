"""Text hygiene: control characters, escape debris, mojibake; personal data."""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import pandas as pd

from curation.signals.base import Signal, Texts, matches, result

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{200b}\x{fffd}]"
ENTITY = r"&(amp|lt|gt|quot|apos|nbsp|#\d{2,4}|#x[0-9a-fA-F]{2,4});"
# Characters that UTF-8 read as Latin-1 or cp1252 produces; only texts holding one are checked with ftfy.
MOJIBAKE_HINT = r"[ÃÂÅÐÑÎÏâ€™œ][\x{80}-\x{bf}€™œžŸ¡-¿]|â€"
LITERAL_ESCAPES = r"\\[nt]"


def text_debris(texts: Texts) -> pd.DataFrame:
    """Control characters, HTML entities or literal \\n left from bad escaping, and mojibake (UTF-8 read as Latin-1)."""
    from ftfy.badness import is_bad

    everything = texts.everything
    control = matches(texts, everything, CONTROL)
    entity = matches(texts, everything, ENTITY)
    escapes = matches(texts, everything, LITERAL_ESCAPES)
    non_ascii = matches(texts, everything, MOJIBAKE_HINT)
    score = np.zeros(texts.n)
    evidence = np.full(texts.n, None, dtype=object)
    py_control, py_entity = re.compile(CONTROL.replace(r"\x{200b}", "\u200b").replace(r"\x{fffd}", "\ufffd")), re.compile(ENTITY)
    for i in np.flatnonzero(control | entity | escapes | non_ascii):
        text = everything.iat[i]
        found = []
        if control[i]:
            chars = sorted({f"U+{ord(c):04X}" for c in py_control.findall(text)})
            found.append("control characters " + ", ".join(chars[:4]))
        if entity[i]:
            found.append("HTML entities " + ", ".join(sorted({m.group(0) for m in py_entity.finditer(text)})[:4]))
        if escapes[i] and "```" not in text and text.count("\\n") + text.count("\\t") >= 2 and text.strip().count("\n") <= 3:
            found.append("literal \\n or \\t escapes")
        if non_ascii[i] and is_bad(text):
            found.append("mojibake: " + next((w for w in text.split() if is_bad(w)), "")[:40])
        score[i] = len(found)
        evidence[i] = " | ".join(found) if found else None
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


def pii_found(text: str) -> list[str]:
    found = [("email", m.group(0)) for m in re.finditer(EMAIL, text)]
    found += [("api key", m.group(0)[:12] + "…") for m in re.finditer(API_KEY, text)]
    long_numbers = []  # digit runs too long for a phone number, card or not
    for m in re.finditer(CARD, text):
        digits = re.sub(r"\D", "", m.group(0))
        long_numbers.append(m.span())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            found.append(("card number", m.group(0)))
    found += [("IP address", m.group(0)) for m in re.finditer(IPV4, text) if _public_ip(m.group(0))]
    taken = " ".join(v for _, v in found)
    for m in re.finditer(PHONE, text):
        digits = re.sub(r"\D", "", m.group(0))
        if any(lo <= m.start() < hi for lo, hi in long_numbers):
            continue
        if 7 <= len(digits) <= 15 and m.group(0) not in taken and not re.fullmatch(r"(19|20)\d\d[ .-]\d{3,4}", m.group(0).strip()):
            found.append(("phone", m.group(0).strip()))
    return [f"{kind} {value}" for kind, value in found]


def pii(texts: Texts) -> pd.DataFrame:
    everything = texts.everything
    candidates = np.flatnonzero(matches(texts, everything, PII))
    score = np.zeros(texts.n)
    evidence = np.full(texts.n, None, dtype=object)
    for i in candidates:
        found = pii_found(everything.iat[i])
        score[i] = len(found)
        evidence[i] = " | ".join(dict.fromkeys(found))[:200] if found else None
    return result(score, evidence)


SIGNALS = [
    Signal("text_debris", "Control characters, escape debris (HTML entities, literal \\n) or mojibake (UTF-8 read as Latin-1).",
           "text_debris", "flag", text_debris, severity=0.3, fields=("instruction", "input", "output", "system")),
    Signal("pii", "Personal data: email addresses, phone numbers, public IP addresses, card numbers (Luhn-checked), API keys.",
           "pii", "flag", pii, severity=0.3, fields=("instruction", "input", "output", "system")),
]
