"""What the instruction asks: the facts about a record's task that the flags take into account.

Whether what a flag sees is a defect often depends on the task: one word is the right answer to a
classification, an output identical to the input is the defect of an edit task (and a near-copy is its
answer), a Spanish output is right for a translation into Spanish, "As an AI" is in role when the
instruction casts the model as one. `task_of` reads the request once per record; the flags share it
through `Texts.task(i)`.

The request is the part of the instruction that asks: its first and last sentences (a passage, a review
or a story in between is material, not the request), with quoted text removed. Cues are looked for at the
start of a clause of the request, so "Read the story and decide…" is not a request for a story.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

NUMBERS = {"one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "fifty": 50, "hundred": 100}
UNITS = r"(?P<unit>words?|sentences?|lines?|characters?|letters?|paragraphs?|bullet points?|bullets?|items?|points?|syllables?|tokens?)"
LENGTH = re.compile(
    r"(?i)\b(?P<bound>in|with|using|under|within|no more than|not more than|at most|up to|less than|fewer than|maximum(?: of)?"
    r"|max|exactly|only|at least|no less than|minimum(?: of)?|min)?\s*(?P<n>\d{1,4}|" + "|".join(NUMBERS) + r")[\s-]*"
    + UNITS + r"\b"
)
AT_LEAST = ("at least", "no less than", "minimum", "minimum of", "min")

LANGUAGES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt", "dutch": "nl",
    "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "japanese": "ja", "korean": "ko", "russian": "ru", "arabic": "ar",
    "hindi": "hi", "bengali": "bn", "urdu": "ur", "turkish": "tr", "polish": "pl", "swedish": "sv", "norwegian": "no",
    "danish": "da", "finnish": "fi", "greek": "el", "hebrew": "he", "vietnamese": "vi", "thai": "th", "indonesian": "id",
    "malay": "ms", "czech": "cs", "romanian": "ro", "hungarian": "hu", "ukrainian": "uk", "persian": "fa", "farsi": "fa",
    "swahili": "sw", "tagalog": "tl", "filipino": "tl", "latin": "la", "catalan": "ca", "esperanto": "eo", "irish": "ga",
    "welsh": "cy", "icelandic": "is", "bulgarian": "bg", "serbian": "sr", "croatian": "hr", "slovak": "sk", "tamil": "ta",
}
_LANGUAGE = r"(" + "|".join(LANGUAGES) + r")"
TARGET_LANGUAGE = re.compile(
    r"(?i)\b(?:in|into|to)\s+(?:(?:any|an?|the|standard|modern|simplified|traditional|formal|informal|plain|colloquial|"
    r"brazilian|european|latin american|mexican)\s+)*" + _LANGUAGE + r"\b"
)
TRANSLATE = re.compile(r"(?i)\btranslat(e|es|ed|ing|ion)\b")

# A clause starts at the beginning, after sentence or clause punctuation, or after a politeness prefix.
CLAUSE = r"(?:^|[.!?:;,\n]\s*|\b(?:please|kindly|can you|could you|would you|will you|then|and|now|also|help me)\s+)"
LONG_FORM = re.compile(
    r"(?i)" + CLAUSE + r"(?:(?:write|compose|draft|create|generate|produce|prepare|craft|give me|tell me)\b[^.?!\n]{0,40}?"
    r"\b(?:essay|story|stories|poem|article|paragraphs?|blog(?: post)?|letter|speech|report|narrative|explanation|"
    r"description|script|tutorial|guide|lesson|biography|analysis)\b"
    r"|(?:explain|describe|discuss|elaborate on|outline|brainstorm|compare|analy[sz]e|tell me about)\b)"
)
LONG_FORM_ANYWHERE = re.compile(r"(?i)\b(in detail|step[- ]by[- ]step|several paragraphs|in depth|at length|thoroughly)\b")
# Answers that are short by nature, whatever verb asks for them.
SHORT_FORM = re.compile(
    r"(?i)\b(classify|categori[sz]e|label|sentiment|true or false|yes or no|one word|single word|a word|one sentence|"
    r"a sentence|single sentence|one line|few words|tweet|haiku|slogan|tagline|title|headline|"
    r"hashtag|name (?:a|an|one|the)|which of|choose|select|pick|extract|identify|how many|how much|calculate|compute|"
    r"translate|rewrite|rephrase|paraphrase|correct|fix|code|function|query|sql|regex|regular expression|formula|"
    r"command|one-liner|fill in|in a nutshell|tl;?dr|how (?:would|do|can|could) (?:you|one|i|we) (?:describe|characteri[sz]e))\b"
)
EDIT = re.compile(
    r"(?i)" + CLAUSE + r"(?:rewrite|re-write|rephrase|paraphrase|reword|edit|correct|proofread|fix|revise|improve|polish|"
    r"shorten|simplify|condense|convert|transform|change|alter|rearrange|reorder|reorganize|restructure|split|divide|"
    r"separate|combine|join|merge|replace|substitute|remove|delete|capitali[sz]e|punctuate|format|turn|make|put|cut|"
    r"organi[sz]e|connect|link|order|sort|number|insert|add "
    r"(?:\w+ )?(?:punctuation|commas?|quotation marks|capitals?|articles?)|detect[^.?!\n]{0,60}suggest)\b"
    r"|\b(grammar|grammatical(?:ly)?|spelling|punctuation|tense|passive voice|active voice|point of view|"
    r"(?:first|second|third)[- ]person|synonyms?|antonyms?|suggest an alternative|more formal|less formal|formally)\b"
)
# A question answered by picking: options listed, yes/no, one of named alternatives.
OPTIONS = re.compile(r"(?im)^\s*(?:-\s*)?(?:\(?[A-Ha-h1-8][:.)]|\([A-Ha-h]\))\s+\S")
CHOICE = re.compile(
    r"(?i)\b(options?\s*:|choices?\s*:|choose (?:from|between|one|the)|select (?:from|one|the)|pick (?:one|from|the)|which (?:one|of)|"
    r"yes or no|true or false|yes/no|true/false|(?:positive|negative|neutral) or (?:positive|negative|neutral)|"
    r"fiction or non-?fiction|valid answer|correct answer|best answer|answer (?:is|choice)|classify|categori[sz]e|"
    r"sentiment|what category|which category|which section|what type|what kind|rate (?:it|this|the)|on a scale|"
    r"(?:decide|determine|tell me|state|indicate)(?: \w+)? (?:whether|if)|is (?:it|this|that|the \w+) (?:true|false|correct|"
    r"valid|possible))"
)
YES_NO = re.compile(r"(?i)^\s*(?:is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might)\s[^?]*\?\s*$")
LIST = re.compile(
    r"(?i)\b(list|lists|listing|enumerate|bullet|bulleted|timeline|outline|schedule|agenda|plan|itinerary|menu|checklist|"
    r"table|steps|ingredients|grocery|shopping|inventory|top \d+|\d+ (?:examples|ideas|tips|ways|things|items|reasons)|"
    r"name (?:\d+|two|three|four|five|six|seven|eight|nine|ten|some|a few|several))\b"
)
TITLE = re.compile(r"(?i)\b(title|titles|headline|headlines|heading|caption|subject line|slogan|tagline|name for|hashtags?)\b")
CONTINUATION = re.compile(
    r"(?i)\b(continue|continuation|complete (?:the|this|it)|finish (?:the|this|it)|add (?:more|to|things)|extend (?:the|this)|"
    r"next (?:line|sentence|word|verse|paragraph)|what (?:comes|happens) next|fill in)\b"
)
VERSE = re.compile(r"(?i)\b(song|songs|lyrics|poem|poems|poetry|verse|verses|rap|chorus|haiku|limerick|sonnet|chant|jingle|"
                   r"hymn|anthem|ballad|nursery rhyme)\b")
# A record that declares tools: in the prompt (a function list, a toolformer header) or in the conversation's roles.
TOOLS_TEXT = re.compile(
    r"(?i)(you have access to (?:the following )?(?:functions|tools)|toolformer:\s*enabled|toolformer access:|"
    r"\"parameters\"\s*:\s*\{|<tools>|\bfunctions?\s*:\s*\[)"
)
TOOL_ROLES = {"function_call", "observation", "tool", "function", "ipython", "tool_call", "tool_calls"}
TOOL_META = re.compile(r"\"(tools|functions|tool_calls)\"\s*:\s*(\"\[\s*\{|\[\s*\{)")
ROLE = (
    r"\b(?:you are|you're|act as|acting as|pretend (?:to be|you are|you're|that you are)|role[- ]?play(?:ing)?(?: as)?|"
    r"imagine (?:you are|you're|yourself as|being)|play the (?:role|part) of|assume the role of|take on the role of|"
    r"speak as|respond as|answer as|in the role of)"
)
ROLE_PLAY = re.compile(r"(?i:" + ROLE + r")\s+(?:(?i:an?|the)\s|[A-Z])")  # "you are a chef", "imagine you are Frida Kahlo"
AI_ROLE = re.compile(
    r"(?:" + ROLE + r"|^\s*as)\s+(?:an?|the)?\s*(?:[\w-]+\s+){0,3}?(?:ai|a\.i\.|artificial intelligence|robot|android|"
    r"language model|chatbot|"
    r"bot|computer|machine|virtual assistant|ai assistant|cyborg|hologram)\b",
    re.I,
)
IDENTITY = re.compile(
    r"(?i)\b(who are you|what are you|your name|introduce yourself|about yourself|are you (?:an? )?(?:ai|bot|robot|human|"
    r"person|real|sentient|conscious|alive|chatgpt|gpt|language model)|are you (?:based on|made by|built (?:on|by)|powered by|"
    r"sponsored by|owned by|trained (?:on|by)|related to|affiliated with|developed by|created by)|who (?:made|created|built|"
    r"trained|developed|owns) you|"
    r"what can(?:'t|’t|not| not)? you|things you can(?:'|’)?t|what (?:are|is) your (?:limitations|capabilities|purpose)|"
    r"do you have (?:a name|feelings|emotions|consciousness|a body))\b"
)
LIVE_DATA = re.compile(
    r"(?i)\b(current(?:ly)?|today|tonight|right now|latest|live|real[- ]time|up[- ]to[- ]date|this (?:week|month|year)|"
    r"tomorrow|price|prices|stock|exchange rate|weather|forecast|news|score of)\b"
)
ARTEFACT = re.compile(
    r"(?i)\b(?:create|draw|make|generate|design|produce|render|plot|sketch|paint|show|display|build|colori[sz]e|edit|crop|"
    r"resize|retouch|animate|film|record)\s+(?:me\s+)?(?:an?|the|this|these|some)?\s*(?:(?!of\b|for\b|about\b|from\b|on\b)"
    r"[\w-]+\s+){0,4}?(chart|graph|plot|diagram|image|picture|drawing|logo|sketch|illustration|"
    r"painting|photo|photograph|video|animation|infographic|visuali[sz]ation)s?\b"
)
TOOL_CALL = re.compile(r"\b\w+\(\s*(['\"]).*?\1\s*\)", re.S)  # a call of a tool on a quoted argument
QUOTED = re.compile(r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”|«[^»\n]{1,400}»")
# Sentence breaks, also where a question follows a passage without a stop ("…a roller-coaster ride What is the…") …
SENTENCE = re.compile(
    r"(?<=[.!?])\s+|(?<=[a-z,])\s+(?=(?:What|Which|Who|How|Why|Where|When|Is|Are|Does|Do|Did|Can|Would|Should|Given|Based)\b)"
)
# … or where a text was glued to its instruction ("…the other point-of-viewHe is…", "…a store$12, $14", "…sentence.The").
GLUED = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Za-z\[\d\"“'(])|(?<=[a-z]{3})(?=[A-Z][a-z]|[$€£\[])")


def split_sentences(line: str) -> list[str]:
    """The sentences of one line (glued texts are looked for in lines of up to 400 characters)."""
    parts = SENTENCE.split(line)
    if len(line) <= 400:
        parts = [q for p in parts for q in GLUED.split(p)]
    return parts


IMPERATIVE = re.compile(
    r"(?i)^\W*(?:(?:if|when|otherwise|then|also|finally|next|first|second|lastly|in addition|afterwards)\b[^,.]{0,60},\s*)?"
    r"(?:please\s+|now\s+|then\s+|also\s+|can you\s+|could you\s+|would you\s+|will you\s+|i want you to\s+|"
    r"i need you to\s+|help me\s+)?(?:read|answer|summari[sz]e|rewrite|rephrase|paraphrase|edit|correct|proofread|translate|"
    r"describe|explain|classify|categori[sz]e|analy[sz]e|identify|find|extract|list|give|generate|create|write|compose|draft|"
    r"make|convert|change|turn|shape|split|combine|add|remove|replace|use|based|given|determine|decide|evaluate|rate|review|"
    r"check|compare|tell|provide|suggest|name|select|choose|pick|detect|count|calculate|compute|complete|continue|finish|"
    r"fix|improve|shorten|simplify|format|sort|arrange|rearrange|reorder|divide|separate|group|match|label|tag|highlight|"
    r"transform|alter|modify|update|expand|elaborate|outline|interpret|predict|infer|guess|verify|assess|design|plan|"
    r"imagine|pretend|act|role-?play|discuss|brainstorm|propose|recommend|argue|persuade|convince|teach|show|help|let|say|"
    r"state|define|solve|prove|derive|implement|code|program|build|develop|construct|produce|craft|prepare|draw|paint|"
    r"formulate|construct|devise|invent|come up|think|consider|assume|suppose|provide|output|return|print|respond|reply|"
    r"express|recite|sing|narrate|tell|report|document|record|introduce|present|greet|thank|apologi[sz]e)\b"
)
LABEL_ONLY = re.compile(r"^\W*\w*(?: \w+)?:\s*$")  # "A:", "Answer:", "Options:" ask nothing themselves
LABELLED = re.compile(r"^\W*\w+:\s*\S")  # "Review: …", "Title: …", "Joshua: …": a field of the material


@dataclass(frozen=True)
class Length:
    n: int
    unit: str  # words, sentences, lines, characters… (singular)
    at_least: bool


class Task:
    """What one record's instruction asks. Each fact is worked out the first time a flag asks for it."""

    def __init__(self, instruction: str = "", input: str = "", system: str = "", messages=None, meta=None):
        self.instruction = instruction or ""
        self.input = input or ""
        self.system = system or ""
        self.messages = messages
        self.meta = meta

    def __repr__(self) -> str:
        return f"Task({self.instruction[:60]!r})"

    @cached_property
    def request(self) -> str:
        """The sentences that ask (quotes removed)."""
        return request_of(self.instruction)

    @cached_property
    def length(self) -> Length | None:
        """An explicit length asked for ("in 3 words", "at least 200 words")."""
        return length_of(self.request) or length_of(self.instruction[:500])

    @cached_property
    def long_form(self) -> bool:
        """Asks for long text: write an essay, explain, describe, in detail."""
        return bool(LONG_FORM.search(self.request) or LONG_FORM_ANYWHERE.search(self.request))

    @cached_property
    def choice(self) -> bool:
        """Answered by picking: options listed, a yes/no question, a class."""
        if len(OPTIONS.findall(self.instruction + "\n" + self.input)) >= 2:
            return True
        return any(YES_NO.match(t) for t in self.request.split("\n")) or bool(CHOICE.search(self.request))

    @cached_property
    def title(self) -> bool:
        """A title, headline, caption, slogan."""
        return bool(TITLE.search(self.request))

    @cached_property
    def translation(self) -> bool:
        return bool(TRANSLATE.search(self.request))

    @cached_property
    def target_language(self) -> str | None:
        """ISO 639-1 code of the language the output is asked in ("into German", "a sentence in Spanish")."""
        return target_language(self.request) or (target_language(self.instruction[:300]) if self.translation else None)

    @cached_property
    def short(self) -> bool:
        """A short answer is right: a choice, a class, an extraction, a title, a length limit, a translation."""
        length = self.length
        return (self.choice or self.title or self.translation or bool(SHORT_FORM.search(self.request))
                or (length is not None and not length.at_least))

    @cached_property
    def edit(self) -> bool:
        """Rewrite, correct, convert or translate the given text: the answer resembles it."""
        return bool(EDIT.search(self.request)) or self.translation

    @cached_property
    def list(self) -> bool:
        """A list, outline, timeline, plan, menu."""
        return bool(LIST.search(self.request))

    @cached_property
    def continuation(self) -> bool:
        """Continue or complete the given text."""
        return bool(CONTINUATION.search(self.request))

    @cached_property
    def verse(self) -> bool:
        """A song, lyrics, a poem."""
        return bool(VERSE.search(self.request))

    @cached_property
    def tools(self) -> bool:
        """The record declares tools (function calling, toolformer)."""
        return declares_tools(self.system, self.instruction, self.messages, self.meta)

    @cached_property
    def role_play(self) -> bool:
        """The instruction casts the model in a role."""
        return bool(ROLE_PLAY.search(self.instruction[:600]))

    @cached_property
    def ai_role(self) -> bool:
        """… and the role is an AI, a robot, a bot."""
        return bool(AI_ROLE.search(self.instruction[:600]))

    @cached_property
    def identity(self) -> bool:
        """Asks about the assistant itself (its name, what it is, what it can't do)."""
        return bool(IDENTITY.search(self.request))

    @cached_property
    def live_data(self) -> bool:
        """Asks for live data (prices, weather, news, today)."""
        return bool(LIVE_DATA.search(self.request))

    @cached_property
    def artefact(self) -> str | None:
        """Asks for a non-text artefact (a chart, an image, a drawing): which."""
        m = ARTEFACT.search(self.request)
        return m.group(1).lower() if m else None


