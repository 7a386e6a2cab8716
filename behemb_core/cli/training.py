"""Training commands: ``train`` (one method, one draft version), ``tune`` (search, then train the winner) and
``demo`` (the bundled Online Retail sample end to end)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from ..boundary import doing
from ..errors import ConfigError, StoreError
from ._common import BY_HELP, StderrProgress, acting, emit, parse_sets, print_table, store_option
from .data import add_input_options, dataset_spec, delimiter_option, load_dataset, reading_options_given


def cmd_train(args: argparse.Namespace) -> int:
    from ..errors import VersionExistsError
    from ..methods.registry import get_method
    from ..store import open_store

    progress = StderrProgress(args.quiet)
    spec = get_method(args.method)  # resolved once for the job
    config = spec.parse_config(parse_sets(spec.name, args.set))  # fail before reading any data
    if args.from_prepared and args.input:
        raise ConfigError("give either --input or --from-prepared, not both")
    if args.from_prepared and reading_options_given(args):
        raise ConfigError(f"{', '.join(reading_options_given(args))}: the work dir was read and cleaned when it was "
                          "prepared; these options apply to --input (prepare again to change them)")
    if args.engine == "spark" and not args.input:
        raise ConfigError("--engine spark prepares --input on Spark; to train from a prepared work dir use "
                          "--from-prepared URL")
    spec.check_sources(
        sessions=bool(args.input or args.from_prepared), base_version=bool(args.base_version),
        content=bool(args.content_vectors), warm_start=bool(args.warm_start),
        say={"sessions": "--input or --from-prepared", "base_version": "--base-version",
             "content": "--content-vectors", "warm_start": "--warm-start"},
    )
    if args.engine == "spark":
        from ..spark import require_pyspark

        require_pyspark()
    store = open_store(args.store)
    args.actor = _may_train(args, store)  # before any data is read
    if args.version is not None and store.exists(args.version):  # validates the name too, before any data
        raise VersionExistsError(f"version {args.version!r} already exists in {store.url}; versions are immutable")
    if args.warm_start:
        from ..train import check_warm_start

        check_warm_start(store, spec, config, args.warm_start)  # exists, same dimension: before any data
    if args.engine == "spark":
        with _prepared_on_spark(args, spec, config, progress) as dataset:
            return _train(args, store, spec, config, dataset, progress)
    if args.from_prepared:
        from ..prepared import PreparedDataset

        dataset = PreparedDataset.open(args.from_prepared)
    else:
        dataset = load_dataset(args, progress) if args.input else None
    return _train(args, store, spec, config, dataset, progress)


def _train(args: argparse.Namespace, store: Any, spec: Any, config: Any, dataset: Any, progress: Any) -> int:
    from ..content import read_content_vectors
    from ..train import train_version

    meta = None
    if args.item_meta and (dataset is None or args.from_prepared):
        from ..ingest import read_item_metadata

        with doing("read the item metadata", args.item_meta):
            meta = read_item_metadata(
                args.item_meta, id_column=args.meta_id_col, name_column=args.meta_name_col,
                delimiter=delimiter_option(args.meta_delimiter), encoding=args.meta_encoding or None,
                header=False if args.meta_no_header else (True if args.meta_header else None))
    content = None
    if args.content_vectors:
        with doing("read the content vectors", args.content_vectors):
            content = read_content_vectors(args.content_vectors, id_column=args.content_id_col)
    with doing(path=store.url):
        summary = train_version(
            store, spec, config, dataset=dataset, seed=args.seed, name=args.version, content=content,
            base_version=args.base_version, item_meta=meta, evaluate=args.evaluate, noise_floor=args.noise_floor,
            progress=progress, by=args.actor, warm_start=args.warm_start,
        )
    emit(summary)
    return 0


@contextlib.contextmanager
def _prepared_on_spark(args: argparse.Namespace, spec: Any, config: Any, progress: Any) -> Iterator[Any]:
    """Run the prepare step on Spark (``--master``) into ``--work-dir`` (default: a temporary folder, removed
    afterwards) and yield the prepared dataset; the Spark session stops when the job ends."""
    from ..spark.job import jvm_failures, prepare, stop_session

    ds_spec = dataset_spec(args)  # validated before Spark starts
    pairs = spec.pair_table(config) if spec.pair_table is not None else None
    own_dir = None if args.work_dir else tempfile.mkdtemp(prefix="behemb-prepare-")
    work_dir = args.work_dir if own_dir is None else os.path.join(own_dir, "work")
    spark = _start_spark(args)
    try:
        with jvm_failures(spark):
            prepared = prepare(spark, ds_spec, work_dir, pairs=pairs, progress=progress)
        yield prepared
    finally:
        stop_session(spark)
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


#: Spark settings of the command line's own local runs (``--master local[…]``) unless given: Spark's default 1 GiB
#: heap runs out caching a few million events (measured: benchmarks/results/spark-engine.md).
LOCAL_SPARK_CONF = {"spark.driver.memory": "4g"}


def spark_conf(args: argparse.Namespace) -> dict[str, str]:
    """``--spark-conf`` settings, with :data:`LOCAL_SPARK_CONF` under them for a local master."""
    given = parse_spark_conf(args.spark_conf)
    local = (args.master or "local").startswith("local")
    return {**(LOCAL_SPARK_CONF if local else {}), **given}


def _start_spark(args: argparse.Namespace) -> Any:
    """The Spark session of a command (py4j's logging silenced there, and only py4j's: ``spark.job.quiet_py4j``)."""
    from ..spark.job import spark_session

    return spark_session(args.master, spark_conf(args))


def parse_spark_conf(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--spark-conf expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _may_train(args: argparse.Namespace, store: Any) -> Any:
    """The acting identity, refused now (before any data is read) when the store's policy does not let it train."""
    from ..store.policy import access

    actor = acting(args, store)
    access(store, actor).require("train")
    return actor


