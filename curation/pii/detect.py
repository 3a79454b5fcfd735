"""Pattern detectors for personal data that has a shape: e-mail addresses, phone numbers, payment card numbers
(Luhn), IBANs (mod-97), account / routing numbers and sort codes (by context), US social security numbers and IP
addresses.

Each detector returns `Span`s: (kind, start, end, key). The key identifies the value (digits only for a phone
number, lower case for an e-mail address), so the same value gets the same placeholder wherever it is written.
Every pattern is checked by a validator or a context rule, so that order numbers, dates, versions, prices and
ISBNs are left alone (bench/pii.py measures how well).
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple


class Span(NamedTuple):
    kind: str
    start: int
    end: int
    key: str


# --- e-mail ---------------------------------------------------------------------------------------------------------

EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)


def emails(text: str) -> list[Span]:
    return [Span("email", m.start(), m.end(), m.group().lower()) for m in EMAIL.finditer(text)]


# --- context helpers ------------------------------------------------------------------------------------------------

def before(text: str, start: int, n: int = 32) -> str:
    return text[max(0, start - n):start].lower()


NOT_PHONE_CONTEXT = re.compile(
    r"(order|invoice|ticket|case|ref|reference|tracking|isbn|serial|version|account|acct|a/c|card|iban|sku|item|"
    r"part|model|policy|claim|booking|confirmation|receipt|transaction|id|no\.|po|routing|sort code|ssn|social security)"
    r"\W*(?:number|no\.?|num|#|id)?\W*(?:is|was|:)?\W*$"
)
PHONE_CONTEXT = re.compile(r"(phone|call|cell|mobile|tel|telephone|fax|text|whatsapp|dial|reach|contact|number|ring|landline)")


# --- phone numbers --------------------------------------------------------------------------------------------------

SEP = r"[ .\-\u00a0]"
PHONE_PATTERNS = [
    # international: +CC then groups, with an optional (0) or (area) part: +44 (0)20 7946 0958, +1-415-555-0132, +49 30 901820
    re.compile(rf"(?<![\w+])\+\d{{1,3}}(?:{SEP}?\(\d{{1,4}}\))?(?:{SEP}?\d{{1,5}}){{1,5}}(?!\w)"),
    # North American: (415) 555-0132, 415-555-0132, 415.555.0132, 1-800-555-0199, 1 (800) 555 0199
    re.compile(rf"(?<![\w+.\-])(?:1{SEP}?)?(?:\(\d{{3}}\){SEP}?|\d{{3}}{SEP})\d{{3}}{SEP}\d{{4}}(?![\w]|[.\-]\d)"),
    # UK national: 020 7946 0958, 07700 900123, 0161 496 0000, 01632 960123
    re.compile(r"(?<![\w+.\-])0\d{2,4}[ \-]?\d{3,4}[ \-]?\d{3,4}(?![\w]|[.\-]\d)"),
    # bare runs of 10-11 digits: only with a phone word before them (see phones())
    re.compile(r"(?<![\w+.\-])\d{10,11}(?![\w]|[.\-]\d)"),
    # a local number without area code, 555-0186: only with a phone word just before or after it
    re.compile(r"(?<![\w+.\-])\d{3}-\d{4}(?![\w]|[.\-]\d)"),  # with a dash: 314.0185 is a decimal
]


def phone_key(digits: str) -> str:
    if len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    if digits.startswith("44") and len(digits) in (12, 13):
        return "0" + digits[2:]
    return digits


def phones(text: str) -> list[Span]:
    out = []
    for i, pattern in enumerate(PHONE_PATTERNS):
        for m in pattern.finditer(text):
            raw = m.group()
            digits = re.sub(r"\D", "", raw)
            if not 7 <= len(digits) <= 15:
                continue
            context = before(text, m.start())
            if NOT_PHONE_CONTEXT.search(context) and not PHONE_CONTEXT.search(context[-14:]):
                continue
            if i == 0 and len(digits) < 8:
                continue
            if i == 1:
                area = digits[-10:-7]
                if area[0] in "01":
                    continue
            if i == 2 and not 10 <= len(digits) <= 11:
                continue
            if i == 3 and not PHONE_CONTEXT.search(context):
                continue
            if i == 4 and not (PHONE_CONTEXT.search(context[-20:]) or PHONE_CONTEXT.search(text[m.end():m.end() + 30].lower())):
                continue
            if re.fullmatch(r"\d{4}[-.]\d{2}[-.]\d{2}", raw):  # an ISO date
                continue
            out.append(Span("phone", m.start(), m.end(), phone_key(digits)))
    return out


# --- payment cards --------------------------------------------------------------------------------------------------

CARD = re.compile(r"(?<![\w.\-])\d(?:[ \-]?\d){12,18}(?![\w]|[.\-]\d)")
CARD_PREFIX = re.compile(r"^(4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|35|6(?:011|5|4[4-9]|2))")


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def cards(text: str) -> list[Span]:
    out = []
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn(digits) and len(set(digits)) > 1:
            out.append(Span("card", m.start(), m.end(), digits))
    return out


# --- IBAN -----------------------------------------------------------------------------------------------------------

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CR": 22,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")


def iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def ibans(text: str) -> list[Span]:
    out = []
    for m in IBAN.finditer(text):
        raw = m.group()
        length = IBAN_LENGTHS.get(raw[:2])
        compact = raw.replace(" ", "")
        if length is None or len(compact) < length:
            continue
        compact = compact[:length]
        # the end of the length-th character in the raw text
        seen, end = 0, 0
        for j, ch in enumerate(raw):
            if ch != " ":
                seen += 1
                if seen == length:
                    end = j + 1
                    break
        if end < len(raw) and raw[end].isalnum():  # the number goes on: not this IBAN
            continue
        if iban_valid(compact):
            out.append(Span("iban", m.start(), m.start() + end, compact))
    return out


# --- account numbers, routing numbers, sort codes (by context) ------------------------------------------------------

ACCOUNT = re.compile(
    r"(?i)\b(?:account|acct|a/c|checking|savings|routing|aba|member)\.?\s*(?:number|no\.?|num|#)?\s*(?:is|was|would be|will be|:|=|-)?\s*"
    r"(?:ending\s+in\s+)?#?((?:[A-Z]{1,4}-)?\d(?:[ \-]?\d){3,16})(?![\w]|[.\-]\d)"
)
SORT_CODE = re.compile(r"(?i)\bsort\s*code\s*(?:is|:)?\s*(\d{2}[\- ]?\d{2}[\- ]?\d{2})\b")


def accounts(text: str) -> list[Span]:
    out = []
    for m in ACCOUNT.finditer(text):
        digits = re.sub(r"\D", "", m.group(1))
        if len(digits) >= 4:
            out.append(Span("account", m.start(1), m.end(1), digits))
    for m in SORT_CODE.finditer(text):
        out.append(Span("account", m.start(1), m.end(1), re.sub(r"\D", "", m.group(1))))
    return out


# --- US social security numbers -------------------------------------------------------------------------------------

SSN = re.compile(r"(?<![\w\-.])(\d{3})([\- ]?)(\d{2})\2(\d{4})(?![\w]|[\-.]\d)")
SSN_CONTEXT = re.compile(r"(ssn|social security|social|ss#|ss #|taxpayer|tin)\W*(?:number|no\.?|#)?\W*(?:is|:)?\W*$")


def ssns(text: str) -> list[Span]:
    out = []
    for m in SSN.finditer(text):
        area, sep, group, serial = m.groups()
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        if sep != "-" and not SSN_CONTEXT.search(before(text, m.start(), 40)):
            continue
        out.append(Span("ssn", m.start(), m.end(), area + group + serial))
    return out


# --- IP addresses ---------------------------------------------------------------------------------------------------

IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
VERSION_CONTEXT = re.compile(
    r"\b(version|ver\.?|release|build|v|firmware|update|python|node|chrome|ios|android|sdk|patch)\s*(?:is|was|:|=)?\s*$"
)


def ips(text: str) -> list[Span]:
    out = []
    for m in IPV4.finditer(text):
        try:
            address = ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if VERSION_CONTEXT.search(before(text, m.start(), 20)) or m.group().startswith("255."):  # a version, a netmask
            continue
        out.append(Span("ip", m.start(), m.end(), str(address)))
    for m in IPV6.finditer(text):
        raw = m.group()
        if raw.count(":") < 2 or not re.search(r"[0-9A-Fa-f]", raw):
            continue
        try:
            address = ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        out.append(Span("ip", m.start(), m.end(), address.compressed))
    return out


DETECTORS = (emails, ibans, cards, ssns, accounts, phones, ips)
