"""End to end in a real browser: the app served by ``streamlit run`` and driven by Playwright with Debian's
Chromium (never a downloaded browser).

Two walks, each asserting after every step that no traceback and no "Something went wrong" message shows.

First: the home page shows the demo dataset → Train trains the default method, cooc_softmax (dim 16), and saves a
version → Neighbors shows the neighbors of 85123A (WHITE HANGING HEART T-LIGHT HOLDER) by name, and a screenshot is
saved to ``test-artifacts/neighbors.png`` → the Publish page (when the app has one) shows the expected check states
(five pass, four warnings acknowledged by name; an override is never offered) and approves and publishes the version
→ its drift section checks the published version on the demo data: the verdict (fresh, or why it could not judge),
the rules and coverage figures are shown and the report is kept under the store's ``drift/<version>/`` → Train,
whose "Start from the published version" box was disabled (nothing published) on the first visit, now names the
published version; ticked, the retrain's manifest records ``warm_start`` with that version, and its sign-off shows
the drift report as the reason it was trained.
Second (a server whose store already has ``demo-a``, a published version of the demo data): Data uploads a
``;``-separated file in Diginetica's train-item-views layout and reads it → Train trains on it → Neighbors lists
neighbors in the new version → Compare explains that it shares no items with demo-a → Publish shows the catalogue
and stability checks as warnings, acknowledges them, approves, publishes and rolls back to demo-a, the selector
and status line staying consistent. Every page visited is saved to ``test-artifacts/<page>.png``.
Each server gets its own store in a temporary folder (``BEHEMB_STORE``), so the repository's data/store is never
touched. Skipped when /usr/bin/chromium or the ``playwright`` package is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # see pyproject.toml: CI runs it, `-m 'not slow'` skips it while editing

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
WHITE_HEART = "85123A"
WHITE_HEART_NAME = "WHITE HANGING HEART T-LIGHT HOLDER"
VERSION = "browser-cs"
WARM = "browser-cs-warm"  # a retrain of VERSION's method warm-started from VERSION once it is published
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


@contextmanager
def serve(store: Path, tmp: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with ``BEHEMB_STORE=store``; yields its URL once healthy."""
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
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("browser")
    store = tmp / "store"
    with serve(store, tmp) as url:
        yield url, store


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One Chromium for the module (the sync Playwright API cannot be started twice at once)."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: object) -> object:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(SHORT)
    return page


@pytest.fixture(scope="module")
def browser_page(server: tuple[str, Path], chromium: object) -> Iterator[object]:
    page = new_page(chromium)
    try:
        yield page
    finally:
        page.close()


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


def go_via_sidebar(page: object, url: str, title: str, heading: str | None = None) -> None:
    """Follow the sidebar link within the same session: the store chosen at start must stay in use (the
    sidebar's store input once came back empty on pages reached this way and fell back to data/store)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading or title, timeout=LONG)
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


def choose(page: object, label: str, option: str) -> None:
    """Pick ``option`` in the select labelled ``label`` by typing it, and wait for the rerun."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    settle(page)
    expect(box).to_have_value(option)


def no_exception(page: object) -> None:
    """No traceback element, and no error that app.py's page guard caught (it hides the traceback, so it would
    hide a crash from this test too)."""
    shown = page.get_by_test_id("stException")
    assert shown.count() == 0, shown.first.inner_text()
    guarded = page.get_by_test_id("stAlertContentError").filter(has_text="Something went wrong on this page")
    assert guarded.count() == 0, guarded.first.inner_text()


def test_a_deep_link_on_a_fresh_server_opens_the_page_inside_the_app(tmp_path: Path, chromium: object) -> None:
    """The first request a server gets is a link to /Publish: Streamlit would run pages/6_Publish.py the old
    way (its own page list, no sidebar store, no page guard). It must come up inside app.py's navigation."""
    with serve(tmp_path / "store", tmp_path) as url:
        page = new_page(chromium)
        try:
            page.goto(f"{url}/Publish")
            expect(page.get_by_role("heading", level=1)).to_contain_text("Sign-off and publish", timeout=LONG)
            settle(page)
            nav = page.get_by_test_id("stSidebarNav")
            expect(nav.get_by_role("link", name="Home")).to_be_visible()
            expect(nav.get_by_role("link", name="app")).to_have_count(0)  # the old layout's name for app.py
            assert store_in_use(page) == str(tmp_path / "store")
            assert urllib.parse.urlsplit(page.url).path.rstrip("/").endswith("/Publish"), page.url
        finally:
            page.close()


