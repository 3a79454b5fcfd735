"""The Generate page's parts: new records written by an LLM from seeds (self-instruct, Alpaca, Evol-Instruct,
Magpie), as a dataset.

Choose the method, the seeds (the 175 self-instruct seed tasks by default, a dataset, the current filter's records,
or, for aimed generation, a cluster of the map or the records nearest a topic), the endpoint (checked before a run
if asked) and a budget; see the estimate; run it in the background with live counts of accepted and rejected
candidates by reason, requests answered and waiting, and the first records as they arrive; cancel; open the new
dataset on the Records page. Every computation is `curation.generate.generate`, the same call as `python -m curation
generate`. The Map page hands a topic or a cluster over through `aim_at_topic` / `aim_at_cluster`.
"""

from __future__ import annotations

import os
import time

import pandas as pd
import streamlit as st

from curation.generate import METHODS
from curation.generate.seeds import SEED_DATASET
from ui import jobs, show, state
from ui.data import shown_errors

METHOD = "shared.generate.method"
SEEDS = state.GENERATE_SEEDS
TOPIC = state.GENERATE_TOPIC
CLUSTER = state.GENERATE_CLUSTER
TOPIC_SIZE = "shared.generate.topic_size"
N = "shared.generate.n"
ENDPOINT = "shared.generate.endpoint"
MODEL = "shared.generate.model"
KEY_ENV = "shared.generate.key_env"
TOKENIZER = "shared.generate.tokenizer"
BUDGET = "shared.generate.budget_tokens"
PRICE = "shared.generate.price"
MAX_TOKENS = "shared.generate.max_tokens"
CONCURRENCY = "shared.generate.concurrency"
SEED = "shared.generate.seed"
OMIT = "shared.generate.omit"
NAME = "shared.generate.name"
DEFAULT_SEEDS = f"{SEED_DATASET} (self-instruct's 175 seed tasks)"
FILTERED = "the records of the current filter"
TOPIC_SEEDS = "the records nearest a topic (semantic search)"
CLUSTER_SEEDS = "the records of a cluster of the map"
OMITTABLE = ("stop", "presence_penalty", "top_p", "seed")
GUESSED_ENDPOINT = "http://127.0.0.1:8000/v1"
QUIET_AFTER = 30  # seconds without a reply before the live view says what may be wrong


def aim_at_topic(text: str) -> None:
    """The Map page's "Generate more like this": the seeds become the records nearest this text."""
    state.set(SEEDS, TOPIC_SEEDS)
    state.set(TOPIC, text)


def aim_at_cluster(cluster: int) -> None:
    """The Map page's "Generate more in this cluster": the seeds become that cluster's records."""
    state.set(SEEDS, CLUSTER_SEEDS)
    state.set(CLUSTER, int(cluster))


def job_key(ws) -> str:
    return f"generate|{ws.root}"


