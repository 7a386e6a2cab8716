"""Command line: ``python -m behemb_core <command> …`` for offline batch jobs.

Thin by design: parse arguments, make one library call, print the result. Results go to stdout (JSON or a
table), progress to stderr. Every error goes through the one boundary of :mod:`behemb_core.boundary`: one line
``error: …`` on stderr and exit code 1 (a library error with its message, an OS error as ``<what> (<path>):
<reason>``, anything unexpected as one line naming its type; ``--debug`` adds the traceback). Usage errors exit
with 2 (argparse), success with 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from .boundary import doing, run_cli
from .errors import ConfigError
from .progress import ProgressEvent

SESSION_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")


# ---------------------------------------------------------------------------------------------------- output
class StderrProgress:
    """Render progress events as short stderr lines, at most one per percent step or stage change."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.last: tuple[str, int] | None = None
        self.t0 = time.perf_counter()

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        pct = -1 if event.fraction is None else int(event.fraction * 100)
        key = (event.stage, pct)
        if key == self.last and event.stage not in ("epoch", "trial"):
            return
        self.last = key
        head = f"{pct:3d}%" if pct >= 0 else "    "
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {head} {event.stage}: {event.message}", file=sys.stderr)


def _emit(obj: Any) -> None:
    print(json.dumps(obj, default=str, ensure_ascii=False))


# ---------------------------------------------------------------------------------------------------- inputs
def _add_input_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    g = p.add_argument_group("input data")
    g.add_argument("--input", nargs="+", required=required, metavar="PATH",
                   help="Session JSONL file(s), or event-log files/folders (CSV, TSV, Parquet, .gz).")
    g.add_argument("--format", choices=["auto", "sessions", "events", "baskets"], default="auto",
                   help="auto: .jsonl/.ndjson are sessions, everything else an event log; baskets: one session "
                        "per line, items separated by the delimiter, no header (the 'groceries' layout).")
    g.add_argument("--delimiter", help="Text files: field delimiter (default: sniffed from the first lines; "
                                       "'\\t' or 'tab' for TAB).")
    g.add_argument("--no-header", action="store_true",
                   help="Event logs: the first line is data; columns are named column_1, column_2, …")
    g.add_argument("--user-col", help="Event logs: user column (default: auto-detected).")
    g.add_argument("--item-col", help="Event logs: item column (default: auto-detected).")
    g.add_argument("--time-col", help="Event logs: timestamp column (default: auto-detected).")
    g.add_argument("--session-col", help="Event logs: session/basket id column (optional).")
    g.add_argument("--weight-col", help="Event logs: quantity/weight column (optional).")
    g.add_argument("--event-type-col", help="Event logs: event type column (optional).")
    g.add_argument("--name-col", help="Event logs: a column with item names (e.g. Description).")
    g.add_argument("--timestamp-unit", choices=["s", "ms", "us", "ns"], default=None,
                   help="Unit of numeric timestamps (default s).")
    g.add_argument("--no-auto-columns", action="store_true",
                   help="Do not auto-detect columns; only use the ones given.")
    f = p.add_argument_group("row filters (every dropped row is counted by reason)")
    f.add_argument("--keep-event-types", help="Comma-separated event types to keep.")
    f.add_argument("--exclude-items", action="append", default=[], metavar="ID[,ID…]",
                   help="Item ids to drop (e.g. POST,M,DOT). Repeatable.")
    f.add_argument("--exclude-session-prefix", help="Drop rows whose session id starts with this (e.g. C).")
    f.add_argument("--keep-nonpositive-weight", action="store_true",
                   help="Keep rows with weight <= 0 (returns); dropped by default.")
    s = p.add_argument_group("sessionization")
    s.add_argument("--gap-minutes", type=float, help="Inactivity gap that starts a new session (default 30).")
    s.add_argument("--no-session-column", action="store_true",
                   help="Ignore the session column and sessionize by the gap.")
    s.add_argument("--keep-repeats", action="store_true", help="Do not collapse consecutive repeats.")
    s.add_argument("--min-count", type=int, help="Drop items seen fewer times (default 1).")
    s.add_argument("--min-length", type=int, help="Drop sessions shorter than this (default 2).")
    s.add_argument("--max-length", type=int, help="Split sessions longer than this (default 1000).")
    m = p.add_argument_group("item metadata")
    m.add_argument("--item-meta", metavar="PATH", help="Table of item id → name (CSV/TSV/Parquet).")
    m.add_argument("--meta-id-col", help="Id column of --item-meta (default item_id, auto-detected).")
    m.add_argument("--meta-name-col", help="Name column of --item-meta (default name, auto-detected).")
    p.add_argument("--quiet", action="store_true", help="No progress on stderr.")