def asks(sentence: str) -> bool:
    """A sentence that asks: a question, a line ending in a colon ("Answer the question:"), an imperative."""
    t = sentence.strip()
    return bool(t) and (t[-1] in "?:" or (bool(IMPERATIVE.match(t)) and not LABELLED.match(t)))


def line_ends(line: str, keep: int = 300) -> str:
    """A long line's beginning and end (where a request sits; the middle is a passage)."""
    return line if len(line) <= 3 * keep else line[:keep] + "\n" + line[-keep:]


def request_of(instruction: str) -> str:
    """The sentences of the instruction that ask (questions, imperatives, lines ending in a colon), looked for in its
    first and last three lines, quoted text removed: a passage, a review or a dialogue around them is material. Without
    any, its last sentence (and its first, when it has no more than two)."""
    text = QUOTED.sub(" ", instruction or "").strip()
    if not text:
        return ""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) > 6:
        lines = lines[:3] + lines[-3:]  # a request opens or closes the instruction; the lines between are material
    all_sentences = [t.strip() for line in lines for t in split_sentences(line_ends(line)) if t and t.strip()]
    asking = [t[:300] for t in all_sentences if asks(t) and not LABEL_ONLY.match(t)]
    if asking:
        return "\n".join(asking[:2] + asking[2:][-2:])  # the first two and the last two
    if len(all_sentences) > 2:
        return all_sentences[-1][-300:]
    return "\n".join(dict.fromkeys([all_sentences[0][:300], all_sentences[-1][-300:]]))


