"""Inputs → raw sessions on Spark, with the single-machine readers' rules (:mod:`behemb_core.ingest.events`,
:mod:`behemb_core.ingest.jsonl`): the same column detection, id normalisation, row filters and drop reasons,
sessionization (never across users) and session order, so the sessions equal the library's.

A :class:`RawSessionsFrame` has one row per session: ``okey`` (its place in the library's session order),
``session_id``, ``user``, ``start`` (ns since the epoch, or null), ``items`` (ids in session order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ..errors import ConfigError, InputError
from ..ingest._files import JSONL_SUFFIXES, TABLE_SUFFIXES, sniff_delimiter
from ..ingest._values import INTLIKE, NUMERIC, UNIT_BOUNDS, UNIT_NS
from ..ingest.columns import EventColumns, resolve_columns
from ..ingest.events import event_log_source
from ..ingest.nested import detect_session_fields
from ..ingest.spec import DatasetSpec, first_file
from ..sessions import DropLog
from ..vocab import CANONICAL_INT
from .inputs import (
    ROW_KEY,
    display_path,
    first_lines,
    head_lines,
    line_number,
    list_inputs,
    raise_first_problem,
    read_lines,
    split_line,
    trimmed,
)


@dataclass
class RawSessionsFrame:
    """Sessions before cleaning, with what reading them counted."""

    sessions: DataFrame
    drops: DropLog
    source: dict[str, Any]
    names: DataFrame | None = None  # item_id, name (most frequent name per item)


def read_raw_sessions(spark: SparkSession, spec: DatasetSpec) -> RawSessionsFrame:
    """The raw sessions ``spec`` describes. Bad input raises :class:`InputError` naming the file and line."""
    fmt = spec.resolved_format()
    if fmt == "baskets":
        raise ConfigError("--engine spark reads event logs and session JSON Lines; baskets (one session per line) "
                          "are read by the single-machine engine")
    if fmt == "sessions":
        fields = spec.fields
        if fields.layout != "flat" and detect_session_fields(first_file(spec.paths), fields).layout == "nested":
            raise ConfigError("--engine spark reads flat session JSON Lines (session_id + items); nested sessions "
                              "(one session per line with its events as objects, as in OTTO) are read by the "
                              "single-machine engine")
        return _jsonl_sessions(spark, spec)
    return _event_sessions(spark, spec)


def _id_column(col: Column, int_mode: bool) -> Column:
    """A normalised id: a long when the whole column is integer-like (``17850.0`` → 17850), else the text."""
    return F.regexp_replace(col, r"\.0+$", "").cast("long") if int_mode else col


def _as_text(col: Column) -> Column:
    return col.cast("string")


def _int_modes(rows: DataFrame, columns: dict[str, Column], pattern: str) -> dict[str, bool]:
    """Per column: are all present values integer-like (so ids are integers)? One pass over the rows."""
    if not columns:
        return {}
    aggs = [F.min(F.when(c.isNull(), 1).when(c.rlike(pattern), 1).otherwise(0)).alias(k) for k, c in columns.items()]
    row = rows.agg(*aggs).collect()[0]
    return {k: row[k] is None or row[k] == 1 for k in columns}


# ----------------------------------------------------------------------------------------------- event logs


@dataclass
class _EventRows:
    """An event log's rows on Spark before filtering: ``f``, ``rk`` and one column per role — text, trimmed, null
    when empty — plus ``t`` (ns) when the timestamp column is typed (Parquet)."""

    rows: DataFrame
    cols: EventColumns
    found_by: dict[str, str]
    delimiter: str | None
    line_of: Callable[[Any], int]
    typed_time: bool = False  # the timestamp is an instant already (column ``t``; no ``timestamp`` text)
    typed_ids: frozenset[str] = frozenset()  # roles whose column holds integer ids already (Parquet integers)


def _event_sessions(spark: SparkSession, spec: DatasetSpec) -> RawSessionsFrame:
    files = list_inputs(spark, spec.paths, TABLE_SUFFIXES, "event log")
    parquet = [f.lower().endswith((".parquet", ".pq")) for f in files]
    if any(parquet) and not all(parquet):
        raise InputError("give either text event logs (CSV/TSV/TXT) or Parquet files, not both: "
                         + ", ".join(display_path(f).rsplit("/", 1)[-1] for f in files[:5]))
    if spec.columns.timestamp_format:
        raise ConfigError("--engine spark reads ISO 8601 date-times and unix times; a timestamp format "
                          f"({spec.columns.timestamp_format!r}) is read by the single-machine engine")
    read = _parquet_rows(spark, spec, files) if parquet[0] else _text_rows(spark, spec, files)
    return _sessions_of_rows(spark, spec, files, read)


def _resolve(spec: DatasetSpec, files: list[str], header0: list[str], sample: list[list[str]]
             ) -> tuple[EventColumns, dict[str, str]]:
    found_by: dict[str, str] = {}
    cols = resolve_columns(header0, spec.columns, display_path(files[0]), spec.filters,
                           use_session=bool(spec.options.use_session_column), sample=sample, found_by=found_by)
    if spec.name_column is not None and spec.name_column not in header0:
        raise InputError(f"name column {spec.name_column!r} is not in the file; columns present: "
                         f"{', '.join(map(repr, header0))}", path=display_path(files[0]), field="name")
    return cols, found_by


def _roles(cols: EventColumns) -> dict[str, str]:
    return {r: c for r in ("user", "item", "session", "event_type", "timestamp", "weight") if (c := getattr(cols, r))}


def _parquet_rows(spark: SparkSession, spec: DatasetSpec, files: list[str]) -> _EventRows:
    """Parquet event logs: typed columns as the single-machine reader keeps them (ids as their text, typed
    timestamps as instants); a row's 'line' is its 1-based row number in its file."""
    first = spark.read.parquet(files[0])
    header0 = first.columns
    sample = [["" if v is None else str(v) for v in r] for r in first.limit(200).collect()]
    cols, found_by = _resolve(spec, files, header0, sample)
    numbers = spark.createDataFrame([(u, i) for i, u in enumerate(files)], "path STRING, f INT")
    roles = _roles(cols)
    needed = list(dict.fromkeys([*roles.values(), *([spec.name_column] if spec.name_column else [])]))
    df = spark.read.parquet(*files).select(
        F.col("_metadata.file_path").alias("path"), F.col("_metadata.row_index").alias("mid"),
        *(F.col(_quoted(c)).alias(f"c{i}") for i, c in enumerate(needed)))
    df = df.join(F.broadcast(numbers), "path", "left")
    types = dict(zip(needed, (t for _, t in df.select(*(f"c{i}" for i in range(len(needed)))).dtypes), strict=True))
    col_of = {c: F.col(f"c{i}") for i, c in enumerate(needed)}
    assert cols.timestamp is not None  # resolve_columns requires it
    typed_time = types[cols.timestamp].startswith(("timestamp", "date"))
    sel = [F.col("f"), F.struct(F.col("f"), F.lit(0).cast("long").alias("bs"), F.col("mid")).alias(ROW_KEY)]
    integer = ("bigint", "int", "smallint", "tinyint")
    typed_ids = frozenset(r for r, c in roles.items() if r in ("item", "user", "session", "event_type")
                          and types[c] in integer)
    for role, c in roles.items():
        if role == "timestamp" and typed_time:
            sel.append((F.unix_micros(col_of[c].cast("timestamp")) * 1000).alias("t"))
        elif role in typed_ids:
            sel.append(col_of[c].cast("long").alias(role))  # integer ids as they are: no text round trip
        else:
            sel.append(trimmed(col_of[c].cast("string")).alias(role))
    if spec.name_column:
        sel.append(trimmed(col_of[spec.name_column].cast("string")).alias("name"))
    rows = df.select(*sel).persist()  # read once; dropped when the filtered rows are cached
    return _EventRows(rows=rows, cols=cols, found_by=found_by, delimiter=None,
                      line_of=lambda rk: int(rk["mid"]) + 1, typed_time=typed_time, typed_ids=typed_ids)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _text_rows(spark: SparkSession, spec: DatasetSpec, files: list[str]) -> _EventRows:
    """Text event logs read as lines and parsed per line with RFC 4180 quoting (Spark's CSV reader escapes with
    a backslash and has no row index), so every row keeps its line number."""
    columns = spec.columns
    head = head_lines(spark, files[0], 260)
    if not head or not head[0].strip():
        raise InputError("the file is empty (expected a header line)" if columns.header else "the first line is empty",
                         path=display_path(files[0]), line=1)
    default = "\t" if files[0].lower().removesuffix(".gz").endswith(".tsv") else ","
    delim = columns.delimiter or sniff_delimiter(head[:50], default=default)
    first = split_line(head[0], delim)
    header0 = [h.strip() for h in first] if columns.header else [f"column_{i + 1}" for i in range(len(first))]
    sample = [split_line(x, delim) for x in head[(1 if columns.header else 0):] if x.strip()][:200]
    cols, found_by = _resolve(spec, files, header0, sample)

    lines = read_lines(spark, files)  # not cached: read again for the header check and an error's line number
    if columns.header:
        for f, line in sorted(first_lines(lines).items()):
            got = [h.strip() for h in split_line(line, delim)]
            if got != header0:
                raise InputError(f"header differs from the first file ({display_path(files[0]).rsplit('/', 1)[-1]}):"
                                 f" expected {header0}, got {got}", path=display_path(files[f]), line=1)
    data = lines.where(F.col("value") != "")
    if columns.header:
        first_rk = lines.groupBy("f").agg(F.min(ROW_KEY).alias("first_rk"))
        data = data.join(F.broadcast(first_rk), "f").where(F.col(ROW_KEY) != F.col("first_rk")).drop("first_rk")

    ddl = ", ".join(f"{_quoted(h)} STRING" for h in header0) + ", `_behemb_corrupt` STRING"
    parsed = data.select(
        "f", ROW_KEY, "value",
        F.from_csv("value", ddl, {"sep": delim, "quote": '"', "escape": '"', "mode": "PERMISSIVE",
                                  "columnNameOfCorruptRecord": "_behemb_corrupt", "nullValue": "",
                                  "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false"}
                   ).alias("p"),
    )
    sel = [F.col("f"), F.col(ROW_KEY)]
    sel += [trimmed(F.col("p")[c]).alias(r) for r, c in _roles(cols).items()]
    if spec.name_column:
        sel.append(trimmed(F.col("p")[spec.name_column]).alias("name"))
    quotes = F.length("value") - F.length(F.regexp_replace("value", '"', ""))
    problem = (F.when(quotes % 2 == 1, F.lit("a quoted value continues on the next line; --engine spark reads one "
                                             "record per line (use the single-machine engine for this file)"))
               .when(F.col("p._behemb_corrupt").isNotNull(),
                     F.lit(f"expected {len(header0)} fields separated by {delim!r}, as in the header")))
    rows = parsed.select(*sel, problem.alias("row_problem")).persist()

    def line_of(rk: Any) -> int:
        return line_number(lines, rk)

    raise_first_problem(rows, files, F.col("row_problem"), F.lit(None).cast("string"), line_of)
    return _EventRows(rows=rows.drop("row_problem"), cols=cols, found_by=found_by, delimiter=delim, line_of=line_of)