def _session_options(args: argparse.Namespace):
    from .sessions import SessionOptions

    values = {
        "gap_minutes": args.gap_minutes, "min_count": args.min_count, "min_length": args.min_length,
        "max_length": args.max_length,
    }
    values = {k: v for k, v in values.items() if v is not None}
    if args.no_session_column:
        values["use_session_column"] = False
    if args.keep_repeats:
        values["collapse_repeats"] = False
    return _validated(SessionOptions, values, "sessionization")


def _validated(cls, values: dict, what: str):
    from pydantic import ValidationError

    try:
        return cls(**values)
    except ValidationError as exc:
        parts = [f"{'.'.join(map(str, e['loc']))}={e.get('input')!r}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"invalid {what} option: " + "; ".join(parts)) from None


def _is_sessions(paths: Sequence[str], fmt: str) -> bool:
    if fmt != "auto":
        return fmt == "sessions"
    return all(str(p).lower().endswith(SESSION_SUFFIXES) for p in paths)


def load_dataset(args: argparse.Namespace, progress) -> Any:
    """Read ``--input`` (sessions or events) with the options given, plus ``--item-meta``."""
    with doing("read the input", " ".join(map(str, args.input))):
        return _load_dataset(args, progress)


def _load_dataset(args: argparse.Namespace, progress) -> Any:
    from .ingest import EventColumns, EventFilters, read_baskets, read_event_log, read_item_metadata
    from .ingest import read_session_jsonl

    options = _session_options(args)
    delimiter = {"\\t": "\t", "tab": "\t"}.get(args.delimiter or "", args.delimiter) or None
    if args.format == "baskets":
        dataset = read_baskets(args.input, delimiter=delimiter, options=options, progress=progress)
    elif _is_sessions(args.input, args.format):
        dataset = read_session_jsonl(args.input, options=options, progress=progress)
    else:
        cols = {
            "user": args.user_col, "item": args.item_col, "timestamp": args.time_col,
            "session": args.session_col, "weight": args.weight_col, "event_type": args.event_type_col,
        }
        if args.no_auto_columns:  # "" marks a role as absent, so nothing is detected for it
            cols = {k: ("" if v is None else v) for k, v in cols.items()}
        cols = {k: v for k, v in cols.items() if v is not None}
        if args.timestamp_unit:
            cols["timestamp_unit"] = args.timestamp_unit
        if delimiter:
            cols["delimiter"] = delimiter
        if args.no_header:
            cols["header"] = False
        columns = _validated(EventColumns, cols, "column") if cols else None
        excluded = [x.strip() for chunk in args.exclude_items for x in chunk.split(",") if x.strip()]
        filt = {
            "drop_nonpositive_weight": not args.keep_nonpositive_weight,
            "exclude_items": excluded,
            "exclude_session_prefix": args.exclude_session_prefix,
            "keep_event_types": args.keep_event_types.split(",") if args.keep_event_types else None,
        }
        filters = _validated(EventFilters, filt, "filter")
        dataset = read_event_log(
            args.input, columns=columns, filters=filters, options=options, name_column=args.name_col,
            progress=progress,
        )
    if args.item_meta:
        with doing("read the item metadata", args.item_meta):
            meta = read_item_metadata(args.item_meta, id_column=args.meta_id_col, name_column=args.meta_name_col)
        dataset = dataset.with_metadata(meta)
    return dataset


def _parse_sets(method: str, sets: list[str]) -> dict[str, Any]:
    from .methods.registry import coerce_setting

    values: dict[str, Any] = {}
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        values[key.strip()] = coerce_setting(method, key.strip(), text)
    return values


# ---------------------------------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    from .content import read_content_vectors
    from .errors import VersionExistsError
    from .store import open_store
    from .train import train_version

    from .methods.registry import parse_config

    progress = StderrProgress(args.quiet)
    config = parse_config(args.method, _parse_sets(args.method, args.set))  # fail before reading any data
    if args.method != "fusion" and (args.base_version or args.content_vectors):
        raise ConfigError("--base-version and --content-vectors are for --method fusion")
    if not args.input and not (args.method == "fusion" and args.base_version):
        raise ConfigError(f"--method {args.method} needs --input (fusion may instead use --base-version)")
    store = open_store(args.store)
    if args.version is not None and store.exists(args.version):  # validates the name too, before any data
        raise VersionExistsError(f"version {args.version!r} already exists in {store.url}; versions are immutable")
    dataset = load_dataset(args, progress) if args.input else None
    meta = None
    if dataset is None and args.item_meta:
        from .ingest import read_item_metadata

        with doing("read the item metadata", args.item_meta):
            meta = read_item_metadata(args.item_meta, id_column=args.meta_id_col, name_column=args.meta_name_col)
    content = None
    if args.content_vectors:
        with doing("read the content vectors", args.content_vectors):
            content = read_content_vectors(args.content_vectors, id_column=args.content_id_col)
    with doing(path=store.url):
        summary = train_version(
            store, args.method, config, dataset=dataset, seed=args.seed, name=args.version, content=content,
            base_version=args.base_version, item_meta=meta, evaluate=args.evaluate, noise_floor=args.noise_floor,
            progress=progress,
        )
    _emit(summary)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from .errors import VersionExistsError
    from .methods.registry import parse_config
    from .store import Store
    from .tuning import search_space, tune_and_train

    progress = StderrProgress(args.quiet)
    search_space(args.method)  # fusion and unknown methods fail before any data is read
    config = parse_config(args.method, _parse_sets(args.method, args.set))
    if not args.budget_minutes >= 0:
        raise ConfigError(f"--budget-minutes must be 0 or more, got {args.budget_minutes}")
    store = Store(args.store)
    if args.version is not None and store.exists(args.version):  # validates the name too
        raise VersionExistsError(f"version {args.version!r} already exists in {store.url}; versions are immutable")
    dataset = load_dataset(args, progress)
    summary = tune_and_train(
        store, args.method, dataset=dataset, budget_seconds=args.budget_minutes * 60, seed=args.seed,
        name=args.version, evaluate=args.evaluate, base_config=config, progress=progress,
    )
    _emit(summary)
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from .ingest import summarize

    dataset = load_dataset(args, StderrProgress(args.quiet))
    _emit(summarize(dataset))
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from .store import Store

    store = Store(args.store)
    rows = [
        {"version": v.name, "method": v.method, "status": v.status, "created_at": v.created_at,
         "items": v.n_items, "dim": v.dim}
        for v in store.list_versions()
    ]
    note = store.writer_note()
    if note:
        print(f"note: {note}", file=sys.stderr)
    _emit_rows(rows, ["version", "method", "status", "created_at", "items", "dim"], as_json=args.json)
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    from .neighbors import item_neighbors
    from .store import Store

    if args.item is None and not (args.items_file or args.all):
        raise ConfigError("neighbors needs one of --item ID, --items-file FILE or --all")
    if (args.items_file or args.all) and not args.output:
        raise ConfigError("--items-file and --all write a file: give --output PATH.csv or PATH.parquet")
    if args.explain and args.output:
        raise ConfigError("--explain shows one item's evidence and cannot be combined with --output")
    store = Store(args.store)
    stored = store.load_version(args.version)
    emb = stored.embeddings
    names = stored.item_meta.names_for(emb.vocab.ids) if stored.item_meta is not None else None
    if args.output:
        return _export_neighbors(args, store, emb, names)
    if args.explain:
        return _explain(args, stored, names)
    try:
        rows = item_neighbors(emb, args.item, args.k, names=names)
    except KeyError:
        raise ConfigError(f"item {args.item!r} has no vector in version {args.version!r}") from None
    if args.json:
        query = {"item_id": args.item}
        if names is not None:
            query["name"] = str(names[emb.vocab.code(_typed_id(emb, args.item))])
        _emit({"version": args.version, "query": query, "neighbors": rows})
    else:
        from .store import interaction_verb

        verb = interaction_verb(store, stored.manifest)
        name = f" ({names[emb.vocab.code(_typed_id(emb, args.item))]})" if names is not None else ""
        print(f"# People who {verb} {args.item}{name} also {verb}:")
        _print_table(rows, ["rank", "item_id", "score", *(["name"] if names is not None else [])])
    return 0


def _export_neighbors(args: argparse.Namespace, store, emb, names) -> int:
    from .neighbor_export import export_neighbors, read_item_list

    items = [args.item] if args.item is not None else read_item_list(args.items_file) if args.items_file else None
    result = export_neighbors(emb, args.output, k=args.k, items=items, names=names,
                              store_root=store.root if store.is_local else None, overwrite=args.overwrite,
                              progress=StderrProgress(args.quiet))
    if result.unknown:
        shown = ", ".join(result.unknown[:20]) + (" …" if len(result.unknown) > 20 else "")
        print(f"warning: {len(result.unknown)} of {result.queries + len(result.unknown)} item ids are not in version "
              f"{args.version!r} and have no rows: {shown}", file=sys.stderr)
    _emit({"version": args.version, "k": args.k, **result.summary()})
    return 0


def _explain(args: argparse.Namespace, stored, names) -> int:
    from .explain import explain_version

    if not args.input:
        raise ConfigError("--explain needs the sessions as evidence: give --input (and its options)")
    dataset = load_dataset(args, StderrProgress(args.quiet))
    try:
        report = explain_version(stored, dataset.sessions, args.item, k=args.k, names=names, examples=args.examples)
    except KeyError:
        raise ConfigError(f"item {args.item!r} has no vector in version {args.version!r}") from None
    if args.json:
        _emit({"version": args.version, **report})
        return 0
    if report["note"]:
        print(f"# {report['note']}")
    if report["without_direct_support"] is None:
        _print_table(report["neighbors"], ["rank", "item_id", "score", *(["name"] if names is not None else [])])
        return 0
    q = report["query"]
    print(f"# {q['item_id']}: {q.get('name') or ''} — in {q['sessions']} sessions; window {report['window']}")
    rows = [
        {**r, "support": "none (embedding only)" if r["no_direct_support"] else "direct"} for r in report["neighbors"]
    ]
    _print_table(rows, ["rank", "item_id", "score", "cooccurrences", "sessions_together", "ppmi", "support",
                        *(["name"] if names is not None else [])])
    print(f"{report['without_direct_support']} of {len(rows)} neighbours have no direct co-occurrence support.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import time_split
    from .quality import evaluate_method, evaluate_version

    ks = _int_list(args.k, "--k")
    progress = StderrProgress(args.quiet)
    if args.store and args.version:
        from .store import Store

        stored = Store(args.store).load_version(args.version)
        dataset = load_dataset(args, progress)
        if args.all_heldout:
            report = evaluate_version(stored.embeddings, dataset.sessions, item_stats=stored.item_stats, ks=ks,
                                      n_boot=args.bootstrap, name=args.version)
        else:
            train, test = time_split(dataset.sessions, holdout=args.holdout)
            report = evaluate_version(stored.embeddings, test, train=train, ks=ks, n_boot=args.bootstrap,
                                      name=args.version)
            fp = stored.manifest.get("dataset", {}).get("fingerprint")
            if fp == dataset.sessions.fingerprint():
                report.setdefault("notes", []).append(
                    "this version was trained on these very sessions, held-out part included: its numbers are "
                    "optimistic; evaluate the method (--method) or use newer sessions (--all-heldout)"
                )
    elif args.method:
        dataset = load_dataset(args, progress)
        config = _parse_sets(args.method, args.set)
        report = evaluate_method(
            dataset.sessions, args.method, config, seeds=_int_list(args.seeds, "--seeds"), ks=ks,
            holdout=args.holdout, split=args.split, n_boot=args.bootstrap, progress=progress,
        )
    else:
        raise ConfigError("evaluate needs --method (train on a split) or --store and --version (a stored version)")
    _emit(report)
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from .diagnostics import popularity_diagnostics
    from .store import Store

    stored = Store(args.store).load_version(args.version)
    report = popularity_diagnostics(stored.embeddings, stored.item_stats, k=args.k,
                                    method=stored.manifest.get("method"))
    _emit({"version": args.version, **report})
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_stored, neighbor_overlap, overlap_table, version_names
    from .store import Store

    store = Store(args.store)
    a, b = store.load_version(args.a), store.load_version(args.b)
    report = compare_stored(a, b, k=args.k)
    report.pop("evaluations", None)  # the per-method blocks are in "quality"; full reports stay in the manifests
    if args.csv:
        result = neighbor_overlap(a.embeddings, b.embeddings, k=args.k)
        stats = b.item_stats if b.item_stats is not None else a.item_stats
        pop = None if stats is None else stats.set_index("item_id")["events"]
        overlap_table(result, names=version_names(a, b), popularity=pop).to_csv(args.csv, index=False)
        report["csv"] = args.csv
    _emit(report)
    return 0


def _who(args: argparse.Namespace) -> str:
    import getpass

    return args.by or getpass.getuser()


def cmd_approve(args: argparse.Namespace) -> int:
    from .signoff import signoff_checks
    from .store import Store
    from .store.lifecycle import ApprovalRefused, approve

    store = Store(args.store)
    checks, _ = signoff_checks(store, args.version, progress=StderrProgress(args.quiet))
    for c in checks:
        why = f" — could not judge: {c.could_not_judge}" if c.could_not_judge else ""
        print(f"[{c.state}] {c.name}: {c.shown_value} ({c.threshold}) {c.detail}{why}", file=sys.stderr)
    try:
        record = approve(store, args.version, by=args.by, checks=checks, note=args.note,
                         acknowledge=args.acknowledge, override=args.override)
    except ApprovalRefused as exc:
        acks = [f"--acknowledge \"{f['name']}\"" for f in exc.failed if f.get("acknowledgeable")]
        hint = (f"to approve anyway, add {' '.join(acks)}" if acks else "")
        if len(acks) < len(exc.failed):
            hint += (" and " if hint else "to approve anyway, add ") + "--override (recorded)"
        raise ConfigError(f"{exc} ({hint})") from None
    _emit({"version": args.version, "status": "approved", "by": record["by"], "override": record["override"],
           "failed": record["failed"], "acknowledged": record["acknowledged"]})
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.lifecycle import publish

    _emit(publish(Store(args.store), args.version, by=_who(args)))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.lifecycle import rollback

    _emit(rollback(Store(args.store), by=_who(args), to=args.to))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.lifecycle import verify_store

    report = verify_store(Store(args.store))
    _emit(report)
    return 0 if report["ok"] else 1


def cmd_repair(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.recovery import repair

    report = repair(Store(args.store), apply=args.apply, by=_who(args))
    for f in report["findings"]:
        how = "fixed" if report["applied"] and f["fixable"] else "would fix" if f["fixable"] else "left alone"
        print(f"[{how}] {f['message']}", file=sys.stderr)
    if not report["findings"]:
        print("nothing to repair", file=sys.stderr)
    elif not args.apply:
        print("dry run: nothing was changed; run again with --apply to make these fixes", file=sys.stderr)
    _emit(report)
    return 1 if args.apply and report["needs_a_person"] else 0


def cmd_audit(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.lifecycle import read_audit_log

    rows = read_audit_log(Store(args.store))
    _emit_rows(rows, ["seq", "at", "action", "version", "previous", "by"], as_json=args.json)
    return 0


def cmd_register_index(args: argparse.Namespace) -> int:
    from .store import Store
    from .store.lifecycle import register_index_from_export

    _emit(register_index_from_export(Store(args.store), args.index, args.export, by=args.by))
    return 0


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} expects comma-separated integers, got {text!r}") from None


def _typed_id(emb, text: str):
    from .vocab import parse_id_like

    return parse_id_like(text, emb.vocab.kind)


def cmd_export(args: argparse.Namespace) -> int:
    from .store import export_version, open_store

    with doing(path=args.out):
        paths = export_version(open_store(args.store), args.version, fmt=args.format, out=args.out,
                               overwrite=args.overwrite)
    _emit({"version": args.version, "format": args.format, "written": paths})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_FILE, load_demo_dataset
    from .neighbors import item_neighbors
    from .store import Store, interaction_verb
    from .train import train_version

    progress = StderrProgress(args.quiet)
    store = Store(args.store)
    dataset = load_demo_dataset(DEMO_FILE, progress=progress)
    summary = train_version(store, args.method, {"dim": 64}, dataset=dataset, seed=0, progress=progress)
    stored = store.load_version(summary["version"])
    names = stored.item_meta.names_for(stored.embeddings.vocab.ids)
    query = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the best seller
    print(f"Trained {summary['version']} ({summary['items']} items, {summary['seconds']} s) on {DEMO_FILE.name}")
    print(f"Store: {store.url}   Next: python -m behemb_core neighbors --store {store.url} "
          f"--version {summary['version']} --item <ID>\n")
    verb = interaction_verb(store, stored.manifest)
    print(f"People who {verb} {query} ({names[stored.embeddings.vocab.code(query)]}) also {verb}:")
    _print_table(item_neighbors(stored.embeddings, query, 10, names=names), ["rank", "item_id", "score", "name"])
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from .store import Store, read_settings, write_settings

    store = Store(args.store)
    changes = {}
    if args.interaction is not None:
        changes["interaction"] = None if args.interaction == "automatic" else args.interaction
    settings = write_settings(store, **changes) if changes else read_settings(store)
    _emit(settings.model_dump(mode="json"))
    return 0


def _emit_rows(rows: list[dict], columns: list[str], *, as_json: bool) -> None:
    if as_json:
        _emit(rows)
    else:
        _print_table(rows, columns)


def _print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


# ---------------------------------------------------------------------------------------------------- parser
def _store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default="./store", help="Store folder or fsspec URL (default ./store).")


def build_parser() -> argparse.ArgumentParser:
    from .methods.registry import METHODS
    from .store.settings import INTERACTIONS

    parser = argparse.ArgumentParser(prog="python -m behemb_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="Train a method and save a draft version to a store.")
    _add_input_options(p, required=False)
    p.add_argument("--method", required=True, choices=sorted(METHODS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="Method parameter (repeatable), e.g. --set dim=64 --set window=3.")
    p.add_argument("--seed", type=int, default=0)
    _store_option(p)
    p.add_argument("--version", help="Version name (default: generated, e.g. ppmi_v3).")
    p.add_argument("--base-version", help="Fusion: the stored behaviour version to fuse with content.")
    p.add_argument("--content-vectors", metavar="PATH", help="Fusion: item id → vector table (Parquet/CSV/NPY).")
    p.add_argument("--content-id-col", default="item_id", help="Id column of --content-vectors.")
    p.add_argument("--evaluate", action="store_true",
                   help="Also evaluate the method on a time split against the baselines and store the report "
                   "with the version (sign-off uses it; costs a second training run).")
    p.add_argument("--noise-floor", action="store_true",
                   help="Also retrain with seed+1 and store the neighbour overlap of the two runs (retraining "
                   "noise), so comparisons can tell a real change from noise.")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="Tune a method's parameters on a validation split, then train the winner.")
    _add_input_options(p, required=True)
    p.add_argument("--method", required=True, choices=sorted(METHODS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="Starting config (repeatable); parameters the search does not vary keep these values.")
    p.add_argument("--budget-minutes", type=float, default=10.0,
                   help="Stop starting new trials after this long (default 10); the best so far wins.")
    p.add_argument("--seed", type=int, default=0)
    _store_option(p)
    p.add_argument("--version", help="Version name (default: generated, e.g. cs_v3).")
    p.add_argument("--evaluate", action="store_true",
                   help="Also evaluate the winner on the hold-out the tuner never read, against the baselines.")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("demo", help="Train on the bundled Online Retail demo and show neighbours.")
    p.add_argument("--store", default="data/store", help="Store folder (default data/store).")
    p.add_argument("--method", default="cooc_softmax", choices=sorted(METHODS))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("settings", help="Show the store's settings as JSON, or set one (--interaction).")
    _store_option(p)
    p.add_argument("--interaction", choices=[*INTERACTIONS, "automatic"],
                   help="The verb of 'People who … this also …' in the app and the CLI; 'automatic' (the default) "
                   "follows each version's training data (views, purchases, plays or ratings).")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("summarize", help="Print the dataset summary as JSON.")
    _add_input_options(p, required=True)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("versions", help="List the versions of a store.")
    _store_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("neighbors", help="Top-k neighbours of an item by cosine (--explain: with evidence).")
    _add_input_options(p, required=False)
    _store_option(p)
    p.add_argument("--version", required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--item", help="One item id.")
    which.add_argument("--items-file", help="Bulk export: a file of item ids, one per line (or a CSV whose first "
                       "column is item_id); ids not in the version are reported on stderr and in the summary.")
    which.add_argument("--all", action="store_true", help="Bulk export: every item of the version.")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--output", help="Write the exact top-k to PATH.csv or PATH.parquet (columns query_item_id, "
                   "query_name, rank, item_id, name, score), atomically and never inside the store; prints a JSON "
                   "summary.")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    p.add_argument("--explain", action="store_true",
                   help="Show co-occurrence evidence for each neighbour from the sessions in --input.")
    p.add_argument("--examples", type=int, default=2, help="Example sessions per neighbour with --explain.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neighbors)

    p = sub.add_parser("evaluate", help="Held-out next-item quality with most-popular and item-kNN baselines.")
    _add_input_options(p, required=True)
    p.add_argument("--method", choices=sorted(METHODS), help="Train this method on the split and evaluate it.")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--seeds", default="0", help="Comma-separated seeds; several give the spread (default 0).")
    p.add_argument("--store", help="With --version: evaluate a stored version instead.")
    p.add_argument("--version")
    p.add_argument("--all-heldout", action="store_true",
                   help="Stored version: treat all of --input as held-out (newer sessions).")
    p.add_argument("--k", default="10", help="Comma-separated cut-offs (default 10).")
    p.add_argument("--holdout", type=float, default=0.1, help="Share of sessions held out (default 0.1).")
    p.add_argument("--split", choices=["time", "random"], default="time")
    p.add_argument("--bootstrap", type=int, default=200, help="Bootstrap resamples for intervals (0 = none).")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("diagnose", help="Popularity-collapse diagnostics of a version (JSON).")
    _store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("-k", type=int, default=10)
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("compare", help="Stability of neighbour lists between two versions (JSON).")
    _store_option(p)
    p.add_argument("a", help="The reference version (e.g. the published one).")
    p.add_argument("b", help="The candidate version.")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--csv", help="Also write per-item overlaps (item_id, name, popularity, jaccard, rbo) here.")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("approve", help="Run the sign-off checks and record an approval.")
    _store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--by", required=True, help="Who approves (recorded).")
    p.add_argument("--note", help="Why (recorded).")
    p.add_argument("--acknowledge", action="append", default=[], metavar="CHECK",
                   help="Accept a warning by name (repeatable): a failed judgement call or a check that could "
                        "not judge, e.g. 'quality vs item-kNN', 'same catalogue as published'.")
    p.add_argument("--override", action="store_true", help="Approve despite failed checks (recorded).")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("publish", help="Publish an approved version (moves the published pointer).")
    _store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--by", help="Who publishes (default: the current user).")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("rollback", help="Re-publish an earlier approved version (default: the previous one).")
    _store_option(p)
    p.add_argument("--to", help="The approved version to publish again.")
    p.add_argument("--by", help="Who rolls back (default: the current user).")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("verify", help="Check every version, the published pointer, the audit log and index skew.")
    _store_option(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("repair", help="Bring a store back to a consistent state after a crash or a hand edit "
                       "(a dry run unless --apply; recorded in the audit log; never deletes a version).")
    _store_option(p)
    p.add_argument("--apply", action="store_true", help="Make the fixes (default: only say what would be done).")
    p.add_argument("--by", help="Who repairs (recorded; default: the login name).")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("audit", help="The append-only audit log of approvals, publishes and rollbacks.")
    _store_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("register-index", help="Record which version an ANN index was built from.")
    _store_option(p)
    p.add_argument("--index", required=True, help="Index name, e.g. main-ann.")
    p.add_argument("--export", required=True, help="The export.json written by 'export --format npy'.")
    p.add_argument("--by")
    p.set_defaults(func=cmd_register_index)

    p = sub.add_parser("export", help="Export a version for an ANN index builder.")
    _store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--format", choices=["parquet", "npy", "jsonl"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    debug_help = "On an error, print the traceback too (normally one line 'error: …')."
    parser.add_argument("--debug", action="store_true", help=debug_help)
    for p in sub.choices.values():  # also accepted after the command
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit codes: 0 success, 1 any error (one line ``error: …`` on stderr), 2 usage
    (argparse), 130 interrupted. ``verify`` also exits 1 when the store fails its checks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_cli(lambda: _dispatch(args), debug=args.debug)


def _dispatch(args: argparse.Namespace) -> int:
    """The command, with the ``--store`` location checked first (a file, a path under a file, an unknown
    protocol or a missing backend package is one clear sentence, before anything is read or written)."""
    from .store import check_store_location

    location = getattr(args, "store", None)
    if location:
        check_store_location(location)
    with doing(path=location):
        return args.func(args)
