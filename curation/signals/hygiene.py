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
PY_CONTROL = re.compile(CONTROL.replace(r"\x{200b}", "\u200b").replace(r"\x{fffd}", "\ufffd"))
PY_ENTITY = re.compile(ENTITY)
PY_ESCAPES = re.compile(LITERAL_ESCAPES)
MOJIBAKE_RE = re.compile(MOJIBAKE_HINT.replace(r"\x{80}", "\x80").replace(r"\x{bf}", "\xbf"))


FIELDS = ("system", "instruction", "input", "output")


def _debris(text: str, is_bad) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, note) of each piece of debris in one decoded field."""
    out = []
    spans = [m.span() for m in PY_CONTROL.finditer(text)]
    if spans:
        note = "control characters " + ", ".join(sorted({f"U+{ord(text[lo]):04X}" for lo, _ in spans})[:4])
        out += [("control", lo, hi, note) for lo, hi in spans[:PER_KIND]]
    spans = [m.span() for m in PY_ENTITY.finditer(text)]
    if spans:
        note = "HTML entities " + ", ".join(sorted({text[lo:hi] for lo, hi in spans})[:4])
        out += [("entity", lo, hi, note) for lo, hi in spans[:PER_KIND]]
    if "```" not in text and text.count("\\n") + text.count("\\t") >= 2 and text.strip().count("\n") <= 3:
        out += [("escapes", *m.span(), "literal \\n or \\t escapes") for m in PY_ESCAPES.finditer(text)][:PER_KIND]
    if MOJIBAKE_RE.search(text) and is_bad(text):
        word = next((m for m in re.finditer(r"\S+", text) if is_bad(m.group(0))), None)
        out.append(("mojibake", word.start(), word.start() + len(word.group(0)[:40]), "mojibake: {value}") if word
                   else ("mojibake", -1, -1, "mojibake: {value}"))
    return out


def fields_hit(hits: dict[str, np.ndarray]):
    """(row, the fields whose scan hit it, in FIELDS order) of every row that some field's vectorised scan hit."""
    for i in np.flatnonzero(np.logical_or.reduce(list(hits.values()))):
        yield i, [name for name, hit in hits.items() if hit[i]]


def text_debris(texts: Texts) -> pd.DataFrame:
    """Control characters, HTML entities or literal \\n left from bad escaping, and mojibake (UTF-8 read as Latin-1), in the
    record's decoded fields (for a conversation: its last exchange; the stored JSON of the conversation, where every
    newline is written \\n, is never read)."""
    from ftfy.badness import is_bad

    hits = {}
    for name in FIELDS:
        series = getattr(texts, name)
        hits[name] = (matches(texts, series, CONTROL) | matches(texts, series, ENTITY) | matches(texts, series, LITERAL_ESCAPES)
                      | matches(texts, series, MOJIBAKE_HINT))
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    for i, names in fields_hit(hits):
        found, kinds = [], set()
        for name in names:
            for kind, lo, hi, note in _debris(getattr(texts, name).iat[i], is_bad):
                kinds.add(kind)
                found.append(texts.found(name, i, lo, hi, note, strip=kind == "entity") if lo >= 0 else Evidence("", note=note))
        score[i] = len(kinds)
        evidence[i] = found or None
    return result(score, evidence)


EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,5}\)[ .-]?)?\b\d{2,5}(?:[ .-]\d{2,6}){1,4}\b"
IPV4 = r"\b(\d{1,3}\.){3}\d{1,3}\b"
CARD = r"\b(\d{13,19}|\d{4}([ -]\d{4}){2}[ -]\d{1,4}|\d{4}[ -]\d{6}[ -]\d{5})\b"
API_KEY = r"\b(sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})"
PII = f"({EMAIL})|({PHONE})|({IPV4})|({CARD})|({API_KEY})"
PY_PHONE = re.compile(r"(?<![\w.+/-])" + PHONE + r"(?![\w/-]|[.,]\d)")
PY_CARD = re.compile(r"(?<![\w.,-])" + CARD + r"(?![\w-]|[.,]\d)")

# Stand-ins, not anyone's data: reserved and generic domains (RFC 2606 and kin), generic or role mailboxes, the
# fictional 555-01xx numbers, counting sequences, public service addresses.
PLACEHOLDER_DOMAIN = re.compile(
    r"(?i)((?:^|\.)(?:example|examples|test|sample|domain|yourdomain|mydomain|company|yourcompany|mycompany|website|yourwebsite"
    r"|mywebsite|email|youremail|site|yoursite|mysite|acme|foo|bar|baz|placeholder|fake|dummy|somewhere|somedomain|localhost)"
    r"(?:-[\w-]+)?(?:\.[a-z]{2,})+$|[\w-]*example[\w-]*\.|\.(?:test|example|invalid|localhost|local)$)"
)
PLACEHOLDER_LOCAL = re.compile(
    r"(?i)^(user|username|name|yourname|your\.?name|first\.?last|firstname\.?lastname|john\.?doe|jane\.?doe|j\.?doe|someone"
    r"|somebody|me|you|test|example|email|youremail|your\.?email|boss|manager|friend|customer|client|employee|recipient|sender"
    r"|person|admin|info|support|help|contact|sales|noreply|no-reply|alerts?|notifications?|news|newsletter|press|media|office"
    r"|hello|team|service|billing|feedback|webmaster|postmaster|jobs|careers|marketing|enquiries|inquiries|privacy|security"
    r"|abuse|hr|accounts?|orders?|bookings?|reservations?|letters|editors?|tips|newsroom|desk|submissions|comments|corrections"
    r"|pr)\d*$"
)
PUBLIC_SERVICE_IPS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
                      "208.67.220.220", "4.2.2.2", "4.2.2.1"}
