"""The Generate page's parts: new records written by an LLM from seeds (self-instruct, Alpaca, Evol-Instruct,
Magpie), as a dataset.

Choose the method, the seeds (a dataset, or the 175 self-instruct seed tasks by default; a cluster of the map for
aimed generation), the endpoint and a budget; see the estimate; run it in the background with live counts of
accepted and rejected candidates by reason and the first records as they arrive; cancel; open the new dataset on
the Records page. Every computation is `curation.generate.generate`, the same call as `python -m curation generate`.
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
SEEDS = "shared.generate.seeds"
CLUSTER = "shared.generate.cluster"
N = "shared.generate.n"
ENDPOINT = "shared.generate.endpoint"
MODEL = "shared.generate.model"
KEY_ENV = "shared.generate.key_env"
BUDGET = "shared.generate.budget_tokens"
PRICE = "shared.generate.price"
MAX_TOKENS = "shared.generate.max_tokens"
CONCURRENCY = "shared.generate.concurrency"
SEED = "shared.generate.seed"
OMIT = "shared.generate.omit"
NAME = "shared.generate.name"
DEFAULT_SEEDS = f"{SEED_DATASET} (self-instruct's 175 seed tasks)"
FILTERED = "the records of the current filter"
OMITTABLE = ("stop", "presence_penalty", "top_p", "seed")


def job_key(ws) -> str:
    return f"generate|{ws.root}"


def settings(ws) -> dict | None:
    """The form: what `generate` is called with."""
    names = list(METHODS)
    a, b = st.columns([1, 2])
    method = a.selectbox("Method", names, **state.bound(METHOD, options=names, default="self-instruct"),
                         format_func=lambda n: n)
    b.caption(f"{show.plain(METHODS[method].description)}. Reference: {show.plain(METHODS[method].reference)}.")
    datasets = [d for d in ws.datasets() if d != SEED_DATASET]
    choices = [DEFAULT_SEEDS, *datasets, FILTERED]
    c, d, e, f = st.columns([2, 1, 1, 2])
    seeds = c.selectbox("Seeds", choices, **state.bound(SEEDS, options=choices, default=DEFAULT_SEEDS),
                        help="Rejected records are never seeds. The default pool is ingested once as the dataset "
                             f"{SEED_DATASET} (source human), so the new records are compared with it like any other data.")
    cluster = d.text_input("Cluster (optional)", **state.bound(CLUSTER, default=""),
                           help="Aimed generation: the seeds are this map cluster's records (of the chosen dataset, unless "
                                "the default pool is chosen); the result reports the cluster's share before and after.")
    n = int(e.number_input("Records", min_value=1, max_value=100_000, step=10, **state.bound(N, default=20)))
    name = f.text_input("New dataset", **state.bound(NAME, default=""), placeholder="default: METHOD-SEEDS")
    g, h, i = st.columns([2, 2, 1])
    endpoint = g.text_input("Endpoint (OpenAI-compatible base URL)",
                            **state.bound(ENDPOINT, default=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")),
                            help="vLLM, Ollama, llama.cpp server, TGI, transformers serve, OpenAI…")
    model = h.text_input("Model", **state.bound(MODEL, default=""), placeholder="default: the endpoint's first")
    key_env = i.text_input("API key variable", **state.bound(KEY_ENV, default="OPENAI_API_KEY"),
                           help="The name of an environment variable of the server process; the key itself is never "
                                "asked for here, stored, logged or written into provenance.")
    j, k, m, o, p, q = st.columns(6)
    budget = int(j.number_input("Token budget (0: none)", min_value=0, step=10_000, **state.bound(BUDGET, default=0),
                                help="The run stops before its paid tokens would pass this. Cached replies are free."))
    price = float(k.number_input("Price per 1,000 tokens", min_value=0.0, step=0.001, format="%.4f",
                                 **state.bound(PRICE, default=0.0)))
    max_tokens = int(m.number_input("Max tokens a reply (0: method's)", min_value=0, step=64, **state.bound(MAX_TOKENS, default=0)))
    concurrency = int(o.number_input("Concurrency", min_value=1, max_value=64, **state.bound(CONCURRENCY, default=4)))
    seed = int(p.number_input("Seed", min_value=0, step=1, **state.bound(SEED, default=0),
                              help="The same seed builds the same prompts: a rerun replays them from the cache for free."))
    omit = q.multiselect("Don't send", list(OMITTABLE), **state.bound(OMIT, options=OMITTABLE, default=[]),
                         help="Sampling parameters the endpoint refuses (transformers serve fails on stop strings).")
    seed_ids = None
    if seeds == FILTERED:
        seed_ids = filtered_ids(ws)
        st.caption(f"Seeds: the {len(seed_ids):,} records the filter shows (set on the Records page and in the sidebar); "
                   "rejected ones are left out.")
        if not seed_ids:
            st.info("The current filter shows no records: change it on the Records page, or choose a dataset.")
            return None
    cluster_id = None
    if cluster.strip():
        try:
            cluster_id = int(cluster)
        except ValueError:
            st.error("The cluster is a number (see the Map page), or empty.")
            return None
    return {"method": method, "n": n, "seeds_dataset": None if seeds in (DEFAULT_SEEDS, FILTERED) else seeds,
            "cluster": cluster_id, "seed_ids": seed_ids,
            "dataset": name.strip() or None, "endpoint": endpoint.strip() or None, "model": model.strip() or None,
            "api_key_env": key_env.strip() or "OPENAI_API_KEY", "budget_tokens": budget or None, "price_per_1k": price,
            "max_tokens": max_tokens or None, "concurrency": concurrency, "seed": seed, "omit": tuple(omit)}


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
    """The running job: progress, counts by reason, the first records as they arrive, Cancel."""
    job = jobs.get(key)
    if job is None:
        return
    if job.finished:
        st.rerun()
    info = getattr(job, "live", None) or {}
    st.progress(job.fraction, text=f"{show.plain(job.what)} · {jobs.duration(max(0.0, time.time() - job.started))}")
    a, b, c = st.columns(3)
    a.metric("Accepted", f"{info.get('accepted', 0):,} of {info.get('requested', job.total):,}")
    rejected = info.get("rejected") or {}
    b.metric("Rejected", f"{sum(rejected.values()):,}")
    spend = info.get("spend") or {}
    c.metric("Requests", f"{spend.get('sent', 0):,} sent · {spend.get('cached', 0):,} cached")
    if rejected:
        st.dataframe(counts_table(rejected), hide_index=True)
    if info.get("first"):
        st.caption("The first accepted records:")
        st.dataframe(pd.DataFrame(info["first"]), hide_index=True)
    if job.cancel_requested:
        st.caption("Cancelling: the run stops after the round it is on; what it accepted is stored.")
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
    st.success(f"{report['accepted']:,} accepted ({report['added']:,} new records in {show.plain(report['dataset'])}), "
               f"{report['rejected_total']:,} rejected; stopped: {show.plain(report['stopped'])}. "
               f"{spend['sent']:,} requests sent, {spend['cached']:,} from the cache, {spend['tokens']:,} tokens paid"
               + (f", ${spend['cost']:.4f}" if spend.get("cost") else "") + ".")
    if "cluster" in report and "share_after" in report["cluster"]:
        c = report["cluster"]
        st.caption(f"Cluster {c['id']}: {c['share_before']:.1%} of the mapped records before, {c['share_after']:.1%} after "
                   "(the new records counted in the cluster they were aimed at; the Map page places them for real).")
    if report["rejected"]:
        st.dataframe(counts_table(report["rejected"]), hide_index=True)
        st.caption(f"Every rejected candidate, with its reason: {show.plain(report['folder'])}/rejected.jsonl in the workspace.")
    if info.get("first"):
        st.dataframe(pd.DataFrame(info["first"]), hide_index=True)
    if report["accepted"] and st.button(f"Open {report['dataset']} on the Records page", type="primary", key="generate_open",
                                        on_click=open_dataset, args=(report["dataset"],)):
        st.switch_page("pages/records.py")


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
    if a.button("Estimate", key="generate_estimate"):
        with shown_errors("estimate the run"):
            b.info(estimate_line(generate(ws, dry_run=True, **opts)["estimate"]))
    if st.button(f"Generate {opts['n']:,} records with {opts['method']}", type="primary", key="generate_run"):
        def work(j):
            j.live = {}
            return generate(ws, progress=j.update, live=j.live, **opts)

        jobs.start(key, work)
        st.rerun()