def test_train_look_at_neighbors_and_publish_in_a_browser(server: tuple[str, Path], browser_page: object) -> None:
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
    shoot(page, "home")

    # Train (reached through the sidebar, in the same session): the default method (cooc_softmax) with dim 16;
    # it is saved.
    go_via_sidebar(page, url, "Train")
    expect(page.get_by_test_id("stSelectbox").get_by_role("combobox", name="Method")).to_have_value(
        re.compile("cosine softmax"))
    # Nothing is published yet: the warm start is offered but disabled, and its help says why.
    warm_box = warm_start_box(page)
    expect(warm_box).to_have_count(1)
    expect(warm_box.locator("input")).to_be_disabled()
    expect(warm_box).not_to_contain_text("(")  # no version named: there is none to start from
    warm_box.get_by_test_id("stTooltipHoverTarget").hover()
    expect(page.get_by_test_id("stTooltipContent")).to_contain_text("nothing is published yet")
    page.mouse.move(0, 0)
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

    # Neighbors: the version just trained is selected; look up the white hanging heart.
    go_to(page, url, "Neighbors")
    expect(page.get_by_test_id("stSelectbox").get_by_role("combobox", name="Version", exact=True)).to_have_value(
        VERSION)
    search = page.get_by_role("textbox", name="Search items by name or id", exact=True)
    search.fill(WHITE_HEART)
    search.press("Enter")
    expect(page.get_by_role("heading", name=f"People who bought {WHITE_HEART_NAME} also bought")).to_be_visible(
        timeout=LONG)
    settle(page)
    expected = neighbor_names(store_dir)
    listing = page.get_by_test_id("stMarkdown").filter(has_text="similarity").first
    for name_ in expected[:3]:
        expect(listing).to_contain_text(name_)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    no_exception(page)
    shoot(page, "neighbors-demo")

    # Publish: approve and publish through the app's Publish page.
    if not (REPO / "pages" / "6_Publish.py").is_file():
        # pages/6_Publish.py is added by another change; until it is there, the sign-off part is not tested here
        # (tests/test_lifecycle.py covers approve/publish in the library).
        return
    go_to(page, url, "Publish", "Sign-off and publish")
    by = page.get_by_role("textbox", name="Your name (unverified)", exact=True)
    by.fill("Browser Test")
    by.press("Tab")
    settle(page)
    # The demo version passes every check that can judge it (trained with the page's evaluation, it beats item-kNN);
    # with nothing published, no golden pairs and no ANN index built the other four cannot judge: warnings,
    # acknowledged by name. An override is never needed — if one is, a sign-off check regressed.
    states = {row.get("check"): row.get("state", "").split()[-1] for row in grid_rows(
        page.get_by_test_id("stTable").filter(has_text="files intact"))}
    assert states == {**dict.fromkeys(("files intact", "vectors valid", "unique ids", "quality vs item-kNN",
                                       "no popularity collapse"), "pass"),
                      **dict.fromkeys(("same catalogue as published", "stability vs published", "golden pairs",
                                       "served neighbors match"), "warning")}, states
    boxes = page.get_by_test_id("stCheckbox").filter(has_text="I acknowledge")
    assert boxes.count() == 4
    for i in range(boxes.count()):
        boxes.nth(i).locator("label").click()
        settle(page)
    override = page.get_by_test_id("stCheckbox").filter(has_text="Override the failed checks")
    assert not override.count() or not override.locator("input").is_enabled(), "an override is offered"
    page.get_by_test_id("stButton").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Approved {VERSION}", timeout=LONG)
    settle(page)
    page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {VERSION}").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {VERSION}", timeout=LONG)
    no_exception(page)
    from behemb_core.store import approvals, published_version

    assert published_version(Store(store_dir)) == VERSION
    record = approvals(Store(store_dir), VERSION)[-1]
    assert record["override"] is False
    assert sorted(record["failed"]) == sorted(record["acknowledged"]) == [
        "golden pairs", "same catalogue as published", "served neighbors match", "stability vs published"]

    check_drift_in_browser(page, store_dir)
    warm_start_in_browser(page, url, store_dir)


