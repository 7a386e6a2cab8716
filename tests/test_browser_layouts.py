"""The Data page in a real browser with files in public layouts (issue 22 §4): what only a browser shows.

An upload without an extension (MovieLens ``u.data``) is taken by the uploader (Streamlit's own type check used to
refuse it with a message shown only on hover), read with its columns mapped, and its Latin-1 ``u.item`` names show
with their accents; a second upload shows a real delimiter choice ("auto-detect"), not an empty "Choose an option"
(a kept ``None`` value did that). Slow: a server and Chromium (see tests/test_browser.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from test_browser import (
    LONG,
    choose,
    chromium,  # noqa: F401 - the module's Chromium fixture
    expect,
    go_via_sidebar,
    new_page,
    serve,
    settle,
)

LAYOUTS = Path(__file__).resolve().parent / "data" / "layouts"


def test_extensionless_upload_names_and_second_upload_in_a_browser(tmp_path: Path, chromium: object) -> None:  # noqa: F811
    with serve(tmp_path / "store", tmp_path) as url:
        page = new_page(chromium)
        try:
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=LONG)
            settle(page)
            go_via_sidebar(page, url, "Data")
            page.get_by_test_id("stRadio").get_by_text("Upload files").click()
            settle(page)
            page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(LAYOUTS / "u.data"))
            expect(page.get_by_text("delimiter detected")).to_contain_text("no header", timeout=LONG)
            settle(page)
            expect(page.get_by_text("not allowed")).to_have_count(0)
            delimiter = page.get_by_role("combobox", name="Delimiter", exact=True)
            expect(delimiter).to_have_value("auto-detect")
            for role, column in (("user", "column_1"), ("item", "column_2"), ("timestamp", "column_4")):
                choose(page, role, column)
            page.get_by_test_id("stFileUploaderDropzoneInput").nth(1).set_input_files(str(LAYOUTS / "u.item"))
            expect(page.get_by_text("encoding cp1252 (detected")).to_be_visible(timeout=LONG)
            settle(page)
            page.get_by_test_id("stButton").get_by_role("button", name="Read data").click()
            expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Data read", timeout=LONG)
            settle(page)
            expect(page.get_by_test_id("stMetric").filter(has_text="Sessions").first).to_contain_text("60")
            # A second upload in place of the first: the delimiter select starts from detection again and shows a
            # choice.
            page.get_by_role("button", name="Remove u.data", exact=True).click()
            settle(page)
            page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(
                str(LAYOUTS / "train-item-views.csv"))
            expect(page.get_by_text("Preview of train")).to_contain_text("5 columns", timeout=LONG)
            settle(page)
            expect(page.get_by_role("combobox", name="Delimiter", exact=True)).to_have_value("auto-detect")
            expect(page.get_by_text("Choose an option")).to_have_count(0)
        finally:
            page.close()
