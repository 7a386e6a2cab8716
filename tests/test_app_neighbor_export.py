"""AppTest: the Neighbors page's bulk export (download content) and the two-version diff, on the demo."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from conftest import open_neighbors, shown_tables
from streamlit.testing.v1 import AppTest

from behemb_core.demo import load_demo_dataset
from behemb_core.neighbor_export import neighbor_diff
from behemb_core.store import Store
from behemb_core.train import train_version


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nbx") / "store"
    data = load_demo_dataset()
    train_version(Store(path), "ppmi_svd", {"dim": 16}, dataset=data, seed=0, name="a-ppmi")
    train_version(Store(path), "ppmi_svd", {"dim": 16, "window": 2}, dataset=data, seed=1, name="b-ppmi")
    return path


def open_page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_neighbors(store, "a-ppmi", "85123A", monkeypatch)


def test_bulk_export_of_pasted_ids_downloads_csv_and_reports_unknown(two_versions, monkeypatch, downloads):
    at = open_page(two_versions, monkeypatch)
    at.text_area(key="nb_bulk_ids").set_value("85123A\n22423, NOT-AN-ITEM\n").run()
    at.number_input(key="nb_bulk_k").set_value(3).run()
    at.button(key="nb_bulk_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    warnings = [w.value.replace("\\", "") for w in at.warning]  # markdown-escaped on screen
    assert any("1 of 3 ids are not in version a-ppmi" in w and "NOT-AN-ITEM" in w for w in warnings), warnings
    frame = pd.read_csv(io.BytesIO(downloads["neighbors-a-ppmi-top3.csv"]), dtype={"query_item_id": str,
                                                                                     "item_id": str})
    assert list(frame.columns) == ["query_item_id", "query_name", "rank", "item_id", "name", "score"]
    assert frame["query_item_id"].tolist() == ["85123A"] * 3 + ["22423"] * 3
    assert frame["query_name"].iloc[0].startswith("WHITE HANGING HEART")
    assert frame["rank"].tolist() == [1, 2, 3] * 2
    # The same neighbors as the page's own table for the item.
    assert frame["item_id"].tolist()[:3] == at.dataframe[0].value["item_id"].astype(str).tolist()[:3]


def test_bulk_export_of_whole_catalogue_as_parquet(two_versions, monkeypatch, downloads):
    at = open_page(two_versions, monkeypatch)
    at.radio(key="nb_bulk_scope").set_value("Whole catalogue").run()
    at.radio(key="nb_bulk_format").set_value("parquet").run()
    at.number_input(key="nb_bulk_k").set_value(2).run()
    at.button(key="nb_bulk_run").click().run()
    assert not at.exception and not at.error
    frame = pd.read_parquet(io.BytesIO(downloads["neighbors-a-ppmi-top2.parquet"]))
    n = len(Store(two_versions).load_version("a-ppmi").embeddings)
    assert len(frame) == 2 * n and frame["query_item_id"].nunique() == n


def test_empty_list_is_an_error_not_an_empty_file(two_versions, monkeypatch, downloads):
    at = open_page(two_versions, monkeypatch)
    at.button(key="nb_bulk_run").click().run()
    assert any("Paste item ids" in e.value for e in at.error)
    assert not [f for f in downloads if "top" in f]


def test_diff_of_two_versions(two_versions, monkeypatch):
    at = open_page(two_versions, monkeypatch)
    assert not [t for t in shown_tables(at) if "change" in t.columns]  # no diff without a second version
    at.selectbox(key="nb_version_b").set_value("b-ppmi").run()
    assert not at.exception and not at.error
    diff = next(t for t in shown_tables(at) if "change" in t.columns)
    store = Store(two_versions)
    expected = neighbor_diff(store.load_version("a-ppmi").embeddings, store.load_version("b-ppmi").embeddings,
                             "85123A", 10)
    assert diff["change"].tolist() == expected["change"].tolist()
    assert diff["item_id"].tolist() == expected["item_id"].tolist()
    assert (diff["name"].str.len() > 0).all()
    counts = diff["change"].value_counts()
    assert counts.get("kept", 0) + counts.get("lost", 0) == 10 == counts.get("kept", 0) + counts.get("gained", 0)
    assert any(f"{counts.get('kept', 0)} kept" in m.value for m in at.markdown)
