"""In a real browser (the harness of ``tests/test_browser.py``: ``streamlit run`` driven by Playwright with Debian's
Chromium), the Publish page's rollback after the history cs_v1 → demo_ppmi → rollback to cs_v1 → dig_cs: the target
preselected is cs_v1, the version published just before dig_cs (``rollback_target``, the command line's default),
and Roll back re-publishes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import (  # noqa: F401 — chromium is a fixture
    LONG,
    chromium,
    expect,
    go_to,
    new_page,
    no_exception,
    serve,
    settle,
    status_line,
    sync_api,
)

pytestmark = pytest.mark.slow

HISTORY = ("cs_v1", "demo_ppmi", "dig_cs")


@pytest.fixture(scope="module")
def history_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server whose store holds three approved, never published ppmi_svd versions of the bundled demo."""
    from behemb_core.demo import load_demo_dataset
    from behemb_core.store import Store
    from behemb_core.store.lifecycle import record_approval
    from behemb_core.train import train_version

    tmp = tmp_path_factory.mktemp("browser-rollback")
    store = Store(tmp / "store")
    dataset = load_demo_dataset()
    for seed, name in enumerate(HISTORY):
        train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=seed, name=name)
        record_approval(store, name, by="setup", checks=[])
    with serve(tmp / "store", tmp) as url:
        yield url, tmp / "store"


def choose_version(page: object, version: str) -> None:
    """Open the Version select and pick ``version``. A rerun still finishing (the labels carry each version's status,
    which an action just changed) can close the open list under the click: then the list is opened again."""
    option = page.get_by_role("option", name=re.compile(f"^{re.escape(version)} \\("))
    for _ in range(3):
        page.get_by_role("combobox", name="Version", exact=True).click()
        try:
            option.click(timeout=10_000)
            break
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
            settle(page)
    else:
        raise AssertionError(f"the Version select never offered {version!r}")
    settle(page)


def publish_version(page: object, version: str) -> None:
    choose_version(page, version)
    page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {version}").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {version}", timeout=LONG)
    settle(page)


def roll_back(page: object, published: str) -> str:
    """Click Roll back with the preselected target; returns that target."""
    target = page.get_by_role("combobox", name=f"Re-publish instead of {published}", exact=True).input_value()
    page.get_by_test_id("stButton").get_by_role("button", name="Roll back").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Rolled back: {target} is published "
                                                                          "again", timeout=LONG)
    settle(page)
    return target


def test_rollback_after_a_history_re_publishes_the_version_published_just_before(
        history_server: tuple[str, Path], chromium: object) -> None:  # noqa: F811
    from behemb_core.store import Store, published_version, rollback_target

    url, store_dir = history_server
    store = Store(store_dir)
    page = new_page(chromium)
    try:
        go_to(page, url, "Publish", "Sign-off and publish")
        by = page.get_by_role("textbox", name="Your name (unverified)", exact=True)
        by.fill("Browser Test")
        by.press("Tab")
        settle(page)

        publish_version(page, "cs_v1")
        publish_version(page, "demo_ppmi")
        target = roll_back(page, "demo_ppmi")
        assert target == "cs_v1" and published_version(store) == "cs_v1"
        publish_version(page, "dig_cs")
        assert published_version(store) == "dig_cs" and rollback_target(store) == "cs_v1"

        box = page.get_by_role("combobox", name="Re-publish instead of dig_cs", exact=True)
        expect(box).to_have_value("cs_v1")  # not demo_ppmi, the choice left over from the earlier rollback
        assert roll_back(page, "dig_cs") == "cs_v1"
        assert published_version(store) == "cs_v1"
        expect(status_line(page)).to_contain_text("Status: approved · published now: cs_v1")
        expect(page.get_by_role("combobox", name="Re-publish instead of cs_v1", exact=True)).to_have_value(
            rollback_target(store))
        no_exception(page)
    finally:
        page.close()