def warm_start_box(page: object) -> object:
    """The Train form's "Start from the published version" checkbox."""
    return page.get_by_test_id("stCheckbox").filter(has_text="Start from the published version")


def check_drift_in_browser(page: object, store_dir: Path) -> None:
    """Publish page, drift section (VERSION published, the demo data in use, a name typed so the report is kept):
    the check's verdict and coverage figures are shown, and the report is kept under drift/<VERSION>/."""
    from app_support.widgets import display_cell
    from behemb_core.store import Store
    from behemb_core.store.drift_reports import drift_reports

    expect(page.get_by_role("heading", name="Drift of the published version")).to_be_visible()
    expect(page.get_by_text(f"No drift report of {VERSION} yet.")).to_be_visible()
    expect(page.get_by_text("The report will be shown but not kept")).to_have_count(0)  # a name is typed
    page.get_by_test_id("stButton").get_by_role("button", name="Check drift on the data in use").click()
    settle(page, timeout=2 * LONG)
    checked = page.get_by_test_id("stCaptionContainer").filter(has_text="Checked ")
    try:
        expect(checked).to_be_visible(timeout=2 * LONG)
    except AssertionError:
        raise AssertionError(page.get_by_test_id("stMain").inner_text()[-3000:]) from None
    kept = drift_reports(Store(store_dir), VERSION)
    assert len(kept) == 1, [r["path"] for r in kept]
    report = kept[0]
    files = list((store_dir / "drift" / VERSION).glob("*.json"))
    assert [f.name for f in files] == [report["path"].rsplit("/", 1)[-1]], (files, report["path"])
    assert report["by"] == "Browser Test" and report["version"] == VERSION
    # On the demo's own data (the data it was trained on) nothing is missing; the version is fresh, or the page
    # says why it could not judge.
    assert report["verdict"] in ("fresh", "could not judge"), (report["verdict"], report["reason"])
    assert report["coverage"]["missing_events_share"] == 0, report["coverage"]
    headline = page.get_by_test_id("stMarkdown").filter(has_text=f"{VERSION} —").filter(
        has_text=report["verdict"]).first
    expect(headline).to_be_visible()
    expect(headline).to_contain_text(report["reason"][:40])
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Checked ")
    expect(caption).to_contain_text(f"on {report['data']['sessions']} sessions")
    expect(caption).to_contain_text("kept by Browser Test")
    expect(page.get_by_text(f"No drift report of {VERSION} yet.")).to_have_count(0)
    figures = page.get_by_test_id("stTable").filter(has_text="events on items without a vector")
    rows = {r["figure"]: r["value"] for r in grid_rows(figures) if r.get("part") == "coverage"}
    c = report["coverage"]  # shown whatever the verdict: coverage is measured even when decay is not judged
    assert rows == {"events on items without a vector": display_cell(c["missing_events_share"]),
                    "sessions with such an event": display_cell(c["missing_sessions_share"]),
                    "distinct items without a vector": display_cell(c["missing_items_share"])}, rows
    if report["decay"] is not None:
        rules = {r["rule"]: r["state"].split()[-1] for r in grid_rows(
            page.get_by_test_id("stTable").filter(has_text="stale at"))}
        assert rules == {r["rule"]: {"not judged": "judged"}.get(r["state"], r["state"]) for r in report["rules"]}, \
            rules
    no_exception(page)
    shoot(page, "publish-drift")