def _sessions_of_rows(spark: SparkSession, spec: DatasetSpec, files: list[str], read: _EventRows
                      ) -> RawSessionsFrame:
    """Timestamps, ids, filters and sessionization of an event log's rows — the single-machine rules."""
    cols, rows = read.cols, read.rows
    parsed_rows = rows
    session_mode = bool(spec.options.use_session_column) and cols.session is not None
    role_cols = _roles(cols)
    delim, found_by = read.delimiter, read.found_by

    # Timestamps: unit of numeric times from the first file's magnitudes, as the single-machine reader infers it.
    unit: str | None = cols.timestamp_unit
    if unit is None and not read.typed_time:
        stats = rows.where(F.col("f") == 0).agg(
            F.min(F.when(F.col("timestamp").isNull(), 1).when(F.col("timestamp").rlike(NUMERIC), 1).otherwise(0)
                  ).alias("numeric"),
            F.median(F.abs(F.col("timestamp").try_cast("double"))).alias("median"),
        ).collect()[0]
        if stats["numeric"] == 1 and stats["median"] is not None:
            med = float(stats["median"])
            unit = next((u for u, bound in UNIT_BOUNDS if med < bound), "ns")
    scale = UNIT_NS[unit or "s"]
    ts = F.lit(None).cast("string") if read.typed_time else F.col("timestamp")
    # Casts first (cheap), a regular expression only where they fail: whole numbers exactly, other numbers rounded
    # to the unit, text as ISO 8601; a value that is none of these is an error.
    as_long, as_float = ts.try_cast("long"), ts.try_cast("double")
    finite = as_float.isNotNull() & ~F.isnan(as_float) & (F.abs(as_float) < float("inf"))
    t = (F.when(ts.isNull(), F.lit(None).cast("long"))
         .when(as_long.isNotNull(), F.try_multiply(as_long, F.lit(scale)))
         .when(finite, F.when(F.abs(as_float) * scale < 9e18, F.bround(as_float * scale, 0).cast("long")))
         .otherwise(F.unix_micros(F.try_to_timestamp(ts)) * 1000))
    if read.typed_time:
        t = F.col("t")
    bad_time = ts.isNotNull() & t.isNull() & ~ts.rlike(NUMERIC)  # And short-circuits: the regex runs rarely
    weight = F.col("weight").try_cast("double") if cols.weight else None
    expected = f"a number (unix time in {unit!r})" if unit else "an ISO 8601 date-time or unix time"
    problems = F.when(bad_time, F.concat(F.lit("cannot parse timestamp '"), ts, F.lit(f"': expected {expected}")))
    field_ = F.when(bad_time, F.lit("timestamp"))
    if cols.weight:
        bad_weight = F.col("weight").isNotNull() & F.col("weight").try_cast("double").isNull()
        problems = problems.when(bad_weight, F.concat(F.lit("expected a number, got '"), F.col("weight"), F.lit("'")))
        field_ = field_.when(bad_weight, F.lit("weight"))
    rows = rows.withColumn("t", t)
    raise_first_problem(rows, files, problems, field_, read.line_of)

    id_roles = [r for r in ("item", "user", "session", "event_type") if r in role_cols]
    modes = _int_modes(rows, {r: F.col(r) for r in id_roles if r not in read.typed_ids}, INTLIKE)
    norm = {r: F.col(r) if r in read.typed_ids else _id_column(F.col(r), modes[r]) for r in id_roles}
    rows = rows.select("f", ROW_KEY, "t", *(norm[r].alias(r) for r in id_roles),
                       *([weight.alias("w")] if weight is not None else []),
                       *(["name"] if spec.name_column else []))

    # Filters, in the single-machine order; each removed row counted under the first rule that removes it.
    rules: list[tuple[str, Column]] = [("missing item id", F.col("item").isNull()),
                                       ("missing timestamp", F.col("t").isNull())]
    if session_mode:
        if cols.user:
            rules.append(("missing user and session id", F.col("user").isNull() & F.col("session").isNull()))
        rules.append(("missing session id", F.col("session").isNull()))
    else:
        rules.append(("missing user id", F.col("user").isNull()))
    flt = spec.filters
    if flt.keep_event_types is not None:
        rules.append(("event type not in keep_event_types",
                      F.col("event_type").isNull() | ~_as_text(F.col("event_type")).isin(flt.keep_event_types)))
    if flt.exclude_items:
        rules.append(("excluded item", _as_text(F.col("item")).isin([str(x) for x in flt.exclude_items])))
    if flt.exclude_session_prefix is not None:
        prefix = flt.exclude_session_prefix
        rules.append((f"session id starts with {prefix!r}",
                      F.coalesce(_as_text(F.col("session")).startswith(prefix), F.lit(False))))
    if weight is not None and flt.drop_nonpositive_weight:
        rules.append(("missing weight", F.col("w").isNull() | F.isnan("w")))
        rules.append(("non-positive weight", F.col("w") <= 0))
    reason: Column = F.lit(None).cast("string")
    for text, cond in reversed(rules):
        reason = F.when(cond, F.lit(text)).otherwise(reason)
    rows = rows.withColumn("reason", reason).persist()
    counted = {r["reason"]: int(r["count"]) for r in rows.groupBy("reason").count().collect()}
    parsed_rows.unpersist()  # the filtered rows are cached now; one copy of the input is enough
    drops = DropLog()
    for text, _ in rules:
        drops.add(text, counted.get(text, 0))
    n_rows = sum(counted.values())
    kept = rows.where(F.col("reason").isNull())
    event = F.struct(F.col("t"), F.col(ROW_KEY), F.col("item"))

    gap_ns = int(round(spec.options.gap_minutes * 60e9))
    if not session_mode:
        by_user = Window.partitionBy("user").orderBy("t", ROW_KEY)
        prev = F.lag("t").over(by_user)
        marked = kept.withColumn("brk", F.when(prev.isNull() | ((F.col("t") - prev) > gap_ns), 1).otherwise(0))
        marked = marked.withColumn("k", F.sum("brk").over(by_user.rowsBetween(Window.unboundedPreceding, 0)))
        grouped = marked.groupBy("user", "k").agg(F.sort_array(F.collect_list(event)).alias("ev"),
                                                  F.min("t").alias("start"))
        sessions = grouped.select(
            F.struct(F.col("start"), F.col("user")).alias("okey"),
            F.concat(_as_text(F.col("user")), F.lit(":"), _as_text(F.col("k"))).alias("session_id"),
            "user", "start", F.transform("ev", lambda e: e["item"]).alias("items"))
        shared_note = 0
    else:
        first_seen = rows.where(F.col("session").isNotNull()).groupBy("session").agg(F.min(ROW_KEY).alias("s_first"))
        if "user" not in kept.columns:
            kept = kept.withColumn("user", F.lit(None).cast("long"))
        grouped = kept.groupBy("session", "user").agg(F.sort_array(F.collect_list(event)).alias("ev"),
                                                      F.min("t").alias("start"))
        grouped = grouped.join(first_seen, "session").withColumn(
            "per_id", F.count("*").over(Window.partitionBy("session")))
        grouped = grouped.persist()
        shared_note = grouped.where(F.col("per_id") > 1).select("session").distinct().count()
        user_text = F.coalesce(_as_text(F.col("user")), F.lit("?"))
        sessions = grouped.select(
            F.struct(F.col("start"), F.col("s_first"), F.col("user")).alias("okey"),
            F.when(F.col("per_id") > 1, F.concat(_as_text(F.col("session")), F.lit("@"), user_text))
            .otherwise(_as_text(F.col("session"))).alias("session_id"),
            "user", "start", F.transform("ev", lambda e: e["item"]).alias("items"))
    drops.note("session ids shared by several users (split per user)", shared_note)

    names = None
    if spec.name_column:
        names = _most_frequent_names(kept, drops)
    source = event_log_source(
        paths=[display_path(f) for f in files], cols=cols, filters=flt, name_column=spec.name_column,
        session_mode=session_mode, delimiter=delim, timestamp_found_by=found_by.get("timestamp", "given"), unit=unit,
        rows_read=n_rows, rows_kept=n_rows - sum(drops.counts.values()),
    )
    return RawSessionsFrame(sessions=sessions, drops=drops, source=source, names=names)


