"""Benchmark (issue 16): transcripts of 1,000 support calls to records.

Generates 1,000 seeded calls, a quarter in each format (WebVTT, SRT, speaker-labelled text, Whisper JSON), about 26
turns each with fillers, backchannels, a hold of 40–200 s (some split the call) and a second request after
"anything else?" in a third of them. Times, median of --runs (default 3):

- `collect`: read, clean, merge, guess roles, split, build records (no storing), each shape;
- `ingest` into a fresh workspace: the above plus PII redaction and writing the Parquet part, conversation shape;
- `ingest` as a user runs it, with PII redaction (curation.pii);
- baseline: `ingest` of the same conversations as a ready-made `messages` JSONL file (no redaction either side,
  to time the transcript conversion alone), for the ratio.

    nice -n 10 python bench/transcripts.py [--runs 3]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, runs_from_args  # noqa: E402
from curation.ingest import ingest  # noqa: E402
from curation.transcripts import collect, make_options  # noqa: E402
from curation.workspace import Workspace  # noqa: E402

CALLS = 1000
AGENTS = ["Priya", "Marco", "Jordan", "Sam", "Aisha", "Lena", "Tomás", "Grace"]
CUSTOMERS = ["Daniel Okafor", "Karin Lindqvist", "Eleanor Whitfield", "Tom Reyes", "Mina Park", "Luis Ortega"]
COMPANIES = ["Northwind Bank", "Skyline Fibre", "Maple Street Pharmacy", "Brightside Home", "Contoso Energy"]
ISSUES = ["my card was declined at the supermarket this morning", "the internet keeps dropping every few minutes",
          "I was charged twice for the same order", "my parcel never arrived even though it says delivered",
          "I can't log in to the app since the update", "my last bill is much higher than usual"]
AGENT_LINES = ["Let me check the account for you.", "I can see what happened here, it was a system error on our side.",
               "I've fixed that now and you should see the change within the hour.",
               "For security, can you confirm the email on the account?", "I'll send you a confirmation by text.",
               "That's been refunded to your original payment method.", "Is there anything else I can help you with?"]
CUSTOMER_LINES = ["Okay, that makes sense.", "It's {email}.", "Sure, the number is {phone}.", "How long will that take?",
                  "Great, thank you.", "Will I get an email about it?", "Can you also check the previous month?"]
FILLERS = ["um, ", "uh, ", "you know, ", "", "", "", ""]


def call(rng: random.Random, i: int) -> list[tuple[str, str, float, float]]:
    agent, customer, company = rng.choice(AGENTS), rng.choice(CUSTOMERS), rng.choice(COMPANIES)
    email = f"{customer.split()[0].lower()}.{i}@example.com"
    phone = f"555-01{rng.randrange(10, 99)}"
    turns = [("Agent", f"Thank you for calling {company}, this is {agent}. How can I help you today?"),
             ("Customer", f"Hi, {rng.choice(FILLERS)}{rng.choice(ISSUES)}.")]
    for _ in range(rng.randint(8, 14)):
        turns.append(("Agent", rng.choice(AGENT_LINES[:-1]) + " " + rng.choice(AGENT_LINES[:-1])))
        if rng.random() < 0.2:
            turns.append(("Customer", "Mm-hmm."))
            turns.append(("Agent", "And one more moment while that saves."))
        turns.append(("Customer", rng.choice(FILLERS) + rng.choice(CUSTOMER_LINES).format(email=email, phone=phone)))
    turns.append(("Agent", "Is there anything else I can help you with?"))
    if rng.random() < 0.33:
        turns.append(("Customer", f"Yes, actually, {rng.choice(ISSUES)} as well."))
        for _ in range(rng.randint(2, 4)):
            turns.append(("Agent", rng.choice(AGENT_LINES[:-1])))
            turns.append(("Customer", rng.choice(CUSTOMER_LINES[:2]).format(email=email, phone=phone)))
        turns.append(("Agent", "Is there anything else I can help you with?"))
    turns.append(("Customer", "No, that's all, thanks."))
    out, t = [], 0.5
    hold = rng.randrange(4, len(turns) - 2)
    for k, (who, text) in enumerate(turns):
        name = agent if who == "Agent" else customer
        dur = 0.4 * len(text.split()) + 0.5
        out.append((name if who == "Customer" else f"{name} (Agent)", text, t, t + dur))
        t += dur + (rng.uniform(40, 200) if k == hold else rng.uniform(0.2, 1.5))
    return out


def stamp(s: float, sep: str) -> str:
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{int(sec):02d}{sep}{int(round((sec % 1) * 1000)) % 1000:03d}"


def write(folder: Path, i: int, turns) -> None:
    kind = ("vtt", "srt", "txt", "json")[i % 4]
    path = folder / f"call-{i:04d}.{kind}"
    if kind == "vtt":
        body = "WEBVTT\n\n" + "\n".join(f"{stamp(a, '.')} --> {stamp(b, '.')}\n<v {n}>{t}\n" for n, t, a, b in turns)
    elif kind == "srt":
        body = "\n".join(f"{k}\n{stamp(a, ',')} --> {stamp(b, ',')}\n{n}: {t}\n" for k, (n, t, a, b) in enumerate(turns, 1))
    elif kind == "txt":
        body = "".join(f"[{stamp(a, '.')[:8]}] {n}: {t}\n" for n, t, a, b in turns)
    else:
        body = json.dumps({"segments": [{"id": k, "start": round(a, 2), "end": round(b, 2), "text": " " + t, "speaker": n}
                                        for k, (n, t, a, b) in enumerate(turns)], "language": "en"}, indent=1)
    path.write_text(body, encoding="utf-8")


def main() -> None:
    runs = runs_from_args(3)
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="bench-transcripts-") as tmp:
        calls = Path(tmp) / "calls"
        calls.mkdir()
        for i in range(CALLS):
            write(calls, i, call(rng, i))
        size = sum(f.stat().st_size for f in calls.iterdir())
        times: dict[str, list[float]] = {"collect conversation": [], "collect turns": [], "ingest": [], "ingest baseline": [],
                                         "ingest with PII redaction (the default)": []}
        counts = {}
        for run in range(runs):
            for shape in ("conversation", "turns"):
                start = time.perf_counter()
                got = collect(calls, "calls", make_options(shape=shape))
                times[f"collect {shape}"].append(time.perf_counter() - start)
                counts[shape] = (len(got.records), got.summary["conversations"], len(got.problems))
            if run == 0:  # the baseline file: the same conversations as ready-made records
                baseline = Path(tmp) / "ready.jsonl"
                conv = collect(calls, "calls", make_options()).records
                baseline.write_text("".join(json.dumps({"messages": json.loads(r["messages"])}) + "\n" for r in conv))
            start = time.perf_counter()
            out = ingest(Workspace(Path(tmp) / f"ws{run}"), calls, redact=False)
            times["ingest"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ingest(Workspace(Path(tmp) / f"wb{run}"), baseline, redact=False)
            times["ingest baseline"].append(time.perf_counter() - start)
            assert out["added"] == counts["conversation"][0] and not out["errors"]
            start = time.perf_counter()
            ingest(Workspace(Path(tmp) / f"wr{run}"), calls)
            times["ingest with PII redaction (the default)"].append(time.perf_counter() - start)
        print(f"{CALLS:,} calls ({size / 1e6:.1f} MB: {CALLS // 4} each of vtt, srt, txt, whisper json); "
              f"conversations {counts['conversation'][1]:,}; records: conversation {counts['conversation'][0]:,}, "
              f"turns {counts['turns'][0]:,}; problems {counts['conversation'][2]}")
        print("| step | median | runs |\n|---|---|---|")
        for name, ts in times.items():
            print(f"| {name} | {median(ts):.2f} s | {', '.join(f'{t:.2f}' for t in ts)} |")
        ratio = median(times["ingest"]) / median(times["ingest baseline"])
        print(f"ingest of the transcripts / ingest of the same conversations as ready-made records: {ratio:.1f}x")


if __name__ == "__main__":
    main()
