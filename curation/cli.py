"""The command line: parse arguments, call the library, print JSON or text.

Every command takes --workspace and --json; a failure prints one line on stderr
and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

from curation import cli_review
from curation.errors import CurationError
from curation.workspace import Workspace


def build_parser() -> argparse.ArgumentParser:
    # Choices come from light modules (no numpy): tests/test_registries.py checks they match the registries.
    from curation import names
    from curation.decisions import STATES
    from curation.formats import FORMATS
    from curation.records import SOURCES
    from curation.scorers import SCORERS
    from curation.texts import TEXT_CHOICES
    from curation.transcripts import FORMAT as TRANSCRIPT
    from curation.transcripts import SHAPES as TRANSCRIPT_SHAPES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", help="workspace directory (default $CURATION_WORKSPACE or ./workspace)")
    common.add_argument("--json", action="store_true", help="print a JSON object")

    parser = argparse.ArgumentParser(prog="python -m curation", description="Curate instruction-tuning data.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="load files or Hugging Face datasets into the workspace")
    p.add_argument("paths", nargs="+", metavar="PATH_OR_HF_ID")
    p.add_argument("--format", choices=sorted([*FORMATS, TRANSCRIPT]),
                   help="skip detection and read this format (transcript: .vtt, .srt, speaker-labelled .txt, Whisper .json)")
    p.add_argument("--name", help="dataset name (default: the file name without extension)")
    p.add_argument("--source", choices=SOURCES, help="who wrote the records (default: from the data, else unknown)")
    p.add_argument("--map", nargs="+", metavar="FIELD=COLUMN", help="column mapping, e.g. instruction=question output=answer")
    p.add_argument("--protected", action="store_true",
                   help="an evaluation set (benchmark prompts, your test split): never rejected or exported; training "
                        "records that overlap it are flagged (see decontaminate)")
    # A database URL (sqlite:///f.db, duckdb:///f.duckdb, postgresql+psycopg://user@host:port/db) reads a table or query.
    p.add_argument("--table", metavar="TABLE", help="database URL only: read this table (its primary key is the default --key)")
    p.add_argument("--query", metavar="SQL", help="database URL only: read the rows of this SELECT")
    p.add_argument("--key", metavar="COLUMN[,COLUMN]",
                   help="database URL only: the column(s) that identify a row; re-ingest adds only new keys")
    p.add_argument("--password-env", metavar="VAR", help="database URL only: take the password from this environment variable")
    # Call and meeting transcripts (issue 16): how their conversations become records.
    p.add_argument("--shape", choices=list(TRANSCRIPT_SHAPES),
                   help="transcripts only: a record per conversation (default) or per assistant turn with its context")
    p.add_argument("--speaker-role", nargs="+", metavar="NAME=ROLE",
                   help="transcripts only: a speaker's role (user, assistant, system) instead of the guess, e.g. \"Speaker 1=assistant\"")
    p.add_argument("--split-gap", type=float, metavar="SECONDS",
                   help="transcripts only: a silence longer than this starts a new conversation (default 120)")
    p.add_argument("--max-turns", type=int, metavar="N",
                   help="transcripts only: about this many turns per conversation at most (default 40)")
    # Personal data (issue 16): placeholders for e-mails, phones, card/account numbers, SSNs, IPs and names found offline.
    p.add_argument("--redact", action=argparse.BooleanOptionalAction, default=None,
                   help="replace personal data with placeholders before storing (default: on for external records, i.e. "
                        "transcripts, SQL and --source external; off otherwise); --no-redact keeps the text as it is")

    sub.add_parser("stats", parents=[common], help="counts of records, sources and decisions")

    p = sub.add_parser("records", parents=[common], help="list records matching a filter")
    p.add_argument("--dataset", action="append", default=[])
    p.add_argument("--source", action="append", default=[], choices=SOURCES)
    p.add_argument("--decision", action="append", default=[], choices=STATES)
    p.add_argument("--search", default="", help="case-insensitive text search")
    p.add_argument("--flag", action="append", default=[], metavar="CODE", help="records a quality flag marks (repeat for any of several)")
    p.add_argument("--cluster", type=int, metavar="ID", help="records of one cluster of the map")
    cli_review.add_record_filters(p)  # --reason, --dup-group, --selected, --selection-margin, --edited, --curator (issue 17)
    p.add_argument("--near", metavar="TEXT", help="the --limit records nearest a query, nearest first, with their similarity")
    p.add_argument("--sort", choices=("quality", "quality-desc", "score", "score-desc"),
                   help="worst first (quality, score) or best first (-desc): quality is the flags-only quality; score is the "
                        "quality score in force (flags gate × the ranker set by `score --use`, length by default)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)

    p = sub.add_parser("signals", parents=[common], help="compute quality signals; flag counts and length percentiles")
    p.add_argument("--threshold", nargs="+", metavar="SIGNAL=VALUE", help="set thresholds, e.g. short_output=3 language=fr (kept)")
    p.add_argument("--tokenizer", metavar="NAME_OR_PATH", help="llama-3 (default), a tokenizer.json folder or file, or a hub id (kept)")
    executor_options(p)

    p = sub.add_parser("embed", parents=[common], help="embed the records (cached; only new texts are embedded)")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="minilm (default, bundled), static (fast mode), a model folder or hub id (kept)")
    p.add_argument("--fast", action="store_true",
                   help="embed with the fast static model for this call only (the workspace's model stays; add --keep to change it)")
    p.add_argument("--keep", action="store_true", help="with --fast: make the static model the workspace's model (the dashboard's too)")
    p.add_argument("--text", choices=tuple(TEXT_CHOICES), help="what to embed (default prompt; kept)")
    p.add_argument("--backend", choices=("auto", "onnx", "torch"),
                   help="how the default model runs: onnx (ONNX Runtime, faster on CPU, same vectors), torch (PyTorch), or auto "
                        "(onnx when onnxruntime is installed; the default) (kept)")
    executor_options(p)

    p = sub.add_parser("map", parents=[common], help="project to 2-D, cluster, label, and measure diversity (cached)")
    p.add_argument("--method", choices=names.CLUSTERINGS, help="k-means on the embeddings (default) or HDBSCAN on the map (kept)")
    p.add_argument("--k", type=int, help="number of k-means clusters (kept; 0: automatic, the default)")
    p.add_argument("--min-size", type=int, help="smallest HDBSCAN cluster (kept; 0: automatic, the default)")
    p.add_argument("--place", action="store_true",
                   help="put records added since the last build on that map (embeds only them; placed, not fitted) instead of rebuilding")

    p = sub.add_parser("dedup", parents=[common], help="find exact and near-duplicate groups; --apply rejects all but each representative")
    p.add_argument("--threshold", type=float, help="similarity at or above which two records are duplicates (kept)")
    p.add_argument("--method", choices=names.DEDUP_METHODS, help="embedding (default), minhash or exact (kept)")
    executor_options(p)
    p.add_argument("--text", choices=tuple(TEXT_CHOICES), help="what is compared (default prompt; kept)")
    p.add_argument("--rule", choices=names.RULES,
                   help="which record of a group is kept (default quality; kept)")
    p.add_argument("--index", choices=names.INDEXES, help="neighbour search (default auto; kept)")
    p.add_argument("--grouping", choices=names.GROUPINGS,
                   help="star (default: every member like its representative itself) or components (chains join; kept)")
    p.add_argument("--boilerplate", choices=("strip", "keep"),
                   help="remove lines shared by many records before comparing (default strip; kept)")
    p.add_argument("--rescore", choices=names.RESCORERS,
                   help="second stage: surface re-scores candidate pairs by word overlap (fast), cross by a cross-encoder "
                        "trained once on the shared MRPC pairs (slow on CPU); none (default; kept)")
    p.add_argument("--sweep", action="store_true", help="also report the counts at every threshold of the sweep")
    p.add_argument("--apply", action="store_true", help="reject every duplicate but its group's representative")
    p.add_argument("--confirm-large", action="store_true",
                   help="with --apply: apply even when a group of near copies holds more than 50 records (look at it first)")
    p.add_argument("--curator", help="who decides (default $CURATION_CURATOR, else 'anonymous')")

    p = sub.add_parser("export", parents=[common], help="render with a template, split without leakage, write files and a manifest")
    p.add_argument("--template", required=True, metavar="NAME",
                   help="alpaca, chatml, llama-3, mistral, vicuna, a Hugging Face tokenizer folder, or a .jinja file")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (new, empty, or an earlier export)")
    p.add_argument("--format", choices=names.EXPORT_FORMATS, default="jsonl")
    p.add_argument("--shape", choices=names.SHAPES, default="text")
    p.add_argument("--split", default="train=0.9,test=0.1", help="named ratios, e.g. train=0.9,validation=0.05,test=0.05")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stratify", choices=names.STRATIFY, default="none")
    p.add_argument("--max-tokens", type=int, help="longest rendered text, in tokens of --tokenizer")
    p.add_argument("--over", choices=names.OVER, default="drop", help="records over --max-tokens: drop (default) or keep and report")
    p.add_argument("--kept-only", action="store_true", help="only records a curator kept (default: every record not rejected)")
    p.add_argument("--tokenizer", metavar="NAME_OR_PATH", help="token counts: llama-3 (default) or a tokenizer.json folder/file")
    p.add_argument("--no-similarity", action="store_true", help="skip the test/train similarity check (it embeds the records)")
    p.add_argument("--keep-end-markers", action="store_true",
                   help="write answers as stored (default: strip the <|endoftext|>, </s>… markers that close them)")
    p.add_argument("--block", nargs="+", metavar="CODE",
                   help="flags whose records are left out (reason codes, e.g. pii refusal; kept in the workspace; "
                        "`--block none` clears)")
    p.add_argument("--keep-blocked", action="store_true", help="export the records of blocking flags all the same (this export)")
    p.add_argument("--keep-contaminated", action="store_true",
                   help="export training records that match a protected evaluation item (default: left out; warned either way)")

    p = sub.add_parser("decontaminate", parents=[common],
                       help="flag training records that overlap a protected evaluation set (13-gram overlap and embedding similarity)")
    p.add_argument("--protect", nargs="+", metavar="NAME", help="mark datasets as protected evaluation sets (kept)")
    p.add_argument("--unprotect", nargs="+", metavar="NAME", help="datasets that are no longer protected (kept)")
    p.add_argument("--ngram", type=int, metavar="N", help="words of an overlapping n-gram (default 13; kept)")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="cosine similarity of prompts at or above which a record matches (default: the model's calibrated "
                        "paraphrase threshold; kept)")
    p.add_argument("--no-embedding", action="store_true", help="n-gram overlap only, this call (nothing is embedded)")
    p.add_argument("--limit", type=int, default=20, help="matches listed (all are counted)")

    p = sub.add_parser("decide", parents=[common], help="keep or reject records with a reason, or undo")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--keep", action="store_true")
    action.add_argument("--reject", action="store_true")
    action.add_argument("--undo", action="store_true")
    p.add_argument("--reason", help="reason code, e.g. manual")
    select = p.add_mutually_exclusive_group(required=True)
    select.add_argument("--ids", nargs="+", metavar="ID")
    select.add_argument("--flag", metavar="CODE", help="every record this quality flag marks")
    select.add_argument("--cluster", type=int, metavar="ID", help="every record of this cluster of the map")
    select.add_argument("--duplicates", action="store_true",
                        help="with --reject: every duplicate but its group's representative (current dedup settings)")
    p.add_argument("--confirm-large", action="store_true",
                   help="with --duplicates: reject even when a group of near copies holds more than 50 records")
    p.add_argument("--curator", help="who decides (default $CURATION_CURATOR, else 'anonymous')")
    p.add_argument("--force", action="store_true",
                   help="with --reject --flag: reject even for a flag whose measured precision is below 0.9 (a review or "
                        "cleaning flag, see the README's Quality signals)")

    p = sub.add_parser("select", parents=[common],
                       help="choose the best N records for quality and coverage (a preview; --apply keeps and rejects them)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--n", type=int, metavar="N", help="how many records to choose (kept records count and are always in)")
    size.add_argument("--share", type=float, metavar="S", help="a share of the records not rejected, e.g. 0.1")
    p.add_argument("--strategy", choices=names.STRATEGIES, default="quality",
                   help="quality: best score first, none too close to a chosen one (Deita-style; default); coverage: facility "
                        "location over the embeddings weighted by quality; random: the control")
    p.add_argument("--cap", nargs="+", default=[], metavar="BY:GROUP=AMOUNT",
                   help="at most AMOUNT chosen from a group (BY: dataset, source, cluster, language; GROUP * for each group; "
                        "AMOUNT a count or a share of the budget, e.g. dataset:t0=200 cluster:*=5%%)")
    p.add_argument("--floor", nargs="+", default=[], metavar="BY:GROUP=AMOUNT", help="at least AMOUNT chosen from a group (same form)")
    p.add_argument("--threshold", type=float,
                   help="quality: the similarity at or above which a record is too close to a chosen one (default per model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare", action="store_true", help="also measure every strategy at this budget (coverage, quality)")
    p.add_argument("--apply", action="store_true",
                   help="keep the chosen records (selected:STRATEGY) and reject the other candidates (not_selected:budget)")
    p.add_argument("--undo", action="store_true", help="undo the latest selection applied, as one action")
    p.add_argument("--curator", help="who decides (default $CURATION_CURATOR, else 'anonymous')")

    p = sub.add_parser("score", parents=[common], help="score records with a model: reward model, LLM judge, IFD or learned (cached)")
    p.add_argument("--scorer", required=True, choices=("length", *SCORERS),
                   help="which scorer (see the README's Model-based scores); `length` needs no scoring: use it with --use")
    executor_options(p)
    p.add_argument("--use", action="store_true",
                   help="also make this scorer (with these options) the ranker of the quality score, the workspace's "
                        "setting the dashboard shows (`--scorer length --use` goes back to the default)")
    p.add_argument("--sample", type=int, metavar="N", help="score a seeded random sample of N records first")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (and of learned's cross-validation)")
    p.add_argument("--dataset", action="append", default=[], help="only records of this dataset (repeat for several)")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="reward: model folder or hub id (required); ifd: causal LM (default smollm2, bundled); judge: model name "
                        "(default the endpoint's first); learned: embedding model (default the workspace's)")
    p.add_argument("--endpoint", metavar="URL", help="judge: OpenAI-compatible base URL (default $OPENAI_BASE_URL or OpenAI)")
    p.add_argument("--api-key-env", metavar="VAR", help="judge: environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--price-per-1k", type=float, metavar="X", help="judge: price per 1,000 tokens, for the cost estimate")
    p.add_argument("--concurrency", type=int, metavar="N", help="judge: requests in flight at once (default 8)")
    p.add_argument("--batch-size", type=int, metavar="N", help="records per batch (progress and cancellation happen between batches)")
    p.add_argument("--dry-run", action="store_true", help="print what would be computed (and the judge's cost) and stop")

    p = sub.add_parser("generate", parents=[common],
                       help="write new records with an LLM from seeds (self-instruct, alpaca, evol-instruct, magpie) as a dataset")
    p.add_argument("--method", choices=names.GENERATORS, default="self-instruct", help="generation method (default self-instruct)")
    p.add_argument("-n", type=int, default=20, metavar="N", help="records to accept (default 20)")
    p.add_argument("--seeds", metavar="DATASET", help="seed dataset (default: self-instruct's 175 seed tasks, ingested once)")
    p.add_argument("--cluster", type=int, metavar="ID", help="seeds: the records of this cluster of the map (aimed generation)")
    p.add_argument("--seed-ids", nargs="+", metavar="ID", help="seeds: these records (e.g. a selection, or the ids `records --json` lists)")
    p.add_argument("--topic", metavar="TEXT", help="seeds: the records nearest this text by semantic search, as `records --near` "
                   "(aimed generation; the report gives the topic's share before and after)")
    p.add_argument("--topic-size", type=int, default=20, metavar="N",
                   help="with --topic: how many nearest records are the seeds (default 20)")
    p.add_argument("--name", metavar="DATASET", help="dataset of the generated records (default METHOD-SEEDS)")
    p.add_argument("--endpoint", metavar="URL", help="OpenAI-compatible base URL (default $OPENAI_BASE_URL or OpenAI)")
    p.add_argument("--model", metavar="NAME", help="model name (default: the endpoint's first)")
    p.add_argument("--api-key-env", metavar="VAR", default="OPENAI_API_KEY", help="environment variable holding the API key (never stored)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed builds the same prompts (replayed from the cache)")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="requests in flight at once (default 4)")
    p.add_argument("--rpm", type=float, metavar="N", help="at most N requests a minute")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per request before it is retried (default 60)")
    p.add_argument("--max-retries", type=int, default=4, metavar="N", help="retries of 429, 5xx, timeouts (default 4)")
    p.add_argument("--budget-tokens", type=int, metavar="N", help="stop before the run's paid tokens would pass N")
    p.add_argument("--budget-cost", type=float, metavar="X", help="stop before the run's cost would pass X (needs --price-per-1k)")
    p.add_argument("--price-per-1k", type=float, default=0.0, metavar="X",
                   help="price per 1,000 tokens, for the estimate and --budget-cost")
    p.add_argument("--max-tokens", type=int, metavar="N", help="cap every request's max_tokens at N")
    p.add_argument("--option", nargs="+", metavar="KEY=VALUE",
                   help="method options, e.g. prompts_per_round=8 pre_query=llama-3 (values read as JSON when they parse)")
    p.add_argument("--tokenizer", metavar="PATH", help="magpie: read the pre-query prefix from this tokenizer's chat template "
                   "(a local tokenizer or model folder, or a .gguf file; default: the served model's folder when local)")
    p.add_argument("--omit", nargs="+", metavar="PARAM", default=[],
                   help="sampling parameters not to send, for endpoints that refuse them (transformers serve: stop)")
    p.add_argument("--stream", action="store_true", help="ask for streamed replies (server-sent events)")
    p.add_argument("--dry-run", action="store_true", help="print the token and cost estimate and stop (nothing is sent)")

    sub.add_parser("doctor", parents=[common],
                   help="check the workspace; repair or quarantine damaged files; say which records to re-ingest")
    cli_review.add_parsers(sub, common)  # edit, remove, curators (issue 17)
    return parser


def cmd_ingest(ws: Workspace, args) -> tuple[dict, int]:
    """One source: its summary, or its error. Several: each is loaded in turn, a source
    that fails is listed under `failed` and the others still load; the exit status is
    non-zero only when no record at all could be loaded."""
    from curation.formats import get_format
    from curation.ingest import ingest, parse_mapping

    mapping = parse_mapping(args.map)
    if (args.format or mapping) and args.format != "transcript":
        get_format(args.format, mapping)  # a bad mapping is the command's error, not each source's
    transcript = {k: v for k, v in (("shape", args.shape), ("roles", args.speaker_role), ("split_gap", args.split_gap),
                                    ("max_turns", args.max_turns)) if v is not None} or None
    if transcript:
        from curation.transcripts import make_options

        make_options(**transcript)  # a bad role or budget is the command's error, not each source's
    results, failed = [], []
    for path in args.paths:
        try:
            sql = {k: getattr(args, k) for k in ("table", "query", "key", "password_env") if getattr(args, k) is not None}
            results.append(ingest(ws, path, name=args.name, fmt=args.format, source=args.source, mapping=mapping,
                                  transcript=transcript, redact=args.redact, progress=None if args.json else text_progress, **sql))
        except CurationError as exc:
            if len(args.paths) == 1:
                raise
            from curation.sql_source import is_sql_url, masked

            failed.append({"path": masked(path) if is_sql_url(path) else path, "error": str(exc)})  # never a password
    if args.protected and results:
        from curation.decontaminate import protect

        protected = protect(ws, [r["dataset"] for r in results if r["added"] + r["skipped"]])["protected"]
        for r in results:
            r["protected"] = r["dataset"] in protected
    loaded = sum(r["added"] + r["skipped"] for r in results)
    if len(args.paths) == 1:
        out = results[0]
    else:
        out = {
            "dataset": ",".join(dict.fromkeys(r["dataset"] for r in results)),
            "format": ",".join(dict.fromkeys(r["format"] for r in results if r["format"])) or None,
            "added": sum(r["added"] for r in results),
            "skipped": sum(r["skipped"] for r in results),
            "errors": [e for r in results for e in r["errors"]],
            "rejects_file": next((r["rejects_file"] for r in results if r["rejects_file"]), None),
            "warnings": [w for r in results for w in r["warnings"]],
            "failed": failed,
            "redactions": {k: sum(r.get("redactions", {}).get(k, 0) for r in results)
                           for k in dict.fromkeys(k for r in results for k in r.get("redactions", {}))},
            "files": results,
            **({"protected": any(r.get("protected") for r in results)} if args.protected else {}),
        }
    return out, 0 if loaded else 1


def text_ingest(out: dict) -> str:
    fmt = f"format {out['format']}" if out["format"] else "format not detected"
    names = ", ".join(dict.fromkeys(r["dataset"] for r in out["files"])) if "files" in out else out["dataset"]
    lines = [f"{names}: {out['added']} added, {out['skipped']} already present ({fmt.replace(',', ', ')})"]
    lines += [f"  failed: {f['error']}" for f in out.get("failed", [])]
    lines += [f"  {e['file']}:{e['line']}: {e['reason']}" if e["line"] is not None else f"  {e['file']}: {e['reason']}"
              for e in out["errors"][:20]]
    if len(out["errors"]) > 20:
        lines.append(f"  … and {len(out['errors']) - 20} more problems")
    rejects = [r["rejects_file"] for r in out.get("files", [out]) if r.get("rejects_file")]
    lines += [f"  unreadable rows kept in {r}" for r in rejects]
    lines += [f"  warning: {w}" for w in out.get("warnings", [])]
    if out.get("redactions"):
        lines.append("  personal data redacted: " + ", ".join(f"{n} {kind}" for kind, n in out["redactions"].items()))
    if out.get("transcripts"):  # issue 16: what the transcripts became, and who was taken for the assistant
        t = out["transcripts"]
        agents = [s for s, role in t["roles"].items() if role == "assistant"]
        lines.append(f"  transcripts: {t['files']} file(s), {t['conversations']} conversation(s), shape {t['shape']}; "
                     f"assistant: {', '.join(agents) or 'nobody (set one with --speaker-role NAME=assistant)'}")
    return "\n".join(lines)


def cmd_stats(ws: Workspace, args) -> tuple[dict, int]:
    from curation.pii import redactions_per_dataset
    from curation.query import stats
    from curation.store import load_records

    frame = load_records(ws)
    out = stats(ws, frame)
    out.pop("per_dataset")
    redactions = redactions_per_dataset(frame)  # per dataset: records with any, and counts per kind (from meta)
    if redactions:  # only where personal data was redacted (issue 16)
        out["redactions"] = redactions
    return out, 0


def text_stats(out: dict) -> str:
    """What `stats` prints without --json: totals, then one line per dataset, source and reason."""
    d = out["decisions"]
    lines = [f"{out['records']:,} records · {d['keep']:,} kept · {d['reject']:,} rejected · {d['undecided']:,} undecided"]
    for title, counts in (("datasets", out["datasets"]), ("sources", out["by_source"]), ("rejected by reason", out["by_reason"])):
        if counts:
            lines.append(f"{title}:")
            lines += [f"  {name:30s} {n:>9,}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    for e in out["needs_reingest"]:
        lines.append(f"re-ingest: {e['dataset']} ({e['rows']} rows) from {', '.join(map(str, e['paths'] or [])) or 'its source'}")
    for name, r in out.get("redactions", {}).items():  # issue 16
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in r["by_kind"].items())
        lines.append(f"personal data redacted in {name}: {r['records']:,} records ({kinds})")
    return "\n".join(lines)


def text_records(out: dict) -> str:
    """What `records` prints without --json: one line per record (id, dataset, decision, instruction and output, cut)."""
    def cut(value, n: int) -> str:
        value = " ".join(str(value or "").split())
        return value if len(value) <= n else value[: n - 1] + "…"

    shown = len(out["records"])
    lines = [f"{out['total']:,} records match" + (f"; showing {shown:,}" if shown < out["total"] else "")]
    for r in out["records"]:
        state = r["decision"] if not r.get("reason") else f"{r['decision']} ({r['reason']})"
        lines.append(f"{r['record_id']}  {cut(r['dataset'], 16):16s}  {cut(state, 24):24s}  {cut(r['instruction'], 60):60s}  "
                     f"→ {cut(r['output'], 40)}")
    if shown < out["total"]:
        lines.append("(--limit and --offset page through the rest; --json prints every field)")
    return "\n".join(lines)


def cmd_records(ws: Workspace, args) -> tuple[dict, int]:
    from curation import atlas
    from curation.annotated import annotate
    from curation.query import Filter, page, record_json

    # Signals are computed where missing; the map and duplicate columns come from the cache (null when not there).
    required = (("map",) if args.cluster is not None else ()) + (("dedup",) if args.dup_group is not None else ())
    frame = annotate(ws, compute=("signals",), require=required, nulls=True)
    frame = Filter(tuple(args.dataset), tuple(args.source), tuple(args.decision), args.search, tuple(args.flag),
                   args.cluster, **cli_review.record_filters(args)).apply(frame)
    if args.near:
        frame = atlas.nearest(ws, frame, args.near, args.limit) if len(frame) else frame
        rows = frame.to_dict("records")
    else:
        if args.sort in ("score", "score-desc"):
            from curation.scorers.ranked import quality_score

            frame = quality_score(ws, frame)
        if args.sort:
            frame = frame.sort_values(args.sort.removesuffix("-desc"), ascending=not args.sort.endswith("-desc"), kind="stable")
        rows = page(frame, args.limit, args.offset).to_dict("records")
    out = [record_json(r) for r in rows]
    if args.near:
        for o, r in zip(out, rows):
            o["similarity"] = round(float(r["similarity"]), 6)
    return {"total": len(frame), "records": out}, 0


def cmd_embed(ws: Workspace, args) -> tuple[dict, int]:
    from curation.embed import DEFAULT_MODEL, EmbedSettings, embed_records, resolve_backend
    from curation.store import read_columns
    from curation.texts import TEXT_FIELDS

    if args.fast and args.model:
        raise CurationError("--fast is --model static: give one of them")
    if args.keep and not args.fast:
        raise CurationError("--keep goes with --fast (--model and --text are always kept)")
    kept = {"model": "static" if args.keep else args.model, "text": args.text, "backend": args.backend}
    conf = EmbedSettings.save(ws, **kept) if any(kept.values()) else EmbedSettings.load(ws)
    model = "static" if args.fast else conf.model  # --fast alone: this call only
    backend, why = resolve_backend(conf.backend) if model == DEFAULT_MODEL else (None, "only the default model has backends")
    frame = read_columns(ws, TEXT_FIELDS)  # the text columns only (1M records: GBs less)
    # issue 18: texts hashed a slice at a time, only the missing ones made and embedded; no vectors read back
    _, info = embed_records(ws, frame, model=model, text=conf.text, progress=None if args.json else text_progress, vectors=False)
    return {**info, "workspace_model": conf.model, "backend": backend, "backend_note": why}, 0


def cmd_map(ws: Workspace, args) -> tuple[dict, int]:
    from curation.atlas import MapSettings, build, place
    from curation.diversity import agreement
    from curation.store import read_columns
    from curation.texts import TEXT_FIELDS

    if args.method or args.k is not None or args.min_size is not None:
        MapSettings.save(ws, method=args.method, k=args.k, min_size=args.min_size)
    frame = read_columns(ws, ["record_id", "dataset", "source", *TEXT_FIELDS])  # what a map reads (1M records: GBs less)
    if frame.empty:
        raise CurationError("no records to map: ingest some first")
    start = time.perf_counter()
    result = (place if args.place else build)(ws, frame, progress=None if args.json else text_progress)
    return {"clusters": result.clusters, "noise": result.noise, "assigned": result.assigned, "placed": result.placed,
            "labels": {str(k): v for k, v in result.labels.items()},
            "diversity": result.diversity, "diversity_notes": {by: agreement(stats) for by, stats in result.diversity.items()},
            "over_under": {str(k): v for k, v in result.representation.items()},
            "settings": result.settings, "seconds": round(time.perf_counter() - start, 3)}, 0


def cmd_signals(ws: Workspace, args) -> tuple[dict, int]:
    from curation.signals.compute import SignalSettings, summary

    pairs = []
    for pair in args.threshold or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CurationError(f"bad --threshold {pair!r}: write SIGNAL=VALUE, e.g. short_output=3")
        pairs.append((name.strip(), value.strip()))
    if pairs or args.tokenizer:
        SignalSettings.save(ws, thresholds=dict(pairs), tokenizer=args.tokenizer or None)  # the tokenizer must load
    progress = None if args.json else text_progress
    return summary(ws, progress), 0


def text_progress(done: int, total: int, what: str) -> None:
    print(f"\r{what}: {done:,}/{total:,}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def text_signals(out: dict) -> str:
    lines = [f"{out['records']:,} records ({out['computed']:,} computed, {out['reused']:,} cached) in {out['seconds']:.1f} s"]
    lines += [f"  {code:22s} {n:>8,}" for code, n in sorted(out["flags"].items(), key=lambda kv: -kv[1])]
    lines.append(f"lengths in {out['length_unit']}:")
    lines += [f"  {f:12s} p50 {v['p50']:>8.0f}  p90 {v['p90']:>8.0f}  max {v['max']:>8,}" for f, v in out["lengths"].items()]
    return "\n".join(lines)


def cmd_dedup(ws: Workspace, args) -> tuple[dict, int]:
    from curation import dedup
    from curation.dedup import saved_groups

    start = time.perf_counter()
    strip = None if args.boilerplate is None else args.boilerplate == "strip"
    dedup.save_settings(ws, threshold=args.threshold, method=args.method, text=args.text, rule=args.rule, index=args.index, strip=strip,
                        grouping=args.grouping, rescore=args.rescore)
    found = saved_groups.find_and_save(ws, None if args.json else text_progress)  # saved for the export
    applied = dedup.apply(ws, found, curator=args.curator, confirm_large=args.confirm_large) if args.apply else 0
    out = {**found.summary(), "applied": applied}
    if args.sweep:
        out["sweep"] = found.sweep().to_dict("records")
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out, 0


def text_dedup(out: dict) -> str:
    lines = [f"{out['method']} at {out['threshold']}: {out['exact_groups']:,} exact and {out['near_groups']:,} near-duplicate "
             f"groups, {out['records_in_groups']:,} of {out['records']:,} records in groups "
             f"({out['cross_dataset_groups']:,} groups across datasets)",
             f"  {out['would_reject']:,} would be rejected (all but each group's representative, rule {out['rule']}, "
             f"grouping {out['grouping']}); "
             f"{out['applied']:,} rejected now",
             f"  why: {out['reject_exact']:,} exact copies, {out['reject_same_values']:,} same template and variable parts, "
             f"{out['reject_near']:,} near; largest group {out['largest_group']:,} ({out['largest_near_group']:,} of near copies); "
             f"{out['family_pairs_set_aside']:,} pairs of template or conversation siblings set aside "
             f"({out['template_repeats']:,} records repeat an example under another template: kept)"]
    if out.get("in_force"):
        lines.insert(1, f"  compared: {out['in_force']}")
    if out.get("recall") is not None and out.get("index") not in ("exact", "hash"):
        lines.append(f"  index {out['index']}: recall {out['recall']:.3f} against exact search")
    lines += [f"  {r['threshold']:.2f}: {r['would_reject']:>8,} would be rejected, {r['kept']:>8,} kept" for r in out.get("sweep", [])]
    return "\n".join(lines)


def cmd_export(ws: Workspace, args) -> tuple[dict, int]:
    from curation.export import Options, export

    opts = Options(template=args.template, shape=args.shape, format=args.format, split=args.split, seed=args.seed,
                   stratify=args.stratify, max_tokens=args.max_tokens, over=args.over, kept_only=args.kept_only,
                   tokenizer=args.tokenizer, similarity=not args.no_similarity,
                   end_markers="keep" if args.keep_end_markers else "strip", keep_blocked=args.keep_blocked,
                   contaminated="keep" if args.keep_contaminated else "drop")
    if args.block:
        from curation.export.policy import set_blocking

        set_blocking(ws, [] if [c.lower() for c in args.block] == ["none"] else args.block)
    return export(ws, args.out, opts), 0


def cmd_decontaminate(ws: Workspace, args) -> tuple[dict, int]:
    from curation.decontaminate import DecontaminationSettings, find, protect

    if args.protect:
        protect(ws, args.protect)
    if args.unprotect:
        protect(ws, args.unprotect, protected=False)
    if args.ngram is not None or args.threshold is not None:
        DecontaminationSettings.save(ws, ngram=args.ngram, threshold=args.threshold)
    if not DecontaminationSettings.load(ws).protected:
        raise CurationError("no evaluation set is protected: name one with --protect NAME (or ingest it with --protected)")
    found = find(ws, embedding=False if args.no_embedding else None, progress=None if args.json else text_progress)
    matches = found["matches"].head(max(args.limit, 0))
    listed = [{**{k: r[k] for k in ("record_id", "dataset", "protected_id", "protected_dataset", "match", "ngram_overlap",
                                    "items", "found")},
               "similarity": None if r["similarity"] != r["similarity"] else r["similarity"],
               "evidence": json.loads(r["evidence"] or "[]"), "protected_evidence": json.loads(r["protected_evidence"] or "[]")}
              for r in matches.to_dict("records")]
    return {**found["summary"], "matches": listed}, 0


def text_decontaminate(out: dict) -> str:
    lines = [f"protected: {', '.join(out['protected'])} ({out['protected_records']:,} records); "
             f"{out['contaminated']:,} of {out['training_records']:,} training records match "
             f"{out['items_matched']:,} evaluation items"
             + (f" ({', '.join(f'{k} {v:,}' for k, v in out['by_match'].items())})" if out["by_match"] else ""),
             f"  {out['ngram']}-gram overlap" + (f"; embedding similarity >= {out['threshold']} ({out['threshold_source']})"
                                                  if out["embedding"] else "; embedding check not run")]
    lines += [f"  {m['record_id']} ({m['dataset']}) ~ {m['protected_id']} [{m['match']}]: {m['found']}" for m in out["matches"]]
    return "\n".join(lines)


def text_export(out: dict) -> str:
    from curation.export.write import leakage_lines

    lines = [f"wrote {sum(out['splits'].values()):,} records to {out['out']}: "
             + ", ".join(f"{name} {n:,}" for name, n in out["splits"].items())]
    lines += [f"  excluded {n:,}: {reason}" for reason, n in out["excluded"].items()]
    lines += [f"  {line}" for line in leakage_lines(out.get("leakage"))]
    lines += [f"  warning: {w}" for w in out.get("warnings", [])]
    lines.append(f"  manifest: {out['manifest']}")
    return "\n".join(lines)


def cmd_decide(ws: Workspace, args) -> tuple[dict, int]:
    from curation import decisions
    from curation.store import dataset_sizes, record_index

    if args.duplicates:
        if not args.reject:
            raise CurationError("--duplicates goes with --reject (or use --undo --ids): it rejects all but each group's representative")
        from curation import dedup

        changed = dedup.apply(ws, dedup.find(ws), curator=args.curator, confirm_large=args.confirm_large)
        return {"changed": changed, "decisions": decisions.totals(decisions.counts(ws, dataset_sizes(ws)))}, 0
    if args.flag and args.reject and not args.force:
        from curation.signals import by_reason
        from curation.signals.measured import describe

        signal = by_reason(args.flag)
        if signal.action != "reject":
            raise CurationError(f"{args.flag} is a {signal.action} flag ({describe(signal)}); rejecting every record it marks would "
                                f"discard good data: review them (`records --flag {args.flag}`, the Quality page) or pass --force")
    index = record_index(ws)
    if args.flag or args.cluster is not None:
        from curation.annotated import annotate
        from curation.query import Filter

        stage = "signals" if args.flag else "map"  # signals are computed where missing; the map must be built already
        frame = annotate(ws, stages=(stage,), compute=("signals",), require=(stage,))
        chosen = Filter(flags=(args.flag,) if args.flag else (), cluster=args.cluster).apply(frame)
        if args.reject:  # protected evaluation records are never rejected (decontaminate): a bulk rejection leaves them be
            from curation.decontaminate import protected_datasets, protected_mask

            chosen = chosen[~protected_mask(chosen, protected_datasets(ws))]
        args.ids = list(chosen["record_id"])
        if not args.ids:
            return {"changed": 0, "decisions": decisions.totals(decisions.counts(ws, dataset_sizes(ws)))}, 0
    if args.undo:
        changed = decisions.undo(ws, args.ids, curator=args.curator, index=index)
    else:
        if not args.reason:
            raise CurationError("--keep and --reject need --reason CODE (e.g. --reason manual)")
        decision = "keep" if args.keep else "reject"
        changed = decisions.decide(ws, args.ids, decision, args.reason, curator=args.curator, index=index)
    return {"changed": changed, "decisions": decisions.totals(decisions.counts(ws, dataset_sizes(ws)))}, 0


def cmd_select(ws: Workspace, args) -> tuple[dict, int]:
    from curation import select, select_view

    if args.undo:
        if args.apply:
            raise CurationError("--undo goes alone: it undoes the latest selection applied")
        return {"undone": select.undo_last(ws, curator=args.curator)}, 0
    if args.n is None and args.share is None:
        raise CurationError("say how many records to choose: --n N or --share S")
    if args.share is not None and not 0 < args.share <= 1:
        raise CurationError("--share is between 0 and 1")
    limits = [select.parse_limit(t, "cap") for t in args.cap] + [select.parse_limit(t, "floor") for t in args.floor]
    pool = select.load_pool(ws, progress=None if args.json else text_progress)
    budget = args.n if args.n is not None else float(args.share)
    options = {"limits": limits, "threshold": args.threshold, "seed": args.seed}
    sel = select.plan(pool, budget, args.strategy, **options)
    rows = select_view.eval_rows(pool)
    plans = [sel] + ([select.plan(pool, budget, s, **options) for s in select.STRATEGIES if s != args.strategy] if args.compare else [])
    compared = select_view.compare(pool, plans, rows=rows)
    out = {**sel.info, **compared.iloc[0].drop(["strategy", "chosen", "seconds"]).to_dict(),
           "quality": select_view.quality(sel).to_dict("records"),
           "mix": {by: select_view.mix(sel, by).to_dict("records") for by in pool.groups()},
           "margin": select_view.margin(sel).to_dict("records"), "pool": pool.info, "applied": None}
    if args.compare:
        out["compare"] = compared.to_dict("records")
    if args.apply:
        out["applied"] = select.apply(ws, sel, curator=args.curator)
    return out, 0


def text_select(out: dict) -> str:
    if "undone" in out:
        return f"undid the latest selection: {out['undone']:,} record(s) back to their decision before"
    clusters = f", {out['clusters']:.0%} of clusters represented" if out.get("clusters") is not None else ""
    lines = [f"{out['strategy']}: {out['chosen']:,} of {out['kept'] + out['candidates']:,} records chosen (budget {out['budget']:,}; "
             f"{out['kept']:,} kept by a curator are always in, {out['rejected']:,} rejected never): coverage {out['coverage']:.3f}"
             f"{clusters}, mean quality {out['mean quality']:.3f}"]
    lines += [f"  {c['strategy']:9s} coverage {c['coverage']:.3f}  mean quality {c['mean quality']:.3f}" for c in out.get("compare", [])]
    lines += [f"  floor not met: {s['by']} {s['group']} {s['got']:,} of {s['floor']:,}" for s in out["floors_short"]]
    if out["relaxed"]:
        lines.append(f"  {out['relaxed']:,} joined although close to a chosen record: too few records far enough apart")
    lines.append(f"  applied: {out['applied']['kept']:,} kept, {out['applied']['rejected']:,} rejected (undo: select --undo)"
                 if out["applied"] else f"  not applied: {out['to_keep']:,} would be kept, {out['to_reject']:,} rejected (add --apply)")
    return "\n".join(lines)


def cmd_score(ws: Workspace, args) -> tuple[dict, int]:
    from curation.scorers import distribution, get_scorer
    from curation.scorers.ranked import ScoreSettings, describe
    from curation.store import load_records

    if args.scorer == "length":
        if not args.use:
            raise CurationError("the length ranker needs no scoring: `score --scorer length --use` makes it the ranker")
        return {"ranker": describe(ScoreSettings.save(ws, ranker="length"))}, 0
    scorer = get_scorer(args.scorer)
    judge_only = {"endpoint": args.endpoint, "api_key_env": args.api_key_env, "price_per_1k": args.price_per_1k,
                  "concurrency": args.concurrency}
    if args.scorer != "judge" and any(v is not None for v in judge_only.values()):
        raise CurationError("--endpoint, --api-key-env, --price-per-1k and --concurrency go with --scorer judge")
    options = {"embed_model" if args.scorer == "learned" else "model": args.model, "batch_size": args.batch_size}
    options = {**options, **(judge_only if args.scorer == "judge" else {})}
    options = {k: v for k, v in options.items() if v is not None and k in scorer.options}
    frame = load_records(ws)
    if args.dataset:
        frame = frame[frame["dataset"].isin(args.dataset)]
    if frame.empty:
        raise CurationError("no records to score: ingest some first")
    if args.use:  # checked and kept before the run: a run that fails or is interrupted still leaves the choice made
        kept = ScoreSettings.save(ws, ranker=args.scorer, options={args.scorer: {k: v for k, v in options.items() if k != "batch_size"}})
    estimate = scorer.estimate(ws, frame, sample=args.sample, seed=args.seed, **options)
    if args.dry_run:
        return {"estimate": estimate}, 0
    if not args.json or "cost" in estimate:
        print(text_estimate(estimate), file=sys.stderr, flush=True)
    scores = scorer.score(ws, frame, None if args.json else text_progress, sample=args.sample, seed=args.seed, **options)
    out = {**scores.attrs["info"], "estimate": estimate, "distribution": distribution(scores["score"])}
    return ({**out, "ranker": describe(kept)} if args.use else out), 0


def text_estimate(est: dict) -> str:
    line = f"{est['scorer']}: {est['records']:,} records, {est['cached']:,} cached, {est['to_compute']:,} to compute"
    if "cost" in est:
        line += (f"; about {est['input_tokens'] + est['output_tokens']:,} tokens ({est['tokenizer']}), "
                 f"estimated cost {est['cost']:.4f} at {est['price_per_1k']} per 1k tokens")
    return line


def text_score(out: dict) -> str:
    if "scorer" not in out:
        return out["ranker"] if "estimate" not in out else text_estimate(out["estimate"])
    d = out["distribution"]
    lines = [f"{out['scorer']}: {out['scored']:,} of {out['records']:,} records scored ({out['computed']:,} computed, "
             f"{out['cached']:,} cached, {out['failed']:,} failed, {out['empty']:,} empty) in {out['seconds']:.1f} s"]
    if d["count"]:
        lines.append(f"  scores: min {d['min']:.3f}  p10 {d['p10']:.3f}  p50 {d['p50']:.3f}  p90 {d['p90']:.3f}  max {d['max']:.3f}")
    if "auc" in out:
        lines.append(f"  trained on {out['trained_on']['keep']:,} keep / {out['trained_on']['reject']:,} reject; "
                     f"cross-validated AUC {out['auc']} ({out['folds']} folds)")
        lines.append("  most uncertain (decide these next): " + " ".join(out["uncertain"]))
    if "ranker" in out:
        lines.append(out["ranker"])
    return "\n".join(lines)


def cmd_generate(ws: Workspace, args) -> tuple[dict, int]:
    from curation.generate import generate

    options = {}
    for pair in args.option or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CurationError(f"bad --option {pair!r}: write KEY=VALUE, e.g. prompts_per_round=8")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    if args.tokenizer:
        if args.method != "magpie":
            raise CurationError("--tokenizer is for --method magpie (it reads the pre-query prefix from the chat template)")
        options["tokenizer"] = args.tokenizer
    out = generate(ws, args.method, n=args.n, seeds_dataset=args.seeds, cluster=args.cluster, seed_ids=args.seed_ids,
                   topic=args.topic, topic_size=args.topic_size, dataset=args.name,
                   endpoint=args.endpoint, model=args.model, api_key_env=args.api_key_env, seed=args.seed,
                   concurrency=args.concurrency, rpm=args.rpm, timeout=args.timeout, max_retries=args.max_retries,
                   budget_tokens=args.budget_tokens, budget_cost=args.budget_cost, price_per_1k=args.price_per_1k,
                   max_tokens=args.max_tokens, options=options, omit=tuple(args.omit), stream=args.stream, dry_run=args.dry_run,
                   progress=None if args.json else text_progress)
    return out, 0


def text_generate(out: dict) -> str:
    est = out["estimate"]
    lines = [f"{out['method']} from {out['seeds']} into {out['dataset']}: estimate for {out['requested']:,} records "
             f"about {est['requests']:,} requests, {est['input_tokens'] + est['output_tokens']:,} tokens at most "
             f"({est['tokenizer']}), cost {est['cost']:.4f} at {est['price_per_1k']} per 1k"]
    if "accepted" in out:
        spend = out["spend"]
        lines.append(f"  {out['accepted']:,} accepted ({out['added']:,} new records), {out['rejected_total']:,} rejected"
                     + "".join(f"; {k} {v:,}" for k, v in sorted(out["rejected"].items(), key=lambda kv: -kv[1]))
                     + f"; stopped: {out['stopped']}")
        lines.append(f"  {spend['sent']:,} requests sent, {spend['cached']:,} from the cache, {spend['failed']:,} failed; "
                     f"{spend['tokens']:,} tokens paid, cost {spend['cost']:.4f}; {out['seconds']:.1f} s")
        lines.append(f"  rejected candidates: {out['folder']}/rejected.jsonl; next: python -m curation records --dataset {out['dataset']}")
    if "cluster" in out and "share_after" in out["cluster"]:
        c = out["cluster"]
        lines.append(f"  cluster {c['id']}: {c['share_before']:.1%} of the mapped records before, {c['share_after']:.1%} after")
    if "topic" in out:
        t = out["topic"]
        lines.append(f"  topic “{t['text']}”: {t['records_before']:,} of {t['total_before']:,} records ({t['share_before']:.1%}) "
                     f"within similarity {t['similarity_at_least']:.3f} of it before"
                     + (f", {t['records_after']:,} of {t['total_after']:,} ({t['share_after']:.1%}) after: {t['new_within']:,} of "
                        f"the {t['new_records']:,} new records are within it" if "share_after" in t else ""))
    if "pre_query" in out:
        lines.append(f"  magpie pre-query prefix from {out['pre_query']['from']}: {json.dumps(out['pre_query']['prefix'])}")
    return "\n".join(lines)


def cmd_doctor(root, args) -> tuple[dict, int]:
    from curation.doctor import doctor, exit_code

    out = doctor(root)
    return out, exit_code(out)


def text_doctor(out: dict) -> str:
    from curation.doctor import text_report

    return text_report(out)


COMMANDS = {"ingest": cmd_ingest, "stats": cmd_stats, "records": cmd_records, "signals": cmd_signals, "embed": cmd_embed,
            "map": cmd_map, "dedup": cmd_dedup, "export": cmd_export, "decide": cmd_decide, "doctor": cmd_doctor,
            "score": cmd_score, "generate": cmd_generate}
def text_embed(out: dict) -> str:
    """What `embed` prints without --json: what was embedded with which model, and what came from the cache."""
    line = (f"{out['embedded']:,} texts embedded with {out['model']} ({out.get('dim', '?')} dimensions, text: {out['text']}); "
            f"{out.get('reused', 0):,} already in the cache · {out.get('seconds', 0):.1f} s")
    if out.get("backend"):
        line += f"\nbackend: {out['backend']}" + (f" ({out['backend_note']})" if out.get("backend_note") else "")
    if out["model"] != out.get("workspace_model"):
        line += f"\nthe workspace's model stays {out['workspace_model']} (--keep with --fast keeps fast mode)"
    return line


def text_map(out: dict) -> str:
    """What `map` prints without --json: the clusters with their labels, and how even the mix is."""
    lines = [f"{out['clusters']} clusters · {out['noise']:,} records in none · {out['assigned']:,} joined theirs with low confidence"
             + (f" · {out['placed']:,} placed on the existing map" if out.get("placed") else "") + f" · {out['seconds']:.1f} s"]
    labels = list(out.get("labels", {}).items())
    lines += [f"  cluster {k:>4}: {v}" for k, v in labels[:20]]
    if len(labels) > 20:
        lines.append(f"  … and {len(labels) - 20} more (--json lists every cluster)")
    lines += [f"{by}: {note}" for by, notes in out.get("diversity_notes", {}).items() for note in notes]
    return "\n".join(lines)


def text_decide(out: dict) -> str:
    """What `decide` prints without --json: how many decisions changed and the totals now."""
    d = out["decisions"]
    return (f"{out['changed']:,} decision{'' if out['changed'] == 1 else 's'} changed\n"
            f"now: {d.get('keep', 0):,} kept · {d.get('reject', 0):,} rejected · {d.get('undecided', 0):,} undecided")


TEXT = {"ingest": text_ingest, "signals": text_signals, "dedup": text_dedup, "export": text_export, "doctor": text_doctor,
        "score": text_score, "generate": text_generate, "embed": text_embed, "map": text_map, "decide": text_decide}
RAW_WORKSPACE = {"doctor"}  # commands given the workspace folder, not an opened Workspace (its database may be damaged)
FAILED = {"doctor": "the workspace needs you: see the lines marked 'needs you' (or 'action' in the JSON)"}
TEXT["stats"], TEXT["records"] = text_stats, text_records  # human text without --json (issue 17)
COMMANDS["select"], TEXT["select"] = cmd_select, text_select  # budgeted selection (issue 14)
COMMANDS["decontaminate"], TEXT["decontaminate"] = cmd_decontaminate, text_decontaminate  # decontamination (issue 14)
COMMANDS.update(cli_review.COMMANDS)  # edit, remove, curators (issue 17)
TEXT.update(cli_review.TEXT)
FAILED.update(cli_review.FAILED)


def failure(exc: BaseException, root: str | None) -> str:
    """One line for an error the commands did not turn into a CurationError: never a traceback."""
    from curation.workspace import damaged_database, default_root, doctor_command, is_damage

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, sqlite3.DatabaseError):
        db = Path(root) if root else default_root()
        db = db / "curation.db"
        return str(damaged_database(db, exc)) if is_damage(exc) else f"workspace database {db}: {text}"
    if isinstance(exc, OSError):
        return text if exc.filename is None or str(exc.filename) in text else f"{text}: {exc.filename}"
    return f"a workspace file is damaged ({type(exc).__name__}: {text}): run `{doctor_command(root)}`"


def executor_options(p) -> None:
    """Where a heavy stage runs (issue 18; README "Past one machine"): kept in the workspace."""
    from curation.executor import KINDS

    p.add_argument("--executor", choices=KINDS, help="where the heavy work runs: inprocess (default), processes (a local pool) "
                   "or ray (a Ray cluster; pip install \"ray[data]\") (kept)")
    p.add_argument("--ray-address", metavar="ADDR", help="with --executor ray: the cluster, e.g. auto or ray://HEAD:10001; "
                   "empty starts a local Ray (kept)")
    p.add_argument("--workers", type=int, metavar="N", help="processes in the pool / Ray tasks at once (0: one per core; kept)")


def executor_for(ws, args):
    """The executor a heavy command runs under: its options, else the workspace's setting (in-process by default)."""
    import contextlib

    if not hasattr(args, "executor"):
        return contextlib.nullcontext()
    from curation.executor import from_settings, use

    return use(from_settings(ws, kind=args.executor, address=args.ray_address, workers=args.workers))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except BrokenPipeError:  # stdout closed early (`… | head`): the reader has what it wanted
        quiet_stdout()
        return 0


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush finds no closed pipe (and prints no traceback)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        pass


def run(args) -> int:
    """One command: its output on stdout, or a one-line error on stderr; the exit status."""
    if args.json:  # stdout holds one JSON object, stderr at most the error: no progress bars of the libraries
        from curation.progress import quiet_libraries

        quiet_libraries()
    try:
        # Only ingest creates a workspace: any other command on a folder without one says so and creates nothing.
        ws = args.workspace if args.command in RAW_WORKSPACE else Workspace(args.workspace, create=args.command == "ingest")
        with executor_for(ws, args):
            out, code = COMMANDS[args.command](ws, args)
    except CurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.DatabaseError) as exc:  # the last resort: one line, never a traceback
        print(f"error: {failure(exc, args.workspace)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not type(exc).__module__.startswith("pyarrow"):  # a damaged Parquet file somewhere in the workspace
            raise
        print(f"error: {failure(exc, args.workspace)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        print(TEXT.get(args.command, lambda o: json.dumps(o, indent=2, ensure_ascii=False, default=str))(out))
    sys.stdout.flush()  # a closed pipe shows here, inside main(), not at exit
    if code:
        print(f"error: {FAILED.get(args.command, 'nothing could be loaded')}", file=sys.stderr)
    return code
