"""The prepare job on Spark: raw sessions → cleaned sessions → vocabulary, item statistics and pair counts,
written to a work dir (:mod:`behemb_core.prepared`), plus the dataset summary and fingerprint.

The cleaning rules are :func:`behemb_core.sessions.build_sessions`' (collapse repeats → min_count → max_length
chunks → min_length), applied to whole sessions as arrays; pairs are generated per session with Spark's array
functions and counted per (pair, distance) as integers, so the table equals
:func:`~behemb_core.cooccurrence.count_pairs` — the symmetric table, or with ``directed`` the table that keeps
which item came first (``count_pairs(..., directed=True)``), which also serves the symmetric one
(:meth:`~behemb_core.cooccurrence.PairCounts.undirected`).
Nothing here collects events to the driver: it collects per-file, per-length and per-reason counts, and it streams
the written sessions once to hash them (the fingerprint is a sequential hash).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ..cooccurrence import Weighting, pair_offsets
from ..errors import ConfigError, EngineError, InputError
from ..ingest.dataset import summarize_counts
from ..ingest.item_names import read_item_metadata
from ..ingest.spec import DatasetSpec
from ..prepared import FORMAT, META_FILE, PreparedDataset, corpus_fingerprint, filesystem, join
from ..progress import ProgressCallback, Reporter, as_reporter
from ..sessions import DropLog, SessionOptions
from .sources import RawSessionsFrame, read_raw_sessions

#: Settings every behemb Spark session gets: UTC session time zone (times are instants), ANSI SQL, quiet logs.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
}


class _FromPy4j(logging.Filter):
    """Drops the records py4j's own code logs on the *root* logger (``logging.exception(...)`` in
    ``py4j.java_gateway`` when the JVM goes away); every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(_PY4J_DIR)


_PY4J_DIR = ""
_ROOT_FILTER = _FromPy4j()


def quiet_py4j() -> None:
    """Silence py4j alone: its ``py4j`` logger, the records its code sends to the root logger, and pyspark's
    warning about a JVM that did not shut down cleanly. py4j prints a traceback when the JVM goes away; the job's
    one-line error says that instead (:func:`jvm_failures`). The root logger's level and every other logger are
    left as they are. Idempotent."""
    global _PY4J_DIR
    import py4j

    _PY4J_DIR = os.path.dirname(os.path.abspath(py4j.__file__)) + os.sep
    logging.getLogger("py4j").setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if _ROOT_FILTER not in root.filters:
        root.addFilter(_ROOT_FILTER)
    warnings.filterwarnings("ignore", message="Unable to cleanly shutdown Spark JVM", category=RuntimeWarning)


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession with :data:`SESSION_CONF` (``master`` e.g. ``local[2]``; ``None`` = spark-submit's), with
    py4j's logging silenced (:func:`quiet_py4j`)."""
    quiet_py4j()
    builder = SparkSession.builder.appName("behemb prepare")
    if master:
        builder = builder.master(master)
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key in ("spark.sql.session.timeZone", "spark.sql.ansi.enabled"):
        spark.conf.set(key, SESSION_CONF[key])  # also on a session that existed before
    return spark


@contextlib.contextmanager
def jvm_failures(spark: SparkSession) -> Iterator[None]:
    """Turn the dead socket a stopped Spark JVM leaves behind (py4j's connection refused or reset) into an
    :class:`EngineError` that says what happened, instead of a network error that seems to be about a file."""
    try:
        yield
    except Exception as exc:  # py4j's network errors or an OSError; renamed only when the JVM died
        if not _jvm_gone(spark):  # the JVM is alive: a real error, not ours to rename
            raise
        raise EngineError(
            "the Spark JVM stopped while the job ran (most often out of memory: give it more with --spark-conf "
            "spark.driver.memory=8g; Spark's own message is above on stderr)") from exc


def stop_session(spark: SparkSession) -> None:
    """Stop ``spark``; a JVM that is already gone is not an error of its own (the job's error says what happened)."""
    try:
        spark.stop()
    except Exception:  # py4j's errors when the JVM died; re-raised while it lives
        if not _jvm_gone(spark):
            raise


def _jvm_gone(spark: SparkSession) -> bool:
    """Whether the JVM pyspark started has exited (waiting a moment: its socket closes before it is reaped)."""
    proc = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None)
    if proc is None:
        return False
    try:
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001 - still running (TimeoutExpired)
        return False
    return True


