"""AppTest: the Data page reads real-world layouts (semicolons, baskets), plots every histogram bin, names its own
controls in errors and keeps its choices across page switches."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from conftest import open_app
from streamlit.testing.v1 import AppTest

DIGINETICA = (
    b"sessionId;userId;itemId;timeframe;eventdate\n"
    b"1;;81766;526309;2016-05-09\n1;;31331;1031018;2016-05-09\n1;;32118;243569;2016-05-09\n"
    b"2;;9654;75848;2016-05-09\n2;;33043;100000;2016-05-10\n"
)
GROCERIES = b"citrus fruit,margarine,ready soups\ntropical fruit,yogurt,coffee\n\nwhole milk,yogurt\n"


@pytest.fixture
def data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(tmp_path / "store", "pages/1_Data.py", monkeypatch)


def _values(v) -> list:
    """A plotly JSON array, plain or binary-encoded (``{"dtype": …, "bdata": base64}``)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _cols(at: AppTest) -> dict[str, str]:
    return {s.key.rsplit("_", 1)[0]: s.value for s in at.selectbox if s.key.startswith("data_col_")}


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_histogram_plots_every_bin(data_page: AppTest) -> None:
    [chart] = [c for c in data_page.get("plotly_chart") if c.proto.id and "data_length_hist" in c.proto.id]
    fig = json.loads(chart.proto.spec)
    assert fig["layout"]["xaxis"]["type"] == "category"
    plotted = sum(sum(_values(trace["y"])) for trace in fig["data"])
    assert len(_values(fig["data"][0]["x"])) == len(_values(fig["data"][0]["y"])) > 4
    shown = {m.label: m.value for m in data_page.metric}
    assert plotted == int(shown["Sessions"].replace(",", "")) == 4429


def test_semicolon_csv_upload_is_read_into_its_columns(data_page: AppTest) -> None:
    at = _upload(data_page, "train-item-views.csv", DIGINETICA)
    preview = at.dataframe[0].value  # the preview comes first, above the column mapping
    assert list(preview.columns) == ["sessionId", "userId", "itemId", "timeframe", "eventdate"]
    assert any("delimiter detected: semicolon" in c.value for c in at.caption)
    cols = _cols(at)
    assert (cols["data_col_session"], cols["data_col_item"], cols["data_col_timestamp"]) == (
        "sessionId", "itemId", "eventdate")
    at.button(key="data_read").click().run()
    assert not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Sessions"] == "2" and shown["Items"] == "5"
    assert any("eventdate was recognised by its values" in c.value for c in at.caption)
    assert any("Timestamp: column eventdate" in c.value and "ISO 8601" in c.value for c in at.caption)


def test_baskets_choice_reads_one_session_per_line(data_page: AppTest) -> None:
    at = _upload(data_page, "groceries.csv", GROCERIES)
    at.radio(key="data_layout").set_value("baskets").run()
    assert not [s for s in at.selectbox if s.key.startswith("data_col_")]  # no column mapping for baskets
    at.button(key="data_read").click().run()
    assert not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Sessions"] == "3" and shown["Items"] == "7"
    assert any("skipped" in c.value and "line 3" in c.value for c in at.caption)  # the blank line, reported


def test_missing_column_error_names_the_pages_control(data_page: AppTest) -> None:
    at = _upload(data_page, "log.csv", b"who,what,zzz\n1,a,x\n1,b,y\n")
    at.button(key="data_read").click().run()
    [error] = [e.value for e in at.error]
    assert "choose the 'item' column" in error and "above" in error
    assert "EventColumns" not in error


def test_choices_survive_a_page_switch(data_page: AppTest) -> None:
    at = _upload(data_page, "train-item-views.csv", DIGINETICA)
    at.selectbox(key="data_delimiter").set_value(";").run()
    at.button(key="data_read").click().run()
    assert not at.error, [e.value for e in at.error]
    at.switch_page("pages/3_Neighbors.py").run()
    at.switch_page("pages/1_Data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="data_source").value == "upload"
    assert at.selectbox(key="data_delimiter").value == ";"
    assert _cols(at)["data_col_item"] == "itemId"
    at.button(key="data_read").click().run()  # reading again keeps the upload, never silently the demo
    assert "train-item-views.csv" in at.session_state["dataset_label"]