def warm_start_in_browser(page: object, url: str, store_dir: Path) -> None:
    """Train page with VERSION published: the warm start names it; ticked, the retrain's manifest records it."""
    from behemb_core.store import Store
    from behemb_core.store._manifest import EMBEDDINGS_FILE

    go_to(page, url, "Train")
    warm_box = warm_start_box(page)
    expect(warm_box).to_contain_text(f"Start from the published version ({VERSION})")
    expect(warm_box.locator("input")).to_be_enabled()
    dim = page.get_by_role("spinbutton", name="Dimensions", exact=True)
    dim.fill("16")  # the published version's: a warm start keeps the dimensions
    dim.press("Tab")
    name = page.get_by_role("textbox", name="Version name (optional)", exact=True)
    name.fill(WARM)
    name.press("Tab")
    warm_box.locator("label").click()
    expect(warm_box.locator("input")).to_be_checked()
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Saved version {WARM}", timeout=LONG)
    settle(page)
    expect(page.get_by_role("heading", name=f"Version {WARM}")).to_be_visible()
    manifest = Store(store_dir).manifest(WARM)
    published = Store(store_dir).manifest(VERSION)
    assert manifest["warm_start"]["version"] == VERSION, manifest.get("warm_start")
    assert manifest["warm_start"]["embeddings_sha256"] == published["files"][EMBEDDINGS_FILE]["sha256"]
    assert manifest["dim"] == 16 and manifest["method"] == "cooc_softmax"
    no_exception(page)
    shoot(page, "train-warm")

    # Its sign-off shows why it was trained: the drift report kept above.
    go_to(page, url, "Publish", "Sign-off and publish")
    version_box = page.get_by_role("combobox", name="Version", exact=True)
    if not re.match(f"^{WARM} ", version_box.input_value()):
        version_box.click()
        page.get_by_role("option", name=re.compile(f"^{WARM} ")).click()
        settle(page)
    expect(version_box).to_have_value(f"{WARM} (draft)")
    expect(page.get_by_test_id("stMarkdown").filter(has_text="Why retrain").first).to_contain_text(
        f"drift of {VERSION}")
    no_exception(page)


def neighbor_names(store_dir: Path) -> list[str]:
    """The names the library gives as 85123A's neighbors in the version the browser trained."""
    import numpy as np

    from behemb_core.neighbors import item_neighbors
    from behemb_core.store import Store

    stored = Store(store_dir).load_version(VERSION)
    ids = stored.embeddings.vocab.ids
    names = stored.item_meta.names_for(ids) if stored.item_meta is not None else np.full(len(ids), "", object)
    return [r["name"] for r in item_neighbors(stored.embeddings, WHITE_HEART, 10, names=names)]


UPLOADED = "browser-views"  # the version trained on the uploaded Diginetica-style file
OTHER = "demo-a"  # a version of another dataset (the bundled demo), published before the server starts


def diginetica_views(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """A small ``;``-separated file in the layout of Diginetica's train-item-views.csv
    (sessionId;userId;itemId;timeframe;eventdate): sessions of 2–6 views, each within one of four item clusters."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clusters = [[str(1000 + 10 * c + i) for i in range(8)] for c in range(4)]
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    session = 0
    while len(lines) <= rows:
        session += 1
        cluster = clusters[int(rng.integers(len(clusters)))]
        user = "NA" if rng.random() < 0.5 else str(int(rng.integers(1, 50)))
        day = f"2016-05-{int(rng.integers(1, 29)):02d}"
        t = int(rng.integers(0, 10_000_000))
        for _ in range(int(rng.integers(2, 7))):
            lines.append(f"{session};{user};{cluster[int(rng.integers(len(cluster)))]};{t};{day}")
            t += int(rng.integers(1_000, 100_000))
    path.write_text("\n".join(lines[: rows + 1]) + "\n")
    return path


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server whose store already holds OTHER (ppmi_svd, dim 16, on the bundled demo), approved — its
    could-not-judge checks acknowledged by name — and published."""
    from behemb_core.demo import load_demo_dataset
    from behemb_core.signoff import signoff_checks
    from behemb_core.store import Store
    from behemb_core.store.lifecycle import publish
    from behemb_core.store.lifecycle import record_approval as approve
    from behemb_core.train import train_version

    tmp = tmp_path_factory.mktemp("browser-seeded")
    store = Store(tmp / "store")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=load_demo_dataset(), seed=0, name=OTHER)
    checks, _ = signoff_checks(store, OTHER)
    approve(store, OTHER, by="setup", checks=checks,
            acknowledge=[c.name for c in checks if not c.passed and c.acknowledgeable])
    publish(store, OTHER, by="setup")
    with serve(tmp / "store", tmp) as url:
        yield url, tmp / "store"


