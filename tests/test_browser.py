"""End to end in a real browser: the app served by ``streamlit run`` and driven by Playwright with Debian's
Chromium (never a downloaded browser).

Flow: the home page shows the demo dataset → Train trains the default method, cooc_softmax (dim 16), and saves
a version → Neighbours shows the neighbours of 85123A (WHITE HANGING HEART T-LIGHT HOLDER) by name, and a screenshot is saved to
``test-artifacts/neighbours.png`` → the Publish page (when the app has one) approves and publishes the version.
The server gets its own store in a temporary folder (``BEHEMB_STORE``), so the repository's data/store is never
touched. Skipped when /usr/bin/chromium or the ``playwright`` package is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
WHITE_HEART = "85123A"
WHITE_HEART_NAME = "WHITE HANGING HEART T-LIGHT HOLDER"
VERSION = "browser-cs"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
STORE_IN_USE: dict[str, Path] = {}  # server URL -> its temporary store
SHORT = 30_000  # ms: a rerun of a page
LONG = 120_000  # ms: training (the first run in a fresh process also compiles numba kernels)

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install -r requirements-test.txt)")
expect = sync_api.expect
expect.set_options(timeout=30_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200 and resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"streamlit did not become healthy within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("browser")
    store = tmp / "store"
    port = free_port()
    env = {**os.environ, "BEHEMB_STORE": str(store), "PYTHONUNBUFFERED": "1"}
    log = tmp / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    STORE_IN_USE[url] = store
    try:
        wait_healthy(url, proc, log)
        yield url, store
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser_page(server: tuple[str, Path]) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(SHORT)
            yield page
        finally:
            browser.close()


def go_to(page: object, url: str, title: str, heading: str | None = None) -> None:
    """Open a page by its URL (a new session, which starts on the BEHEMB_STORE store).

    Not through the sidebar links: with streamlit 1.67 the sidebar's store text input (defined in app.py, keyed
    by session state) comes back empty on a file page reached through st.navigation, and an empty store path
    falls back to the repository's data/store instead of BEHEMB_STORE — the test would write there (seen on a
    fresh server: Home, then the sidebar link to Train, shows "Using <repo>/data/store").
    """
    page.goto(f"{url}/{title}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading or title, timeout=LONG)
    settle(page)
    assert store_in_use(page) == str(STORE_IN_USE[url])


def go_via_sidebar(page: object, url: str, title: str) -> None:
    """Follow the sidebar link within the same session: the store chosen at start must stay in use (the
    sidebar's store input once came back empty on pages reached this way and fell back to data/store)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title, timeout=LONG)
    settle(page)
    assert store_in_use(page) == str(STORE_IN_USE[url])


def store_in_use(page: object) -> str:
    """The store the page used, from the sidebar's "Using …" caption (the text input may show a stale value)."""
    caption = page.get_by_test_id("stSidebar").get_by_test_id("stCaptionContainer").filter(has_text="Using")
    return caption.inner_text().replace("\\", "").removeprefix("Using").strip()


def settle(page: object, timeout: int = LONG) -> None:
    """Wait until the script run triggered by the last interaction has finished — and check it raised nothing."""
    page.wait_for_timeout(300)  # let the rerun start
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)
    no_exception(page)


def no_exception(page: object) -> None:
    """No traceback element, and no error that app.py's page guard caught (it hides the traceback, so it would
    hide a crash from this test too)."""
    shown = page.get_by_test_id("stException")
    assert shown.count() == 0, shown.first.inner_text()
    guarded = page.get_by_test_id("stAlertContentError").filter(has_text="Something went wrong on this page")
    assert guarded.count() == 0, guarded.first.inner_text()


def test_train_look_at_neighbours_and_publish_in_a_browser(server: tuple[str, Path], browser_page: object) -> None:
    url, store_dir = server
    page = browser_page

    # Home: the bundled demo dataset and an empty store.
    page.goto(url)
    expect(page.get_by_text("Bundled demo: Online Retail")).to_be_visible(timeout=LONG)
    settle(page)
    sessions = page.get_by_test_id("stMetric").filter(has_text="Sessions")
    expect(sessions).to_contain_text("4,429")
    expect(page.get_by_test_id("stMetric").filter(has_text="Versions")).to_contain_text("0")
    no_exception(page)

    # Train (reached through the sidebar, in the same session): the default method (cooc_softmax) with dim 16; it is saved.
    go_via_sidebar(page, url, "Train")
    expect(page.get_by_test_id("stSelectbox").get_by_role("combobox", name="Method")).to_have_value(
        re.compile("cosine softmax"))
    dim = page.get_by_role("spinbutton", name="Dimensions", exact=True)
    dim.fill("16")
    dim.press("Tab")
    name = page.get_by_role("textbox", name="Version name (optional)", exact=True)
    name.fill(VERSION)
    name.press("Tab")
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Saved version {VERSION}", timeout=LONG)
    expect(page.get_by_test_id("stMetric").filter(has_text="Dimensions")).to_contain_text("16")
    no_exception(page)
    from behemb_core.store import Store

    assert [(v.name, v.dim) for v in Store(store_dir).list_versions()] == [(VERSION, 16)]

    # Neighbours: the version just trained is selected; look up the white hanging heart.
    go_to(page, url, "Neighbours")
    expect(page.get_by_test_id("stSelectbox").get_by_role("combobox", name="Version", exact=True)).to_have_value(
        VERSION)
    search = page.get_by_role("textbox", name="Search items by name or id", exact=True)
    search.fill(WHITE_HEART)
    search.press("Enter")
    expect(page.get_by_role("heading", name=f"People who bought {WHITE_HEART_NAME} also bought")).to_be_visible(
        timeout=LONG)
    settle(page)
    expected = neighbour_names(store_dir)
    listing = page.get_by_test_id("stMarkdown").filter(has_text="similarity").first
    for name_ in expected[:3]:
        expect(listing).to_contain_text(name_)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    no_exception(page)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "neighbours.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # Publish: approve and publish through the app's Publish page.
    if not (REPO / "pages" / "6_Publish.py").is_file():
        # pages/6_Publish.py is added by another change; until it is there, the sign-off part is not tested here
        # (tests/test_lifecycle.py covers approve/publish in the library).
        return
    go_to(page, url, "Publish", "Sign-off and publish")
    by = page.get_by_role("textbox", name="Your name (required)", exact=True)
    by.fill("Browser Test")
    by.press("Tab")
    settle(page)
    for box in page.get_by_test_id("stCheckbox").filter(has_text="I acknowledge").all():
        box.locator("label").click()
        settle(page)
    override = page.get_by_test_id("stCheckbox").filter(has_text="Override the failed checks")
    if override.count() and override.locator("input").is_enabled():
        override.locator("label").click()
        settle(page)
    page.get_by_test_id("stButton").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Approved {VERSION}", timeout=LONG)
    settle(page)
    page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {VERSION}").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {VERSION}", timeout=LONG)
    no_exception(page)
    from behemb_core.store import published_version

    assert published_version(Store(store_dir)) == VERSION


def neighbour_names(store_dir: Path) -> list[str]:
    """The names the library gives as 85123A's neighbours in the version the browser trained."""
    import numpy as np

    from behemb_core.neighbors import item_neighbors
    from behemb_core.store import Store

    stored = Store(store_dir).load_version(VERSION)
    ids = stored.embeddings.vocab.ids
    names = stored.item_meta.names_for(ids) if stored.item_meta is not None else np.full(len(ids), "", object)
    return [r["name"] for r in item_neighbors(stored.embeddings, WHITE_HEART, 10, names=names)]
