"""A generation run: seeds → rounds of a method → records of a new dataset, with provenance, rejects and a report.

`generate(ws, method, n=…, …)` first estimates tokens and cost (nothing sent; `dry_run` stops there), then runs the
method round by round until `n` records are accepted, the budget would be passed, `patience` rounds in a row yield
nothing new, or the progress callback cancels. Whatever way it stops, the accepted records are stored as the
dataset (`source: synthetic`, provenance under `meta.generation`), the rejected candidates are written with their
reason to `generate/<run>/rejected.jsonl` and the report to `generate/<run>/report.json`. Record ids depend on the
dataset, the position and the content only, so a rerun (which replays every request from the cache) stores nothing
twice and continues where the last run stopped.

The API key is never part of anything written: the provenance names the endpoint's host, the cache keys hash the
base URL, model and request body.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter

import orjson

from curation.errors import CurationError
from curation.generate.base import Candidate, State
from curation.generate.novelty import Novelty
from curation.llm.client import count_tokens
from curation.llm.session import Session, prompt_text
from curation.progress import Progress
from curation.records import canonical_json, dumps, record_id
from curation.workspace import Workspace, write_atomically

FIRST_SHOWN = 20  # accepted records kept in the live report for the page to show as they arrive


def estimate(method, state: State, n: int, opts: dict, price_per_1k: float = 0.0) -> dict:
    """Tokens and cost of `n` records before anything is sent: the method's representative requests, counted, times
    how many it expects to need; completion tokens at each request's max_tokens (an upper bound)."""
    plan = method.estimate(state, n, opts)
    requests = sum(k for _, k in plan)
    input_tokens = 0
    how = "characters / 4"
    for payload, k in plan:
        tokens, how = count_tokens([prompt_text(payload)])
        input_tokens += tokens * k
    output_tokens = sum(int(p.get("max_tokens") or 0) * k for p, k in plan)
    price = float(price_per_1k or 0.0)
    return {"requests": requests, "input_tokens": input_tokens, "output_tokens": output_tokens, "tokenizer": how,
            "price_per_1k": price, "cost": round((input_tokens + output_tokens) / 1000 * price, 4)}


def run_id(method: str, dataset: str, seeds: list, opts: dict, seed: int, endpoint: str, model: str | None) -> str:
    body = orjson.dumps({"method": method, "dataset": dataset, "seeds": [s.record_id for s in seeds], "options": opts,
                         "seed": seed, "endpoint": endpoint, "model": model}, option=orjson.OPT_SORT_KEYS)
    return f"{dataset}-{hashlib.blake2b(body, digest_size=4).hexdigest()}"


