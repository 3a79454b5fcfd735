"""The review commands of the command line (issue 17): `edit`, `remove`, `curators`, and the review filters of `records`.

Kept apart from `cli.py` (which registers them) so that file stays a list of commands; as thin as the rest: parse,
call the library, print JSON with --json or a few lines of text.
"""

from __future__ import annotations

import sys

from curation.errors import CurationError
from curation.workspace import Workspace

CURATOR_HELP = "who decides (default $CURATION_CURATOR, else 'anonymous')"


def add_record_filters(p) -> None:
    """The review filters of `records` (curation.query.Filter's fields of the same names)."""
    p.add_argument("--reason", action="append", default=[], metavar="CODE",
                   help="records whose current decision has this reason (a prefix: near_duplicate_of matches every "
                        "near_duplicate_of:<id>; repeat for any of several)")
    p.add_argument("--dup-group", type=int, metavar="ID", help="records of one duplicate group (run dedup first)")
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument("--selected", action="store_true", help="records the latest selection applied chose (selected:STRATEGY)")
    chosen.add_argument("--selection-margin", action="store_true",
                        help="records just outside the latest selection's budget (the next in line, left out)")
    edited = p.add_mutually_exclusive_group()
    edited.add_argument("--edited", action="store_true", help="records whose text was edited (see `edit`)")
    edited.add_argument("--not-edited", action="store_true", help="records never edited (or reverted to the original)")
    p.add_argument("--curator", metavar="NAME", help="records whose current decision NAME made")


def record_filters(args) -> dict:
    """Filter keyword arguments from the parsed `records` options."""
    return {"reasons": tuple(args.reason), "dup_group": args.dup_group,
            "selection": "selected" if args.selected else "margin" if args.selection_margin else None,
            "edited": True if args.edited else False if args.not_edited else None, "curator": args.curator}


def add_parsers(sub, common) -> None:
    p = sub.add_parser("edit", parents=[common],
                       help="edit a record's text (versioned: history and revert), or fix many records at once (--fix)")
    p.add_argument("id", nargs="?", metavar="ID", help="the record to edit, show (--history) or revert (--revert)")
    p.add_argument("--field", metavar="FIELD", help="system, instruction, input, output or messages (a JSON list of turns)")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", help="the new text of --field")
    text.add_argument("--text-file", metavar="PATH", help="read the new text of --field from a file (- for stdin)")
    p.add_argument("--history", action="store_true", help="every version of the record: who changed what, when, why")
    p.add_argument("--revert", action="store_true", help="back one version (itself a new version: nothing is lost)")
    p.add_argument("--fix", metavar="NAME", help="a bulk fix: strip_end_marker, strip_ai_opening or fill_placeholder")
    p.add_argument("--flag", metavar="CODE", help="with --fix: only records this quality flag marks")
    p.add_argument("--ids", nargs="+", metavar="ID", help="with --fix: only these records")
    p.add_argument("--value", metavar="V", help="with --fix fill_placeholder: the text for every placeholder, or NAME=VALUE,…")
    p.add_argument("--dry-run", action="store_true", help="with --fix: say what would change (a sample) and change nothing")
    p.add_argument("--reason", help="why (default manual; a fix: fix:NAME)")
    p.add_argument("--curator", help=CURATOR_HELP)

    p = sub.add_parser("remove", parents=[common],
                       help="remove a dataset (records, its caches, decisions, edits) into the trash: restorable for 7 days")
    p.add_argument("name", nargs="?", metavar="NAME", help="the dataset to remove (or, with --restore / --purge, the removed one)")
    p.add_argument("--yes", action="store_true", help="really remove (without it: print what would go and exit 1)")
    p.add_argument("--force", action="store_true", help="also remove a protected evaluation set (decontamination stops using it)")
    p.add_argument("--restore", action="store_true", help="bring the removed dataset NAME back exactly")
    p.add_argument("--list", action="store_true", help="the removed datasets that can be restored, and until when")
    p.add_argument("--purge", action="store_true",
                   help="delete removals past the 7-day window for good; with NAME (or --all) and --yes: those now")
    p.add_argument("--all", action="store_true", help="with --purge --yes: empty the whole trash now")
    p.add_argument("--curator", help=CURATOR_HELP)

    p = sub.add_parser("curators", parents=[common], help="who decided and edited how much; agreement between two curators")
    p.add_argument("--agreement", nargs=2, metavar=("A", "B"),
                   help="agreement of two curators on the records both decided: share, Cohen's kappa, the disagreements")