def clean_sessions(sessions: DataFrame, options: SessionOptions, drops: DropLog) -> DataFrame:
    """The cleaning rules on session arrays; every removed event counted in ``drops`` under its reason."""
    def events(df: DataFrame) -> int:
        return int(df.agg(F.sum(F.size("items"))).collect()[0][0] or 0)

    cols = ["okey", "session_id", "user", "start"]
    raw = sessions.persist()  # sessionized once, whatever the rules below read
    before = events(raw)
    sessions = raw
    if options.collapse_repeats:
        items = F.col("items")
        sessions = sessions.withColumn("items", F.filter(
            "items", lambda x, i: F.when(i == 0, F.lit(True)).otherwise(x != F.element_at(items, i)))).persist()
        after = events(sessions)
        raw.unpersist()
        drops.add("consecutive repeat collapsed", before - after)
        before = after
    if options.min_count > 1:
        counts = sessions.select(F.explode("items").alias("item")).groupBy("item").count() \
            .where(F.col("count") >= options.min_count).select("item")
        exploded = sessions.select(*cols, F.posexplode("items").alias("pos", "item"))
        kept = exploded.join(counts, "item")
        sessions = kept.groupBy(*cols).agg(F.sort_array(F.collect_list(F.struct("pos", "item"))).alias("ev")) \
            .select(*cols, F.transform("ev", lambda e: e["item"]).alias("items")).persist()
        after = events(sessions)
        drops.add(f"item seen fewer than min_count={options.min_count} times", before - after)
        before = after
    m = options.max_length
    n = F.size("items")
    long_ = sessions.where(n > m).count()
    if long_:
        chunks = F.when(n > m, F.sequence(F.lit(0), F.floor((n - 1) / m).cast("int"))).otherwise(F.array(F.lit(0)))
        sessions = sessions.select(*cols, "items", F.explode(chunks).alias("chunk")).select(
            "okey", "user", "start", "chunk",
            F.when(F.col("chunk") > 0, F.concat(F.col("session_id"), F.lit("#"), (F.col("chunk") + 1).cast("string")))
            .otherwise(F.col("session_id")).alias("session_id"),
            F.slice("items", F.col("chunk") * m + 1, F.lit(m)).alias("items"))
        drops.note(f"sessions split at max_length={m}", long_)
    else:
        sessions = sessions.withColumn("chunk", F.lit(0))
    short = F.size("items") < options.min_length
    dropped = int(sessions.where(short).agg(F.sum(F.size("items"))).collect()[0][0] or 0)
    drops.add(f"session shorter than min_length={options.min_length}", dropped)
    return sessions.where(~short)


