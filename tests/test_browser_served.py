"""In a real browser (the harness of ``tests/test_browser.py``: ``streamlit run`` driven by Playwright with Debian's
Chromium), the Neighbors page shows, for 85123A of a version of the bundled demo, the list the registered ANN index
serves next to the exact top-K (issue 23 "Show it"): both tables' rows are on screen side by side, the neighbors the
weak index gets wrong are marked, and the line saying which index served the list names it with its recall.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import (  # noqa: F401 — chromium is a fixture
    LONG,
    WHITE_HEART,
    WHITE_HEART_NAME,
    chromium,
    expect,
    go_to,
    grid_rows,
    new_page,
    no_exception,
    serve,
    settle,
    shoot,
)

pytestmark = pytest.mark.slow
pytest.importorskip("faiss")

VERSION = "demo-ppmi"


@pytest.fixture(scope="module")
def served_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    """A server whose store holds a ppmi_svd version of the demo and a weak registered index of it (one that
    really serves other neighbors than exact search for the white hanging heart)."""
    from behemb_core.ann.index import AnnParams
    from behemb_core.ann.served import build_version_index
    from behemb_core.demo import load_demo_dataset
    from behemb_core.store import Store
    from behemb_core.train import train_version

    tmp = tmp_path_factory.mktemp("browser-served")
    store = Store(tmp / "store")
    train_version(store, "ppmi_svd", {"dim": 32}, dataset=load_demo_dataset(), seed=0, name=VERSION)
    record = build_version_index(store, VERSION, params=AnnParams(m=4, ef_construction=8, ef_search=1),
                                 register_as="weak")
    with serve(tmp / "store", tmp) as url:
        yield url, tmp / "store", record


def test_the_served_list_is_shown_next_to_the_exact_list(served_server: tuple[str, Path, dict],
                                                         chromium: object) -> None:  # noqa: F811
    from behemb_core.ann.served import served_neighbors
    from behemb_core.store import Store

    url, store_dir, record = served_server
    store = Store(store_dir)
    expected = served_neighbors(store, store.load_version(VERSION), WHITE_HEART, 10)
    assert expected is not None and not expected["same"]  # the page has differences to show
    page = new_page(chromium)
    try:
        go_to(page, url, "Neighbors")
        search = page.get_by_role("textbox", name="Search items by name or id", exact=True)
        search.fill(WHITE_HEART)
        search.press("Enter")
        expect(page.get_by_role("heading", name=f"People who bought {WHITE_HEART_NAME} also bought")).to_be_visible(
            timeout=LONG)
        settle(page)

        exact_grid = page.get_by_test_id("stDataFrame").first
        served_table = page.get_by_test_id("stTable").filter(has_text="exact rank").first
        expect(exact_grid).to_be_visible()
        expect(served_table).to_be_visible()
        expect(page.get_by_text("Exact top-K", exact=True)).to_be_visible()
        expect(page.get_by_text("Served by the ANN index", exact=True)).to_be_visible()

        exact_rows = grid_rows(exact_grid)
        assert [r["item_id"] for r in exact_rows] == [r["item_id"] for r in expected["exact"]]
        served_rows = grid_rows(served_table)
        assert [r["item_id"] for r in served_rows] == [r["item_id"] for r in expected["served"]]
        assert [r["note"] for r in served_rows] == ["" if r["exact_rank"] is not None else "not in exact top-K"
                                                    for r in expected["served"]]
        # side by side: the served table starts right of the exact list, on the same band of the page
        a, b = exact_grid.bounding_box(), served_table.bounding_box()
        assert a is not None and b is not None
        assert b["x"] >= a["x"] + a["width"] - 5, (a, b)
        assert abs(b["y"] - a["y"]) < 80, (a, b)

        differs = page.get_by_test_id("stAlertContentWarning").filter(has_text="Exact neighbors the index misses")
        expect(differs).to_be_visible()
        for item in expected["only_exact"]:
            expect(differs).to_contain_text(item)
        source = page.get_by_test_id("stCaptionContainer").filter(has_text="Served by the registered index")
        expect(source).to_contain_text("weak")
        expect(source).to_contain_text(f"{record['measurement']['recall']:.3f}")
        expect(source).to_contain_text("ef_search 1")
        shoot(page, "neighbors-served")
        no_exception(page)
    finally:
        page.close()
