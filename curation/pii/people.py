"""Person names, found offline from evidence in the text (no model):

- names the caller knows (a transcript's speaker labels);
- context that says a name follows: "my name is X", "this is X from …", "speaking with X", "Mr./Dr. X",
  greetings and sign-offs ("Hi X,", "Thanks, X", "Regards,\\nX"), speaker lines ("X: …");
- the US census 1990 first-name list (public domain, shipped by the MIT-licensed `names` package): a
  capitalised first name is a name, unless it is also a common English word (May, Will, Grace, Chase…), which
  then needs context.

Once a name is found in a source, all its other mentions in that source are redacted too (the full name and its
parts, so "Sarah Jones" and a later "Sarah" get one placeholder). What is not found: names without any of this
evidence (a surname alone, most non-English given names outside the list, lower-case names).
"""

from __future__ import annotations

import os
import re
from functools import cache

TOKEN = r"(?:[A-Z][a-z]+(?:[A-Z][a-z]+)?|[A-Z]'[A-Z][a-z]+)(?:-[A-Z][a-z]+)?"
FULL = rf"{TOKEN}(?: {TOKEN})?"

# Capitalised words that are never a person's name here: roles, greetings, days, months not used as names, etc.
STOP = frozenset("""
I A An The This That These Those It Its We You He She They Me My Our Your His Her Their Us Them
Agent Customer Caller Client User Assistant System Support Team Staff All Everyone Everybody There Folks Guys Sir Madam
Ma'am Speaker Host Guest Interviewer Interviewee Moderator Operator Manager Supervisor Representative Rep Admin Bot
Unknown Narrator Doctor Nurse Patient Teacher Student Professor Officer Captain Chief Director President Sales Billing
Service Services Bank Company Inc Ltd Llc Corp Street Road Avenue Lane Drive Hi Hello Hey Dear Thanks Thank Cheers
Regards Best Sincerely Yours Yes No Ok Okay Sure Great Good Fine Well Right Sorry Please Just Also Again So Much Morning
Afternoon Evening Night Today Tomorrow Yesterday Monday Tuesday Wednesday Thursday Friday Saturday Sunday January
February March July September October November December World Friend Friends Mom Dad Mum Mother Father Brother Sister
Son Daughter Baby Honey Love Darling Buddy Mate Boss Guy Man Woman Kid Kids Everyone Anyone Someone Nobody Note Summary
Action Actions Item Items Question Answer Input Output Instruction Response Example Human Chat English Spanish French
German Chinese Japanese Indian American British Canadian Australian Order Account Card Number Email Phone Address
Name Subject Re Fwd Fw To From Cc Bcc Date Time Sent Attachment Meeting Call Agenda Minutes Notes Update Issue Ticket
Case Ref Reference Python Java Javascript Google Microsoft Apple Amazon Zoom Slack Teams Excel Windows Linux Android
Iphone Ios Gmail Outlook Chrome Github Facebook Twitter Instagram Youtube Netflix Spotify Uber Paypal Visa Mastercard
Alexa Siri Cortana Mr Mrs Ms Mx Dr Prof Miss Reception Accounts Finance Legal Marketing Operations Security Desk
Helpdesk Office Hr It Attendees Participants Present Steps Next
Christmas Easter Halloween Thanksgiving God Jesus Lord Here Not Yet Still Done Now Then What When
Where Why How Who Which If But And Or Of In On At For With By About Let Can Could Would Should Will Shall May Might Must
""".split())

# Census first names that are also common English words, places or products: a name only with context.
AMBIGUOUS = frozenset("""
ai aide al alfredo alpha amber an angel angle art aura autumn basil bee bell berry bill birdie blossom brain brooks buck
buddy bunny candy carry chance charity chase cherish cherry chia chin clay cliff conception coral crystal dane desire
destiny diamond don dong dot drew dusty echo else emerald era fairy faith fawn fern flora forest foster gala gay gene
ginger glory golden grace grant guy hang harmony herb honey hope hue hung in ivy jade jewel joy junior king kit lady lane
lang le lean len li liberty loan long lore love ma mae major man mana manual many maple margarita marine marry marvel
may melody mercy merry meta miles min miss misty moon my myrtle na noble numbers ok olive omega page patience pearl penny
ping precious prince princess queen raven ray rhea rich rocky rose rosemary royal sage sang savannah season see so sol
son song soon sparkle spring star stormy summer sun sung sunny sunshine teddy temple tiny un valentine van velvet violet
walker ward will winter yen young
april june august january dawn eve iris lily mark jack frank max penny rob pat sue nick chip rusty sandy hunter dean
marshall sterling ada ruby julia jordan georgia india china israel florida virginia carolina dakota austin houston
denver paris sydney chelsea brooklyn cleveland columbus lincoln washington madison jackson phoenix dallas tyler
carter harper mason parker cooper taylor porter baker christian august victoria del romeo juliet adelaide america angeles
argentina asia augusta aurora burma chad france kenya milan venice santa trenton raleigh troy orlando
""".split())

