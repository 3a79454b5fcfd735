"""Flags that know the task (issue 12).

Each false alarm the annotator found on the development set is written here as a small example of our own
(no text copied from the data): every one of them was flagged before issue 12 and must not be now. Next to
them, the real defects of the same flag are still flagged.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.signals import SIGNALS
from curation.signals.base import Texts
from curation.signals.cleaning import clean_output
from curation.signals.evidence import loads
from curation.signals.measured import BY_DEFINITION, MEASURED, REJECT_LABELS, REJECT_PRECISION, action
from curation.signals.task import task_of

TOOLS = "You have access to the following functions: get_weather(city), convert_currency(amount, from, to)."
TOOLFORMER = "toolformer: enabled\ntoolformer access: search\nA search engine.\nsearch(query)\n"


def rec(instruction="Do it.", output="Done.", input="", system="", messages=None) -> dict:
    return {"record_id": "r", "system": system, "instruction": instruction, "input": input, "output": output,
            "messages": json.dumps(messages) if messages else None}


def fires(name: str, record: dict) -> bool:
    res = SIGNALS[name].compute(Texts(pd.DataFrame([record])))
    return bool(SIGNALS[name].flagged(res["score"], res["evidence"]).iat[0])


def found(name: str, record: dict):
    return loads(SIGNALS[name].compute(Texts(pd.DataFrame([record])))["found"].iat[0])


CHORUS = "Oh the sea the sea is calling me home tonight\nOh the waves the waves keep rolling on and on\n"
PLAN_DAY = ("{day}:\nWarm-up: ten minutes of easy cycling and some light stretching\nMain: {main}\n"
            "Cool-down: five minutes of slow walking and deep breathing\n")

# (flag, what the annotator saw, a record of ours with that pattern): none of these may fire.
FALSE_ALARMS = [
    # truncated
    ("truncated", "a solution ending on a calculation",
     rec("A floor is 12 ft by 10 ft. What is its area?", "Multiply the sides to find the area: 12 ft * 10 ft = 120 sq ft\n"
         "Half of the floor is carpeted, so the carpet covers 120 sq ft / 2 = 60 sq in")),
    ("truncated", "a one-letter multiple-choice answer",
     rec("Which is a fruit?\n\nOptions:\n- A: apple\n- B: chair\n", "A<|endoftext|>")),
    ("truncated", "a headline", rec("Write a headline for this story: heavy snow closed roads in the north on monday .",
                                      "heavy snow shuts northern roads as drivers are told to stay at home")),
    ("truncated", "a list", rec("Make a packing list for a beach trip.", "-Clothes: swimsuit, shorts, sandals\n"
                                "-Gear: beach towel, umbrella, sunscreen, cooler, snacks and cold water")),
    ("truncated", "lyrics", rec("Complete the lyrics.", "and the night is young\nwe will sing together under the summer sky tonight",
                                input="Under the lights we dance")),
    ("truncated", "a sign-off", rec("Write a thank-you note to a neighbour.", "Dear Sam, thank you for watering my plants while I "
                                    "was away. They look wonderful. With warm thanks, your neighbour from number twelve")),
    ("truncated", "one complete sentence without its full stop",
     rec("Why did she leave early?", "she wanted to catch the last train home before the storm arrived")),
    ("truncated", "an emoticon is no open bracket", rec("Write a one-star review of a calendar app.",
                                                         "It crashes every time I add an event :( Please fix it.")),
    # needs_context
    ("needs_context", "the sentence is quoted in the instruction",
     rec('Rewrite this sentence in the passive voice: "The dog chased the ball."', "The ball was chased by the dog.")),
    ("needs_context", "the sentence follows a colon", rec("Turn the following sentence into a question:\nThe museum opens at nine.",
                                                          "Does the museum open at nine?")),
    ("needs_context", "the text precedes the question", rec("What a lovely, warm and funny film. What is the sentiment expressed in "
                                                            "this text?", "positive")),
    ("needs_context", "'the video' is an object of a word problem",
     rec("A video got 300 likes and twice as many views. How many views did the video get?", "600 views")),
    ("needs_context", "'the picture' is part of a title", rec("How old is the miller in the picture of the old mill?", "No")),
    ("needs_context", "the painting is named", rec('Describe the painting "Sunflowers" by Vincent van Gogh.',
                                                   "A vase of yellow sunflowers painted in thick strokes.")),
    ("needs_context", "a URL given to a tool", rec("Make a QR code for www.my-bakery.com", "Here is your QR code.", system=TOOLS)),
    ("needs_context", "a URL that is data for code", rec("Write the HTML for a link to a page.", "<a href='https://shop.test'>Shop</a>",
                                                         input="https://shop.test")),
    # short_output
    ("short_output", "a cue word inside the passage",
     rec("The story describes a fox who wanted some grapes.\nWhat animal wanted the grapes?", "The fox")),
    ("short_output", "an explicit length", rec("Describe the ocean in 3 words.", "Vast, deep, blue.")),
    ("short_output", "options", rec("Read the passage and explain which option fits best.\nOptions:\n- A: red\n- B: blue", "B")),
    ("short_output", "a yes/no question", rec("A gripping story with a dull ending. Did the reviewer enjoy the film?", "No")),
    ("short_output", "'how would you describe' asks for a word", rec("Sam helped a stranger carry bags.\n\nHow would you describe Sam?",
                                                                     "kind")),
    # repeats_prompt
    ("repeats_prompt", "a grammar fix", rec("Correct the grammar in this sentence.", "She doesn't like apples at all.",
                                            input="She don't like apples at all.")),
    ("repeats_prompt", "punctuation added", rec("Add the missing punctuation.", "Wait, what did you say to him?",
                                                input="Wait what did you say to him")),
    ("repeats_prompt", "a tool call on the input", rec(TOOLFORMER + "Find outdoor events.", "search('What are the best outdoor "
                                                       "events happening in Paris this weekend')",
                                                       input="What are the best outdoor events happening in Paris this weekend")),
    # repetition
    ("repetition", "a song's chorus", rec("Write a song about the sea.", "Verse 1:\nThe harbour lights are low and the boats are in\n"
                                          "Chorus:\n" + CHORUS + "Verse 2:\nThe gulls are gone and the nets are dry again\nChorus:\n"
                                          + CHORUS + "Outro:\n" + CHORUS)),
    ("repetition", "a weekly plan", rec("Give me a beginner workout plan.", "".join(
        PLAN_DAY.format(day=day, main=main) for day, main in [("Monday", "squats and push-ups"), ("Tuesday", "a long easy walk"),
                                                              ("Thursday", "lunges and rows"), ("Friday", "a gentle swim")]))),
    ("repetition", "parallel sentences", rec("How many apples are in the four boxes?", "\n".join(
        f"The {n} box of red apples on the top shelf of the old shop holds {k} * 4 = {4 * k} apples." for n, k in
        [("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5)]))),
    # refusal
    ("refusal", "a decline the record's tools cannot do",
     rec("Can you book me a flight?", "I'm sorry, but I can't assist with booking flights. My capabilities are limited to the "
         "functions provided.", system=TOOLS)),
    ("refusal", "context QA whose answer is not in the passage",
     rec("Answer using only the passage. If you don't know the answer, say so.\n\nThe mill was built in 1820.\n\nWho owned the mill?",
         "I'm sorry, but I cannot answer that, because the passage does not say who owned the mill.")),
    ("refusal", "an excuse the user asked for", rec("Write an excuse for missing the meeting.",
                                                    "I'm sorry, but I was unable to attend the meeting because my train was cancelled.")),
    ("refusal", "an under-determined question", rec("Find the area of the triangle.", "Unfortunately, I cannot determine the area "
                                                    "given only one side.", input="Side: 4 cm")),
    # llm_boilerplate
    ("llm_boilerplate", "a harmless opener", rec("Give me a soup recipe.", "Sure, here is a recipe: boil the leeks, add potatoes.")),
    ("llm_boilerplate", "'As an AI' in a role the instruction gives", rec("Pretend you are a robot butler. Describe your morning.",
                                                                           "As an AI butler, I begin by polishing the silver.")),
    ("llm_boilerplate", "a true statement in a tool-use dialogue", rec("Can you order me a pizza?", "As an AI, I don't have the "
                                                                       "capability to order food.", system=TOOLS)),
    ("llm_boilerplate", "asked what it is", rec("Are you a human?", "As an AI assistant, I am not human.")),
    ("llm_boilerplate", "'feel free to ask' after thanks", rec("Thanks a lot!", "You're welcome! Feel free to ask if you need more.")),
    ("llm_boilerplate", "a substantive 'important to note'", rec("Explain impeachment.", "Impeachment is a formal charge. It is "
                                                                 "important to note that it does not always mean removal.")),
    # text_debris
    ("text_debris", "newlines of the stored conversation JSON", rec("Thanks!", "You're welcome.", messages=[
        {"role": "user", "content": "Give me a list:\nA\nB"}, {"role": "assistant", "content": "Here:\n- A\n- B"},
        {"role": "user", "content": "Thanks!"}, {"role": "assistant", "content": "You're welcome."}])),
    ("text_debris", "debris in an earlier turn does not penalise the reply", rec("And now?", "Now it is fine.", messages=[
        {"role": "user", "content": "Tom &amp; Jerry?"}, {"role": "assistant", "content": "A cartoon."},
        {"role": "user", "content": "And now?"}, {"role": "assistant", "content": "Now it is fine."}])),
    # pii
    ("pii", "a placeholder e-mail", rec(output="Send it to user@example.com or boss@company.com.")),
    ("pii", "a made-up resume's contact", rec(output="Jane Doe | janedoe@email.com | (123) 456-7890")),
    ("pii", "a fictional 555 number", rec(output="Call (555) 123-4567 or +1 212 555 0142.")),
    ("pii", "a public DNS server", rec(output="Run ping 8.8.8.8 to test the connection.")),
    ("pii", "arithmetic", rec(output="She has 960-480-120 = 360 left.")),
    ("pii", "coordinates", rec(output="The park is at 40.712776, -74.005974 on the map.")),
    ("pii", "a list of years", rec(output="years is 1998 2003 2005")),
    ("pii", "a physical constant", rec(output="The fine-structure constant is 0.0072973525693.")),
    ("pii", "message ids in the stored conversation", rec("Thanks", "Welcome", messages=[
        {"role": "user", "content": "Thanks", "node": {"message_id": "1882-4475-9536-0f3e"}},
        {"role": "assistant", "content": "Welcome"}])),
    # language (flagged when the detected language is not the expected "en")
    ("language", "a requested translation", rec("Translate into German: I like trains very much.",
                                                "Ich mag Züge sehr, besonders die alten Dampflokomotiven.")),
    ("language", "a foreign sentence asked for", rec("Write a sentence in Spanish about the sea.",
                                                     "El mar es azul y profundo, y las olas cantan cada mañana.")),
    ("language", "a list of foreign names", rec("Give some examples of dishes from Italy.",
                                                "- Spaghetti alla Carbonara\n- Risotto alla Milanese\n- Ossobuco alla Milanese\n"
                                                "- Pasta e Fagioli\n- Saltimbocca alla Romana\n- Tiramisù")),
    ("language", "numbers", rec("Generate 4 multiplication problems", "1. 3 x 4 = ?\n2. 6 x 7 = ?\n3. 8 x 2 = ?\n4. 9 x 5 = ?")),
]

# (flag, the real defect, a record of ours): each still fires.
REAL = [
    ("truncated", "a blog post cut mid-sentence",
     rec("Write a blog post on how to bake bread.", "Baking bread is simple. Mix flour, water, salt and yeast. Knead it well."
         "\n\nIn conclusion, baking your own bread at home involves")),
    ("truncated", "a story cut after a pronoun", rec("Write a story about a doctor.", "The doctor smiled. It was the girl who reminded "
                                                     "him why he")),
    ("truncated", "a new sentence begun and left", rec("What is the difference between cats and dogs?", "Cats are independent. "
                                                       "Dogs are social. For")),
    ("truncated", "an unclosed code fence", rec("Write a Python loop.", "```python\nfor i in range(3):\n    print(i)\n")),
    ("truncated", "an unbalanced bracket", rec(TOOLFORMER + "Sum the squares.", "The sum is python('sum(x**2 for x in range(1, 11)').")),
    ("needs_context", "a page given only by its URL", rec("Outline the main points of this article", "1. …",
                                                          input="https://news.example.org/story/42")),
    ("needs_context", "a template whose paragraph is empty",
     rec("Answer the following question given this paragraph: \n\n\n\nQ: What do plants need to grow?\n\n\nA:\n", "light")),
    ("needs_context", "a quoted text referred to but absent", rec("Summarize the following article.", "It is about cats.")),
    ("short_output", "a one-word essay", rec("Write an essay on the causes of the war.", "War.")),
    ("repeats_prompt", "an edit task answered with its input unchanged", rec("Fix the spelling in this sentence.", "Teh cat sat.",
                                                                             input="Teh cat sat.")),
    ("repeats_prompt", "a copy of the prompt", rec("Summarise: the cat sat on the mat all day long.",
                                                   "Summarise: the cat sat on the mat all day long.")),
    ("repetition", "a pasted block", rec("Expand this summary into an article.", ("The committee met on Monday to discuss the new "
                                         "budget for the city parks, and after a long debate it agreed to raise spending on trees, "
                                         "paths and lighting across every district. ") * 2)),
    ("refusal", "a refused knowledge question", rec("How deep is Lake Garda?", "I'm sorry, I cannot retrieve that information.")),
    ("refusal", "a moralising refusal", rec("Argue against buying standing desks.", "I'm sorry, but as an AI language model, it is "
                                            "not ethical to argue against healthy furniture.")),
    ("llm_boilerplate", "an 'As an AI' non-answer", rec("What is your favourite movie?", "As an AI, I do not have personal preferences.")),
    ("llm_boilerplate", "a needless disclaimer", rec("What is the average July temperature in Rome?", "As an AI language model, I do "
                                                     "not have access to real-time data. Rome averages about 30 °C in July.")),
    ("text_debris", "literal escapes in the output", rec(output="Roses are red\\nViolets are blue\\nSugar is sweet")),
    ("text_debris", "mojibake in the prompt", rec("Summarise: the trip to LÃ¼beck was long.", "A long trip.")),
    ("text_debris", "a zero-width space", rec("How many apples\u200b are left?", "Three.")),
    ("pii", "a reporter's e-mail and phone quoted in the prompt",
     rec("Summarise the article: … Contact Dana Pryce at dpryce@citynews.com or at 702-384-2210.", "A crash closed the road.")),
    ("language", "a whole record in another language", rec("你是谁？", "我是一个人工智能助手，很高兴为您服务。")),
]


@pytest.mark.parametrize("name, pattern, record", FALSE_ALARMS, ids=[f"{n}: {p}" for n, p, _ in FALSE_ALARMS])
def test_the_false_alarms_of_the_development_set_are_not_flagged(name, pattern, record):
    assert not fires(name, record)


@pytest.mark.parametrize("name, pattern, record", REAL, ids=[f"{n}: {p}" for n, p, _ in REAL])
def test_the_real_defects_are_still_flagged(name, pattern, record):
    assert fires(name, record)


def test_every_reworked_flag_has_false_alarms_and_real_defects():
    reworked = {"truncated", "needs_context", "short_output", "repeats_prompt", "repetition", "refusal", "llm_boilerplate",
                "text_debris", "pii", "language"}
    assert {n for n, _, _ in FALSE_ALARMS} == reworked == {n for n, _, _ in REAL}


def test_pii_the_prompt_gave_is_reported_once_where_the_prompt_holds_it():
    record = rec("Format this contact as one line.", "Ola Berg, tel. 0412 777 3021", input="Name: Ola Berg\nphone: 0412 777 3021")
    assert [(e.field, e.value) for e in found("pii", record)] == [("input", "0412 777 3021")]


def test_an_edit_task_answered_unchanged_says_so():
    pieces = found("repeats_prompt", rec("Fix the spelling in this sentence.", "Teh cat sat.", input="Teh cat sat."))
    assert pieces[0].text() == "output is identical to the input: the edit was not made"


def test_a_closing_end_marker_is_cleaned_and_reported_by_end_marker_only():
    record = rec(output="Paris.<|endoftext|>")
    assert fires("end_marker", record) and not fires("template_leftovers", record) and not fires("empty_output", record)
    assert clean_output("Paris.<|endoftext|>") == "Paris." and clean_output("Paris.\n</s> <|im_end|>\n") == "Paris."
    assert clean_output("a </s> b") == "a </s> b" and clean_output("<|endoftext|>") == ""
    assert fires("empty_output", rec(output="<|endoftext|>"))  # nothing but the marker: an empty answer


# What the instruction asks (curation.signals.task), one fact at a time.
@pytest.mark.parametrize("instruction, fact, expected", [
    ("Describe the ocean in 3 words.", "length", (3, "word", False)),
    ("Write a story of at least 200 words.", "length", (200, "word", True)),
    ("Summarise it in one sentence.", "length", (1, "sentence", False)),
    ("Write a poem about rain.", "length", None),
    ("Translate into German: I like trains.", "target_language", "de"),
    ("Generate a sentence in Spanish about the sea.", "target_language", "es"),
    ("Translate the text from English to Chinese.", "target_language", "zh"),
    ("Explain photosynthesis in English.", "target_language", "en"),
    ("Explain photosynthesis.", "target_language", None),
    ("Translate this sentence.", "translation", True),
    ("Rewrite the sentence in the passive voice.", "edit", True),
    ("Correct the grammar of the sentence.", "edit", True),
    ("Change the verb to its past tense.", "edit", True),
    ("Write a poem about rain.", "edit", False),
    ("Which is a fruit?\nOptions:\n- A: apple\n- B: chair", "choice", True),
    ("Did the reviewer enjoy the film?", "choice", True),
    ("Classify the sentiment of the review.", "choice", True),
    ("Is this product review positive?\nReview: A lovely book that I read twice.", "choice", True),
    ("Why is the sky blue?", "choice", False),
    ("Make a grocery list for a party.", "list", True),
    ("Create an outline for a talk on rivers.", "list", True),
    ("Write a headline for this story.", "title", True),
    ("Continue the story.", "continuation", True),
    ("Complete the lyrics.", "verse", True),
    ("Write an essay about Rome.", "long_form", True),
    ("Explain in detail how a bridge carries weight.", "long_form", True),
    ("Read the story and decide if it is fiction.", "long_form", False),
    ("The film describes a long war.\nWhich war is it about?", "long_form", False),
    ("How would you describe Sam?", "short", True),
    ("Pretend you are an AI developed to plan cities. What would you build?", "ai_role", True),
    ("As an AI in a futuristic city, explain how you route traffic.", "ai_role", True),
    ("You are a chef. Plan a menu.", "ai_role", False),
    ("Imagine you are Frida Kahlo and describe your studio.", "role_play", True),
    ("Do you have a name?", "identity", True),
    ("What are some things you can't help me with?", "identity", True),
    ("What is the price of a train ticket to Lyon today?", "live_data", True),
    ("Create a pie chart of these figures.", "artefact", "chart"),
    ("Create a reinterpretation of the following painting.", "artefact", None),
])
def test_what_the_instruction_asks(instruction, fact, expected):
    value = getattr(task_of(instruction), fact)
    if fact == "length" and value is not None:
        value = (value.n, value.unit, value.at_least)
    assert value == expected


def test_a_record_declares_tools_in_its_prompt_its_turns_or_its_metadata():
    assert task_of("Book a flight.", system=TOOLS).tools
    assert task_of(TOOLFORMER + "Find events.").tools
    assert task_of("Weather?", messages=json.dumps([{"role": "user", "content": "Weather?"},
                                                    {"role": "function_call", "content": "{}"}])).tools
    assert task_of("Book a flight.", meta=json.dumps({"tools": json.dumps([{"name": "get_weather"}])})).tools
    assert not task_of("Book a flight.").tools and not task_of("Explain what tools a carpenter needs.").tools


def test_the_request_is_the_sentences_that_ask():
    passage = "The mill stood by the river for two hundred years. Its wheel turned day and night. Nobody remembers who built it."
    assert task_of(passage + "\n\nWho built the mill?").request == "Who built the mill?"
    assert task_of('Rewrite "Describe the sea in detail." in the past tense.').request == "Rewrite   in the past tense."


def test_action_follows_the_measured_precision():
    for s in SIGNALS.values():
        assert s.action in ("fix", "reject", "review"), s.name
        if s.fix:
            assert s.action == "fix"
        elif s.action == "reject" and s.reason not in BY_DEFINITION:
            precision, n = MEASURED[s.reason]
            assert precision >= REJECT_PRECISION and n >= REJECT_LABELS
    assert SIGNALS["empty_output"].action == "reject"  # true by construction: no labels needed
    assert set(BY_DEFINITION) == {"empty_output"}  # a flag joins only when what it tests is what it claims
    assert set(MEASURED) <= {s.reason for s in SIGNALS.values()}
    assert {s.name for s in SIGNALS.values() if s.fix} == {"template_leftovers", "end_marker", "placeholder_input"}


@pytest.mark.parametrize("measured, expected", [((0.95, 25), "reject"), ((0.95, 12), "review"), ((0.85, 40), "review"), (None, "review")])
def test_reject_needs_precision_on_enough_labels(monkeypatch, measured, expected):
    from curation.signals import measured as module

    monkeypatch.setattr(module, "MEASURED", {"refusal": measured} if measured else {})
    assert action(SIGNALS["refusal"]) == expected