def _text_arg(args) -> str | None:
    if args.text_file is None:
        return args.text
    if args.text_file == "-":
        return sys.stdin.read()
    try:
        with open(args.text_file, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CurationError(f"cannot read --text-file {args.text_file}: {exc.strerror}") from None


def cmd_edit(ws: Workspace, args) -> tuple[dict, int]:
    from curation import edits

    new_text = _text_arg(args)
    if args.fix:
        if args.id or args.field or new_text is not None or args.history or args.revert:
            raise CurationError("--fix goes with --flag CODE or --ids ID… (and --value, --dry-run), not with a record id")
        if args.flag and args.ids:
            raise CurationError("give --flag or --ids, not both")
        ids = args.ids
        if args.flag:
            from curation.annotated import annotate
            from curation.query import Filter

            frame = annotate(ws, stages=("signals",), compute=("signals",), require=("signals",))
            ids = [str(i) for i in Filter(flags=(args.flag,)).apply(frame)["record_id"]]
            if not ids:
                return {"fix": args.fix, "matched": 0, "changed": 0, "sample": [], "dry_run": args.dry_run}, 0
        return edits.bulk_fix(ws, args.fix, ids=ids, value=args.value, curator=args.curator, dry_run=args.dry_run,
                              reason=args.reason), 0
    if args.flag or args.ids or args.value is not None or args.dry_run:
        raise CurationError("--flag, --ids, --value and --dry-run go with --fix NAME")
    if not args.id:
        raise CurationError("name the record: edit ID --field FIELD --text TEXT (or --history, --revert), or use --fix NAME")
    if args.history:
        return {"record_id": args.id, "versions": edits.edit_history(ws, args.id)}, 0
    if args.revert:
        return edits.revert_edit(ws, args.id, curator=args.curator), 0
    if not args.field or new_text is None:
        raise CurationError("an edit needs --field FIELD and --text TEXT (or --text-file PATH)")
    return edits.edit(ws, args.id, {args.field: new_text}, curator=args.curator, reason=args.reason or "manual"), 0


def text_edit(out: dict) -> str:
    if "versions" in out:
        lines = [f"{out['record_id']}: {len(out['versions']) - 1} version(s) after the original"]
        for v in out["versions"][1:]:
            changed = ", ".join(f"{f}: {c['before']!r:.60} -> {c['after']!r:.60}" for f, c in v["changes"].items())
            lines.append(f"  v{v['version']} by {v['curator']} ({v['reason']}): {changed}")
        return "\n".join(lines)
    if "fix" in out:
        verb = "would change" if out["dry_run"] else "changed"
        lines = [f"{out['fix']}: {out['matched']:,} record(s) matched, {verb} {out['changed']:,}"]
        lines += [f"  {s['record_id']} {s['field']}: {s['before']!r:.70} -> {s['after']!r:.70}" for s in out["sample"]]
        if out["dry_run"] and out["changed"]:
            lines.append("  nothing changed yet: run again without --dry-run")
        return "\n".join(lines)
    if "reverted" in out:
        return f"{out['record_id']}: version {out['version']} reverts version {out['reverted']}"
    return f"{out['record_id']}: version {out['version']} (history: edit {out['record_id']} --history)"


def cmd_remove(ws: Workspace, args) -> tuple[dict, int]:
    from curation import remove

    chosen = [f for f in ("restore", "list", "purge") if getattr(args, f)]
    if len(chosen) > 1:
        raise CurationError("give one of --restore, --list, --purge")
    if args.all and not args.purge:
        raise CurationError("--all goes with --purge")
    if args.list:
        return {"removed": remove.removed_datasets(ws), "window_days": remove.WINDOW / 86400}, 0
    if args.purge:
        if args.name or args.all:
            if args.name and args.all:
                raise CurationError("give NAME or --all, not both")
            if not args.yes:
                listed = [r for r in remove.removed_datasets(ws) if args.all or args.name in (r["dataset"], r["id"])]
                if not listed:
                    raise CurationError(f"no removed dataset named {args.name!r} to purge")
                return {"purged": [], "would_purge": listed, "confirm": "add --yes to delete them for good"}, 2
            return {"purged": remove.purge(ws, name=args.name, everything=args.all)}, 0
        return {"purged": remove.purge(ws)}, 0
    if not args.name:
        raise CurationError("name the dataset: remove NAME --yes (or --list, --restore NAME, --purge)")
    if args.restore:
        return remove.restore_dataset(ws, args.name), 0
    if not args.yes:
        plan = remove.plan_removal(ws, args.name)
        if plan["protected"] and not args.force:
            plan["blocked"] = "a protected evaluation set: needs --force as well"
        return {**plan, "removed": False, "confirm": "add --yes to remove it (restorable for 7 days: remove --restore NAME)"}, 2
    return remove.remove_dataset(ws, args.name, curator=args.curator, force=args.force), 0


def text_remove(out: dict) -> str:
    import time

    def when(ts):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))

    if "window_days" in out and "removed" in out and isinstance(out["removed"], list):
        if not out["removed"]:
            return "nothing removed to restore"
        return "\n".join(f"{r['dataset']}: {r.get('records', 0):,} records, removed {when(r['removed_at'])} by {r['curator']}, "
                         f"restorable until {when(r['restorable_until'])} (remove --restore {r['dataset']})" for r in out["removed"])
    if "purged" in out and "dataset" not in out:
        if out.get("would_purge"):
            return "would delete for good: " + ", ".join(r["dataset"] for r in out["would_purge"]) + " (add --yes)"
        return ("purged: " + ", ".join(r["dataset"] for r in out["purged"])) if out["purged"] else "nothing to purge"
    if out.get("restored"):
        return f"{out['dataset']}: restored ({out['records']:,} records, {out['decisions']:,} decisions, {out['edits']:,} edits)"
    what = (f"{out['dataset']}: {out['records']:,} records in {out['parts']} part(s), {out['decisions']:,} decisions, "
            f"{out['log_entries']:,} audit-log entries, {out['edits']:,} edits ({len(out['files'])} files)")
    if not out.get("removed"):
        lines = [f"would remove {what}"]
        if out.get("blocked"):
            lines.append(f"  {out['dataset']} is {out['blocked']}")
        return "\n".join(lines)
    purged = "".join(f"\n  purged {p['dataset']} (removed more than 7 days ago)" for p in out.get("purged", []))
    return (f"removed {what} into {out['trash']}; restorable until {when(out['restorable_until'])}: "
            f"remove --restore {out['dataset']}{purged}")