def settings(ws) -> dict | None:
    """The form: what `generate` is called with (None, with the reason shown, while something is missing)."""
    names = list(METHODS)
    a, b = st.columns([1, 2])
    method = a.selectbox("Method", names, **state.bound(METHOD, options=names, default="self-instruct"),
                         format_func=lambda n: n)
    b.caption(f"{show.plain(METHODS[method].description)}. Reference: {show.plain(METHODS[method].reference)}.")
    datasets = [d for d in ws.datasets() if d != SEED_DATASET]
    choices = [DEFAULT_SEEDS, *datasets, FILTERED, TOPIC_SEEDS, CLUSTER_SEEDS]
    c, e, f = st.columns([3, 1, 2])
    seeds = c.selectbox("Seeds", choices, **state.bound(SEEDS, options=choices, default=DEFAULT_SEEDS),
                        help="The records the model is shown (or that Evol-Instruct evolves). Rejected records are never "
                             f"seeds. The default pool is ingested once as the dataset {SEED_DATASET} (source human), so the "
                             "new records are compared with it like any other data. A topic or a cluster aims the run at a "
                             "gap: the result reports its share before and after.")
    n = int(e.number_input("Records", min_value=1, max_value=100_000, step=10, **state.bound(N, default=20),
                           help="How many accepted records the run stops at (rejected candidates do not count)."))
    name = f.text_input("New dataset", **state.bound(NAME, default=""), placeholder="default: METHOD-SEEDS")
    aim = aimed(ws, seeds)  # None while the seeds need something more (a topic, a map): the rest is drawn all the same
    g, h, i = st.columns([2, 2, 1])
    configured = os.environ.get("OPENAI_BASE_URL")
    endpoint = g.text_input("Endpoint (OpenAI-compatible base URL)", **state.bound(ENDPOINT, default=configured or GUESSED_ENDPOINT),
                            help="vLLM, Ollama, the llama.cpp server, TGI, transformers serve, OpenAI…")
    model = h.text_input("Model", **state.bound(MODEL, default=""), placeholder="default: the first the endpoint lists")
    key_env = i.text_input("API key variable", **state.bound(KEY_ENV, default="OPENAI_API_KEY"),
                           help="The name of an environment variable of the server process; the key itself is never "
                                "asked for here, stored, logged or written into provenance. Local servers need none.")
    endpoint_help(endpoint, configured, model, key_env)
    tokenizer = ""
    if method == "magpie":
        tokenizer = st.text_input("Tokenizer (Magpie's pre-query prefix)", **state.bound(TOKENIZER, default=""),
                                  placeholder="a local tokenizer or model folder, or a .gguf file",
                                  help="Magpie sends the chat template's text up to where a user's message begins (a "
                                       "default system prompt included). Empty: the model's own folder when the Model "
                                       "field names a local one, else the template family the model's name says, else ChatML.")
        st.caption("Magpie needs an endpoint with the raw completions API (/v1/completions: vLLM, the llama.cpp server, "
                   "Ollama, TGI); transformers serve and some hosted APIs have none, and the run then stops at once, saying so.")
    j, k, m, o, p, q = st.columns(6)
    budget = int(j.number_input("Token budget (0: none)", min_value=0, step=10_000, **state.bound(BUDGET, default=0),
                                help="The run stops before its paid tokens would pass this. Cached replies are free."))
    price = float(k.number_input("Price per 1,000 tokens", min_value=0.0, step=0.001, format="%.4f",
                                 **state.bound(PRICE, default=0.0), help="For the cost estimate (0: a local model)."))
    max_tokens = int(m.number_input("Reply cap, tokens (0: none)", min_value=0, step=64, **state.bound(MAX_TOKENS, default=0),
                                    help="Caps every request's max_tokens (each method sets its own: up to 1,024). "
                                         "Small caps are cheap and fast but cut lists and answers short."))
    concurrency = int(o.number_input("Concurrency", min_value=1, max_value=64, **state.bound(CONCURRENCY, default=4),
                                     help="Requests in flight at once."))
    seed = int(p.number_input("Seed", min_value=0, step=1, **state.bound(SEED, default=0),
                              help="The same seed builds the same prompts: a rerun replays them from the cache for free."))
    omit = q.multiselect("Don't send", list(OMITTABLE), **state.bound(OMIT, options=OMITTABLE, default=[]),
                         help="Sampling parameters the endpoint refuses. transformers serve hangs on stop strings "
                              "(each request waits for its timeout): choose stop for it.")
    if aim is None:
        return None
    return {"method": method, "n": n, **aim, "dataset": name.strip() or None, "endpoint": endpoint.strip() or None,
            "model": model.strip() or None, "api_key_env": key_env.strip() or "OPENAI_API_KEY",
            "budget_tokens": budget or None, "price_per_1k": price, "max_tokens": max_tokens or None,
            "concurrency": concurrency, "seed": seed, "omit": tuple(omit),
            **({"options": {"tokenizer": tokenizer.strip()}} if tokenizer.strip() else {})}


