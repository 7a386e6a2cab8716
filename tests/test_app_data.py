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
