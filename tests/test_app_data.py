"""AppTest + helpers: the Data page reads uploads through the library and shows its errors and summary."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from conftest import open_app
from streamlit.testing.v1 import AppTest

from app_support.data_io import read_uploaded, save_uploads
from app_support.views import md
from behemb_core.errors import InputError

BROKEN = (b'{"session_id": "a", "items": [1, 2, 3]}\n{"session_id": "b", "items": [4, 5]}\n'
          b'{"session_id": "c", "items": [6, 7\n')
GOOD = (b'{"session_id": "a", "items": [1, 2, 3]}\n{"session_id": "b", "items": [2, 3]}\n'
        b'{"session_id": "c", "items": [6, 7]}\n')


@pytest.fixture
def data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(tmp_path / "store", "pages/1_Data.py", monkeypatch)


def test_read_uploaded_names_the_broken_line(tmp_path: Path) -> None:
    [path] = save_uploads([("broken.jsonl", BROKEN)], root=tmp_path)
    with pytest.raises(InputError, match="line 3"):
        read_uploaded(path)


def test_data_page_shows_demo_summary_and_upload_limit(data_page: AppTest) -> None:
    shown = {m.label: m.value for m in data_page.metric}
    assert shown["Sessions"] == "4,429" and shown["Rows read"] == "145,453"
    assert any("MB per file" in c.value for c in data_page.caption)
    drops = data_page.dataframe[0].value
    assert drops.set_index("reason").loc["session id starts with 'C'", "rows"] == 2142
    # The demo's column mapping is pre-filled by detect_columns.
    by_prefix = {s.key.rsplit("_", 1)[0]: s.value for s in data_page.selectbox if s.key.startswith("data_col_")}
    assert by_prefix["data_col_item"] == "StockCode"
    assert by_prefix["data_col_session"] == "InvoiceNo"
    assert by_prefix["data_col_name"] == "Description"


def test_broken_jsonl_upload_shows_the_line(data_page: AppTest) -> None:
    at = data_page
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("sessions.jsonl", BROKEN, "application/json")).run()
    at.button(key="data_read").click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "sessions.jsonl, line 3" in error and "behemb-uploads" not in error
    assert at.session_state["dataset_spec"].find("sessions.jsonl") == -1  # still the demo in use


def test_good_upload_becomes_the_dataset_in_use(data_page: AppTest) -> None:
    at = data_page
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("good.jsonl", GOOD, "application/json")).run()
    at.button(key="data_read").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Sessions"] == "3" and shown["Items"] == "5"
    assert "good.jsonl" in at.session_state["dataset_label"]


def test_event_log_upload_maps_columns_and_reports_bad_timestamp(data_page: AppTest) -> None:
    at = data_page
    at.radio(key="data_source").set_value("upload").run()
    csv = b"visitorid,sku,ts\n1,10,2020-01-01 10:00:00\n1,11,2020-01-01 10:05:00\n2,10,nonsense\n"
    at.file_uploader(key="data_upload").set_value(("events.csv", csv, "text/csv")).run()
    cols = {s.key.rsplit("_", 1)[0]: s.value for s in at.selectbox if s.key.startswith("data_col_")}
    assert (cols["data_col_user"], cols["data_col_item"], cols["data_col_timestamp"]) == ("visitorid", "sku", "ts")
    at.button(key="data_read").click().run()
    [error] = [e.value for e in at.error]
    assert "events.csv, line 4, field 'timestamp'" in error and "nonsense" in error


def test_markdown_escaping_of_untrusted_names() -> None:
    assert md("<b>[x](javascript:1)</b>*") == r"\<b\>\[x\]\(javascript\:1\)\</b\>\*"


def test_old_upload_folders_are_pruned(tmp_path):
    import os
    import time

    from app_support.data_io import prune_uploads, save_uploads

    old = save_uploads([("a.csv", b"x,y\n1,2\n")], root=tmp_path, tag="old")[0].parent
    past = time.time() - 3 * 24 * 3600
    os.utime(old, (past, past))
    fresh = save_uploads([("b.csv", b"x,y\n1,2\n")], root=tmp_path, tag="fresh")[0].parent
    assert not old.exists() and fresh.exists()
    assert prune_uploads(tmp_path) == 0


# ---------------------------------------------------------------- issue 22 §3/§4: real files get in

LAYOUTS = Path(__file__).resolve().parent / "data" / "layouts"


def _upload(at: AppTest, name: str, *, mime: str = "text/plain") -> AppTest:
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value((name, (LAYOUTS / name).read_bytes(), mime)).run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def _column(at: AppTest, role: str):
    [box] = [s for s in at.selectbox if (s.key or "").startswith(f"data_col_{role}_")]
    return box


def _read(at: AppTest) -> dict[str, str]:
    at.button(key="data_read").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return {m.label: m.value for m in at.metric}


def test_uploads_are_not_refused_by_extension(data_page: AppTest) -> None:
    at = data_page
    at.radio(key="data_source").set_value("upload").run()
    # The uploader takes any file (MovieLens u.data has no extension); the library reads it by content.
    assert not at.file_uploader(key="data_upload").proto.type
    assert any("u.data" in c.value for c in at.caption) or "u.data" in at.file_uploader(key="data_upload").label


def test_movielens_u_data_and_latin1_u_item_names(data_page: AppTest) -> None:
    at = _upload(data_page, "u.data")
    assert at.checkbox(key="data_header").value is False  # an all-numeric first line is data
    _column(at, "user").set_value("column_1")
    _column(at, "item").set_value("column_2")
    _column(at, "timestamp").set_value("column_4")
    at.run()
    at.file_uploader(key="data_meta_upload").set_value(("u.item", (LAYOUTS / "u.item").read_bytes(), "text/plain"))
    at.run()
    assert at.selectbox(key="data_meta_delimiter").value == "auto"
    assert at.checkbox(key="data_meta_header").value is False
    assert any("encoding cp1252 (detected" in c.value for c in at.caption)
    shown = _read(at)
    assert shown["Sessions"] == "60" and shown["Rows read"] == "261"
    [top] = [d.value for d in at.dataframe if "name" in d.value.columns and "count" in d.value.columns]
    names = top["name"].tolist()
    assert any("é" in n or "ü" in n.lower() or "è" in n for n in names), names


def test_otto_nested_sessions_map_fields_and_keep_event_types(data_page: AppTest) -> None:
    from behemb_core.ingest import DatasetSpec, load

    at = _upload(data_page, "otto.jsonl", mime="application/json")
    fields = {t.key: t.value for t in at.text_input if (t.key or "").startswith("data_field_")}
    assert fields == {"data_field_session": "session", "data_field_events": "events", "data_field_item": "aid",
                      "data_field_time": "ts", "data_field_type": "type"}
    at.text_input(key="data_filter_nested_keep_event_types").input("clicks").run()
    shown = _read(at)
    expected = load(DatasetSpec.create(paths=[str(LAYOUTS / "otto.jsonl")],
                                       filters={"keep_event_types": ["clicks"]}))
    assert shown["Sessions"] == f"{expected.sessions.n_sessions:,}"
    assert any("people who **viewed**" in c.value and "clicks" in c.value for c in at.caption)


def test_baskets_file_opens_as_baskets_not_a_table(data_page: AppTest) -> None:
    at = _upload(data_page, "groceries.csv")
    assert at.radio(key="data_layout").value == "baskets"
    assert any("looks like **baskets**" in c.value for c in at.caption)
    shown = _read(at)
    assert shown["Rows read"] == "300"


def test_diginetica_views_say_viewed_and_that_it_is_a_guess(data_page: AppTest) -> None:
    at = _upload(data_page, "train-item-views.csv")
    assert at.selectbox(key="data_delimiter").value == "auto"
    assert _column(at, "session").value == "sessionId"
    _read(at)
    [wording] = [c.value for c in at.caption if c.value.startswith("Wording")]
    assert "**viewed**" in wording and "guessed from the file name" in wording


def test_yoochoose_clicks_dat_timestamp_is_the_iso_column(data_page: AppTest) -> None:
    at = _upload(data_page, "yoochoose-clicks.dat")
    assert at.checkbox(key="data_header").value is False
    assert _column(at, "timestamp").value == "column_2"  # not the item ids, which look like unix seconds
    _column(at, "session").set_value("column_1")
    _column(at, "item").set_value("column_3")
    at.run()
    assert _read(at)["Rows read"] == "345"


def test_one_column_for_two_roles_is_refused_naming_the_controls(data_page: AppTest) -> None:
    at = _upload(data_page, "yoochoose-clicks.dat")
    _column(at, "session").set_value("column_1")
    _column(at, "item").set_value("column_2")  # the timestamp column too
    at.run()
    at.button(key="data_read").click().run()
    [error] = [e.value for e in at.error]
    assert "'column_2' is chosen for both 'item' and 'timestamp'" in error


def test_second_upload_keeps_a_real_delimiter_choice(data_page: AppTest) -> None:
    at = _upload(data_page, "train-item-views.csv")
    at.selectbox(key="data_delimiter").set_value(";").run()
    at.file_uploader(key="data_upload").set_value(("u.data", (LAYOUTS / "u.data").read_bytes(), "text/plain")).run()
    delimiter = at.selectbox(key="data_delimiter")
    # A new upload starts from detection again, and no option is None (a kept None shows "Choose an option").
    assert delimiter.value == "auto" and None not in delimiter.options
    assert at.checkbox(key="data_header").value is False


def test_the_page_shows_the_settings_of_the_dataset_in_use(data_page: AppTest) -> None:
    at = data_page
    at.number_input(key="data_opt_min_length").set_value(3)
    at.number_input(key="data_opt_gap_minutes").set_value(45.0)
    read = _read(at)
    assert any("settings of the dataset in use" in c.value for c in at.caption)
    at.switch_page("pages/2_Train.py").run()
    at.switch_page("pages/1_Data.py").run()
    assert at.number_input(key="data_opt_min_length").value == 3
    # Widget values can be lost while the dataset in use is kept (a reload that restores the dataset): a new browser
    # session with only the dataset in use starts the page from its settings, not from the defaults.
    fresh = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    fresh.session_state["store_path"] = at.session_state["store_path"]
    fresh.session_state["dataset_spec"] = at.session_state["dataset_spec"]
    fresh.session_state["dataset_label"] = at.session_state["dataset_label"]
    fresh.run()
    fresh.switch_page("pages/1_Data.py").run()
    assert fresh.number_input(key="data_opt_min_length").value == 3
    assert fresh.number_input(key="data_opt_gap_minutes").value == 45.0
    assert any("settings of the dataset in use" in c.value for c in fresh.caption)
    assert at.number_input(key="data_opt_min_length").value == 3
    assert at.number_input(key="data_opt_gap_minutes").value == 45.0
    assert any("settings of the dataset in use" in c.value for c in at.caption)
    at.number_input(key="data_opt_min_length").set_value(4).run()
    assert any("changes the dataset in use" in c.value and "3 → 4" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric} == read  # nothing read yet
