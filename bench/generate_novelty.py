"""Issue 15: the generation's two costs that do not depend on the model.

1. The self-instruct novelty filter (ROUGE-L > 0.7 against the pool) over 10k candidate instructions against a 10k
   pool of real instructions (the shared data's Alpaca, self-instruct seeds, GSM8K and GPTeacher prompts, shuffled
   with a seed): rapidfuzz's Indel over word tokens mapped to characters, all at once (`Novelty.max_scores`) and one
   candidate at a time growing the pool (`Novelty.is_novel` + `add`, as a run does), against `rouge-score` timed on
   a sample of candidates and extrapolated; the decisions are compared on that sample.
2. Throughput of a run's requests (`Session.ask_many`: cache lookups and writes, budget accounting) against bare
   `openai` client calls with the same concurrency, on the local stub server (127.0.0.1), and of a rerun answered
   from the cache.

    python bench/generate_novelty.py [--sample 100] [--requests 300] [--concurrency 8] [--only novelty|throughput]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import SHARED, need  # noqa: E402


def instructions() -> list[str]:
    texts = []
    for name in ("alpaca/alpaca_data_cleaned_1000.json", "alpaca/alpaca_en_demo.json", "gsm8k/gsm_8k_train.json",
                 "gpteacher/toolformer-dedupe-only-dataset.json", "gpteacher/roleplay-simple-deduped-roleplay-dataset.json"):
        texts += [r["instruction"] for r in json.loads(need(SHARED / name).read_text())]
    texts += [json.loads(line)["instruction"] for line in need(SHARED / "alpaca" / "seed_tasks.jsonl").read_text().splitlines()]
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    random.Random(0).shuffle(texts)
    return texts


def novelty(sample: int) -> None:
    from rouge_score import rouge_scorer

    from curation.generate.novelty import Novelty

    texts = instructions()
    pool_texts, candidates = texts[:10_000], texts[10_000:20_000]
    print(f"## Novelty filter: {len(candidates):,} candidates against a pool of {len(pool_texts):,} "
          f"(of {len(texts):,} real instructions)\n")
    start = time.perf_counter()
    pool = Novelty(pool_texts)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    scores = pool.max_scores(candidates, workers=-1)
    batch = time.perf_counter() - start
    rejected = int((scores > 0.7).sum())
    print(f"- all at once (`max_scores`, rapidfuzz cdist, cutoff 0.7, all cores): {batch:.1f} s "
          f"(+ {encode:.2f} s to map the pool's words to characters); {rejected:,} candidates rejected ({rejected / 100:.1f}%)")

    growing = Novelty(pool_texts)
    start = time.perf_counter()
    kept = 0
    for text in candidates:
        novel, _, _ = growing.is_novel(text)
        if novel:
            growing.add(text)
            kept += 1
    sequential = time.perf_counter() - start
    print(f"- one at a time, the pool growing with each accepted one (`is_novel` + `add`, as a run does): "
          f"{sequential:.1f} s for {len(candidates):,} ({len(candidates) / sequential:,.0f} candidates/s); {kept:,} kept, "
          f"pool ends at {len(growing):,}")

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    picked = random.Random(1).sample(range(len(candidates)), sample)
    start = time.perf_counter()
    agree = 0
    for i in picked:
        best = max(scorer.score(candidates[i], p)["rougeL"].fmeasure for p in pool_texts)
        agree += (best > 0.7) == bool(scores[i] > 0.7)
    reference = time.perf_counter() - start
    per = reference / sample
    print(f"- `rouge-score` (the reference implementation, one core): {per:.2f} s a candidate against the pool, "
          f"{per * len(candidates) / 3600:.1f} h extrapolated to {len(candidates):,}; "
          f"decisions equal on {agree}/{sample} sampled candidates")
    print(f"- speed-up over rouge-score: {per * len(candidates) / batch:,.0f}x (all at once)\n")


def throughput(requests: int, concurrency: int) -> None:
    import openai

    from curation.llm.session import Session
    from curation.workspace import Workspace
    from tests.curation.generate.stub import GenStub

    print(f"## Requests: {requests} chat completions, concurrency {concurrency}, local stub on 127.0.0.1\n")
    print("| stub latency | bare openai client | Session.ask_many (cache + budget) | rerun from the cache |")
    print("|---|---|---|---|")
    for delay in (0.0, 0.05):
        def answer(body, n, delay=delay):
            if delay:
                time.sleep(delay)
            return "A short reply of a few words."

        stub = GenStub(answer)
        try:
            payloads = [{"messages": [{"role": "user", "content": f"request {i} at latency {delay}"}], "max_tokens": 16}
                        for i in range(requests)]
            client = openai.OpenAI(base_url=stub.url, api_key="none", max_retries=0, timeout=30)

            def bare(p, client=client):
                return client.chat.completions.create(model="stub-model", **p).choices[0].message.content

            bare_times, session_times, cached_times = [], [], []
            for run in range(3):
                tagged = [{**p, "messages": [{"role": "user", "content": f"{p['messages'][0]['content']} run {run}"}]}
                          for p in payloads]
                start = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(bare, tagged))
                bare_times.append(time.perf_counter() - start)
                with tempfile.TemporaryDirectory() as tmp:
                    ws = Workspace(Path(tmp) / "ws")
                    session = Session(ws, endpoint=stub.url, model="stub-model", concurrency=concurrency,
                                      budget_tokens=10**9)
                    start = time.perf_counter()
                    replies = session.ask_many(tagged)
                    session_times.append(time.perf_counter() - start)
                    assert all("text" in r for r in replies)
                    again = Session(ws, endpoint=stub.url, model="stub-model", concurrency=concurrency)
                    start = time.perf_counter()
                    again.ask_many(tagged)
                    cached_times.append(time.perf_counter() - start)
                    assert again.spend.cached == requests and again.spend.sent == 0
                    session.close()
                    again.close()
            b, s, c = (statistics.median(t) for t in (bare_times, session_times, cached_times))
            print(f"| {delay * 1000:.0f} ms | {requests / b:,.0f} req/s ({b:.2f} s) | {requests / s:,.0f} req/s ({s:.2f} s, "
                  f"{s / b:.2f}x the bare time) | {requests / c:,.0f} req/s ({c:.2f} s) |")
        finally:
            stub.close()
    print("\nMedians of 3 runs each; the three columns of a row ran in the same process, one after another.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=100, help="candidates timed with rouge-score")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", choices=("novelty", "throughput"))
    args = parser.parse_args()
    print(f"Issue 15 bench, {time.strftime('%Y-%m-%d')}\n")
    if args.only != "throughput":
        novelty(args.sample)
    if args.only != "novelty":
        throughput(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