def shoot(page: object, name: str) -> None:
    """The whole page to test-artifacts/<name>.png. Streamlit scrolls inside its main container, so a "full
    page" screenshot would stop at the window: the window is made as tall as the content for the shot."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 1000")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 50), 10_000)})
    try:
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.set_viewport_size(size)
    assert shot.stat().st_size > 10_000


def grid_rows(frame: object) -> list[dict[str, str]]:
    """The rows of an st.dataframe as {column: text}, read from the grid's accessible table (the grid itself is
    drawn on a canvas; the table holds the rows and columns in view)."""
    cells = frame.first.locator("table").evaluate(
        "t => [...t.querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.innerText.trim()))")
    header, *rows = cells
    return [dict(zip(header, row, strict=True)) for row in rows]


def status_line(page: object) -> object:
    """The Publish page's "Status: … · published now: …" caption under the version selector."""
    return page.get_by_test_id("stCaptionContainer").filter(has_text="Status:").first


def test_upload_train_compare_and_publish_in_a_browser(seeded_server: tuple[str, Path], chromium: object,
                                                         tmp_path: Path) -> None:
    url, store_dir = seeded_server
    page = new_page(chromium)
    csv = diginetica_views(tmp_path / "train-item-views.csv")
    from app_support.data_io import suggest_columns
    from behemb_core.ingest import DatasetSpec, load, summarize
    from behemb_core.store import Store, published_version

    detected = {k: v for k, v in suggest_columns(csv).items() if k != "timestamp_found_by"}
    expected = summarize(load(DatasetSpec.create(format="events", paths=[str(csv)], columns=detected)))

    # 1. Data: upload the ;-separated file; the preview finds the delimiter and five columns, mapped by name.
    # Start at Home (a deep link on a fresh server has its own test above).
    page.goto(url)
    expect(page.get_by_test_id("stMetric").filter(has_text="Versions")).to_contain_text("1", timeout=LONG)
    settle(page)
    go_via_sidebar(page, url, "Data")
    page.get_by_test_id("stRadio").get_by_text("Upload files").click()
    settle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
    expect(page.get_by_text("delimiter detected")).to_contain_text("5 columns", timeout=LONG)
    settle(page)
    for role, column in (("session", "sessionId"), ("user", "userId"), ("item", "itemId")):
        expect(page.get_by_role("combobox", name=role, exact=True)).to_have_value(column)
    page.get_by_test_id("stButton").get_by_role("button", name="Read data").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Data read", timeout=LONG)
    settle(page)
    for label in ("Sessions", "Events", "Items"):
        expect(page.get_by_test_id("stMetric").filter(has_text=label).first).to_contain_text(
            f"{expected[label.lower()]:,}")
    shoot(page, "data")

    # 2. Train (same session, so the uploaded data is in use): the default method, dim 16, named.
    go_via_sidebar(page, url, "Train")
    dim = page.get_by_role("spinbutton", name="Dimensions", exact=True)
    dim.fill("16")
    dim.press("Tab")
    name = page.get_by_role("textbox", name="Version name (optional)", exact=True)
    name.fill(UPLOADED)
    name.press("Tab")
    page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Saved version {UPLOADED}", timeout=LONG)
    settle(page)
    shoot(page, "train")
    stored = Store(store_dir).load_version(UPLOADED)
    assert stored.manifest["dim"] == 16 and len(stored.embeddings.vocab.ids) == expected["items"]

    # 3. Neighbors: the new version is selected and lists an item's neighbors.
    go_via_sidebar(page, url, "Neighbors")
    expect(page.get_by_role("combobox", name="Version", exact=True)).to_have_value(UPLOADED)
    search = page.get_by_role("textbox", name="Search items by name or id", exact=True)
    search.fill("1000")
    search.press("Enter")
    settle(page)
    # The file is named train-item-views.csv: the verb guessed from its name is "viewed" (issue 22 §4).
    expect(page.get_by_role("heading", name="also viewed").first).to_be_visible(timeout=LONG)
    expect(page.get_by_test_id("stMarkdown").filter(has_text="similarity").first).to_contain_text("100")
    shoot(page, "neighbors")

    # Projection: the map of the new version, computed on request; then the "No map yet" box is gone.
    go_via_sidebar(page, url, "Projection")
    page.get_by_role("button", name="Compute the projection").click()
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=2 * LONG)
    settle(page)
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="No map")).to_have_count(0)
    shoot(page, "projection")

    # 4. Compare: A = the published version of the demo data, B = the uploaded-data version — no shared items.
    go_via_sidebar(page, url, "Compare")
    expect(page.get_by_role("combobox", name="A — reference", exact=True)).to_have_value(f"{OTHER} (published)")
    expect(page.get_by_role("combobox", name="B — candidate", exact=True)).to_have_value(UPLOADED)
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="no items in common").first).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Shared items")).to_contain_text("0")
    no_exception(page)
    shoot(page, "compare")

    # 5. Publish: the checks that cannot judge or see another catalogue are warnings, in words.
    go_via_sidebar(page, url, "Publish", "Sign-off and publish")
    version_box = page.get_by_role("combobox", name="Version", exact=True)
    expect(version_box).to_have_value(re.compile(f"^{UPLOADED} \\(draft\\)"))
    # The state cell is a badge: an icon (Material Symbols, drawn from its name: "warning") and the word.
    states = {row.get("check"): row.get("state", "").split()[-1] for row in grid_rows(
        page.get_by_test_id("stTable").filter(has_text="same catalogue as published"))}
    assert states["same catalogue as published"] == "warning", states
    assert states["stability vs published"] == "warning", states
    by = page.get_by_role("textbox", name="Your name (unverified)", exact=True)
    by.fill("Browser Test")
    by.press("Tab")
    settle(page)
    boxes = page.get_by_test_id("stCheckbox").filter(has_text="I acknowledge")
    assert boxes.count() >= 2
    for i in range(boxes.count()):
        boxes.nth(i).locator("label").click()
        settle(page)
    page.get_by_test_id("stButton").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Approved {UPLOADED}", timeout=LONG)
    settle(page)
    expect(version_box).to_have_value(f"{UPLOADED} (approved)")
    expect(status_line(page)).to_contain_text("Status: approved")
    assert {v.name: v.status for v in Store(store_dir).list_versions()}[UPLOADED] == "approved"

    page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {UPLOADED}").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {UPLOADED}", timeout=LONG)
    settle(page)
    expect(version_box).to_have_value(f"{UPLOADED} (published)")
    expect(status_line(page)).to_contain_text(f"Status: published · published now: {UPLOADED}")
    expect(page.get_by_test_id("stMetric").filter(has_text="Published version")).to_contain_text(UPLOADED)
    assert published_version(Store(store_dir)) == UPLOADED

    expect(page.get_by_role("combobox", name=f"Re-publish instead of {UPLOADED}", exact=True)).to_have_value(OTHER)
    page.get_by_test_id("stButton").get_by_role("button", name="Roll back").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Rolled back: {OTHER} is published again",
                                                                          timeout=LONG)
    settle(page)
    assert published_version(Store(store_dir)) == OTHER
    expect(page.get_by_test_id("stMetric").filter(has_text="Published version")).to_contain_text(OTHER)
    status = {v.name: v.status for v in Store(store_dir).list_versions()}
    assert status[OTHER] == "published" and status[UPLOADED] != "published", status
    expect(version_box).to_have_value(f"{UPLOADED} ({status[UPLOADED]})")
    expect(status_line(page)).to_contain_text(f"Status: {status[UPLOADED]} · published now: {OTHER}")
    no_exception(page)
    shoot(page, "publish")
    page.close()