def cmd_prepare(args: argparse.Namespace) -> int:
    """Run the Spark prepare step alone (what spark-submit runs on a cluster)."""
    from ..cooccurrence import Weighting
    from ..spark import require_pyspark

    progress = StderrProgress(args.quiet)
    ds_spec = dataset_spec(args)
    if args.window is not None and args.window < 0:
        raise ConfigError(f"--window must be 0 or more, got {args.window}")
    if args.directed_pairs and args.no_pairs:
        raise ConfigError("--directed-pairs counts the pair table keeping which item came first; --no-pairs counts "
                          "no pair table: give one of them")
    require_pyspark()
    from ..spark.job import jvm_failures, prepare, stop_session

    weighting: Weighting = args.weighting
    pairs = None if args.no_pairs else (args.window if args.window is not None else 5, weighting)
    spark = _start_spark(args)
    try:
        with jvm_failures(spark):
            prepared = prepare(spark, ds_spec, args.work_dir, pairs=pairs, directed=args.directed_pairs,
                               progress=progress)
    finally:
        stop_session(spark)
    emit({"work_dir": args.work_dir, **prepared.meta["counts"], "fingerprint": prepared.fingerprint(),
          "pairs": prepared.meta["pairs"]})
    return 0


def add_spark_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Spark (pip install -r requirements-spark.txt)")
    g.add_argument("--master", help="Spark master, e.g. local[2] or yarn (default: spark-submit's, else local[*]).")
    g.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="A Spark setting (repeatable), e.g. --spark-conf spark.driver.memory=8g (default 4g for a "
                   "local master).")