TECHNICAL = re.compile(
    r"(?i)\b(server|servers|ping|dns|nameserver|ntp|host|hostname|gateway|router|connect|ssh|curl|wget|traceroute|nslookup|dig"
    r"|listen|bind|proxy|firewall|iptables|resolve[sd]?|endpoint|subnet|cidr|route|port|url|http|https)\b[^\n]{0,30}$"
)
PHONE_CONTEXT = re.compile(
    r"(?i)\b(phone|call|calling|tel|telephone|mobile|cell|fax|whatsapp|sms|text me|reach (?:me|us|him|her)|contact|number|dial"
    r"|ring|hotline|helpline)\b[^\n]{0,40}$"
)
TOLL_FREE = {"800", "833", "844", "855", "866", "877", "888"}  # a business's number, not a person's
ARITHMETIC = re.compile(r"[=+*/×÷]|\bx\b")


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _personal_ip(text: str, start: int, value: str) -> bool:
    """A public address that is not a well-known service and is not written as a server or command argument."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return ip.is_global and value not in PUBLIC_SERVICE_IPS and not TECHNICAL.search(text[max(0, start - 60) : start])


def _personal_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    return not (PLACEHOLDER_DOMAIN.search(domain.lower()) or PLACEHOLDER_LOCAL.match(local))


def _dates_or_years(value: str) -> bool:
    """A date (2021-10-01, 01.10.2021) or a run of years (1999 2006 2007, 2000-2001 2014): not a number of anyone's."""
    groups = re.findall(r"\d+", value)
    if all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return True
    return bool(re.fullmatch(r"(19|20)\d\d[-./](0?[1-9]|1[0-2])[-./](0?[1-9]|[12]\d|3[01])|(0?[1-9]|[12]\d|3[01])[-./]"
                             r"(0?[1-9]|1[0-2])[-./](19|20)\d\d", value.strip()))


def _fictional_phone(digits: str) -> bool:
    """The 555-0100–0199 range kept for fiction, counting sequences (123-456-7890), one digit repeated."""
    return ("55501" in digits or "1234567" in digits or "0123456" in digits or len(set(digits[-7:])) <= 2)


def _phone(text: str, m: re.Match) -> bool:
    value = m.group(0)
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15 or _fictional_phone(digits):
        return False
    around = text[max(0, m.start() - 3) : m.start()] + text[m.end() : m.end() + 3]
    if ARITHMETIC.search(around):
        return False  # a calculation: 960-480-120 = 360
    if _dates_or_years(value):
        return False
    if value.startswith("+"):
        return len(digits) >= 8
    nanp = re.fullmatch(r"(?:1[ .-]?)?\(?([2-9]\d\d)\)?[ .-]?([2-9]\d\d)[ .-](\d{4})", value)
    if nanp and "555" not in (nanp.group(1), nanp.group(2)) and nanp.group(1) not in TOLL_FREE:
        return True
    return bool(PHONE_CONTEXT.search(text[max(0, m.start() - 60) : m.start()]))


def pii_found(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each piece of personal data in the text: emails, API keys, cards, public IPs, then phones;
    placeholders (example.com, boss@company.com, 555-01xx, 123-456-7890), calculations, years, coordinates and public
    service addresses (8.8.8.8) are not personal data."""
    found = [("email", *m.span()) for m in re.finditer(EMAIL, text) if _personal_email(m.group(0))]
    found += [("api key", *m.span()) for m in re.finditer(API_KEY, text)]
    numbers = []  # digit runs taken by a card number or an address
    for m in PY_CARD.finditer(text):
        numbers.append(m.span())
        if _luhn(re.sub(r"\D", "", m.group(0))) and not _dates_or_years(m.group(0)):
            found.append(("card number", *m.span()))
    for m in re.finditer(IPV4, text):
        numbers.append(m.span())
        if _personal_ip(text, m.start(), m.group(0)):
            found.append(("IP address", *m.span()))
    for m in PY_PHONE.finditer(text):
        if not any(lo <= m.start() < hi for lo, hi in numbers) and _phone(text, m):
            found.append(("phone", *m.span()))
    return found


NOTES = {"api key": "api key {value:.12}…"}  # a key is shown by its first characters only


def pii(texts: Texts) -> pd.DataFrame:
    """Personal data in the record's decoded fields (never the stored conversation JSON nor the source row's metadata,
    whose message ids look like phone numbers). The output is not blamed for what the prompt gave it: data found there
    counts once, where the prompt holds it."""
    hits = {name: matches(texts, getattr(texts, name), PII) for name in FIELDS}
    score = np.zeros(texts.n)
    evidence: list = [None] * texts.n
    for i, names in fields_hit(hits):
        found, given = [], set()
        for name in names:
            text = getattr(texts, name).iat[i]
            for kind, lo, hi in pii_found(text):
                value = text[lo:hi]
                if name == "output" and value in given:
                    continue
                given.add(value)
                found.append(texts.found(name, i, lo, hi, NOTES.get(kind, f"{kind} {{value}}")))
        score[i] = len(found)
        evidence[i] = found[:MAX_FOUND] or None
    return result(score, evidence)


SIGNALS = [
    Signal("text_debris", "Control characters, escape debris (HTML entities, literal \\n) or mojibake (UTF-8 read as Latin-1).",
           "text_debris", "flag", text_debris, severity=0.3, fields=("instruction", "input", "output", "system")),
    Signal("pii", "Personal data: email addresses, phone numbers, public IP addresses, card numbers (Luhn-checked), API keys.",
           "pii", "flag", pii, severity=0.3, fields=("instruction", "input", "output", "system")),
]
