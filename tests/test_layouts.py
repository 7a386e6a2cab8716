"""Real layouts get in (issue 22 §4): the five public layouts of tests/data/layouts/ — Diginetica `;` CSV, groceries
baskets, MovieLens u.data + u.item (no extension, no header, Latin-1 names), OTTO nested JSON Lines, YOOCHOOSE clicks
— read by the library and the command line, with what was detected said and bad input named by file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from behemb_core.cli import main
from behemb_core.errors import InputError
from behemb_core.ingest import (
    DatasetSpec,
    SessionFields,
    detect_session_fields,
    guess_header,
    load,
    read_item_metadata,
    read_nested_sessions,
    sniff_kind,
    suggest_layout,
    summarize,
)
from behemb_core.ingest.columns import EventFilters, detect_timestamp
from behemb_core.ingest.item_names import read_header
from behemb_core.interaction import guess_interaction

LAYOUTS = Path(__file__).resolve().parent / "data" / "layouts"
UDATA = {"user": "column_1", "item": "column_2", "timestamp": "column_4"}


def test_sample_files_are_what_the_generator_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_layouts", LAYOUTS / "make_layouts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for made in tmp_path.iterdir():
        assert made.read_bytes() == (LAYOUTS / made.name).read_bytes(), made.name


# ---------------------------------------------------------------- detection


def test_files_without_a_known_suffix_are_read_by_content(tmp_path: Path) -> None:
    nested = tmp_path / "otto_sample"  # JSON Lines without an extension
    nested.write_bytes((LAYOUTS / "otto.jsonl").read_bytes())
    assert sniff_kind(LAYOUTS / "u.data") == "events"
    assert sniff_kind(LAYOUTS / "yoochoose-clicks.dat") == "events"
    assert sniff_kind(nested) == "sessions"
    assert DatasetSpec(paths=[str(nested)]).resolved_format() == "sessions"
    assert load(DatasetSpec(paths=[str(nested)])).sessions.n_sessions == \
        load(DatasetSpec(paths=[str(LAYOUTS / "otto.jsonl")])).sessions.n_sessions


def test_an_all_numeric_first_line_is_data_not_a_header() -> None:
    assert guess_header(LAYOUTS / "u.data") is False
    assert guess_header(LAYOUTS / "yoochoose-clicks.dat") is False  # a number and an ISO time: data
    assert guess_header(LAYOUTS / "train-item-views.csv") is True
    ds = load(DatasetSpec.create(paths=[str(LAYOUTS / "u.data")], columns={**UDATA, "header": None}))
    assert ds.source["columns"]["header"] is False
    assert ds.source["rows_read"] == len((LAYOUTS / "u.data").read_text().splitlines())  # the first line is data


def test_ragged_rows_without_id_or_time_columns_suggest_baskets() -> None:
    assert suggest_layout(LAYOUTS / "groceries.csv") == "baskets"
    for table in ("train-item-views.csv", "u.data", "yoochoose-clicks.dat"):
        assert suggest_layout(LAYOUTS / table) is None, table


def test_iso_date_time_column_wins_over_ids_that_look_like_unix_seconds() -> None:
    # YOOCHOOSE: session, 2014-04-07T10:51:09.277Z, 214536502 (an item id in the unix-seconds range), category
    rows = [line.split(",") for line in (LAYOUTS / "yoochoose-clicks.dat").read_text().splitlines()[:50]]
    assert detect_timestamp(["column_1", "column_2", "column_3", "column_4"], rows) == "column_2"


# ---------------------------------------------------------------- nested session JSON Lines (OTTO)


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_otto_layout_is_detected() -> None:
    found = detect_session_fields(LAYOUTS / "otto.jsonl")
    assert (found.layout, found.session, found.events, found.item, found.time, found.type) == \
        ("nested", "session", "events", "aid", "ts", "type")
    assert detect_session_fields(LAYOUTS / "otto.jsonl", SessionFields(type="")).type == ""


def test_nested_events_become_sessions_in_time_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [
        {"session": 7, "events": [{"aid": 3, "ts": 1659304803000, "type": "carts"},
                                  {"aid": 1, "ts": 1659304801000, "type": "clicks"},
                                  {"aid": 2, "ts": 1659304802000, "type": "clicks"}]},
        {"session": 8, "events": [{"aid": 5, "ts": 1659304900000, "type": "orders"},
                                  {"aid": 4, "ts": 1659304800000, "type": "clicks"}]},
    ])
    ds = read_nested_sessions(path)
    assert [list(x) for x in ds.sessions.to_lists()] == [[1, 2, 3], [4, 5]]  # events by time, sessions as given
    assert list(ds.sessions.session_ids) == ["7", "8"]
    assert ds.source["timestamp"]["unit"] == "ms" and ds.source["timestamp"]["unit_assumed"] is True
    assert ds.source["event_types"] == {"clicks": 3, "carts": 1, "orders": 1}
    assert ds.source["columns"]["event_type"] == "type"
    kept = read_nested_sessions(path, filters=EventFilters(keep_event_types=["clicks"]),
                                options=ds.options.model_copy(update={"min_length": 1}))
    assert [list(x) for x in kept.sessions.to_lists()] == [[1, 2], [4]]
    assert kept.drops["event type not in keep_event_types"] == 2
    assert kept.source["events_read"] == kept.sessions.n_events + sum(kept.drops.values())


def test_otto_sample_reads_through_the_spec_like_an_event_log() -> None:
    ds = load(DatasetSpec.create(paths=[str(LAYOUTS / "otto.jsonl")]))
    summary = summarize(ds)
    lines = (LAYOUTS / "otto.jsonl").read_text().splitlines()
    assert summary["rows_read"] == len(lines)
    assert ds.source["events_read"] == sum(len(json.loads(x)["events"]) for x in lines)
    assert ds.source["events_read"] == ds.sessions.n_events + sum(ds.drops.values())
    assert ds.sessions.vocab.ids.dtype.kind == "i"  # OTTO's aids stay integers
    assert summary["timestamp"]["column"] == "events[].ts"


@pytest.mark.parametrize(("row", "field", "text"), [
    ({"session": 1, "events": [{"aid": 1, "ts": 1}, {"aid": [2], "ts": 2}]}, "events[].aid", "event 2"),
    ({"session": 1, "events": []}, "events", "non-empty list"),
    ({"events": [{"aid": 1, "ts": 1}]}, "session", "missing"),
    ({"session": 1, "events": [{"aid": 1, "ts": "yesterday"}]}, "events[].ts", "yesterday"),
])
def test_a_bad_nested_line_names_file_line_and_field(tmp_path: Path, row: dict, field: str, text: str) -> None:
    good = {"session": 0, "events": [{"aid": 1, "ts": 1659304800000}, {"aid": 2, "ts": 1659304800001}]}
    path = _write(tmp_path / "bad.jsonl", [good, good, row])
    with pytest.raises(InputError) as err:
        load(DatasetSpec.create(paths=[str(path)]))
    assert err.value.line == 3 and err.value.field == field and text in str(err.value), str(err.value)


def test_a_mapped_field_that_no_event_has_is_refused_not_read_as_empty() -> None:
    with pytest.raises(InputError, match="'nope' is in none of the first events.*'aid', 'ts', 'type'"):
        load(DatasetSpec.create(paths=[str(LAYOUTS / "otto.jsonl")], fields={"item": "nope"}))


def test_an_unknown_session_layout_shows_both_expected_shapes(tmp_path: Path) -> None:
    path = _write(tmp_path / "odd.jsonl", [{"visitor": "a", "products": "1,2,3"}])
    with pytest.raises(InputError) as err:
        load(DatasetSpec.create(paths=[str(path)]))
    assert '"session_id"' in str(err.value) and '"events"' in str(err.value) and err.value.line == 1


# ---------------------------------------------------------------- item names: delimiter, header, encoding


def test_movielens_u_item_names_latin1_pipe_no_header() -> None:
    meta = read_item_metadata(LAYOUTS / "u.item")
    attrs = meta.table.attrs
    assert (attrs["delimiter"], attrs["header"], attrs["id_column"], attrs["name_column"]) == \
        ("|", False, "column_1", "column_2")
    assert attrs["encoding"] == "cp1252" and attrs["encoding_detected"] is True
    names = dict(zip(meta.table["item_id"], meta.table["name"], strict=True))
    assert names[1] == "Amélie's Garden 1 (1951)" and names[3] == "Über den Wolken 3 (1953)"
    assert meta.table["item_id"].dtype.kind == "i" and len(meta.table) == 60
    explicit = read_item_metadata(LAYOUTS / "u.item", delimiter="|", header=False, encoding="latin-1")
    assert explicit.names_for(np.array([1]))[0] == "Amélie's Garden 1 (1951)"
    assert explicit.table.attrs["encoding_detected"] is False


def test_names_in_a_wrong_encoding_or_unknown_codec_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"u\.item, line 1: not UTF-8"):
        read_item_metadata(LAYOUTS / "u.item", encoding="utf-8")
    with pytest.raises(InputError, match="unknown text encoding 'klingon'"):
        read_item_metadata(LAYOUTS / "u.item", encoding="klingon")


def test_names_with_a_header_still_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n2,Jumanji (1995),Adventure\n")
    meta = read_item_metadata(path)
    assert meta.table.attrs["header"] is True and meta.table.attrs["encoding"] == "utf-8"
    assert list(meta.names_for(np.array([2, 1]))) == ["Jumanji (1995)", "Toy Story (1995)"]
    assert read_header(path)[0] == ["movieId", "title", "genres"]


def test_u_data_with_u_item_names_through_the_spec() -> None:
    ds = load(DatasetSpec.create(paths=[str(LAYOUTS / "u.data")], columns={**UDATA, "header": None},
                                 meta_path=str(LAYOUTS / "u.item")))
    top = summarize(ds)["popularity"]["top_items"]
    assert all(t["name"] for t in top)


# ---------------------------------------------------------------- the interaction verb


@pytest.mark.parametrize(("spec", "verb", "basis"), [
    ({"paths": ["train-item-views.csv"], "columns": {"session": "sessionId", "timestamp": "timeframe"}},
     "viewed", "the file name 'train-item-views.csv'"),
    ({"paths": ["yoochoose-clicks.dat"], "columns": {"header": False, "session": "column_1", "item": "column_3",
                                                     "timestamp": "column_2"}},
     "viewed", "the file name 'yoochoose-clicks.dat'"),
    ({"paths": ["otto.jsonl"]}, "viewed", "the most frequent event type 'clicks'"),
    ({"paths": ["groceries.csv"], "format": "baskets"}, "bought", "the kind of input (baskets)"),
    ({"paths": ["u.data"], "columns": {**UDATA, "header": False}}, "bought", None),
])
def test_the_verb_uses_file_and_event_type_names_and_says_it_guessed(spec: dict, verb: str, basis: str | None
                                                                      ) -> None:
    spec = {**spec, "paths": [str(LAYOUTS / p) for p in spec["paths"]]}
    guess = guess_interaction(load(DatasetSpec.create(**spec)).source)
    assert (guess.verb, guess.basis) == (verb, basis)
    assert ("guessed from" in guess.describe()) == (basis is not None)
    from behemb_core.store.settings import verb_from_source

    assert verb_from_source(load(DatasetSpec.create(**spec)).source) == verb


# ---------------------------------------------------------------- the command line


def _summarize(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(["summarize", "--quiet", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.parametrize(("args", "sessions_at_least"), [
    (["--input", "train-item-views.csv", "--session-col", "sessionId", "--time-col", "timeframe"], 100),
    (["--input", "groceries.csv", "--format", "baskets"], 200),
    (["--input", "u.data", "--user-col", "column_1", "--item-col", "column_2", "--time-col", "column_4",
      "--item-meta", "u.item", "--meta-delimiter", "|", "--meta-no-header", "--meta-encoding", "latin-1"], 50),
    (["--input", "otto.jsonl", "--session-field", "session", "--events-field", "events", "--event-item-field",
      "aid", "--event-time-field", "ts", "--event-type-field", "type", "--timestamp-unit", "ms"], 200),
    (["--input", "yoochoose-clicks.dat", "--session-col", "column_1", "--item-col", "column_3"], 90),
])
def test_cli_reads_each_layout(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                               args: list[str], sessions_at_least: int) -> None:
    monkeypatch.chdir(LAYOUTS)
    summary = _summarize(capsys, *args)
    assert summary["sessions"] >= sessions_at_least
    if "u.item" in args:
        assert summary["popularity"]["top_items"][0]["name"]
    if "yoochoose-clicks.dat" in args:
        assert summary["timestamp"]["column"] == "column_2"


def test_cli_keep_event_types_filters_nested_event_types(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(LAYOUTS)
    summary = _summarize(capsys, "--input", "otto.jsonl", "--keep-event-types", "clicks")
    assert summary["dropped"]["event type not in keep_event_types"] > 0


def test_cli_names_a_bad_encoding_and_a_missing_event_field(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(LAYOUTS)
    code = main(["summarize", "--quiet", "--input", "u.data", "--user-col", "column_1", "--item-col", "column_2",
                 "--time-col", "column_4", "--item-meta", "u.item", "--meta-encoding", "utf-8"])
    err = capsys.readouterr().err
    assert code != 0 and "u.item, line 1: not UTF-8" in err and "Traceback" not in err
    code = main(["summarize", "--quiet", "--input", "otto.jsonl", "--event-item-field", "nope"])
    err = capsys.readouterr().err
    assert code != 0 and "field 'events[].nope'" in err and "Traceback" not in err


def test_a_version_of_nested_sessions_is_read_again_with_its_fields_and_type_filter() -> None:
    from behemb_core.cli.data import recorded_spec

    ds = load(DatasetSpec.create(paths=[str(LAYOUTS / "otto.jsonl")], fields={"type": "type"},
                                 filters={"keep_event_types": ["carts", "orders"]}))
    again = load(recorded_spec({"name": "v", "dataset": ds.manifest_section()}, "v"))
    assert again.fingerprint() == ds.fingerprint()
    assert again.drops["event type not in keep_event_types"] == ds.drops["event type not in keep_event_types"]
