"""In a real browser (the harness of ``tests/test_browser.py``: ``streamlit run`` driven by Playwright with Debian's
Chromium): a reload of the page during training brings back the job's progress and its Cancel button, on the Train
page and in the sidebar; Cancel stops it and nothing is saved. A reload after reading an uploaded file keeps that
dataset in use (not the demo). The key that does it is in the address (``?s=…``); opened in another browser (a new
context, without this one's cookies) it is refused: that browser gets the demo and a notice, and no Cancel.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import (  # noqa: F401 — chromium is a fixture
    LONG,
    chromium,
    diginetica_views,
    expect,
    go_via_sidebar,
    new_page,
    no_exception,
    serve,
    settle,
)

pytestmark = pytest.mark.slow


def reload(page: object, heading: str) -> None:
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading, timeout=LONG)
    settle(page)


def test_a_reload_keeps_the_training_job_and_the_dataset(tmp_path: Path, chromium: object) -> None:  # noqa: F811
    from behemb_core.store import Store

    store = tmp_path / "store"
    with serve(store, tmp_path) as url:
        page = new_page(chromium)
        try:
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_contain_text("behemb", timeout=LONG)
            settle(page)

            # Train the default method on the demo with a config slow enough to reload during it (500 epochs).
            go_via_sidebar(page, url, "Train")
            for label, value in (("Dimensions", "64"), ("Epochs (at most)", "500"), ("Epochs (at least)", "500")):
                box = page.get_by_role("spinbutton", name=label, exact=True)
                box.fill(value)
                box.press("Tab")
            page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
            main = page.get_by_test_id("stMain")
            expect(main.get_by_role("button", name="Cancel training")).to_be_visible(timeout=LONG)
            assert "s=" in page.url, page.url
            address = page.url

            reload(page, "Train")
            assert page.url == address
            expect(main.get_by_role("button", name="Cancel training")).to_be_visible(timeout=LONG)
            expect(main.get_by_test_id("stProgress")).to_be_visible()
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_test_id("stProgress")).to_contain_text("training:", timeout=LONG)
            expect(sidebar.get_by_role("button", name="Cancel training")).to_be_visible()
            expect(page.get_by_text("back on the bundled demo")).to_have_count(0)

            # The address opened in another browser (no cookies of this one): refused, nothing of the job shown.
            other = chromium.new_context(viewport={"width": 1400, "height": 1000})
            try:
                stranger = other.new_page()
                stranger.goto(address)
                expect(stranger.get_by_role("heading", level=1)).to_contain_text("Train", timeout=LONG)
                settle(stranger)
                expect(stranger.get_by_text("another person or browser")).to_be_visible()
                expect(stranger.get_by_role("button", name="Cancel training")).to_have_count(0)
                assert stranger.url != address
            finally:
                other.close()

            # Cancel takes effect at the next progress step; compiling the kernels (a cold numba cache on a busy
            # machine) reports none, so wait until the epochs run.
            expect(main.get_by_test_id("stProgress")).to_contain_text("/500", timeout=5 * LONG)
            main.get_by_role("button", name="Cancel training").click()
            expect(page.get_by_test_id("stAlertContentWarning").filter(has_text="was cancelled")).to_contain_text(
                "nothing was saved", timeout=LONG)
            no_exception(page)
            assert Store(store).list_versions() == []
            reload(page, "Train")  # the outcome was shown: a reload does not bring the job back
            expect(main.get_by_role("button", name="Cancel training")).to_have_count(0)

            # Data: read an uploaded file; after a reload it is still the dataset in use.
            csv = diginetica_views(tmp_path / "train-item-views.csv")
            go_via_sidebar(page, url, "Data")
            page.get_by_test_id("stRadio").get_by_text("Upload files").click()
            settle(page)
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
            expect(page.get_by_text("delimiter detected")).to_contain_text("5 columns", timeout=LONG)
            settle(page)
            page.get_by_test_id("stButton").get_by_role("button", name="Read data").click()
            expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Data read", timeout=LONG)
            settle(page)
            reload(page, "Data")
            summary = page.get_by_test_id("stMain")
            expect(summary).to_contain_text("train-item-views.csv")
            expect(page.get_by_text("Bundled demo: Online Retail")).to_have_count(0)
            go_via_sidebar(page, url, "Train")
            expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Training data")).to_contain_text(
                "train-item-views.csv")
            assert str(store) in page.get_by_test_id("stSidebar").inner_text()
            no_exception(page)
        finally:
            page.close()
