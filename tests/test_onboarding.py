"""Real files that used to dead-end: sniffed delimiters, basket-per-line files, timestamps found by content."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from behemb_core.errors import InputError
from behemb_core.ingest import (
    EventColumns,
    detect_timestamp,
    peek_table,
    read_baskets,
    read_event_log,
    summarize,
)
from behemb_core.sessions import SessionOptions

ROOT = Path(__file__).resolve().parents[1]
RAW = SessionOptions(min_length=1, collapse_repeats=False)
DIGINETICA = (
    "sessionId;userId;itemId;timeframe;eventdate\n"
    "1;;81766;526309;2016-05-09\n"
    "1;;31331;1031018;2016-05-09\n"
    "1;;32118;243569;2016-05-09\n"
    "2;;9654;75848;2016-05-09\n"
    "2;;33043;100000;2016-05-10\n"
)
GROCERIES = (
    "citrus fruit,semi-finished bread,margarine,ready soups\n"
    "tropical fruit,yogurt,coffee\n"
    "whole milk\n"
    ",,\n"
    "\n"
    "pip fruit,yogurt,cream cheese ,meat spreads\n"
)


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["views.csv", "views.tsv", "views.txt", "views.csv.gz"])
def test_semicolon_table_is_sniffed_for_every_text_suffix(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, DIGINETICA)
    columns, delim, rows = peek_table(path, rows=2)
    assert delim == ";" and columns == ["sessionId", "userId", "itemId", "timeframe", "eventdate"]
    assert rows == [["1", "", "81766", "526309", "2016-05-09"], ["1", "", "31331", "1031018", "2016-05-09"]]
    ds = read_event_log(path, options=RAW)
    assert ds.sessions.n_sessions == 2 and ds.sessions.n_events == 5
    assert ds.source["delimiter"] == ";"


def test_explicit_delimiter_and_no_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "u1|a|10\nu1|b|20\nu2|a|30\n")
    cols = EventColumns(user="column_1", item="column_2", timestamp="column_3", delimiter="|", header=False,
                        timestamp_unit="s")
    ds = read_event_log(path, columns=cols, options=RAW)
    assert ds.source["rows_read"] == 3  # the first line is data, not a header
    assert sorted(map(list, ds.sessions.to_lists())) == [["a"], ["a", "b"]]


def test_no_header_bad_value_names_the_right_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "u1,a,2020-01-01\nu1,b,nonsense\n")
    cols = EventColumns(user="column_1", item="column_2", timestamp="column_3", header=False)
    with pytest.raises(InputError, match="log.csv, line 2, field 'timestamp'"):
        read_event_log(path, columns=cols, options=RAW)


def test_timestamp_found_by_content_and_unit_reported(tmp_path: Path) -> None:
    # Neither 'when' nor 'moment' is a known timestamp name: found by content.
    path = _write(tmp_path / "ev.csv", "user_id,item_id,when\n1,a,1700000000000\n1,b,1700000060000\n")
    sm = summarize(read_event_log(path, options=RAW))
    assert sm["timestamp"]["column"] == "when" and sm["timestamp"]["found_by"] == "content"
    assert sm["timestamp"]["unit"] == "ms" and sm["timestamp"]["unit_assumed"] is True
    # A given unit is not "assumed".
    sm = summarize(read_event_log(path, columns=EventColumns(timestamp_unit="ms"), options=RAW))
    assert sm["timestamp"]["unit_assumed"] is False and sm["timestamp"]["found_by"] == "content"
    # ISO dates by content, and a day/frame offset by its name + numeric content.
    assert detect_timestamp(["a", "eventdate"], [["1", "2016-05-09"]]) == "eventdate"
    assert detect_timestamp(["a", "timeframe"], [["x", "526309"]]) == "timeframe"
    assert detect_timestamp(["a", "b"], [["x", "526309"]]) is None


def test_diginetica_layout_reports_the_timestamp(tmp_path: Path) -> None:
    path = _write(tmp_path / "train-item-views.csv", DIGINETICA)
    sm = summarize(read_event_log(path, options=RAW))
    assert sm["timestamp"]["column"] == "eventdate" and sm["timestamp"]["found_by"] == "content"
    assert "ISO" in sm["timestamp"]["unit"]


@pytest.mark.parametrize("name", ["groceries.csv", "groceries.csv.gz"])
def test_baskets_keep_order_and_count_empty_lines(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, GROCERIES)
    ds = read_baskets(path, options=RAW)
    lists = ds.sessions.to_lists()
    assert lists[0] == ["citrus fruit", "semi-finished bread", "margarine", "ready soups"]
    assert lists[-1] == ["pip fruit", "yogurt", "cream cheese", "meat spreads"]  # trimmed, order kept
    assert list(ds.sessions.session_ids) == ["1", "2", "3", "6"]  # session id = line number
    assert ds.source["empty_lines"] == [{"path": str(path), "line": 4}, {"path": str(path), "line": 5}]
    assert sum(ds.notes.values()) == 2
    assert ds.source["events_read"] == ds.sessions.n_events + sum(ds.drops.values())


def test_baskets_empty_fields_counted_and_semicolons_sniffed(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.txt", "1;2;;3\n4\n5;6\n")
    ds = read_baskets(path, options=RAW)
    assert ds.sessions.to_lists() == [[1, 2, 3], [4], [5, 6]]
    assert ds.drops == {"empty item field in a basket line": 1}


def test_baskets_empty_file_names_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", "\n,,\n")
    with pytest.raises(InputError, match="empty.csv"):
        read_baskets(path)


def test_cli_summarize_baskets(tmp_path: Path) -> None:
    path = _write(tmp_path / "groceries.csv", GROCERIES)
    out = subprocess.run(
        [sys.executable, "-m", "behemb_core", "summarize", "--input", str(path), "--format", "baskets",
         "--min-length", "1", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    sm = json.loads(out.stdout)
    assert sm["sessions"] == 4 and sm["events"] == 12 and sm["delimiter"] == ","
    assert sm["skipped_lines"][0]["line"] == 4