MONTHS = frozenset({"April", "May", "June", "August", "January"})
ROLE_LABEL = re.compile(r"(?i)^(?:speaker|spk|person|participant|caller|agent|customer|user|assistant|host|guest|"
                        r"interviewer|interviewee|moderator|operator|unknown|system|narrator|s)[\s_\-#]*\d*$")


@cache
def first_names() -> frozenset[str]:
    """Census 1990 first names (lower case), from the `names` package; empty when it is not installed."""
    try:
        import names as names_package
    except ImportError:
        return frozenset()
    folder = os.path.dirname(names_package.__file__)
    out = set()
    for file in ("dist.male.first", "dist.female.first"):
        try:
            with open(os.path.join(folder, file), encoding="ascii", errors="ignore") as fh:
                out.update(line.split()[0].lower() for line in fh if line.strip())
        except OSError:
            continue
    return frozenset(out)


def is_first(token: str) -> bool:
    return token.lower() in first_names()


def plausible(name: str) -> bool:
    """Not a stop word, a role label or an all-lower/all-upper fragment."""
    parts = name.split()
    return bool(parts) and all(p not in STOP and len(p) > 1 for p in parts)


# Context that says a name follows (any capitalised word after it is taken)
STRONG_BEFORE = re.compile(
    rf"(?:\b(?:[Mm]y name is|[Mm]y name's|[Nn]ame is|[Nn]ame's|[Nn]ame:|[Cc]all me|[Ss]peaking (?:with|to)|[Ss]poke (?:with|to)|"
    rf"[Tt]alk(?:ed|ing)? (?:with|to)|[Aa]sk(?:ed)? for|[Tt]ransfer(?:red)? you to|[Pp]ut you through to|[Aa]ttn:?|"
    rf"[Cc]ontact(?: person)?:|[Aa]ssigned to|[Oo]wner:|[Ss]igned,?|[Ff]rom:|[Tt]o:|[Cc]c:?|[Pp]er) +|"
    rf"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Professor|Miss|Sir|Dame)\.? +)({FULL})"
)
# "this is X from …", "X here", "X speaking"
THIS_IS = re.compile(rf"\b[Tt]his is ({FULL})(?=,? (?:from|with|at|calling|speaking|in|over|on)\b|\s*[,.!]|$)"
                     rf"|\b(?:I'm|I am) ({FULL})(?=,? (?:from|with|at|calling|speaking|here)\b)")
HERE = re.compile(rf"(?:^|[.!?]\s+|\n)\s*(?:[Hh]i,?\s+|[Hh]ello,?\s+)?({FULL}) (?:here|speaking)\b")
GREETING = re.compile(
    rf"(?:^|\n|[.!?]\s+|[\"\u201c])\s*(?:Hi|Hello|Hey|Dear|Morning|Good (?:morning|afternoon|evening)|Thanks|Thank you|Cheers|Bye|"
    rf"Goodbye|Welcome|Congrats|Congratulations|Sorry|Great|Ok|Okay|Sure)(?: there| again| so much)?[ ,]+({FULL})(?=\s*[,.!?:;\n]|$)"
)
SIGN_OFF = re.compile(
    rf"(?:Thanks|Thank you|Regards|Best|Best regards|Kind regards|Warm regards|Cheers|Sincerely|Yours|Yours truly|"
    rf"Talk soon|Best wishes|Many thanks|Take care|Love|xo|Respectfully)[,!.]?\s*\n+\s*[-\u2014]*\s*({FULL})\s*(?:\n|$)"
)
DASH_SIGN = re.compile(rf"(?:^|\s)(?:--|\u2014|-)\s?({FULL})\s*$")
SPEAKER_LINE = re.compile(rf"(?m)^\s*(?:\[[\d:.]+\]\s*)?({FULL}):\s")
LIST_OF_PEOPLE = re.compile(r"(?m)\b(?:Attendees|Participants|Present|Invitees|Speakers|Panelists|Signed by)\s*:\s*([^\n]+)")
# weak context: a name from the list (ambiguous ones too, except months) right after these words
WEAK_BEFORE = re.compile(rf"\b(?:I'm|I am|[Ii]t's|[Aa]sk|[Tt]ell|[Tt]old|[Cc]all|[Ee]mail|[Tt]ext|[Pp]ing|[Mm]eet|[Rr]emind) ({FULL})")
WEAK_AFTER = re.compile(rf"\b({FULL})(?= (?:said|says|asked|asks|wrote|writes|mentioned|told|thinks|thought|agreed|replied|"
                        rf"will (?:send|share|follow|take|handle|check|join|call|email)|and I\b|'s (?:team|email|number|phone|"
                        rf"manager|account|desk|office|calendar|idea|question|point|update)))")