def generate(ws: Workspace, method: str = "self-instruct", *, n: int = 20, seeds_dataset: str | None = None,
             cluster: int | None = None, seed_ids: list[str] | None = None, topic: str | None = None,
             topic_size: int = 20, dataset: str | None = None,
             endpoint: str | None = None, model: str | None = None,
             api_key_env: str = "OPENAI_API_KEY", seed: int = 0, concurrency: int = 4, rpm: float | None = None,
             timeout: float = 60.0, max_retries: int = 4, backoff: float = 1.0, budget_tokens: int | None = None,
             budget_cost: float | None = None, price_per_1k: float = 0.0, max_tokens: int | None = None,
             options: dict | None = None, omit: tuple[str, ...] = (), stream: bool = False, patience: int = 5,
             dry_run: bool = False, progress: Progress | None = None, live: dict | None = None, cancel=None) -> dict:
    """Generate `n` records with a method; returns the report (also written to generate/<run>/report.json).

    `live`, when given, is a dict kept up to date as the run goes (counts by reason, the first accepted records,
    spend, updated after every reply): the dashboard shows it while the run is in a background job. `cancel()`, when
    given, is asked before every request: once true, nothing more is sent and the run stops after the round it is on
    (the dashboard's Cancel; `progress` raising `Cancelled` stops it between rounds).

    Aimed generation: `cluster` (the seeds are a cluster of the map; the report's `cluster` gives its share before
    and after) or `topic` (the seeds are the `topic_size` records nearest a text; the report's `topic` gives the
    share of the records within the farthest seed's similarity, before and after: `seeds.topic_seeds`)."""
    from curation.generate import get_method
    from curation.generate.seeds import public, seed_frame, seeds_of, topic_seeds, topic_share_after

    if int(n) < 1:
        raise CurationError("-n must be at least 1")
    m = get_method(method)
    opts = m.resolve(options)
    if max_tokens:
        opts["max_tokens_cap"] = int(max_tokens)
    if omit:
        opts["omitted"] = sorted(omit)  # part of the provenance: these parameters were not sent
    aims = [name for name, value in (("--cluster", cluster), ("--topic", topic), ("--seed-ids", seed_ids)) if value is not None]
    if len(aims) > 1:
        raise CurationError(f"choose the seeds one way: {' and '.join(aims)} were both given")
    topic_share = None
    if topic is not None:
        # the run's own dataset is never its seeds: a rerun (or a resumed run) finds the same seeds, builds the same prompts
        dataset = dataset or f"{method}-topic-{slug(str(topic))}"
        frame, seeds_what, topic_share = topic_seeds(ws, topic, topic_size, seeds_dataset, exclude=dataset)
    else:
        frame, seeds_what = seed_frame(ws, seeds_dataset, cluster, seed_ids)
    seeds = seeds_of(frame)
    if method == "self-instruct" and len(seeds) < int(opts["in_context"]) - int(opts["machine_in_context"]):
        raise CurationError(f"self-instruct shows {opts['in_context']} instructions a prompt: {seeds_what} has only "
                            f"{len(seeds)} distinct ones")
    source = f"cluster{cluster}" if cluster is not None else "chosen" if seed_ids is not None else frame["dataset"].iat[0]
    dataset = dataset or f"{method}-{source}"
    state = State(seeds=seeds, rng=random.Random(seed), novelty=Novelty(s.instruction for s in seeds))
    est = estimate(m, state, int(n), {**opts, "_model": model}, price_per_1k)
    report = {"method": method, "reference": m.reference, "dataset": dataset, "seeds": seeds_what, "requested": int(n),
              "estimate": est, **state.notes}
    if cluster is not None:
        report["cluster"] = cluster_share(ws, cluster)
    if topic_share is not None:
        report["topic"] = public(topic_share)
    if dry_run:
        return report
    live = live if live is not None else {}
    live.update({"accepted": 0, "rejected": {}, "first": [], "requested": int(n), "dataset": dataset, "estimate": est,
                 "answers": 0, "answered_at": time.time()})

    def on_spend(spend: dict) -> None:  # after every request sent and every reply: the live view's counts
        if spend["sent"] != live["answers"]:
            live["answers"], live["answered_at"] = spend["sent"], time.time()
        live["spend"] = spend

    session = Session(ws, endpoint=endpoint, model=model, api_key_env=api_key_env, timeout=timeout,
                      max_retries=max_retries, backoff=backoff, concurrency=concurrency, rpm=rpm,
                      budget_tokens=budget_tokens, budget_cost=budget_cost, price_per_1k=price_per_1k, omit=tuple(omit or ()),
                      stream=stream, cancelled=cancel, on_spend=on_spend)
    rid = run_id(method, dataset, seeds, opts, seed, session.url, model)
    folder = ws.root / "generate" / rid
    accepted: list[dict] = []
    rejected: list[dict] = []
    reasons: Counter[str] = Counter()
    stopped = "done"
    started = time.time()
    rounds = idle = 0
    try:
        provenance_base = {"method": method, "model": session.model, "endpoint": session.host, "template_version": m.version,
                           "reference": m.reference, "seed": seed, "run": rid}
        while len(accepted) < int(n):
            if progress:
                progress(len(accepted), int(n), f"{method}: {len(accepted)} accepted, {sum(reasons.values())} rejected")
            if cancel is not None and cancel():
                from curation.progress import Cancelled

                raise Cancelled(f"cancelled after {len(accepted):,} of {int(n):,} accepted; what was accepted is kept")
            if session.exhausted:
                stopped = "budget"
                break
            if idle >= patience:
                stopped = "no new records"
                break
            rounds += 1
            found = m.round(state, session, {**opts, "_remaining": int(n) - len(accepted)})
            before = len(accepted)
            for cand in found:
                if cand.reason == "budget":
                    continue
                if cand.reason:
                    reasons[cand.reason] += 1
                    rejected.append(reject_row(cand, rounds))
                    continue
                if len(accepted) >= int(n):
                    continue
                rec = to_record(cand, dataset, len(accepted) + 1, provenance_base, opts, rounds)
                accepted.append(rec)
                state.accept(cand, rec["record_id"])
                if len(live["first"]) < FIRST_SHOWN:
                    live["first"].append({k: rec[k] for k in ("record_id", "instruction", "input", "output")})
            idle = 0 if len(accepted) > before else idle + 1
            live.update({"accepted": len(accepted), "rejected": dict(reasons), "spend": session.spend.as_dict(), "rounds": rounds})
            if session.exhausted and len(accepted) < int(n):
                stopped = "budget"
                break
        if progress and stopped == "done":
            progress(len(accepted), int(n), f"{method}: {len(accepted)} accepted")
    except BaseException as exc:  # cancelled, or the endpoint refused: keep what was accepted, then re-raise
        stopped = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        added = skipped = 0
        if accepted:
            from curation.ingest import store

            added, skipped = store(ws, dataset, accepted, source_path=f"generate:{rid}")
        report.update({"run": rid, "model": session.model if session._model else model, "endpoint": session.host,
                       "accepted": len(accepted), "added": added, "already_there": skipped, "rejected": dict(reasons),
                       "rejected_total": sum(reasons.values()), "rounds": rounds, "stopped": stopped,
                       "spend": session.spend.as_dict(), "budget_tokens": session.limit,
                       "seconds": round(time.time() - started, 2), "folder": ws.relative(folder)})
        report.update(state.notes)
        if topic_share is not None:
            try:
                report["topic"] = topic_share_after(ws, topic_share, accepted)
            except Exception as exc:  # embedding the new records failed: say so, keep the run's report
                report["topic"]["after_failed"] = f"{type(exc).__name__}: {exc}"
        if cluster is not None:
            c = report["cluster"]
            total = c["total_before"] + added
            report["cluster"] = {**c, "records_after": c["records_before"] + added, "total_after": total,
                                 "share_after": round((c["records_before"] + added) / total, 4) if total else 0.0}
        write_run(folder, report, rejected)
        live.update({"report": report, "accepted": len(accepted), "rejected": dict(reasons), "spend": report["spend"]})
        session.close()
    return report


