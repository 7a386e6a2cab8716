"""The store: ``versions``, ``settings``, ``verify`` (trust nothing), ``repair``, ``audit``, ``export`` for ANN
index builders and ``register-index``."""

from __future__ import annotations

import argparse
import sys

from ..boundary import doing
from ._common import BY_HELP, acting, emit, emit_rows, store_option


def cmd_versions(args: argparse.Namespace) -> int:
    from ..store import Store

    store = Store(args.store)
    rows = [
        {"version": v.name, "method": v.method, "status": v.status, "created_at": v.created_at,
         "items": v.n_items, "dim": v.dim}
        for v in store.list_versions()
    ]
    note = store.writer_note()
    if note:
        print(f"note: {note}", file=sys.stderr)
    emit_rows(rows, ["version", "method", "status", "created_at", "items", "dim"], as_json=args.json)
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from ..store import Store, read_settings, write_settings

    store = Store(args.store)
    changes = {}
    if args.interaction is not None:
        changes["interaction"] = None if args.interaction == "automatic" else args.interaction
    settings = write_settings(store, by=acting(args, store), **changes) if changes else read_settings(store)
    emit(settings.model_dump(mode="json"))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.lifecycle import verify_store

    report = verify_store(Store(args.store), **({"key": None} if args.no_key else {}))
    emit(report)
    if report["unjudged"]:
        print("could not judge: " + "; ".join(report["unjudged"]), file=sys.stderr)
    return 0 if report["ok"] else 1 if report["problems"] else 3


def cmd_repair(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.repair import repair

    store = Store(args.store)
    report = repair(store, apply=args.apply, by=acting(args, store))
    for f in report["findings"]:
        how = "fixed" if report["applied"] and f["fixable"] else "would fix" if f["fixable"] else "left alone"
        print(f"[{how}] {f['message']}", file=sys.stderr)
    if not report["findings"]:
        print("nothing to repair", file=sys.stderr)
    elif not args.apply:
        print("dry run: nothing was changed; run again with --apply to make these fixes", file=sys.stderr)
    emit(report)
    return 1 if args.apply and report["needs_a_person"] else 0


def cmd_audit(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.lifecycle import read_audit_log

    rows = read_audit_log(Store(args.store))
    if not args.json:  # an empty (None) field, e.g. the previous version of a first publish, shows as "-"
        rows = [{**{k: "-" if v is None else v for k, v in r.items()},
                 "verified": (r.get("actor") or {}).get("verified", False)} for r in rows]
    emit_rows(rows, ["seq", "at", "action", "version", "previous", "by", "verified"], as_json=args.json)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..store import export_version, open_store

    with doing(path=args.out):
        paths = export_version(open_store(args.store), args.version, fmt=args.format, out=args.out,
                               overwrite=args.overwrite)
    emit({"version": args.version, "format": args.format, "written": paths})
    return 0


def cmd_register_index(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.lifecycle import register_index_from_export

    store = Store(args.store)
    emit(register_index_from_export(store, args.index, args.export, by=acting(args, store)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    from ..store.settings import INTERACTIONS

    p = sub.add_parser("versions", help="List the versions of a store.")
    store_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)
    p = sub.add_parser("settings", help="Show the store's settings as JSON, or set one (--interaction).")
    store_option(p)
    p.add_argument("--by", help=BY_HELP)
    p.add_argument("--interaction", choices=[*INTERACTIONS, "automatic"],
                   help="The verb of 'People who … this also …' in the app and the CLI; 'automatic' (the default) "
                   "follows each version's training data (views, purchases, plays or ratings).")
    p.set_defaults(func=cmd_settings)
    p = sub.add_parser("verify", help="Check every version, the published pointer, the audit log (its chain, its "
                       "MACs with the audit key, the policy over it) and index skew. Exit 0 ok, 1 problems found, "
                       "3 nothing wrong found but a check could not judge (no audit key).")
    store_option(p)
    p.add_argument("--no-key", action="store_true", help="Verify without the audit key even when one is set.")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("repair", help="Bring a store back to a consistent state after a crash or a hand edit "
                       "(a dry run unless --apply; recorded in the audit log; never deletes a version).")
    store_option(p)
    p.add_argument("--apply", action="store_true", help="Make the fixes (default: only say what would be done).")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_repair)
    p = sub.add_parser("audit", help="The append-only audit log of approvals, publishes and rollbacks.")
    store_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("register-index", help="Record which version an ANN index was built from.")
    store_option(p)
    p.add_argument("--index", required=True, help="Index name, e.g. main-ann.")
    p.add_argument("--export", required=True, help="The export.json written by 'export --format npy'.")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_register_index)
    p = sub.add_parser("export", help="Export a version for an ANN index builder.")
    store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--format", choices=["parquet", "npy", "jsonl"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)