def aimed(ws, seeds: str) -> dict | None:
    """The seed arguments of `generate` for the seeds chosen, with what they need (a topic, a cluster); None, with the
    reason shown, while that is missing."""
    if seeds == DEFAULT_SEEDS:
        return {"seeds_dataset": None}
    if seeds == FILTERED:
        seed_ids = filtered_ids(ws)
        st.caption(f"Seeds: the {len(seed_ids):,} records the filter shows (set on the Records page and in the sidebar); "
                   "rejected ones are left out.")
        if not seed_ids:
            st.info("The current filter shows no records: change it on the Records page, or choose other seeds.")
            return None
        return {"seed_ids": seed_ids}
    if seeds == TOPIC_SEEDS:
        a, b = st.columns([4, 1])
        topic = a.text_input("Topic", **state.bound(TOPIC, default=""), placeholder="e.g. baking bread at home",
                             help="The Map page's semantic search hands its query over with “Generate more like this”.")
        size = int(b.number_input("Nearest records", min_value=1, max_value=1000, **state.bound(TOPIC_SIZE, default=20)))
        st.caption(f"Seeds: the {size:,} records of the workspace nearest this text by the map's embeddings (the Map page's "
                   "semantic search). The result reports the topic's share before and after: the records at least as "
                   "similar to the text as the farthest seed, of all records. Records not embedded yet are embedded "
                   "first (once; building the map embeds them all).")
        if not topic.strip():
            st.info("Write the topic the new records should be about.")
            return None
        return {"topic": topic.strip(), "topic_size": size}
    if seeds == CLUSTER_SEEDS:
        from ui.data import cached_map

        atlas = cached_map(ws)
        if atlas is None or not atlas.labels:
            st.info("No map yet: build it on the Map page to aim at one of its clusters (or choose a topic).")
            st.page_link("pages/map.py", label="Open the Map page", icon=":material/scatter_plot:")
            return None
        sizes = atlas.points["cluster"].value_counts()
        ids = sorted(atlas.labels)
        cluster = st.selectbox("Cluster", ids, **state.bound(CLUSTER, options=ids),
                               format_func=lambda c: f"{c}: {atlas.labels[c]} ({int(sizes.get(c, 0)):,} records"
                                                     + (f", {atlas.representation[c]}-represented" if c in atlas.representation else "")
                                                     + ")")
        st.caption("Seeds: the records of this cluster (of every dataset). The result reports the cluster's share of the "
                   "mapped records before and after.")
        return {"cluster": int(cluster)}
    return {"seeds_dataset": seeds}


def endpoint_help(endpoint: str, configured: str | None, model: str, key_env: str) -> None:
    """Where the endpoint came from, and a check that it answers (before anything is paid)."""
    from curation.llm import client as llm

    a, b = st.columns([1, 4])
    checked = a.button("Check the endpoint", key="generate_check", help="Asks it for its models: nothing is generated.")
    if not configured and endpoint.strip() == GUESSED_ENDPOINT:
        b.caption(f"No endpoint is configured ($OPENAI_BASE_URL is not set where the dashboard runs): {GUESSED_ENDPOINT} is "
                  "where vLLM and transformers serve listen by default. Ollama listens at http://127.0.0.1:11434/v1, the "
                  "llama.cpp server at http://127.0.0.1:8080/v1; a hosted API needs its URL and its key's variable.")
    if not checked:
        return
    with shown_errors("reach the endpoint"):
        models = llm.probe(endpoint.strip() or None, key_env.strip() or None, timeout=10.0)
        if not models:
            b.warning(f"{show.plain(endpoint)} answers but lists no model (transformers serve lists none): name it in the "
                      "Model field (for transformers serve, the folder or hub id it serves).")
        elif model.strip() and model.strip() not in models:
            b.warning(f"{show.plain(endpoint)} answers, but does not list {show.plain(model)}; it lists "
                      f"{show.plain(', '.join(models[:8]))}.")
        else:
            b.success(f"{show.plain(endpoint)} answers; it lists {show.plain(', '.join(models[:8]))}"
                      + ("" if model.strip() else " (the run uses the first)") + ".")


