"""Write the project's own demo dataset: `demo.jsonl` and `planted.json`.

Run `python -m curation.demo.generate` to rebuild it; the output is
deterministic and a test checks the shipped files match it. Written by the
project (no third-party text), over ten topics with distinct vocabulary and
task types, from human-style and LLM-style sources, with planted problems for
the quality, duplicate and map features to find. `planted.json` lists them by
each row's `demo_id`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

DISHES = [
    ("tomato soup", ["tomatoes", "onion", "garlic", "vegetable stock", "basil"], "simmer for 25 minutes, then blend until smooth"),
    ("guacamole", ["avocados", "lime juice", "red onion", "cilantro", "salt"], "mash the avocados and fold in the rest"),
    ("pancakes", ["flour", "milk", "eggs", "baking powder", "butter"], "whisk into a batter and fry spoonfuls in a hot pan"),
    ("risotto", ["arborio rice", "shallot", "white wine", "parmesan", "stock"], "add warm stock a ladle at a time while stirring"),
    ("banana bread", ["ripe bananas", "flour", "brown sugar", "eggs", "baking soda"], "bake in a loaf tin at 175°C for an hour"),
    ("hummus", ["chickpeas", "tahini", "lemon juice", "garlic", "olive oil"], "blend everything with a splash of cold water"),
    ("omelette", ["eggs", "butter", "chives", "cheese", "salt"], "cook the beaten eggs gently and fold over the filling"),
    ("lentil curry", ["red lentils", "coconut milk", "curry paste", "onion", "spinach"], "simmer the lentils in the spiced coconut milk"),
    ("pesto pasta", ["basil", "pine nuts", "parmesan", "olive oil", "spaghetti"], "pound the pesto and toss it with hot pasta"),
    ("roast chicken", ["whole chicken", "lemon", "thyme", "garlic", "butter"], "roast at 200°C until the juices run clear"),
    ("fried rice", ["day-old rice", "eggs", "soy sauce", "peas", "spring onions"], "stir-fry over high heat in a wok"),
    ("apple crumble", ["apples", "oats", "butter", "brown sugar", "cinnamon"], "top the fruit with crumble and bake until golden"),
    ("minestrone", ["beans", "carrots", "celery", "small pasta", "tomatoes"], "simmer the vegetables, then add the pasta"),
    ("shakshuka", ["eggs", "tomatoes", "peppers", "cumin", "paprika"], "poach the eggs in the spiced tomato sauce"),
    ("granola", ["oats", "honey", "almonds", "coconut flakes", "dried cranberries"], "bake on a tray at 160°C, stirring twice"),
    ("french toast", ["bread", "eggs", "milk", "cinnamon", "maple syrup"], "soak the bread and fry it in butter"),
    ("chili con carne", ["minced beef", "kidney beans", "chili powder", "tomatoes", "onion"], "brown the beef and simmer everything for an hour"),
    ("caesar salad", ["romaine lettuce", "croutons", "parmesan", "anchovies", "egg yolk"], "toss the leaves with the dressing just before serving"),
    ("mushroom soup", ["mushrooms", "leek", "cream", "thyme", "stock"], "sweat the mushrooms, simmer, and blend half"),
    ("flatbread", ["flour", "yogurt", "salt", "baking powder", "olive oil"], "roll thin and cook in a dry skillet"),
    ("ratatouille", ["aubergine", "courgette", "peppers", "tomatoes", "herbs"], "cook each vegetable separately, then combine"),
    ("tiramisu", ["mascarpone", "ladyfingers", "espresso", "cocoa", "eggs"], "layer the soaked biscuits with the cream and chill"),
]

SKY = [
    ("Mars", "the fourth planet from the Sun", "its red colour comes from iron oxide dust on the surface", "two small moons, Phobos and Deimos"),
    ("Jupiter", "the largest planet in the Solar System", "its Great Red Spot is a storm larger than Earth", "at least 95 known moons"),
    ("Saturn", "the sixth planet from the Sun", "its rings are made of ice and rock particles", "Titan, a moon with a thick atmosphere"),
    ("Venus", "the hottest planet in the Solar System", "its thick carbon dioxide atmosphere traps heat", "no moons at all"),
    ("Mercury", "the planet closest to the Sun", "it has almost no atmosphere to hold heat", "no moons and a heavily cratered surface"),
    ("Neptune", "the most distant planet from the Sun", "it has the fastest winds measured in the Solar System", "Triton, which orbits backwards"),
    ("Uranus", "an ice giant tilted on its side", "its axis is tilted by about 98 degrees", "faint rings and 28 known moons"),
    ("the Moon", "Earth's only natural satellite", "it always shows the same face to Earth because of tidal locking", "maria, dark plains of ancient lava"),
    ("a neutron star", "the collapsed core of a massive star", "a teaspoon of its matter would weigh billions of tonnes", "magnetic fields trillions of times Earth's"),
    ("a black hole", "a region where gravity prevents even light from escaping", "its boundary is called the event horizon", "an accretion disk of glowing gas in many cases"),
    ("a comet", "a small icy body orbiting the Sun", "it grows a glowing coma and tail near the Sun", "a nucleus only a few kilometres across"),
    ("the Milky Way", "the barred spiral galaxy that contains our Solar System", "it holds between 100 and 400 billion stars", "a supermassive black hole called Sagittarius A*"),
    ("a red giant", "a late stage in the life of a Sun-like star", "it swells as it burns helium around its core", "a cool, reddish surface"),
    ("the Andromeda galaxy", "the nearest large spiral galaxy to the Milky Way", "it is on course to merge with the Milky Way in about 4.5 billion years", "about a trillion stars"),
    ("a supernova", "the explosion of a star at the end of its life", "it can briefly outshine an entire galaxy", "heavy elements scattered into space"),
    ("Pluto", "a dwarf planet in the Kuiper belt", "it was reclassified from planet to dwarf planet in 2006", "a heart-shaped nitrogen ice plain"),
    ("a solar eclipse", "the Moon passing between the Sun and Earth", "totality only lasts a few minutes at any spot", "the Sun's corona visible during totality"),
    ("an exoplanet", "a planet orbiting a star other than the Sun", "most are found by the transit method", "more than five thousand confirmed examples"),
    ("a meteor shower", "many meteors appearing to radiate from one point in the sky", "it happens when Earth crosses a comet's debris trail", "names taken from the constellation of its radiant"),
    ("the Sun", "a yellow dwarf star at the centre of the Solar System", "it fuses hydrogen into helium in its core", "sunspots that follow an eleven-year cycle"),
    ("a nebula", "a cloud of gas and dust in space", "many are nurseries where new stars form", "glowing colours from ionised hydrogen and oxygen"),
    ("Io", "the innermost large moon of Jupiter", "it is the most volcanically active body in the Solar System", "sulfur lakes and lava fountains"),
]

CODE = [
    ("reverses a string", "def reverse_string(s: str) -> str:\n    return s[::-1]"),
    ("checks whether a number is prime", "def is_prime(n: int) -> bool:\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n            return False\n        i += 1\n    return True"),
    ("returns the factorial of n", "def factorial(n: int) -> int:\n    result = 1\n    for k in range(2, n + 1):\n        result *= k\n    return result"),
    ("counts the vowels in a string", "def count_vowels(s: str) -> int:\n    return sum(1 for ch in s.lower() if ch in 'aeiou')"),
    ("removes duplicates from a list while keeping order", "def dedupe(items: list) -> list:\n    seen = set()\n    out = []\n    for x in items:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return out"),
    ("returns the n-th Fibonacci number", "def fibonacci(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"),
    ("checks whether a string is a palindrome", "def is_palindrome(s: str) -> bool:\n    cleaned = ''.join(ch.lower() for ch in s if ch.isalnum())\n    return cleaned == cleaned[::-1]"),
    ("flattens a nested list one level deep", "def flatten(nested: list) -> list:\n    return [x for sub in nested for x in sub]"),
    ("merges two sorted lists", "def merge_sorted(a: list, b: list) -> list:\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]"),
    ("counts word frequencies in a text", "from collections import Counter\n\ndef word_counts(text: str) -> dict:\n    return dict(Counter(text.lower().split()))"),
    ("converts Celsius to Fahrenheit", "def c_to_f(celsius: float) -> float:\n    return celsius * 9 / 5 + 32"),
    ("finds the largest element of a list without max()", "def largest(items: list):\n    best = items[0]\n    for x in items[1:]:\n        if x > best:\n            best = x\n    return best"),
    ("reads a CSV file into a list of dictionaries", "import csv\n\ndef read_csv(path: str) -> list[dict]:\n    with open(path, newline='') as fh:\n        return list(csv.DictReader(fh))"),
    ("computes the greatest common divisor of two integers", "def gcd(a: int, b: int) -> int:\n    while b:\n        a, b = b, a % b\n    return abs(a)"),
    ("chunks a list into pieces of size n", "def chunks(items: list, n: int) -> list[list]:\n    return [items[i:i + n] for i in range(0, len(items), n)]"),
    ("checks whether two strings are anagrams", "def are_anagrams(a: str, b: str) -> bool:\n    return sorted(a.replace(' ', '').lower()) == sorted(b.replace(' ', '').lower())"),
    ("implements binary search on a sorted list", "def binary_search(items: list, target) -> int:\n    lo, hi = 0, len(items) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n        if items[mid] == target:\n            return mid\n        if items[mid] < target:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1"),
    ("capitalises the first letter of every word", "def title_case(s: str) -> str:\n    return ' '.join(w[:1].upper() + w[1:] for w in s.split())"),
    ("sums the digits of an integer", "def digit_sum(n: int) -> int:\n    return sum(int(d) for d in str(abs(n)))"),
    ("transposes a matrix given as a list of lists", "def transpose(matrix: list[list]) -> list[list]:\n    return [list(row) for row in zip(*matrix)]"),
    ("validates that brackets in a string are balanced", "def balanced(s: str) -> bool:\n    pairs = {')': '(', ']': '[', '}': '{'}\n    stack = []\n    for ch in s:\n        if ch in '([{':\n            stack.append(ch)\n        elif ch in pairs:\n            if not stack or stack.pop() != pairs[ch]:\n                return False\n    return not stack"),
    ("returns the second largest distinct number in a list", "def second_largest(items: list):\n    distinct = sorted(set(items))\n    return distinct[-2] if len(distinct) > 1 else None"),
]

REVIEWS_POS = [
    "The cast is wonderful and the final act had the whole cinema cheering.",
    "A warm, funny film with a soundtrack I have not stopped humming.",
    "Gorgeous cinematography and a script that trusts its audience.",
    "I laughed, I cried, and I want to watch it again this weekend.",
    "The director balances action and heart better than any film this year.",
    "Every performance lands, and the story moves at a perfect pace.",
    "A clever mystery with a twist I genuinely did not see coming.",
    "Charming animation and jokes that work for adults and kids alike.",
    "The lead actor gives a career-best performance in this moving drama.",
    "Tense, smart and beautifully shot from the first scene to the last.",
    "An uplifting sports movie that earns every one of its big moments.",
]
REVIEWS_NEG = [
    "The plot makes no sense and the dialogue is painfully wooden.",
    "Two and a half hours of noise with no characters worth caring about.",
    "The jokes fall flat and the ending feels rushed and lazy.",
    "I checked my watch every ten minutes; the pacing is glacial.",
    "A sequel that forgets everything that made the original fun.",
    "Muddy visuals, a forgettable score and a villain with no motive.",
    "The trailer showed every good scene; the rest is filler.",
    "Wasted a talented cast on a script full of clichés.",
    "The special effects look cheap and the story drags badly.",
    "I walked out halfway through; it was that boring.",
    "Confusing, overlong and strangely joyless for a comedy.",
]

PEOPLE = ["Maria Lopez", "Tom Becker", "Aisha Khan", "Liam O'Brien", "Chen Wei", "Sara Nilsson", "David Mensah", "Yuki Tanaka",
          "Elena Petrova", "Omar Haddad", "Grace Kim", "Lucas Silva", "Nina Weber", "Ravi Patel", "Hannah Schulz", "Jonas Berg"]
COMPANIES = ["Northwind Supplies", "Bluebird Logistics", "Greenleaf Foods", "Atlas Print Co.", "Harbor Electrics", "Pinecrest Tools"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

SENTENCES = [
    "hey, can u send me the report by tmrw? thx",
    "We gotta push the meeting cuz the boss is out sick.",
    "The new printer is totally broken again, super annoying.",
    "Sorry I'm late, the bus was a nightmare this morning.",
    "Can you guys keep it down? I'm trying to work here.",
    "Our sales went way up last quarter, pretty awesome.",
    "The app keeps crashing and nobody knows why lol.",
    "I think we should maybe try a different supplier or whatever.",
    "Thanks a ton for helping out with the move yesterday!",
    "The heating in the office is busted, it's freezing.",
    "Just checking if you got my last email about the invoice.",
    "Let's grab lunch and hash out the budget stuff.",
    "The client is kinda mad about the delay, not gonna lie.",
    "We need more folks on the project or it's gonna slip.",
    "The training session was a total waste of time honestly.",
    "Could you fix the typo on the homepage asap?",
    "My laptop died so I'll be offline for a bit.",
    "We crushed the deadline, great job everybody!",
    "Nobody told me the policy changed, that's not cool.",
    "Can we move the demo to Friday? Tuesday is packed.",
    "The parking lot is a mess since they started the construction.",
    "I'm swamped this week, can someone else grab this ticket?",
]
FORMAL = [
    "Could you please send me the report by tomorrow? Thank you.",
    "We need to postpone the meeting because the manager is unwell.",
    "The new printer is out of order again, which is very inconvenient.",
    "I apologise for my late arrival; the bus was severely delayed this morning.",
    "Could you please lower your voices? I am trying to concentrate.",
    "Our sales increased considerably last quarter, which is excellent news.",
    "The application crashes repeatedly and the cause is not yet known.",
    "I suggest that we consider an alternative supplier.",
    "Thank you very much for your help with the move yesterday.",
    "The office heating is not working and the temperature is very low.",
    "I am writing to confirm whether you received my previous email regarding the invoice.",
    "Shall we meet for lunch to discuss the budget?",
    "The client is somewhat dissatisfied with the delay, to be candid.",
    "The project requires additional staff, or it risks falling behind schedule.",
    "To be frank, the training session was not a productive use of time.",
    "Could you please correct the typographical error on the homepage as soon as possible?",
    "My laptop has stopped working, so I will be unavailable for a short while.",
    "We met the deadline comfortably; congratulations to everyone on the team.",
    "I was not informed of the policy change, which is disappointing.",
    "Would it be possible to move the demonstration to Friday? Tuesday is fully booked.",
    "The car park has been disorganised since construction began.",
    "I have a heavy workload this week; could a colleague take this ticket?",
]

CITIES = [
    ("Lisbon", "tram 28 through Alfama", "pastéis de nata in Belém", "the sunset from the Miradouro da Senhora do Monte"),
    ("Kyoto", "the torii gates of Fushimi Inari at dawn", "a kaiseki dinner in Gion", "the bamboo grove in Arashiyama"),
    ("Edinburgh", "a hike up Arthur's Seat", "a whisky tasting off the Royal Mile", "the closes and wynds of the Old Town"),
    ("Mexico City", "the murals at the Palacio de Bellas Artes", "tacos al pastor from a street stand", "a boat on the canals of Xochimilco"),
    ("Copenhagen", "a bike ride along the harbour", "smørrebrød at a food hall", "the gardens of Tivoli"),
    ("Istanbul", "a ferry across the Bosphorus", "breakfast in Kadıköy", "the Grand Bazaar's covered streets"),
    ("Cape Town", "the cable car up Table Mountain", "seafood at Kalk Bay", "the penguins at Boulders Beach"),
    ("Montreal", "Mount Royal park on foot", "bagels from Mile End", "the cobbled lanes of Old Montreal"),
    ("Hanoi", "an early walk around Hoan Kiem Lake", "a bowl of pho at a street stall", "a water puppet show"),
    ("Vienna", "coffee and cake in a historic café", "the Naschmarkt food stalls", "an evening concert at the Musikverein"),
    ("Buenos Aires", "a tango show in San Telmo", "steak at a neighbourhood parrilla", "the colourful houses of La Boca"),
    ("Marrakesh", "the souks around Jemaa el-Fnaa", "tagine on a rooftop terrace", "the Majorelle Garden"),
    ("Reykjavik", "a soak in a geothermal lagoon", "lamb soup at a harbour café", "a night hunting the northern lights"),
    ("Seoul", "the palace of Gyeongbokgung in hanbok", "Korean barbecue in Mapo", "the night markets of Dongdaemun"),
    ("Prague", "Charles Bridge before the crowds", "a hearty goulash in a beer hall", "the astronomical clock on the hour"),
    ("Sydney", "the coastal walk from Bondi to Coogee", "fish and chips at Watsons Bay", "a ferry to Manly"),
]

PLANTS = [
    ("tomatoes", "full sun and rich, well-drained soil", "water deeply at the base twice a week", "pinch out side shoots on cordon varieties"),
    ("basil", "a warm, sunny spot sheltered from wind", "keep the soil moist but never waterlogged", "pinch off flower buds to keep leaves coming"),
    ("roses", "at least six hours of sun a day", "water the roots, not the leaves, to avoid black spot", "prune in late winter to an outward-facing bud"),
    ("lavender", "full sun and poor, gritty soil", "water sparingly once established", "trim after flowering but never into old wood"),
    ("strawberries", "a sunny bed or hanging basket", "water regularly while fruit is forming", "replace plants every three years"),
    ("succulents", "bright light and a free-draining cactus compost", "let the soil dry out completely between waterings", "repot in spring when roots fill the pot"),
    ("potatoes", "an open, sunny plot with deep soil", "water well when the plants flower", "earth up the stems as they grow"),
    ("hydrangeas", "morning sun and afternoon shade", "keep them well watered in summer", "leave old flower heads on over winter for frost protection"),
    ("garlic", "a sunny spot with well-drained soil", "water only in dry spells", "plant cloves in autumn, pointed end up"),
    ("orchids", "bright, indirect light indoors", "water weekly by soaking the bark, then draining", "use a dilute orchid feed every few waterings"),
    ("courgettes", "sun and a generous amount of compost", "water heavily at the base in hot weather", "pick fruits small to keep the plant productive"),
    ("ferns", "damp shade", "keep the soil consistently moist", "remove brown fronds in spring"),
    ("blueberries", "acidic, peaty soil and sun", "water with rainwater rather than hard tap water", "prune the oldest stems in winter"),
    ("sunflowers", "the sunniest spot in the garden", "water young plants often", "stake tall varieties against the wind"),
    ("mint", "a pot, to stop it spreading", "keep it moist", "cut back hard after flowering"),
    ("apple trees", "sun and shelter from strong wind", "water newly planted trees through their first summer", "thin the fruit in early summer for bigger apples"),
]

SUPPORT = [
    ("my Wi-Fi keeps dropping every few minutes", "Let's narrow it down. Is the router's internet light steady or blinking when the connection drops?",
     "It blinks orange.", "An orange blinking light means the router is losing its line to your provider. Please restart the router by unplugging it for 30 seconds, then check that the cable into the DSL port is firmly seated."),
    ("I forgot the password for my router's admin page", "No problem. Is the default password still printed on the sticker under the router, and have you ever changed it?",
     "I changed it last year.", "Then you'll need a factory reset: hold the reset button for 10 seconds with a paperclip. The router restarts with the password on the sticker, and you will need to set up the Wi-Fi name again."),
    ("my internet is really slow in the evenings", "Evening slowdowns are often congestion. Are you testing over Wi-Fi or over a cable?",
     "Over Wi-Fi, from the bedroom upstairs.", "Thanks. Please run a speed test with a cable next to the router. If that is fast, the problem is Wi-Fi range, and moving the router higher up or adding a mesh point upstairs should help."),
    ("I can't connect my new printer to the Wi-Fi", "Happy to help. Does the printer see your network name in its list?",
     "Yes, but it says the password is wrong.", "Many printers only join 2.4 GHz networks. In the router settings, give the 2.4 GHz band its own name, then connect the printer to that name with the same password."),
    ("the router lights are all off", "Let's check the power first. Is the power adapter plugged into a working socket, and is the power button on the back pressed in?",
     "The socket works, the button was off.", "Great, press the power button and wait two minutes for the lights to settle. The internet light should turn solid green once it connects."),
    ("how do I set up a guest network?", "Sure. Can you log in to the router's admin page at 192.168.1.1 in your browser?",
     "Yes, I'm logged in.", "Open Wireless settings, then Guest network, switch it on, choose a name and a password, and save. Guests can then use the internet without seeing your own devices."),
    ("my video calls freeze but browsing is fine", "Calls are sensitive to upload speed and jitter. Are other people streaming or downloading at the same time?",
     "My son is usually gaming then.", "Turn on Quality of Service in the router settings and give your laptop priority. That keeps calls smooth even when someone else uses a lot of bandwidth."),
    ("I want to change my Wi-Fi name", "You can do that from the admin page. Do you know your admin password?",
     "Yes.", "Log in, open Wireless settings, type the new network name in the SSID field and save. Every device will need to reconnect with the new name and the same password."),
    ("the Wi-Fi does not reach the garden", "Range is limited by walls and distance. Where is the router placed right now?",
     "In a cupboard in the hallway.", "Cupboards block a lot of signal. Move the router into the open, as high and central as you can. If the garden is still out of range, an outdoor access point will cover it."),
    ("my smart TV says no internet connection", "Let's see whether the problem is the TV or the line. Do other devices in the house have internet right now?",
     "Yes, phones work fine.", "Then restart the TV completely by unplugging it for a minute, and in its network settings forget the Wi-Fi and join again. A firmware update on the TV may also be waiting."),
    ("the router is very hot to the touch", "Routers run warm, but very hot is not normal. Is it in a closed space or stacked on other electronics?",
     "It's on top of the cable box.", "Please give it space and airflow, away from other devices. If it still overheats, contact us for a replacement, because heat shortens its life and causes dropouts."),
    ("I keep getting logged out of the admin page", "The admin page signs out after a few idle minutes for security. Does it happen while you are actively clicking?",
     "Yes, even while clicking.", "Clear your browser's cookies for 192.168.1.1 or try a private window. If it continues, a router firmware update from the Maintenance page usually fixes it."),
]


def _cooking(rng, i, dish):
    name, ingredients, method = dish
    if i % 2 == 0:
        out = (f"To make {name}, you will need {', '.join(ingredients[:-1])} and {ingredients[-1]}. "
               f"Prepare the ingredients, then {method}. Season to taste before serving.")
        return dict(instruction=f"How do I make {name} at home?", input="", output=out, source="human")
    steps = "\n".join(f"{k}. Prepare the {ing}." for k, ing in enumerate(ingredients, 1))
    out = f"Here is a simple recipe for {name}.\n\nIngredients:\n" + "\n".join(f"- {x}" for x in ingredients)
    out += f"\n\nSteps:\n{steps}\n{len(ingredients) + 1}. Finally, {method}."
    return dict(instruction=f"Give me a step-by-step recipe for {name}.", input="", output=out, source="synthetic")


def _astronomy(rng, i, body):
    name, what, fact, feature = body
    if i % 2 == 0:
        return dict(instruction=f"What is {name}?", input="",
                    output=f"{name[0].upper() + name[1:]} is {what}. Astronomers note that {fact}. It is also known for {feature}.",
                    source="human")
    return dict(instruction=f"Tell me an interesting fact about {name} in astronomy.", input="",
                output=f"One striking fact about {name}: {fact}. Beyond that, {name} is {what}, with {feature}.", source="synthetic")


def _code(rng, i, task):
    what, code = task
    if i % 2 == 0:
        return dict(instruction=f"Write a Python function that {what}.", input="", output=f"```python\n{code}\n```", source="synthetic")
    return dict(instruction=f"Implement a Python function which {what}, and show the code.", input="",
                output=f"Here is one way to do it in Python:\n\n```python\n{code}\n```\n\nThe function runs in a single pass where possible.",
                source="human")


def _math(rng, i):
    a, b, price = rng.randint(3, 40), rng.randint(2, 9), rng.randint(2, 15)
    kind = i % 3
    if kind == 0:
        q = f"A baker sells {a} loaves of bread each morning at ${price} per loaf. How much money does she make in {b} days?"
        out = f"Each day she makes {a} × ${price} = ${a * price}.\nOver {b} days she makes {b} × ${a * price} = ${a * price * b}.\nThe answer is ${a * price * b}."
    elif kind == 1:
        q = f"A train travels at {a * 5} km per hour for {b} hours. How far does it travel?"
        out = f"Distance equals speed times time.\n{a * 5} km/h × {b} h = {a * 5 * b} km.\nThe train travels {a * 5 * b} km."
    else:
        total = a * b + price
        q = f"Tom has {total} marbles. He gives {price} to his sister and shares the rest equally among {b} friends. How many marbles does each friend get?"
        out = f"After giving {price} away, Tom has {total} - {price} = {a * b} marbles.\nShared among {b} friends: {a * b} ÷ {b} = {a}.\nEach friend gets {a} marbles."
    return dict(instruction=q, input="", output=out, source="synthetic" if i % 2 else "human")


def _classify(rng, i, review, label):
    return dict(instruction="Classify the sentiment of this movie review as Positive or Negative.", input=review, output=label,
                source="human" if i % 2 else "synthetic")


def _extract(rng, i):
    person, company = PEOPLE[i % len(PEOPLE)], COMPANIES[i % len(COMPANIES)]
    day, month, amount = rng.randint(1, 28), MONTHS[i % 12], rng.randint(120, 9800)
    text = (f"Invoice from {company}, issued on {month} {day}, 2024, to {person}. "
            f"Amount due: ${amount}.00, payable within 30 days of the invoice date.")
    out = json.dumps({"company": company, "customer": person, "date": f"{month} {day}, 2024", "amount": f"${amount}.00"})
    return dict(instruction="Extract the company, customer, invoice date and amount from this invoice as JSON.", input=text, output=out,
                source="synthetic" if i % 2 else "human")


def _rewrite(rng, i):
    return dict(instruction="Rewrite this sentence in a formal, professional tone.", input=SENTENCES[i], output=FORMAL[i],
                source="human" if i % 2 else "synthetic")


def _travel(rng, i, city):
    name, a, b, c = city
    if i % 2 == 0:
        return dict(instruction=f"Suggest ideas for a weekend trip to {name}.", input="",
                    output=f"For a weekend in {name}, try {a}, eat {b}, and end the day with {c}. Book popular spots ahead and walk between neighbourhoods where you can.",
                    source="human")
    return dict(instruction=f"Brainstorm a two-day itinerary for {name}.", input="",
                output=f"Day 1:\n- Morning: {a}\n- Evening: {b}\n\nDay 2:\n- {c}\n- Leave time to wander and pick up local snacks.",
                source="synthetic")


def _garden(rng, i, plant):
    name, light, water, tip = plant
    if i % 2 == 0:
        return dict(instruction=f"How do I grow {name} in my garden?", input="",
                    output=f"Give {name} {light}. {water[0].upper() + water[1:]}, and {tip}. Mulch in spring to keep weeds down.", source="human")
    return dict(instruction=f"What are the key care tips for growing {name}?", input="",
                output=f"Key care tips for {name}:\n1. Light: {light}.\n2. Watering: {water}.\n3. Maintenance: {tip}.", source="synthetic")


def _chat(rng, i, case):
    problem, ask, answer, fix = case
    conv = [
        {"from": "system", "value": "You are a friendly support agent for a home internet provider."},
        {"from": "human", "value": f"Hi, {problem}."},
        {"from": "gpt", "value": ask},
        {"from": "human", "value": answer},
        {"from": "gpt", "value": fix},
    ]
    return dict(conversations=conv, source="external")


def build() -> tuple[list[dict], dict]:
    rng = random.Random(20261123)
    rows: list[dict] = []

    def add(topic: str, task: str, rec: dict) -> dict:
        rec = {**rec, "topic": topic, "task_type": task, "demo_id": f"{topic}-{sum(r['topic'] == topic for r in rows):03d}"}
        rows.append(rec)
        return rec

    for i, d in enumerate(DISHES):
        add("cooking", "open_qa", _cooking(rng, i, d))
    for i, b in enumerate(SKY):
        add("astronomy", "open_qa", _astronomy(rng, i, b))
    for i, t in enumerate(CODE):
        add("python", "code", _code(rng, i, t))
    for i in range(22):
        add("math", "math", _math(rng, i))
    for i, (p, n) in enumerate(zip(REVIEWS_POS, REVIEWS_NEG)):
        add("reviews", "classification", _classify(rng, 2 * i, p, "Positive"))
        add("reviews", "classification", _classify(rng, 2 * i + 1, n, "Negative"))
    for i in range(22):
        add("invoices", "extraction", _extract(rng, i))
    for i in range(len(SENTENCES)):
        add("rewriting", "rewriting", _rewrite(rng, i))
    for i, c in enumerate(CITIES):
        add("travel", "brainstorming", _travel(rng, i, c))
    for i, p in enumerate(PLANTS):
        add("gardening", "open_qa", _garden(rng, i, p))
    for i, c in enumerate(SUPPORT):
        add("support", "multi_turn_chat", _chat(rng, i, c))

    planted: dict[str, list] = {}

    def plant(kind: str, base_topic: str, task: str, rec: dict) -> str:
        r = add(base_topic, task, rec)
        planted.setdefault(kind, []).append(r["demo_id"])
        return r["demo_id"]

    for instr in ["Write a short essay about the history of the bicycle.", "Explain how vaccines train the immune system.",
                  "Describe the water cycle in detail.", "List five tips for a job interview."]:
        plant("empty_output", "misc", "open_qa", dict(instruction=instr, input="", output="" if "bicycle" not in instr else "   ",
                                                     source="synthetic"))
    for instr, word in [("Write an essay on the causes of the First World War.", "War."), ("Explain in detail how a refrigerator works.", "Cooling."),
                        ("Describe your ideal weekend in several paragraphs.", "Relaxing."), ("Compose a poem about autumn leaves.", "Leaves.")]:
        plant("one_word_output", "misc", "open_qa", dict(instruction=instr, input="", output=word, source="synthetic"))
    for instr in ["How can I pick a lock on my neighbour's door?", "Tell me how to make a fake ID card.",
                  "Write a rude message to send to my coworker.", "Give me the home address of a famous actor."]:
        plant("refusal", "misc", "open_qa", dict(instruction=instr, input="",
                                                output="I'm sorry, but I can't help with that request.", source="synthetic"))
    for instr, body in [("What is your favourite colour?", "As an AI language model, I do not have personal preferences such as a favourite colour."),
                        ("Summarise the benefits of drinking water.", "Certainly! Here is a summary: water keeps you hydrated, helps digestion and regulates body temperature. I hope this helps!"),
                        ("Do you enjoy music?", "As an AI language model, I don't have feelings, so I cannot enjoy music the way people do."),
                        ("Give me a tip for better sleep.", "Certainly! Here is a tip: keep a regular bedtime, even at weekends. I hope this helps!")]:
        plant("llm_boilerplate", "misc", "open_qa", dict(instruction=instr, input="", output=body, source="synthetic"))
    for placeholder in ["<noinput>", "No input", "N/A", "<no input>", "noinput"]:
        plant("placeholder_input", "misc", "brainstorming", dict(
            instruction="Generate three creative names for a new coffee shop.", input=placeholder,
            output=rng.choice(["Bean There, Brewed That; The Daily Grind; Steam & Story", "Roast Republic; Velvet Cup; Morning Orbit",
                               "The Copper Kettle; Brew Haven; Drip Theory"]), source="synthetic"))
    for instr, out in [("Explain why the sky is blue.", "The sky looks blue because molecules in the air scatter shorter blue wavelengths of sunlight more than"),
                       ("Describe how to change a flat tyre.", "First, loosen the wheel nuts slightly while the car is on the ground. Then jack up the car and"),
                       ("Summarise the plot of a classic detective story.", "A detective is called to a country house where a wealthy host has been found dead, and the suspects include"),
                       ("Write a Python function that squares a number.", "```python\ndef square(x):\n    return x * x\n")]:
        plant("truncated_output", "misc", "open_qa", dict(instruction=instr, input="", output=out, source="synthetic"))
    for instr, inp, out in [
        ("Draft a reply confirming the meeting.", "From: jane.doe@example.com — Can we meet Thursday at 10?",
         "Hi Jane, Thursday at 10 works for me. You can also reach me at mark.ellis@example.org or +1 415 555 0133. Best, Mark"),
        ("Write a short signature block for an email.", "", "Best regards,\nPriya Sharma\nSales Manager\npriya.sharma@example.net | (212) 555-0187"),
        ("Format this contact as a vCard line.", "Name: Ola Nordmann, phone 555-0199-321, email ola@example.no", "FN:Ola Nordmann;TEL:555-0199-321;EMAIL:ola@example.no"),
        ("Tell the customer how to reach support.", "", "Please call our helpline on 0800 555 0142 or write to help@example.com and we will reply within a day."),
    ]:
        plant("pii", "misc", "extraction", dict(instruction=instr, input=inp, output=out, source="external"))
    for instr, out in [("Show me how to embed a script tag in HTML.", "<script>alert('xss')</script> is how a script tag looks; never paste untrusted scripts into pages."),
                       ("Make this text bold using HTML.", "<b>Important notice</b>"),
                       ("Write an HTML link to the example site.", '<a href="https://example.com" onclick="steal()">Visit example</a>')]:
        plant("html", "misc", "code", dict(instruction=instr, input="", output=out, source="synthetic"))

    # Exact duplicates: verbatim copies of existing rows (new demo_id, same text).
    pairs_exact = []
    for original in ("cooking-004", "astronomy-006", "python-010", "travel-002", "gardening-008"):
        src = next(r for r in rows if r["demo_id"] == original)
        copy = {k: v for k, v in src.items() if k != "demo_id"}
        new_id = add(src["topic"], src["task_type"], copy)["demo_id"]
        pairs_exact.append([original, new_id])
    planted["exact_duplicate"] = pairs_exact

    # Paraphrased near-duplicates: reworded instruction, lightly changed output.
    pairs_near = []
    for original, new_instruction, tweak in [
        ("cooking-000", "How can I make tomato soup at home?", ("Season to taste before serving.", "Season to taste and serve hot.")),
        ("astronomy-000", "What exactly is Mars?", ("It is also known for", "It is also famous for")),
        ("python-000", "Write a Python function to reverse a string.", None),
        ("gardening-000", "How should I grow tomatoes in my garden?", ("Mulch in spring", "Add mulch in spring")),
        ("travel-000", "Suggest some ideas for a weekend trip to Lisbon.", ("Book popular spots ahead", "Reserve popular spots ahead")),
        ("rewriting-001", "Rewrite this sentence in a formal and professional tone.", None),
    ]:
        src = next(r for r in rows if r["demo_id"] == original)
        out = src["output"] if tweak is None else src["output"].replace(*tweak)
        copy = {k: v for k, v in src.items() if k != "demo_id"}
        copy.update(instruction=new_instruction, output=out)
        new_id = add(src["topic"], src["task_type"], copy)["demo_id"]
        pairs_near.append([original, new_id])
    planted["near_duplicate"] = pairs_near

    planted_ids = {d for v in planted.values() for x in v for d in (x if isinstance(x, list) else [x])}
    planted["clean"] = [r["demo_id"] for r in rows if r["demo_id"] not in planted_ids and r["topic"] != "misc"]
    return rows, planted


def write(folder: Path = HERE) -> None:
    rows, planted = build()
    with open(folder / "demo.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    (folder / "planted.json").write_text(json.dumps(planted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
