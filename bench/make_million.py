"""Make 1M prompt/completion records with unique text from the shared real data (issue 18).

    python -m bench.make_million [--out /tmp/million] [--seed 18]

Writes ``records_1000000.jsonl`` and the first-N subsets ``records_10000.jsonl`` and
``records_100000.jsonl`` (prompt, completion, origin) under ``--out``; big files stay
outside the repository.

How the text is made unique, keeping it realistic:

* the base pool is every distinct (prompt, completion) pair of t0 (55k), Alpaca (both
  files + the self-instruct seed instances), GPTeacher (toolformer + role-play), GSM8K,
  the single-turn chats and the MRPC sentences as "paraphrase this" tasks: ~79k pairs;
* copy 0 of a pair is the pair itself; copy k > 0 puts one of the short instruction
  openers people really write in front of the prompt ("Please answer the following.",
  "Task:" …; a different opener for each copy, so copies of one pair never collide),
  and with a seeded chance of 1/2 also swaps one common word for a synonym
  ("answer" → "reply", "following" → "next" …). The variants read like the templated,
  lightly reworded prompts real mixtures contain — which also means they are real
  near-duplicates of each other (dedup will find them, as it should);
* the order is shuffled with the seed, so every subset mixes all sources and copies.

Uniqueness is checked (a set of the 1M prompt+completion hashes) before writing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
from pathlib import Path

from bench.common import SHARED

OPENERS = [
    "Please answer the following.",
    "Task:",
    "Read carefully and respond.",
    "Here is a question for you.",
    "Instruction:",
    "Could you help with this?",
    "Answer the question below.",
    "Respond to the following request.",
    "Consider the following.",
    "I need help with this one.",
    "Solve this:",
    "Please help me out.",
    "Have a look at this.",
    "Quick question.",
    "Your task is below.",
    "Please complete this task.",
    "Work through the following.",
    "Try this one.",
    "Here is the input.",
    "Please do the following.",
]
SYNONYMS = {
    "answer": "reply", "following": "next", "question": "query", "text": "passage",
    "Write": "Compose", "write": "compose", "Give": "Provide", "give": "provide",
    "What": "Which", "best": "most fitting", "choose": "pick", "Generate": "Produce",
    "describe": "explain", "Describe": "Explain", "short": "brief", "story": "tale",
}


def _load_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def base_pool() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    with open(SHARED / "t0" / "t0_train_55k.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.append((r["prompt"], r["completion"].replace("<|endoftext|>", ""), "t0"))

    def alpaca(path: Path, origin: str) -> None:
        for r in _load_json(path):
            p = r["instruction"] + (("\n\n" + r["input"]) if r.get("input") else "")
            out.append((p, r["output"], origin))

    for name in ("alpaca_data_cleaned_1000.json", "alpaca_en_demo.json"):
        alpaca(SHARED / "alpaca" / name, "alpaca")
    with open(SHARED / "alpaca" / "seed_tasks.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            for inst in r["instances"]:
                p = r["instruction"] + (("\n\n" + inst["input"]) if inst.get("input") else "")
                out.append((p, inst["output"], "self-instruct"))
    for name in ("toolformer-dedupe-only-dataset.json", "roleplay-simple-deduped-roleplay-dataset.json"):
        alpaca(SHARED / "gpteacher" / name, "gpteacher")
    alpaca(SHARED / "gsm8k" / "gsm_8k_train.json", "gsm8k")
    alpaca(SHARED / "chat" / "identity.json", "identity")
    with open(SHARED / "chat" / "v1_sft_demo.jsonl", encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)["messages"]
            users = [x["content"] for x in m if x["role"] == "user"]
            bots = [x["content"] for x in m if x["role"] == "assistant"]
            if users and bots:
                out.append((users[0], bots[0], "chat"))
    for name in ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt"):
        with open(SHARED / "paraphrase" / name, encoding="utf-8-sig") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) == 5 and row[0] in ("0", "1"):
                    out.append(("Paraphrase this sentence:\n\n" + row[3], row[4], "mrpc"))
    seen: set[bytes] = set()
    pool = []
    for p, c, o in out:
        if not isinstance(p, str) or not isinstance(c, str) or not p.strip() or not c.strip():
            continue
        h = hashlib.blake2b((p + "\x00" + c).encode(), digest_size=16).digest()
        if h not in seen:
            seen.add(h)
            pool.append((p, c, o))
    return pool


def _swap_word(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if w in SYNONYMS]
    if not idx:
        return text
    i = rng.choice(idx)
    words[i] = SYNONYMS[words[i]]
    return " ".join(words)


def make(n: int, seed: int) -> list[tuple[str, str, str]]:
    pool = base_pool()
    copies = -(-n // len(pool))
    if copies > len(OPENERS) + 1:
        raise SystemExit(f"{n} records need {copies} copies of {len(pool)} pairs; only {len(OPENERS) + 1} openers")
    rng = random.Random(seed)
    out = []
    for k in range(copies):
        for p, c, o in pool:
            if len(out) == n:
                break
            if k:
                p = OPENERS[k - 1] + "\n\n" + (_swap_word(p, rng) if rng.random() < 0.5 else p)
            out.append((p, c, o))
    rng.shuffle(out)
    seen = {hashlib.blake2b((p + "\x00" + c).encode(), digest_size=16).digest() for p, c, _ in out}
    if len(seen) != len(out):
        raise SystemExit(f"not unique: {len(out) - len(seen)} repeated records")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/million")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recs = make(args.n, args.seed)
    for size in sorted({10_000, 100_000, args.n}):
        if size > len(recs):
            continue
        path = out / f"records_{size}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for p, c, o in recs[:size]:
                f.write(json.dumps({"prompt": p, "completion": c, "origin": o}, ensure_ascii=False) + "\n")
        print(f"{path}: {size} records, {path.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