def cmd_tune(args: argparse.Namespace) -> int:
    from ..errors import VersionExistsError
    from ..methods.registry import get_method
    from ..store import Store
    from ..tuning import search_space, tune_and_train

    progress = StderrProgress(args.quiet)
    spec = get_method(args.method)  # resolved once for the search and the final training
    search_space(spec)  # a method without a search space fails before any data is read
    config = spec.parse_config(parse_sets(spec.name, args.set))
    if not args.budget_minutes >= 0:
        raise ConfigError(f"--budget-minutes must be 0 or more, got {args.budget_minutes}")
    store = Store(args.store)
    if args.version is not None and store.exists(args.version):  # validates the name too
        raise VersionExistsError(f"version {args.version!r} already exists in {store.url}; versions are immutable")
    spec.check_sources(sessions=True, base_version=bool(args.base_version), content=bool(args.content_vectors),
                       say={"base_version": "--base-version", "content": "--content-vectors"})
    actor = _may_train(args, store)
    content = None
    if args.content_vectors:
        from ..content import read_content_vectors

        with doing("read the content vectors", args.content_vectors):
            content = read_content_vectors(args.content_vectors, id_column=args.content_id_col)
    dataset = load_dataset(args, progress)
    summary = tune_and_train(
        store, spec, dataset=dataset, budget_seconds=args.budget_minutes * 60, seed=args.seed,
        name=args.version, evaluate=args.evaluate, base_config=config, progress=progress, by=actor,
        content=content, base_version=args.base_version, pass_gate=args.pass_gate,
    )
    gate = summary.get("gate")
    if gate is not None and not gate["met"]:
        print(f"warning: {gate['note']}", file=sys.stderr)
    emit(summary)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import DEMO_FILE, load_demo_dataset
    from ..neighbors import item_neighbors
    from ..store import Store, interaction_verb
    from ..train import train_version

    progress = StderrProgress(args.quiet)
    store = Store(args.store)
    dataset = load_demo_dataset(DEMO_FILE, progress=progress)
    summary = train_version(store, args.method, {"dim": 64}, dataset=dataset, seed=0, progress=progress,
                            by=acting(args, store))
    stored = store.load_version(summary["version"])
    if stored.item_meta is None:  # the demo's spec reads names from the Description column
        raise StoreError(f"version {summary['version']} was stored without the demo's item names")
    names = stored.item_meta.names_for(stored.embeddings.vocab.ids)
    query = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the best seller
    print(f"Trained {summary['version']} ({summary['items']} items, {summary['seconds']} s) on {DEMO_FILE.name}")
    print(f"Store: {store.url}   Next: python -m behemb_core neighbors --store {store.url} "
          f"--version {summary['version']} --item <ID>\n")
    verb = interaction_verb(store, stored.manifest)
    print(f"People who {verb} {query} ({names[stored.embeddings.vocab.code(query)]}) also {verb}:")
    print_table(item_neighbors(stored.embeddings, query, 10, names=names), ["rank", "item_id", "score", "name"])
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    from ..methods.registry import DEFAULT_METHOD, METHODS, methods_with_next_tables

    p = sub.add_parser("train", help="Train a method and save a draft version to a store.")
    add_input_options(p, required=False)
    p.add_argument("--by", help=BY_HELP)
    p.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS),
                   help=f"The method to train (default {DEFAULT_METHOD}).")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="Method parameter (repeatable), e.g. --set dim=64 --set window=3.")
    p.add_argument("--seed", type=int, default=0)
    store_option(p)
    p.add_argument("--version", help="Version name (default: generated, e.g. ppmi_v3).")
    p.add_argument("--base-version", help="Fusion: the stored behavior version to fuse with content.")
    can = ", ".join(name for name, spec in METHODS.items() if spec.warm_start)
    p.add_argument("--warm-start", metavar="VERSION",
                   help=f"Retrain starting from a stored version of the same method family ({can}): items it has "
                   "start from its vectors, new items from scratch, and the fit stops once the loss is flat "
                   "(usually after `min_epochs`). The manifest records the version; other methods refuse it.")
    p.add_argument("--content-vectors", metavar="PATH", help="Fusion: item id → vector table (Parquet/CSV/NPY).")
    p.add_argument("--content-id-col", default="item_id", help="Id column of --content-vectors.")
    p.add_argument("--evaluate", action="store_true",
                   help="Also evaluate the method on a time split against the baselines and store the report "
                   "with the version (sign-off uses it; costs a second training run).")
    p.add_argument("--noise-floor", action="store_true",
                   help="Also retrain with seed+1 and store the neighbor overlap of the two runs (retraining "
                   "noise), so comparisons can tell a real change from noise.")
    g = p.add_argument_group("engine")
    g.add_argument("--engine", choices=["local", "spark"], default="local",
                   help="local: read and count in this process; spark: read, sessionize and count pairs on Spark, "
                   "train on this machine (the same vectors).")
    g.add_argument("--work-dir", metavar="URL",
                   help="--engine spark: where the prepare step writes (default: a temporary folder, removed after).")
    g.add_argument("--from-prepared", metavar="URL",
                   help="Train from a work dir the prepare command wrote (instead of --input).")
    add_spark_options(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("prepare", help="Spark: read, sessionize, clean and count pairs into a work dir "
                       "(the step spark-submit runs on a cluster; train --from-prepared trains from it).")
    add_input_options(p, required=True)
    p.add_argument("--work-dir", required=True, metavar="URL", help="Where to write (a new folder or URL).")
    from_pairs = ", ".join(name for name, spec in METHODS.items() if spec.pair_table is not None)
    others = ", ".join(name for name, spec in METHODS.items() if spec.pair_table is None and spec.learns_from_sessions)
    next_tables = " or ".join(methods_with_next_tables())
    p.add_argument("--window", type=int, help=f"Pair window of {from_pairs} (default 5; 0 = the whole session).")
    p.add_argument("--weighting", choices=["uniform", "harmonic", "linear"], default="uniform",
                   help=f"Pair weighting of {from_pairs} (harmonic and linear count pairs per distance).")
    p.add_argument("--no-pairs", action="store_true", help=f"Do not count pairs (for {others}).")
    p.add_argument("--directed-pairs", action="store_true",
                   help="Count the pair table keeping which item came first, as count_pairs(..., directed=True) "
                   "does; prepared.json records \"directed\": true under pairs. It serves the symmetric reading too "
                   f"({from_pairs}: folded on the driver). The \"next item\" tables of {next_tables} "
                   "(directional=true) do not need it: they are counted from the work dir's sessions on the driver.")
    add_spark_options(p)
    p.set_defaults(func=cmd_prepare)
    p = sub.add_parser("tune", help="Tune a method's parameters on a validation split, then train the winner.")
    add_input_options(p, required=True)
    p.add_argument("--by", help=BY_HELP)
    p.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS),
                   help=f"The method to tune (default {DEFAULT_METHOD}).")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="Starting config (repeatable); parameters the search does not vary keep these values.")
    p.add_argument("--budget-minutes", type=float, default=10.0,
                   help="Stop starting new trials after this long (default 10); the best so far wins.")
    p.add_argument("--seed", type=int, default=0)
    store_option(p)
    p.add_argument("--version", help="Version name (default: generated, e.g. cs_v3).")
    p.add_argument("--evaluate", action="store_true",
                   help="Also evaluate the winner on the hold-out the tuner never read, against the baselines.")
    p.add_argument("--base-version", help="A method that builds on behavior vectors: the stored version to build "
                   "on (its method is refitted on the validation split for the search, then the stored vectors "
                   "are used).")
    p.add_argument("--content-vectors", metavar="PATH", help="Content vectors: item id → vector table "
                   "(Parquet/CSV/NPY); else the item names of the input (or --item-meta).")
    p.add_argument("--content-id-col", default="item_id", help="Id column of --content-vectors.")
    p.add_argument("--pass-gate", action="store_true",
                   help="Choose the best setting whose vectors pass the sign-off popularity-collapse gate (verdict "
                   "ok against item-kNN on the validation-train sessions).")
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("demo", help="Train on the bundled Online Retail demo and show neighbors.")
    store_option(p)
    p.add_argument("--method", default=DEFAULT_METHOD, choices=sorted(METHODS))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