def pair_counts(sessions: DataFrame, window: int, weighting: Weighting, *, directed: bool = False) -> DataFrame:
    """``a, b, offset, count``: how often items ``a < b`` are ``offset + 1`` apart (``offset`` 0 when the weight
    does not depend on the distance), within ``window`` (0 = the whole session); an item paired with itself is not
    counted — :func:`~behemb_core.cooccurrence.count_pairs`' rules. With ``directed``, ``a`` is the item that came
    first and ``b`` the one ``offset + 1`` positions after it (in either order of their ids), as
    ``count_pairs(..., directed=True)`` keys them."""
    items = F.col("items")
    n = F.size(items)
    far = (n - 1) if window == 0 else F.least(F.lit(window), n - 1)
    pairs = F.when(n >= 2, F.flatten(F.transform(
        F.sequence(F.lit(1), far),
        lambda d: F.transform(F.sequence(F.lit(0), n - 1 - d),
                              lambda i: F.struct(items[i].alias("x"), items[i + d].alias("y"), d.alias("d"))))))
    exploded = sessions.select(F.explode(pairs).alias("p")).where(F.col("p.x") != F.col("p.y"))
    offset: Column = (F.col("p.d") - 1) if pair_offsets(window, weighting) > 1 else F.lit(0)
    if directed:
        a, b = F.col("p.x"), F.col("p.y")
    else:
        a, b = F.least("p.x", "p.y"), F.greatest("p.x", "p.y")
    return exploded.select(a.alias("a"), b.alias("b"), offset.cast("int").alias("offset")) \
        .groupBy("a", "b", "offset").count()


def prepare(
    spark: SparkSession,
    spec: DatasetSpec,
    work_dir: str,
    *,
    pairs: tuple[int, Weighting] | None = None,
    directed: bool = False,
    progress: ProgressCallback | Reporter | None = None,
) -> PreparedDataset:
    """Run the prepare job for ``spec`` and write ``work_dir`` (pair counts when ``pairs`` gives a window and a
    weighting; with ``directed`` the table keeps which item came first — it serves both the directed and the
    symmetric reading, see :meth:`~behemb_core.prepared.PreparedDataset.pairs`). ``work_dir`` must not hold a
    finished preparation; a killed run's leftovers are overwritten. Returns the finished work dir, opened."""
    if directed and pairs is None:  # before Spark reads anything
        raise ConfigError("prepare: directed=True needs a pair table to count: give pairs=(window, weighting)")
    rep = as_reporter(progress)
    fs, path = filesystem(work_dir)
    if fs.exists(join(path, META_FILE)):
        raise InputError("the work dir already holds a prepared dataset; prepared data are not overwritten — "
                         "choose a new work dir", path=work_dir)
    rep("read", 0.0, "reading and sessionizing on Spark")
    raw = read_raw_sessions(spark, spec)
    drops = raw.drops
    rep("clean", 0.3, "cleaning sessions")
    cleaned = clean_sessions(raw.sessions, spec.options, drops)
    # After a global sort, partition i holds the i-th range, so these ids increase in session order (not
    # consecutive); the driver checks that order when it hashes the sessions (corpus_fingerprint).
    ordered = cleaned.orderBy("okey", "chunk").select(
        F.monotonically_increasing_id().alias("order"), "session_id", "user", "start", "items")
    rep("write", 0.45, "writing the sessions")
    ordered.write.mode("overwrite").parquet(join(work_dir, "sessions"))
    corpus = spark.read.parquet(join(work_dir, "sessions"))
    is_int = dict(corpus.dtypes)["items"] == "array<bigint>"
    kind = "int" if is_int else "str"

    rep("items", 0.55, "counting items")
    exploded = corpus.select("order", F.explode("items").alias("item_id"))
    exploded.groupBy("item_id").agg(F.count("*").alias("events"), F.countDistinct("order").alias("sessions")) \
        .write.mode("overwrite").parquet(join(work_dir, "items"))
    pairs_meta = None
    if pairs is not None:
        window, weighting = pairs
        rep("pairs", 0.65, f"counting {'directed ' if directed else ''}pairs (window {window}, {weighting})")
        pair_counts(corpus, window, weighting, directed=directed).write.mode("overwrite") \
            .parquet(join(work_dir, "pairs"))
        pairs_meta = {"window": window, "weighting": weighting}
        if directed:  # absent = symmetric (work dirs prepared before directed tables existed read the same)
            pairs_meta["directed"] = True

    names_meta = _write_names(raw, spec, work_dir, drops)

    rep("summary", 0.85, "summarizing")
    hist = sorted((int(r[0]), int(r[1])) for r in corpus.groupBy(F.size("items")).count().collect())
    if raw.source["kind"] == "event_log":
        has_users = bool(raw.source["columns"].get("user"))
    else:
        has_users = corpus.where(F.col("user").isNotNull()).limit(1).count() > 0
    users = int(corpus.agg(F.countDistinct("user")).collect()[0][0]) if has_users else None
    partial = PreparedDataset(work_dir, {"format": FORMAT, "item_id_kind": kind, "names": names_meta})
    vocab = partial.vocab
    fingerprint, lengths = corpus_fingerprint(work_dir, vocab, kind)
    n_events = int(partial.item_counts().sum())
    if int(lengths.sum()) != n_events:
        raise RuntimeError("prepare: the written sessions and item counts disagree")  # an engine bug, never input
    read_key = "events_read" if raw.source["kind"] == "sessions_jsonl" else "rows_read"
    if raw.source[read_key] != n_events + sum(drops.counts.values()):
        raise RuntimeError("prepare: rows read != events kept + rows dropped")
    values = np.array([v for v, _ in hist], dtype=np.int64)
    counts = np.array([c for _, c in hist], dtype=np.int64)
    ds_drops = drops.as_dict()
    notes = {k: int(v) for k, v in sorted(drops.notes.items())}
    source = {**raw.source, "engine": "spark"}
    summary = summarize_counts(length_values=values, length_counts=counts, item_ids=vocab.ids,
                               item_counts=partial.item_counts(), users=users,
                               drops=ds_drops, notes=notes, fingerprint=fingerprint, source=source,
                               item_meta=partial.item_meta)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "spec": json.loads(spec.to_json()),
        "engine": {"name": "spark", "version": spark.version, "master": spark.sparkContext.master},
        "item_id_kind": kind,
        "counts": {"sessions": int(counts.sum()), "events": n_events, "items": len(vocab)},
        "drops": ds_drops,
        "notes": notes,
        "source": source,
        "options": spec.options.model_dump(mode="json"),
        "fingerprint": fingerprint,
        "summary": summary,
        "pairs": pairs_meta,
        "names": names_meta,
    }
    with fs.open(join(path, META_FILE), "wb") as fh:  # last: its presence marks a finished preparation
        fh.write(json.dumps(meta, indent=1, default=_plain).encode("utf-8"))
    rep("done", 1.0, f"prepared {meta['counts']['sessions']:,} sessions, {n_events:,} events, {len(vocab):,} items")
    return PreparedDataset(work_dir, meta)


