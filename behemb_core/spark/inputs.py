"""Reading input files on Spark, keeping *file order*: every line carries a row key ``rk`` (file number, start of
its file split, a monotonically increasing id within the split) that sorts lines exactly as they stand in the
files, files in the library's order (:func:`~behemb_core.ingest._files.list_files`: a folder's files by name).

Text files are read as lines (``spark.read.text``) and parsed per line, so a line's number in its file is known:
errors name the file and the 1-based line like the single-machine readers do. Spark's CSV reader is not used: it
has no row index, and its default escape is ``\\`` where RFC 4180 doubles the quote.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ..errors import InputError
from ..ingest._files import has_suffix

#: Columns every line DataFrame has: file number, the line's row key, the text.
ROW_KEY = "rk"


def _hadoop_fs(spark: SparkSession, url: str):
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(url)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def list_inputs(spark: SparkSession, paths: list[str], suffixes: tuple[str, ...], what: str) -> list[str]:
    """The data files ``paths`` name, qualified as Spark reports them (``file:/…``, ``s3a://…``), in the library's
    order: paths as given, a folder's non-hidden files with a data suffix sorted by name. Listing uses Hadoop's
    file system, so any URL the cluster can read works."""
    out: list[str] = []
    for p in paths:
        fs, path = _hadoop_fs(spark, p)
        if not fs.exists(path):
            raise InputError("no such file or folder", path=p)
        status = fs.getFileStatus(path)
        if status.isDirectory():
            found = sorted(
                (st.getPath() for st in fs.listStatus(path) if st.isFile()
                 and not st.getPath().getName().startswith(".")
                 and has_suffix(Path(st.getPath().getName()), suffixes)),
                key=lambda q: q.getName(),
            )
            if not found:
                raise InputError(f"folder contains no {what} files (looked for {', '.join(suffixes)})", path=p)
            out.extend(fs.makeQualified(q).toString() for q in found)
        else:
            out.append(fs.makeQualified(path).toString())
    return out


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of ``files`` (gzip read transparently) as ``f`` (file number), ``rk`` (row key) and ``value``
    (the line without its end and without a byte-order mark)."""
    numbers = spark.createDataFrame([(u, i) for i, u in enumerate(files)], "path STRING, f INT")
    lines = spark.read.text(files).select(
        F.col("_metadata.file_path").alias("path"),
        F.col("_metadata.file_block_start").alias("bs"),
        F.monotonically_increasing_id().alias("mid"),
        F.regexp_replace("value", "^\ufeff", "").alias("value"),
    )
    joined = lines.join(F.broadcast(numbers), "path", "left")
    return joined.select("f", F.struct(F.col("f"), F.col("bs"), F.col("mid")).alias(ROW_KEY), "value")


def head_lines(spark: SparkSession, file: str, n: int) -> list[str]:
    """The first ``n`` lines of one file (from its first split, in order), for sniffing and detection."""
    rows = (spark.read.text(file).where(F.col("_metadata.file_block_start") == 0)
            .select(F.regexp_replace("value", "^\ufeff", "").alias("value")).limit(n).collect())
    return [r["value"] for r in rows]


def first_lines(lines: DataFrame) -> dict[int, str]:
    """Each file's first line (file number → text)."""
    firsts = lines.groupBy("f").agg(F.min(F.struct(F.col(ROW_KEY), F.col("value"))).alias("first")).collect()
    return {int(r["f"]): r["first"]["value"] for r in firsts}


def line_number(lines: DataFrame, rk) -> int:
    """The 1-based line of the row with key ``rk`` in its file (lines before it in the same file, plus one)."""
    before = lines.where((F.col("f") == rk["f"]) & (F.col(ROW_KEY) < F.struct(
        F.lit(rk["f"]).cast("int").alias("f"), F.lit(rk["bs"]).cast("long").alias("bs"),
        F.lit(rk["mid"]).cast("long").alias("mid"))))
    return int(before.count()) + 1


def raise_first_problem(rows: DataFrame, files: list[str], problem: Column, field: Column,
                        line_of: Callable[[Any], int]) -> None:
    """Raise an :class:`InputError` for the first row (in file order) where ``problem`` is not null, naming the
    file, the line (``line_of`` its row key), the ``field`` and the problem. Does nothing when no row has one."""
    first = (rows.where(problem.isNotNull())
             .agg(F.min(F.struct(F.col(ROW_KEY), problem.alias("problem"), field.alias("field"))).alias("x"))
             .collect()[0]["x"])
    if first is None:
        return
    rk = first[ROW_KEY]
    raise InputError(first["problem"], path=display_path(files[rk["f"]]), line=line_of(rk), field=first["field"])


def display_path(uri: str) -> str:
    """A local file's plain path (``file:/a/b.csv`` → ``/a/b.csv``); other URLs as they are."""
    if uri.startswith("file:"):
        rest = uri[len("file:"):]
        return "/" + rest.lstrip("/") if rest.startswith("/") else rest
    return uri


def split_line(line: str, delimiter: str) -> list[str]:
    """One CSV line's fields (RFC 4180 quoting), as the header is read."""
    return next(csv.reader([line], delimiter=delimiter)) if line else []


#: The characters Python's ``str.strip()`` removes (what the single-machine reader trims ids with).
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def trimmed(col: Column) -> Column:
    """Text without surrounding white space; empty text is missing (null), as the single-machine reader has it.
    A plain character-set trim (no regular expression per row)."""
    text = F.btrim(col, F.lit(WHITESPACE))
    return F.when(text == "", F.lit(None)).otherwise(text)