def length_of(text: str) -> Length | None:
    for m in LENGTH.finditer(text):
        raw = m.group("n").lower()
        bound = (m.group("bound") or "").lower()
        if raw in ("a", "an") and not bound:
            continue  # "a sentence" is not a length request on its own ("write a sentence" is: see SHORT_FORM)
        n = int(raw) if raw.isdigit() else NUMBERS[raw]
        unit = m.group("unit").lower().removesuffix("s").replace("bullet point", "item").replace("bullet", "item")
        return Length(n, unit, bound in AT_LEAST)
    return None


def target_language(prompt: str) -> str | None:
    m = TARGET_LANGUAGE.search(prompt)
    return LANGUAGES[m.group(1).lower()] if m else None


def declares_tools(system: str, instruction: str, messages, meta) -> bool:
    if TOOLS_TEXT.search(system or "") or TOOLS_TEXT.search((instruction or "")[:2000]):
        return True
    turns = messages if isinstance(messages, list) else _loads(messages)
    if turns and any(isinstance(t, dict) and (t.get("role") in TOOL_ROLES or t.get("tool_calls")) for t in turns):
        return True
    return isinstance(meta, str) and bool(TOOL_META.search(meta))


def _loads(raw):
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def task_of(instruction: str, input: str = "", system: str = "", messages=None, meta=None) -> Task:
    """What the instruction asks (`messages`: the conversation, as stored JSON or a list; `meta`: the source row's
    other fields, as JSON)."""
    return Task(instruction, input, system, messages, meta)
