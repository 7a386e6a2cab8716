"""Looking at versions: ``neighbors`` (one item, a list, or the whole catalogue; ``--mode also`` — "also viewed",
cosine — or ``--mode next`` — what people go on to next, ``Q_a · K_b`` of the version's directional tables;
``--explain`` with evidence),
``evaluate`` (held-out quality with baselines), ``diagnose`` (popularity collapse) and ``compare`` (stability)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ConfigError
from ._common import StderrProgress, emit, int_list, parse_sets, print_table, store_option, typed_id
from .data import add_input_options, load_dataset, recorded_dataset


def cmd_neighbors(args: argparse.Namespace) -> int:
    from ..neighbors import item_neighbors, next_item_neighbors, require_next_tables
    from ..store import Store

    if args.item is None and not (args.items_file or args.all):
        raise ConfigError("neighbors needs one of --item ID, --items-file FILE or --all")
    if args.served and (args.items_file or args.all or args.output or args.explain):
        raise ConfigError("--served shows one item's exact and served lists side by side: give --item ID, without "
                          "--items-file, --all, --output or --explain")
    if (args.items_file or args.all) and not args.output:
        raise ConfigError("--items-file and --all write a file: give --output PATH.csv or PATH.parquet")
    if args.explain and args.output:
        raise ConfigError("--explain shows one item's evidence and cannot be combined with --output")
    nxt = args.mode == "next"
    store = Store(args.store)
    if args.version is None:
        args.version = _published(store)
    stored = store.load_version(args.version)
    emb = stored.embeddings
    pair = require_next_tables(stored.directional, args.version) if nxt else None
    names = stored.item_meta.names_for(emb.vocab.ids) if stored.item_meta is not None else None
    if args.output:
        return _export_neighbors(args, store, emb, names, pair)
    if args.explain:
        return _explain(args, stored, names)
    try:
        rows = (next_item_neighbors(emb, pair, args.item, args.k, names=names, version=args.version) if nxt
                else item_neighbors(emb, args.item, args.k, names=names))
    except KeyError:
        raise ConfigError(f"item {args.item!r} has no vector in version {args.version!r}") from None
    served = _served(store, stored, args.item, args.k, names, args.mode) if args.served else None
    if args.served and served is None:  # no index of the mode, and too many items to build one in memory
        print(f"note: no '{args.mode}' ANN index was built for {args.version}, and at {len(emb):,} items none is "
              f"built in memory: build one with `export --format faiss --mode {args.mode}` to see what it serves",
              file=sys.stderr)
    if args.json:
        query = {"item_id": args.item}
        if names is not None:
            query["name"] = str(names[emb.vocab.code(typed_id(emb, args.item))])
        emit({"version": args.version, "mode": args.mode, "query": query, "neighbors": rows,
              **({"served": served} if args.served else {})})
    else:
        from ..store import interaction_verb

        verb = interaction_verb(store, stored.manifest)
        name = f" ({names[emb.vocab.code(typed_id(emb, args.item))]})" if names is not None else ""
        if nxt:
            print(f"# After {args.item}{name}, people go on to (ranked by query · candidate):")
        else:
            print(f"# People who {verb} {args.item}{name} also {verb}:")
        print_table(rows, ["rank", "item_id", "score", *(["name"] if names is not None else [])])
        if served is not None:
            print()
            print("# Served by the ANN index:")
            print_table([{**r, "exact_rank": "-" if r["exact_rank"] is None else r["exact_rank"]}
                         for r in served["served"]],
                        ["rank", "item_id", "score", "exact_rank", *(["name"] if names is not None else [])])
            print(f"# {served_difference(served)}")
            print(f"# {served_source(served['source'])}")
    return 0


def _served(store: Any, stored: Any, item: str, k: int, names: Any, mode: str) -> Any:
    """The item's exact and served lists of ``mode`` (:func:`~behemb_core.ann.served.served_neighbors`: the index
    of that mode, over the symmetric vectors or, for ``next``, over K queried with Q; one built in memory when the
    version has none), a ConfigError when the version has no vector for the item."""
    from ..ann.served import served_neighbors

    try:
        return served_neighbors(store, stored, item, k, names=names, build_if_missing=True, mode=mode)
    except KeyError:
        raise ConfigError(f"item {item!r} has no vector in version {stored.name!r}") from None


def served_difference(served: Any) -> str:
    """What differs between the exact and the served list, in one line."""
    n = len(served["exact"])
    if served["same"]:
        same_order = [r["item_id"] for r in served["exact"]] == [r["item_id"] for r in served["served"]]
        order = "the same" if same_order else "another"
        return f"the index serves the same {n} neighbors as exact search, in {order} order"
    return (f"the index serves {len(served['served']) - len(served['only_served'])} of the exact top {n}; not in "
            f"the exact top {n}: {', '.join(map(str, served['only_served'])) or 'none'}; exact neighbors the index "
            f"misses: {', '.join(map(str, served['only_exact'])) or 'none'}")


def served_source(source: dict[str, Any]) -> str:
    """Where the served list comes from, in one line."""
    p = source.get("params") or {}
    params = f"m={p.get('m')}, ef_construction={p.get('ef_construction')}, ef_search={p.get('ef_search')}"
    if source["kind"] == "memory":
        return (f"no index was built for this version; shown is what an index built with the default parameters "
                f"({params}) would serve (nothing stored); build one on the Publish page")
    m = source.get("measurement")
    recall = (f"measured recall@{m.get('k')} {float(m['recall']):.3f}" if isinstance(m, dict)
              and m.get("recall") is not None else "no recall measured")
    where = (f"the registered index {source.get('name')!r}" if source["kind"] == "registered"
             else "the index kept with the version (not registered)")
    if source.get("mode") == "next":
        where += ", over K queried with Q"
    copy = (f" (its registered file {source['registered_file']} cannot be read here: the kept index with the same "
            "bytes)" if source.get("registered_file") else "")
    return f"served by {where}: {source.get('build')} ({params}), {recall}; file {source.get('index_file')}{copy}"


def _published(store: Any) -> str:
    """The published version of ``store`` (what ``--version`` defaults to), or a ConfigError saying to give one."""
    from ..store import published_version

    version = published_version(store)
    if version is None:
        raise ConfigError(f"nothing is published in {store.url}: give --version (see 'versions' for the names)")
    print(f"# version {version} (the published one)", file=sys.stderr)
    return version


def _export_neighbors(args: argparse.Namespace, store, emb, names, pair=None) -> int:
    from ..neighbor_export import export_neighbors, read_item_list

    items = [args.item] if args.item is not None else read_item_list(args.items_file) if args.items_file else None
    result = export_neighbors(emb, args.output, k=args.k, items=items, names=names,
                              store_root=store.root if store.is_local else None, overwrite=args.overwrite,
                              progress=StderrProgress(args.quiet), pair=pair)
    if result.unknown:
        shown = ", ".join(result.unknown[:20]) + (" …" if len(result.unknown) > 20 else "")
        print(f"warning: {len(result.unknown)} of {result.queries + len(result.unknown)} item ids are not in version "
              f"{args.version!r} and have no rows: {shown}", file=sys.stderr)
    emit({"version": args.version, "mode": args.mode, "k": args.k, **result.summary()})
    return 0


def _explain(args: argparse.Namespace, stored, names) -> int:
    from ..explain import explain_version

    if not args.input:
        raise ConfigError("--explain needs the sessions as evidence: give --input (and its options)")
    dataset = load_dataset(args, StderrProgress(args.quiet))
    try:
        report = explain_version(stored, dataset.sessions, args.item, k=args.k, names=names, examples=args.examples,
                                 mode=args.mode)
    except KeyError:
        raise ConfigError(f"item {args.item!r} has no vector in version {args.version!r}") from None
    if args.json:
        emit({"version": args.version, **report})
        return 0
    if report["note"]:
        print(f"# {report['note']}")
    if report["without_direct_support"] is None:
        print_table(report["neighbors"], ["rank", "item_id", "score", *(["name"] if names is not None else [])])
        return 0
    q = report["query"]
    print(f"# {q['item_id']}: {q.get('name') or ''} — in {q['sessions']} sessions; window {report['window']}")
    rows = [
        {**r, "support": "none (embedding only)" if r["no_direct_support"] else "direct"} for r in report["neighbors"]
    ]
    if args.mode == "next":  # the forward co-occurrence: how often b came after (and before) the item
        print_table(rows, ["rank", "item_id", "score", "forward", "forward_count", "backward_count",
                           "sessions_together", "support", *(["name"] if names is not None else [])])
        print(f"{report['without_direct_support']} of {len(rows)} neighbors never came after the item within the "
              "window.")
        return 0
    print_table(rows, ["rank", "item_id", "score", "cooccurrences", "sessions_together", "ppmi", "support",
                        *(["name"] if names is not None else [])])
    print(f"{report['without_direct_support']} of {len(rows)} neighbors have no direct co-occurrence support.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate_method, evaluate_stored

    ks = int_list(args.k, "--k")
    progress = StderrProgress(args.quiet)
    if args.version:
        from ..store import Store

        stored = Store(args.store).load_version(args.version)
        if args.input:
            dataset = load_dataset(args, progress)
        elif args.all_heldout:
            raise ConfigError("--all-heldout treats --input as newer, held-out sessions: give --input (without it "
                              "the version is evaluated on its own training data)")
        else:
            dataset = recorded_dataset(args, stored.manifest, progress)
        report = evaluate_stored(stored, dataset.sessions, all_heldout=args.all_heldout, holdout=args.holdout,
                                 ks=ks, n_boot=args.bootstrap)
    elif args.method:
        if not args.input:
            raise ConfigError("evaluate --method trains on a split of the data: give --input (and its options)")
        dataset = load_dataset(args, progress)
        config = parse_sets(args.method, args.set)
        report = evaluate_method(
            dataset.sessions, args.method, config, seeds=int_list(args.seeds, "--seeds"), ks=ks,
            holdout=args.holdout, split=args.split, n_boot=args.bootstrap, progress=progress,
        )
    else:
        raise ConfigError("evaluate needs --method (train on a split) or --version (a stored version)")
    emit(report)
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ..evaluation.collapse import judged_diagnosis
    from ..store import Store

    stored = Store(args.store).load_version(args.version)
    report = judged_diagnosis(stored, k=args.k)
    # "verdict" is the sign-off check's: judged against the version's item-kNN reference when it has one (see
    # "judged": basis, excused rules, why_absolute); "absolute_verdict" is the thresholds' alone
    emit({"version": args.version, **report, "verdict": report["judged"]["verdict"],
          "absolute_verdict": report["verdict"]})
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..compare import compare_stored, neighbor_overlap, overlap_table, shared_ids_note, version_names
    from ..store import Store

    store = Store(args.store)
    a, b = store.load_version(args.a), store.load_version(args.b)
    compared = compare_stored(a, b, k=args.k)
    # the per-method blocks are in "quality"; full reports stay in the manifests
    report: dict[str, Any] = {key: value for key, value in compared.items() if key != "evaluations"}
    # From different sources, shared ids may be other products: said on stderr and kept in the JSON (and sentence).
    report["ids_note"] = shared_ids_note(a.name, a.manifest, b.name, b.manifest, compared["counts"]["shared"])
    if report["ids_note"]:
        print(f"note: {report['ids_note']}", file=sys.stderr)
    if args.csv:
        result = neighbor_overlap(a.embeddings, b.embeddings, k=args.k)
        stats = b.item_stats if b.item_stats is not None else a.item_stats
        pop = None if stats is None else stats.set_index("item_id")["events"]
        overlap_table(result, names=version_names(a, b), popularity=pop).to_csv(args.csv, index=False)
        report["csv"] = args.csv
    if args.input:  # both versions scored on the same (newest) data: moved because the data moved, or by noise?
        from ..compare.same_data import compare_on_same_data

        progress = StderrProgress(args.quiet)
        dataset = load_dataset(args, progress)
        report["same_data"] = compare_on_same_data(a, b, dataset.sessions, k=args.k, progress=progress)
    emit(report)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    from ..methods.registry import METHODS

    p = sub.add_parser("neighbors", help="Top-k neighbors of an item: 'also viewed' by cosine (--explain: with "
                       "evidence) or, with --mode next, what people go on to next.")
    add_input_options(p, required=False)
    store_option(p)
    p.add_argument("--version", help="The version (default: the published one).")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--item", help="One item id.")
    which.add_argument("--items-file", help="Bulk export: a file of item ids, one per line (or a CSV whose first "
                       "column is item_id); ids not in the version are reported on stderr and in the summary.")
    which.add_argument("--all", action="store_true", help="Bulk export: every item of the version.")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--mode", choices=["also", "next"], default="also",
                   help="also (default): 'also viewed', cosine of the symmetric vectors. next: what people go on to "
                   "after the item, ranked by Q_a·K_b of the version's directional tables (versions trained with "
                   "--set directional=true); with --item or the bulk export.")
    p.add_argument("--output", help="Write the exact top-k to PATH.csv or PATH.parquet (columns query_item_id, "
                   "query_name, rank, item_id, name, score), atomically and never inside the store; prints a JSON "
                   "summary.")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing --output file.")
    p.add_argument("--explain", action="store_true",
                   help="Show co-occurrence evidence for each neighbor from the sessions in --input.")
    p.add_argument("--examples", type=int, default=2, help="Example sessions per neighbor with --explain.")
    p.add_argument("--served", action="store_true",
                   help="With --item: also the k neighbors the version's ANN index of --mode serves (the registered "
                   "index, else the one kept with the version, else one built in memory with the default "
                   "parameters, nothing stored), each with its rank in the exact list, and what differs; with "
                   "--mode next the index over K queried with Q.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neighbors)
    p = sub.add_parser("evaluate", help="Held-out next-item quality with most-popular and item-kNN baselines.")
    add_input_options(p, required=False)
    p.add_argument("--method", choices=sorted(METHODS), help="Train this method on the split and evaluate it.")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--seeds", default="0", help="Comma-separated seeds; several give the spread (default 0).")
    store_option(p, help="With --version: the store of the version (default: $BEHEMB_STORE, else data/store).")
    p.add_argument("--version", help="Evaluate this stored version instead of training --method; without --input, "
                   "on the data it was trained on (read again from the files and options its manifest records).")
    p.add_argument("--all-heldout", action="store_true",
                   help="Stored version: treat all of --input as held-out (newer sessions).")
    p.add_argument("--k", default="10", help="Comma-separated cut-offs (default 10).")
    p.add_argument("--holdout", type=float, default=0.1, help="Share of sessions held out (default 0.1).")
    p.add_argument("--split", choices=["time", "random"], default="time")
    p.add_argument("--bootstrap", type=int, default=200, help="Bootstrap resamples for intervals (0 = none).")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("diagnose", help="Popularity-collapse diagnostics of a version (JSON).")
    store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("-k", type=int, default=10)
    p.set_defaults(func=cmd_diagnose)
    p = sub.add_parser("compare", help="Stability of neighbor lists between two versions (JSON); with --input, "
                       "also both versions' HR@k on the same (newest) data and whether the difference is beyond "
                       "chance.")
    add_input_options(p, required=False)
    store_option(p)
    p.add_argument("a", help="The reference version (e.g. the published one).")
    p.add_argument("b", help="The candidate version.")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--csv", help="Also write per-item overlaps (item_id, name, popularity, jaccard, rbo) here.")
    p.set_defaults(func=cmd_compare)