def filtered_ids(ws) -> list[str]:
    from ui.data import current_filter, records, with_cached_columns

    return current_filter().apply(with_cached_columns(ws, records(ws)))["record_id"].tolist()


def estimate_line(est: dict) -> str:
    cost = f", about ${est['cost']:.4f} at ${est['price_per_1k']:g} per 1,000" if est["price_per_1k"] else ""
    return (f"Estimate: about {est['requests']:,} requests, {est['input_tokens']:,} prompt tokens and at most "
            f"{est['output_tokens']:,} reply tokens ({show.plain(est['tokenizer'])}){cost}. Nothing has been sent.")


def counts_table(rejected: dict) -> pd.DataFrame:
    return pd.DataFrame(sorted(rejected.items(), key=lambda kv: -kv[1]), columns=["reason", "rejected"])


@st.fragment(run_every=1.0)
def live(key: str) -> None:
    """The running job: progress, counts by reason, requests answered and waiting, the first records as they arrive,
    what may be wrong when the endpoint says nothing for a while, Cancel."""
    job = jobs.get(key)
    if job is None:
        return
    if job.finished:
        st.rerun()
    info = getattr(job, "live", None) or {}
    st.progress(job.fraction, text=f"{show.plain(job.what)} · {jobs.duration(max(0.0, time.time() - job.started))}")
    a, b, c, d = st.columns(4)
    a.metric("Accepted", f"{info.get('accepted', 0):,} of {info.get('requested', job.total):,}")
    rejected = info.get("rejected") or {}
    b.metric("Rejected", f"{sum(rejected.values()):,}")
    spend = info.get("spend") or {}
    c.metric("Requests done", f"{spend.get('sent', 0):,}", help="Replies that came, failed ones included (after their "
             f"retries). From the cache, free: {spend.get('cached', 0):,}.")
    d.metric("Waiting", f"{spend.get('waiting', 0):,}", help="Requests sent that have no reply yet.")
    quiet = time.time() - info.get("answered_at", job.started)
    if spend.get("waiting") and quiet >= QUIET_AFTER:
        st.info(f"No reply for {jobs.duration(quiet)}. A big model, a busy server or the first request (a server may load "
                "the model then) can take this long; a server that never answers makes each request wait for its timeout "
                "(60 s) and its retries. transformers serve never answers a request with stop strings: cancel, choose "
                "stop under Don't send and run again.")
    if spend.get("failed"):
        st.warning(f"{spend['failed']:,} requests failed after every retry; the last: {show.plain(spend.get('last_error', ''))}.")
    if rejected:
        st.dataframe(counts_table(rejected), hide_index=True)
    if info.get("first"):
        st.caption("The first accepted records:")
        st.dataframe(pd.DataFrame(info["first"]), hide_index=True)
    if job.cancel_requested:
        st.caption("Cancelling: nothing more is sent; the run stops once the requests in flight return (at most their "
                   "timeout). What it accepted is stored.")
    else:
        st.button("Cancel", key="generate_cancel", icon=":material/stop_circle:", on_click=jobs.cancel, args=(key,))


def open_dataset(dataset: str) -> None:
    state.set(state.DATASETS, [dataset])
    state.set(state.PAGE, 1)


