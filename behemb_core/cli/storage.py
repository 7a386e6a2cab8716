"""The store: ``versions``, ``settings``, ``verify`` (trust nothing), ``repair``, ``audit``, ``export`` for ANN
index builders (``--format faiss`` builds, measures and registers the index itself) and ``register-index``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..boundary import doing
from ..errors import ConfigError, StoreError
from ._common import BY_HELP, StderrProgress, acting, emit, emit_rows, store_option


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


#: ``export --format faiss`` options → the :class:`~behemb_core.ann.index.AnnParams` field each sets.
ANN_FLAGS = {"ann_m": ("--ann-m", "m"), "ann_ef_construction": ("--ann-ef-construction", "ef_construction"),
             "ann_ef_search": ("--ann-ef-search", "ef_search")}


def ann_params_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~behemb_core.ann.index.AnnParams` the ``--ann-*`` options give (defaults for those not given);
    ConfigError naming the flag and what it expects when a value is out of range."""
    from pydantic import ValidationError

    from ..ann.index import AnnParams

    given = {field: getattr(args, dest) for dest, (_flag, field) in ANN_FLAGS.items()
             if getattr(args, dest, None) is not None}
    try:
        return AnnParams(**given)
    except ValidationError as exc:
        flags = {field: flag for flag, field in ANN_FLAGS.values()}
        said = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            said.append(f"{flags.get(loc[0], loc[0])} {err.get('input')!r}: {msg}" if loc else
                        f"{msg} (set with --ann-ef-construction and --ann-m)")
        raise ConfigError("invalid ANN index parameters: " + "; ".join(said)) from None


def measurement_summary(m: dict[str, Any] | None) -> dict[str, Any] | None:
    """The recall measurement of an index record in short: recall@k overall, by band, on the golden pairs'
    items, queries per second beside exact search and the smallest ef reaching the target."""
    if not m:
        return None
    golden = m.get("golden")
    return {"k": m.get("k"), "ef_search": m.get("ef_search"), "queries": m.get("queries"), "recall": m.get("recall"),
            "bands": {b: v.get("recall") for b, v in (m.get("bands") or {}).items()} or None,
            "worst_band": m.get("worst_band"), "golden": None if golden is None else golden.get("recall"),
            "queries_per_second": m.get("queries_per_second"),
            "exact_queries_per_second": m.get("exact_queries_per_second"),
            "target": m.get("target"), "ef_for_target": m.get("ef_for_target")}


def cmd_export(args: argparse.Namespace) -> int:
    from ..store import export_version, open_store

    if args.format != "faiss":
        used = [flag for dest, (flag, _f) in ANN_FLAGS.items() if getattr(args, dest) is not None]
        used += ["--index-name"] * (args.index_name is not None) + ["--no-register"] * args.no_register
        used += ["--mode"] * (args.mode is not None)
        if used:
            raise ConfigError(f"{', '.join(used)} only apply to --format faiss (an ANN index is built only then)")
        with doing(path=args.out):
            paths = export_version(open_store(args.store), args.version, fmt=args.format, out=args.out,
                                   overwrite=args.overwrite)
        emit({"version": args.version, "format": args.format, "written": paths})
        return 0
    return _export_faiss(args)


def _export_faiss(args: argparse.Namespace) -> int:
    """``export --format faiss``: build (or reuse), measure, write and register in one library call."""
    from ..ann.export import export_faiss
    from ..ann.modes import DEFAULT_INDEX_NAMES, resolve_mode
    from ..store import open_store
    from ..store.names import validate_version_name

    params = ann_params_from_args(args)
    if args.index_name is not None:
        try:
            validate_version_name(args.index_name)
        except StoreError as exc:
            raise ConfigError(f"--index-name {args.index_name!r}: {str(exc).replace('version name', 'name')}") from None
    store = open_store(args.store)
    mode = resolve_mode(store.manifest(args.version), args.version, args.mode)
    name = None if args.no_register else (args.index_name or DEFAULT_INDEX_NAMES[mode])
    with doing(path=args.out):
        result = export_faiss(store, args.version, out=args.out, overwrite=args.overwrite, params=params,
                              register_as=name, by=acting(args, store), mode=mode,
                              progress=StderrProgress(args.quiet))
    record, reg = result["record"], result["registered"]
    summary = measurement_summary(record.get("measurement"))
    if summary is not None and not args.quiet:
        bands = ", ".join(f"{b} {r:.3f}" for b, r in (summary["bands"] or {}).items() if r is not None)
        print(f"recall@{summary['k']} {summary['recall']:.3f} at ef_search {summary['ef_search']}"
              + (f" ({bands})" if bands else "") + f"; {summary['queries_per_second']:,.0f} queries/s beside "
              f"{summary['exact_queries_per_second']:,.0f} exact", file=sys.stderr)
    registered = None if reg is None else {k: reg.get(k) for k in (
        "index", "version", "embeddings_sha256", "index_file", "index_sha256", "by", "at")}
    emit({"version": args.version, "format": "faiss", "mode": record.get("mode", "also"), "written": result["paths"],
          "params": record.get("params"),
          "index_sha256": record.get("index_sha256"), "registered": registered, "measurement": summary})
    return 0


def cmd_register_index(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.indexes import register_index_from_export

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
    p.add_argument("--export", required=True, help="The export.json written by 'export --format npy' or "
                   "'--format faiss' (then the index file and its sha256 are recorded too, so verify checks them).")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_register_index)
    p = sub.add_parser("export", help="Export a version for an ANN index builder, or (--format faiss) build, "
                       "measure and register the ANN index itself.")
    store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--format", choices=["parquet", "npy", "jsonl", "faiss"], required=True,
                   help="faiss: the folder --out gets index.faiss (HNSW, inner product), ids.json and export.json "
                   "(the index's sha256, parameters and recall measurement); the index is kept with the version and "
                   "registered (--index-name) in the same step.")
    p.add_argument("--out", required=True)
    p.add_argument("--overwrite", action="store_true")
    names = _default_index_names()
    p.add_argument("--index-name", help=f"faiss: register the index under this name (default: {names['also']} for "
                   f"an 'also viewed' index, {names['next']} for a 'next item' one; a name serves one mode for good).")
    p.add_argument("--no-register", action="store_true", help="faiss: build, measure and export, but register "
                   "nothing (the index is still kept with the version).")
    defaults = _ann_defaults()
    for dest, (flag, field) in ANN_FLAGS.items():
        p.add_argument(flag, dest=dest, type=int, metavar="N",
                       help=f"faiss: {field} (default {defaults[field]}).")
    p.add_argument("--mode", choices=["also", "next"], help="faiss: the ranking the index serves — also: over the "
                   "symmetric vectors, queried with them; next: over the candidate vectors K, queried with the query "
                   "vectors Q (written beside it as query.npy), for versions with directional tables (default: the "
                   "version's serves).")
    p.add_argument("--by", help=BY_HELP)
    p.add_argument("--quiet", action="store_true", help="No progress on stderr.")
    p.set_defaults(func=cmd_export)


def _default_index_names() -> dict[str, str]:
    from ..store.indexes import DEFAULT_INDEX_NAMES

    return dict(DEFAULT_INDEX_NAMES)


def _ann_defaults() -> dict[str, Any]:
    from ..ann.index import AnnParams

    return {name: field.default for name, field in AnnParams.model_fields.items()}