def slug(text: str, words: int = 5) -> str:
    """A short name for a topic in a dataset name: its first words, lower case, letters and digits."""
    import re

    parts = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(parts)[:40].strip("-") or "text"


def to_record(cand: Candidate, dataset: str, row: int, base: dict, opts: dict, round_: int) -> dict:
    sampling = {k: v for k, v in opts.items() if k.endswith("sampling")}
    for key in ("max_tokens_cap", "omitted"):
        if opts.get(key):
            sampling[key] = opts[key]
    meta = {"generation": {**base, "seed_ids": cand.seed_ids, "sampling": sampling, "filters_passed": cand.passed,
                           "requests": cand.requests, "round": round_, **cand.extra}}
    content = {"instruction": cand.instruction, "input": cand.input, "output": cand.output}
    return {"record_id": record_id(dataset, "generated", row, 0, canonical_json(content)), "dataset": dataset,
            "file": "generated", "row": row, "where": f"generated {row}", "format": "alpaca", "source": "synthetic",
            "system": "", "instruction": cand.instruction, "input": cand.input, "output": cand.output, "messages": None,
            "meta": dumps(meta)}


def reject_row(cand: Candidate, round_: int) -> dict:
    return {"reason": cand.reason, "detail": cand.detail, "instruction": cand.instruction, "input": cand.input,
            "output": cand.output, "seed_ids": cand.seed_ids, "passed": cand.passed, "round": round_, **cand.extra}


def write_run(folder, report: dict, rejected: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / "rejected.jsonl", lambda p: p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rejected)))
    write_atomically(folder / "report.json", lambda p: p.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2)))


def rejected_rows(ws: Workspace, run: str) -> list[dict]:
    path = ws.root / "generate" / run / "rejected.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def cluster_share(ws: Workspace, cluster: int) -> dict:
    """The cluster's share of the mapped records before the run. After it (in the report), the records generated
    from it count as the cluster's: they are aimed there, and the map is not rebuilt here (`map --place` puts them
    on it for real)."""
    from curation.annotated import annotate

    frame = annotate(ws, stages=("map",), nulls=True)
    mapped = frame[frame["cluster"].notna()]
    in_cluster = int((mapped["cluster"] == cluster).sum())
    return {"id": cluster, "records_before": in_cluster, "total_before": len(mapped),
            "share_before": round(in_cluster / len(mapped), 4) if len(mapped) else 0.0}