def outcome(job) -> None:
    """What the last run did (or why it stopped), its rejects by reason, the first records, the way to Records."""
    info = getattr(job, "live", None) or {}
    report = info.get("report") or (job.result if isinstance(job.result, dict) else None)
    if job.error and not (report or {}).get("accepted"):
        st.error(f"Generation failed: {show.plain(job.error)}")
        return
    if job.error:
        st.error(f"Generation stopped: {show.plain(job.error)}")
    elif job.cancelled:
        st.info("Cancelled: what was accepted before is stored; run it again to continue (replies so far are cached).")
    if not report:
        return
    spend = report["spend"]
    line = (f"{report['accepted']:,} accepted ({report['added']:,} new records in {show.plain(report['dataset'])}), "
            f"{report['rejected_total']:,} rejected; stopped: {show.plain(report['stopped'])}. "
            f"{spend['sent']:,} requests sent, {spend['cached']:,} from the cache, {spend['tokens']:,} tokens paid"
            + (f", ${spend['cost']:.4f}" if spend.get("cost") else "") + ".")
    (st.success if report["accepted"] else st.warning)(line)
    if not report["accepted"] and not job.cancelled:
        st.caption(nothing_accepted(report))
    if "cluster" in report and "share_after" in report["cluster"]:
        c = report["cluster"]
        st.caption(f"Cluster {c['id']}: {c['share_before']:.1%} of the mapped records before, {c['share_after']:.1%} after "
                   "(the new records counted in the cluster they were aimed at; the Map page places them for real).")
    if "topic" in report and "share_after" in report["topic"]:
        t = report["topic"]
        st.caption(f"Topic “{show.plain(t['text'])}”: {t['share_before']:.1%} of the records were within similarity "
                   f"{t['similarity_at_least']:.3f} of it before (the farthest of its {t['size']:,} seeds), "
                   f"{t['share_after']:.1%} after; {t['new_within']:,} of the {t['new_records']:,} new records are within it.")
    if report.get("pre_query"):
        st.caption(f"Magpie's pre-query prefix, from {show.plain(report['pre_query']['from'])}:")
        st.code(report["pre_query"]["prefix"], language=None)
    if report["rejected"]:
        st.dataframe(counts_table(report["rejected"]), hide_index=True)
        st.caption(f"Every rejected candidate, with its reason: {show.plain(report['folder'])}/rejected.jsonl in the workspace.")
    if info.get("first"):
        st.dataframe(pd.DataFrame(info["first"]), hide_index=True)
    if report["accepted"] and st.button(f"Open {report['dataset']} on the Records page", type="primary", key="generate_open",
                                        on_click=open_dataset, args=(report["dataset"],)):
        st.switch_page("pages/records.py")


def nothing_accepted(report: dict) -> str:
    """Why a run accepted nothing, in words, with what to try."""
    spend, rejected = report["spend"], report["rejected"]
    if spend.get("failed") and spend["failed"] >= spend["sent"]:
        return (f"Every request failed ({show.plain(spend.get('last_error', ''))}). A timeout: the model is slow or the "
                "server hangs on a parameter (transformers serve: choose stop under Don't send); else check the endpoint.")
    if report["stopped"] == "budget":
        return "The token budget was spent before a record was accepted: raise it (replies so far are cached and free)."
    if rejected:
        top = max(rejected, key=rejected.get)
        return (f"Every candidate was rejected, most for {top}: a small model or a small reply cap writes few usable "
                "tasks; see rejected.jsonl, raise the reply cap, or try a larger model.")
    return "Nothing came back to judge: see the report in the workspace."


def render(ws) -> None:
    """The page below its title: the running job, or the last run's outcome and the form."""
    from curation.generate import generate

    key = job_key(ws)
    job = jobs.get(key)
    if job is not None and not job.finished:
        live(key)
        return
    if job is not None:
        outcome(job)
        st.divider()
    opts = settings(ws)
    if opts is None:
        return
    a, b = st.columns([1, 4])
    if a.button("Estimate", key="generate_estimate", help="Tokens and cost before anything is sent (the seeds are "
                                                          "chosen, nothing goes to the endpoint)."):
        with shown_errors("estimate the run"), st.spinner("Choosing the seeds and counting tokens…"):
            b.info(estimate_line(generate(ws, dry_run=True, **opts)["estimate"]))
    if st.button(f"Generate {opts['n']:,} records with {opts['method']}", type="primary", key="generate_run"):
        def work(j):
            j.live = {"requested": opts["n"]}
            return generate(ws, progress=j.update, live=j.live, cancel=j.requested, **opts)

        jobs.start(key, work)
        st.rerun()