def cmd_curators(ws: Workspace, args) -> tuple[dict, int]:
    from curation.curators import agreement, curators
    from curation.decisions import default_curator

    out = {"curators": curators(ws), "default": default_curator()}
    if args.agreement:
        out["agreement"] = agreement(ws, *args.agreement)
    return out, 0


def text_curators(out: dict) -> str:
    lines = [f"{c['curator'] or '(none)'}: {c['decisions']:,} decisions ({c['current']:,} in force), {c['edits']:,} edits"
             for c in out["curators"]] or ["no decisions or edits yet"]
    lines.append(f"(you are {out['default']!r}: set --curator NAME or $CURATION_CURATOR)")
    a = out.get("agreement")
    if a:
        kappa = "undefined" if a["kappa"] is None else f"{a['kappa']:.3f}"
        share = "n/a" if a["agreement"] is None else f"{a['agreement']:.1%}"
        lines.append(f"{a['a']} vs {a['b']}: {a['n']:,} records both decided, agreement {share}, Cohen's kappa {kappa}, "
                     f"{len(a['disagree']):,} disagreements" + (f": {' '.join(a['disagree'][:10])}" if a["disagree"] else ""))
    return "\n".join(lines)


COMMANDS = {"edit": cmd_edit, "remove": cmd_remove, "curators": cmd_curators}
TEXT = {"edit": text_edit, "remove": text_remove, "curators": text_curators}
FAILED = {"remove": "nothing changed: add --yes to go ahead"}