def _write_names(raw: RawSessionsFrame, spec: DatasetSpec, work_dir: str, drops: DropLog) -> dict[str, Any] | None:
    """Write ``names/`` (the event log's name column, or the ``--item-meta`` table read on the driver) and return
    what ``prepared.json`` records about it (``None`` when the data names no items)."""
    if raw.names is not None and not spec.meta_path:
        raw.names.write.mode("overwrite").parquet(join(work_dir, "names"))
        return {"attrs": {"source": raw.source["paths"], "name_column": spec.name_column,
                          "ids_with_several_names": drops.notes.get("items with several names (most frequent kept)",
                                                                    0)}}
    if not spec.meta_path:
        return None
    catalogue = read_item_metadata(spec.meta_path, id_column=spec.meta_id_column, name_column=spec.meta_name_column,
                                   delimiter=spec.meta_delimiter, header=spec.meta_header,
                                   encoding=spec.meta_encoding)
    fs, path = filesystem(join(work_dir, "names"))
    fs.makedirs(path, exist_ok=True)
    with fs.open(join(path, "part-00000.parquet"), "wb") as fh:
        pq.write_table(pa.Table.from_pandas(catalogue.table[["item_id", "name"]], preserve_index=False), fh)
    return {"attrs": {k: v for k, v in catalogue.table.attrs.items() if isinstance(v, (str, int, list))}}


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays in the summary."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")