CAPITALISED = re.compile(rf"\b{TOKEN}\b")
NEXT_TOKEN = re.compile(rf" ({TOKEN})\b")
PLACE_BEFORE = re.compile(r"\b(?:San|Santa|Saint|St\.|Los|Las|New|Mount|Mt\.|Fort|Port|Lake|Cape|El|La|Del|Di|Da|Costa) $")


def sentence_start(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j] in " \t\"'(“‘":
        j -= 1
    return j < 0 or text[j] in ".!?\n:;"


def candidates(text: str) -> list[str]:
    """Names this text gives evidence of (strings as written)."""
    found: list[str] = []

    def take(name: str, *, need_first: bool = False, allow_ambiguous: bool = True) -> None:
        name = name.strip()
        parts = name.split()
        while parts and parts[-1] in STOP:  # "Sarah Thanks" -> "Sarah"
            parts.pop()
        if not parts or not plausible(" ".join(parts)):
            return
        head = parts[0]
        if need_first and not is_first(head):
            return
        if not allow_ambiguous and head.lower() in AMBIGUOUS:
            return
        found.append(" ".join(parts))

    for pattern in (STRONG_BEFORE, THIS_IS, GREETING, SIGN_OFF, DASH_SIGN):
        for m in pattern.finditer(text):
            take(next(g for g in m.groups() if g))
    for m in LIST_OF_PEOPLE.finditer(text):
        for item in re.split(r",\s*|\s+and\s+|;\s*", m.group(1)):
            if re.fullmatch(FULL, item.strip().rstrip(".")):
                take(item.strip().rstrip("."))
    for m in HERE.finditer(text):
        take(m.group(1), need_first=True)
    for m in SPEAKER_LINE.finditer(text):  # "Sam: …", "Sam Jones: …": a first name from the list ("Strength Training:" is not)
        take(m.group(1), need_first=True, allow_ambiguous=False)
    for pattern in (WEAK_BEFORE, WEAK_AFTER):
        for m in pattern.finditer(text):
            if m.group(1).split()[0] not in MONTHS:
                take(m.group(1), need_first=True)
    # a capitalised census first name that is not a common word, anywhere
    for m in CAPITALISED.finditer(text):
        token = m.group()
        if token in STOP or not is_first(token) or token.lower() in AMBIGUOUS:
            continue
        if PLACE_BEFORE.search(text, max(0, m.start() - 8), m.start()):  # San Diego, Mount Vernon
            continue
        rest = NEXT_TOKEN.match(text, m.end())
        if rest and rest.group(1) not in STOP and not sentence_start(text, m.end() + 1):
            take(f"{token} {rest.group(1)}")
        else:
            take(token)
    return found


class People:
    """The persons seen in one source: each name and its parts point to one person number."""

    def __init__(self, known_names=()):
        self.variants: dict[str, int] = {}
        self.count = 0
        self._pattern: re.Pattern | None = None
        for name in known_names:
            name = " ".join(str(name or "").split())
            if not name or ROLE_LABEL.match(name):
                continue
            if name.isupper() or name.islower():
                name = name.title()
            if plausible(name):
                self.add(name, known=True)

    def add(self, name: str, *, known: bool = False) -> int:
        if name in self.variants:
            return self.variants[name]
        parts = name.split()
        person = next((self.variants[p] for p in parts if p in self.variants), None)
        if person is None:
            self.count += 1
            person = self.count
        self.variants[name] = person
        if len(parts) > 1:
            for part in parts:
                # a part alone is a name only when it cannot be a common word
                if part not in self.variants and part not in STOP and (known or part.lower() not in AMBIGUOUS):
                    self.variants[part] = person
        self._pattern = None
        return person

    def learn(self, text: str) -> None:
        for name in candidates(text):
            self.add(name)

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, person) of every mention of a known name in `text`."""
        if not self.variants:
            return []
        if self._pattern is None:
            alternatives = sorted(self.variants, key=len, reverse=True)
            self._pattern = re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(v) for v in alternatives) + r")(?![\w])")
        out = []
        for m in self._pattern.finditer(text):
            out.append((m.start(), m.end(), self.variants[m.group()]))
        return out
