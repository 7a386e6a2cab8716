"""Issue 22, "Done when": a walk in a real browser over five public layouts — Diginetica ``;`` CSV, groceries
baskets, MovieLens ``u.data`` + ``u.item``, OTTO nested JSON Lines, YOOCHOOSE clicks — each a small sample in that
layout (``tests/data/layouts/``), reaches a published version on each without help from outside the app.

One server with a temporary store, one browser session, the five layouts in turn: Data (upload, make only the
choices detection cannot make, read) → Train (the default method, dim 16, the page's own evaluation) → Publish (the
sidebar's name, every warning acknowledged by name, approve, publish). After every step no traceback and no
"Something went wrong"; the store's published version is the one just trained and the page says so; a screenshot
per layout goes to ``test-artifacts/walk-<layout>.png``.

The choices a newcomer has to make beyond what detection pre-fills (asserted, so a detection that gets better or
worse shows here): MovieLens ``u.data`` has no header, so its user and item columns are picked (``column_1``,
``column_2``; the unix timestamp ``column_4`` is detected) and ``u.item`` is uploaded as the item names; YOOCHOOSE has
no header, so its session and item columns are picked (``column_1``, ``column_3``; the ISO timestamp ``column_2`` is
detected). The other three need nothing. Each layout follows the one before in the same session, so what one file's
choices leave behind for the next (item names, a column mapping) is walked too.
Slow: a server and Chromium (see tests/test_browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_browser import (
    LONG,
    choose,
    chromium,  # noqa: F401 - the module's Chromium fixture
    expect,
    go_to,
    go_via_sidebar,
    grid_rows,
    new_page,
    no_exception,
    serve,
    settle,
    shoot,
    status_line,
)

pytestmark = pytest.mark.slow

LAYOUTS = Path(__file__).resolve().parent / "data" / "layouts"
BY = "Walk Test"
COLUMN_ROLES = ("user", "item", "timestamp", "session", "weight", "event type")


@dataclass(frozen=True)
class Layout:
    name: str
    file: str
    detected: dict[str, str] = field(default_factory=dict)  # a role's column as detection pre-fills it
    chosen: dict[str, str] = field(default_factory=dict)  # the columns a newcomer has to pick
    names: str | None = None  # an item-name file uploaded with it
    sessions: int = 0  # what the Data page's summary must say


WALK = (
    Layout("diginetica", "train-item-views.csv", detected={"session": "sessionId", "user": "userId",
                                                           "item": "itemId"}, sessions=120),
    Layout("groceries", "groceries.csv", sessions=239),
    Layout("movielens", "u.data", detected={"timestamp": "column_4", "user": "(none)", "item": "(none)",
                                            "session": "(none)"},
           chosen={"user": "column_1", "item": "column_2"}, names="u.item", sessions=60),
    Layout("otto", "otto.jsonl", sessions=249),
    Layout("yoochoose", "yoochoose-clicks.dat", detected={"timestamp": "column_2", "session": "(none)",
                                                          "item": "(none)"},
           chosen={"session": "column_1", "item": "column_3"}, sessions=97),
)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, chromium: object) -> Iterator[tuple[str, Path, Any]]:  # noqa: F811
    """One server with a temporary store and one page (one session: the uploaded data stays in use on Train)."""
    tmp = tmp_path_factory.mktemp("browser-walk")
    with serve(tmp / "store", tmp) as url:
        page = new_page(chromium)
        try:
            go_to(page, url, "Data")
            yield url, tmp / "store", page
        finally:
            page.close()


def read_data(page: Any, url: str, layout: Layout) -> None:
    go_via_sidebar(page, url, "Data")
    page.get_by_test_id("stRadio").get_by_text("Upload files").click()
    settle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(LAYOUTS / layout.file))
    expect(page.get_by_text(f"Preview of {layout.file}").or_(page.get_by_text("Session fields")).first).to_be_visible(
        timeout=LONG)
    settle(page)
    expect(page.get_by_text("not allowed")).to_have_count(0)
    for role, column in layout.detected.items():  # what detection pre-fills (a newcomer's starting point)
        expect(page.get_by_role("combobox", name=role, exact=True)).to_have_value(column)
    for role, column in layout.chosen.items():  # what detection cannot know: picked through the page's selects
        choose(page, role, column)
    if layout.names:
        page.get_by_test_id("stFileUploaderDropzoneInput").nth(1).set_input_files(str(LAYOUTS / layout.names))
        expect(page.get_by_text(f"Preview of {layout.names}")).to_be_visible(timeout=LONG)
        settle(page)
    else:  # no item names file is in play (none left over from an earlier upload)
        expect(page.get_by_role("combobox", name="Names: id column", exact=True)).to_have_count(0)
    page.get_by_test_id("stButton").get_by_role("button", name="Read data").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Data read", timeout=LONG)
    settle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Sessions").first).to_contain_text(f"{layout.sessions:,}")


def train(page: Any, url: str, store_dir: Path, layout: Layout) -> str:
    """The default method with 16 dimensions and everything else as the page offers it (evaluation on); returns the
    version saved (its generated name: a newcomer names nothing)."""
    from behemb_core.store import Store

    before = {v.name for v in Store(store_dir).list_versions()}
    go_via_sidebar(page, url, "Train")
    expect(page.get_by_text("Training data:")).to_contain_text(f"{layout.sessions:,} sessions")
    dim = page.get_by_role("spinbutton", name="Dimensions", exact=True)
    dim.fill("16")
    dim.press("Tab")
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Saved version", timeout=LONG)
    settle(page)
    [version] = {v.name for v in Store(store_dir).list_versions()} - before
    expect(page.get_by_role("heading", name=f"Version {version}")).to_be_visible()
    manifest = Store(store_dir).manifest(version)
    assert manifest["dim"] == 16 and manifest.get("evaluation"), manifest.keys()
    meta = Store(store_dir).load_version(version).item_meta  # names only from this layout's own names file
    assert (meta is not None) == (layout.names is not None), (layout.name, meta)
    if meta is not None and layout.names == "u.item":
        names = meta.names_for(Store(store_dir).load_version(version).embeddings.vocab.ids)
        assert any("é" in str(n) for n in names), list(names)[:5]  # Latin-1 titles read as such
    return version


def sign_off_and_publish(page: Any, url: str, store_dir: Path, version: str) -> dict[str, str]:
    """Approve (every warning acknowledged by name) and publish ``version``; returns the checklist's states."""
    from behemb_core.store import Store, approvals, published_version

    go_via_sidebar(page, url, "Publish", "Sign-off and publish")
    by = page.get_by_role("textbox", name="Your name (unverified)", exact=True)
    if by.input_value() != BY:
        by.fill(BY)
        by.press("Tab")
        settle(page)
    version_box = page.get_by_role("combobox", name="Version", exact=True)
    expect(version_box).to_have_value(f"{version} (draft)")  # the version just trained is the one offered
    states = {row["check"]: row["state"].split()[-1] for row in grid_rows(
        page.get_by_test_id("stTable").filter(has_text="files intact"))}
    assert "fail" not in states.values(), f"a check failed that only an override gets past: {states}"
    warnings = sorted(name for name, state in states.items() if state == "warning")
    for name in warnings:
        box = page.get_by_test_id("stCheckbox").filter(has_text=f"I acknowledge the warning “{name}”")
        box.locator("label").click()
        settle(page)
        expect(box.locator("input")).to_be_checked()
    page.get_by_test_id("stButton").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Approved {version}", timeout=LONG)
    settle(page)
    page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {version}").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {version}", timeout=LONG)
    settle(page)
    store = Store(store_dir)
    assert published_version(store) == version
    record = approvals(store, version)[-1]
    assert record["override"] is False and sorted(record["acknowledged"]) == warnings, record
    assert BY in str(record["by"]), record["by"]
    expect(page.get_by_test_id("stMetric").filter(has_text="Published version")).to_contain_text(version)
    expect(version_box).to_have_value(f"{version} (published)")
    expect(status_line(page)).to_contain_text(f"Status: published · published now: {version}")
    return states


@pytest.mark.parametrize("layout", WALK, ids=[w.name for w in WALK])
def test_walk_from_upload_to_published_version(walk: tuple[str, Path, Any], layout: Layout) -> None:
    url, store_dir, page = walk
    read_data(page, url, layout)
    no_exception(page)
    version = train(page, url, store_dir, layout)
    no_exception(page)
    states = sign_off_and_publish(page, url, store_dir, version)
    no_exception(page)
    shoot(page, f"walk-{layout.name}")
    # The checks that judge this version alone pass on every layout; the rest may only be warnings.
    assert {k: states[k] for k in ("files intact", "vectors valid", "unique ids")} == dict.fromkeys(
        ("files intact", "vectors valid", "unique ids"), "pass"), states