def _most_frequent_names(kept: DataFrame, drops: DropLog) -> DataFrame:
    """Per item, its most frequent non-empty name among the kept rows (ties: the name seen first in the kept
    rows, as the single-machine reader decides); items without a name get ``""``."""
    named = kept.where(F.col("name").isNotNull())
    first_seen = named.groupBy("name").agg(F.min(ROW_KEY).alias("name_first"))
    counted = named.groupBy("item", "name").count().join(first_seen, "name")
    by_item = Window.partitionBy("item")
    ranked = counted.withColumn("n_names", F.count("*").over(by_item)).withColumn(
        "rank", F.row_number().over(by_item.orderBy(F.col("count").desc(), F.col("name_first"))))
    chosen = ranked.where(F.col("rank") == 1).select("item", "name", "n_names").persist()
    drops.note("items with several names (most frequent kept)", chosen.where(F.col("n_names") > 1).count())
    all_items = kept.select("item").distinct()
    return all_items.join(chosen.select("item", "name"), "item", "left") \
        .select(F.col("item").alias("item_id"), F.coalesce(F.col("name"), F.lit("")).alias("name"))


# ------------------------------------------------------------------------------------------- session JSONL


def _jsonl_sessions(spark: SparkSession, spec: DatasetSpec) -> RawSessionsFrame:
    files = list_inputs(spark, spec.paths, JSONL_SUFFIXES, "JSON Lines")
    lines = read_lines(spark, files)
    data = lines.where(F.trim(F.col("value")) != "")
    schema = "session_id STRING, items ARRAY<STRING>, user_id STRING, start_time STRING, `_behemb_corrupt` STRING"
    parsed = data.select("f", ROW_KEY, "value", F.from_json(
        "value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_behemb_corrupt"}).alias("p"))
    p = F.col("p")
    item_problem = F.exists(p["items"], lambda x: x.isNull() | (x == ""))
    problem = (F.when(~F.trim("value").startswith("{"), F.lit("expected a JSON object per line"))
               .when(p["_behemb_corrupt"].isNotNull() | p.isNull(), F.lit("not valid JSON"))
               .when(p["session_id"].isNull() | (p["session_id"] == ""),
                     F.lit("missing: every line needs a session_id (string or integer)"))
               .when(p["items"].isNull(), F.lit("missing: every line needs an items list"))
               .when(F.size(p["items"]) == 0,
                     F.lit("a session with no items (expected a non-empty list of item ids)"))
               .when(item_problem, F.lit("an item id is null or empty: expected an integer or a string id")))
    field_ = (F.when(p["session_id"].isNull() | (p["session_id"] == ""), F.lit("session_id"))
              .when(p["items"].isNull() | (F.size(p["items"]) == 0) | item_problem, F.lit("items")))
    rows = parsed.select("f", ROW_KEY, "p", problem.alias("problem"), field_.alias("field")).persist()
    raise_first_problem(rows, files, F.col("problem"), F.col("field"), lambda rk: line_number(lines, rk))

    # A whole float id (12.0) is the integer 12; ids are integers when every id of the data set is one.
    items = F.transform(p["items"], lambda x: F.regexp_replace(x, r"^(-?[0-9]+)\.0+$", "$1"))
    user = F.regexp_replace(p["user_id"], r"^(-?[0-9]+)\.0+$", "$1")
    rows = rows.select(ROW_KEY, p["session_id"].alias("session_id"), items.alias("items"), user.alias("user"),
                       p["start_time"].alias("start_time"))
    modes = _int_modes(rows.select(F.explode("items").alias("i")), {"items": F.col("i")}, CANONICAL_INT)
    modes.update(_int_modes(rows, {"user": F.col("user")}, CANONICAL_INT))
    st = F.col("start_time")
    start = (F.when(st.rlike(NUMERIC), F.bround(st.try_cast("double") * 1e9, 0).cast("long"))
             .otherwise(F.unix_micros(F.try_to_timestamp(st)) * 1000))
    sessions = rows.select(
        F.struct(F.col(ROW_KEY)).alias("okey"), "session_id",
        (F.col("user").cast("long") if modes["user"] else F.col("user")).alias("user"),
        start.alias("start"),
        (F.transform("items", lambda x: x.cast("long")) if modes["items"] else F.col("items")).alias("items"))
    totals = rows.agg(F.count("*").alias("n"), F.sum(F.size("items")).alias("events")).collect()[0]
    source = {
        "kind": "sessions_jsonl",
        "paths": [display_path(f) for f in files],
        "files": len(files),
        "rows_read": int(totals["n"]),
        "events_read": int(totals["events"] or 0),
    }
    return RawSessionsFrame(sessions=sessions, drops=DropLog(), source=source)
