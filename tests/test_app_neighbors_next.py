"""AppTest: the Neighbors page's "Next" mode (what people go on to after the item) on a directional version trained
on the demo, next to a version without the "next item" tables."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from conftest import open_neighbors
from streamlit.testing.v1 import AppTest

from behemb_core.demo import load_demo_dataset
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.neighbors import item_neighbors, next_item_neighbors
from behemb_core.store import Store
from behemb_core.train import train_version

ITEM = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the demo's best seller


@pytest.fixture(scope="module")
def next_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nbn") / "store"
    data = load_demo_dataset()
    train_version(Store(path), DEFAULT_METHOD, {"dim": 16}, dataset=data, seed=0, name="plain")
    train_version(Store(path), DEFAULT_METHOD, {"dim": 16, "directional": True}, dataset=data, seed=0, name="dir")
    return path


def open_on(store: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    at = open_neighbors(store, version, ITEM, monkeypatch)
    assert at.selectbox(key="nb_item").value == ITEM
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def has_mode_choice(at: AppTest) -> bool:
    return any(r.key == "nb_mode" for r in at.radio)


def expected_next(store: Path, k: int) -> list[dict]:
    stored = Store(store).load_version("dir")
    assert stored.directional is not None
    return next_item_neighbors(stored.embeddings, stored.directional, ITEM, k)


def test_the_mode_choice_appears_only_for_a_version_with_next_tables(next_store, monkeypatch):
    at = open_on(next_store, "plain", monkeypatch)
    assert not has_mode_choice(at)
    assert any("no \"next item\" tables" in c.value.replace("\\", "") and "directional=true" in c.value.replace(
        "\\", "") for c in at.caption), [c.value for c in at.caption]
    at = open_on(next_store, "dir", monkeypatch)
    assert has_mode_choice(at) and at.radio(key="nb_mode").value == "Also viewed"
    # Also viewed (the default) is the symmetric list, as before.
    stored = Store(next_store).load_version("dir")
    also = [str(r["item_id"]) for r in item_neighbors(stored.embeddings, ITEM, 10)]
    assert at.dataframe[0].value["item_id"].astype(str).tolist() == also


def test_next_mode_shows_the_next_item_list_with_names_and_popularity(next_store, monkeypatch, downloads):
    at = open_on(next_store, "dir", monkeypatch)
    at.radio(key="nb_mode").set_value("Next").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    want = expected_next(next_store, 10)
    table = at.dataframe[0].value
    assert list(table.columns) == ["rank", "item_id", "name", "score", "popularity"]
    assert table["item_id"].astype(str).tolist() == [str(r["item_id"]) for r in want]
    assert table["score"].to_numpy() == pytest.approx(np.array([r["score"] for r in want]), abs=1e-6)
    assert (table["name"].str.len() > 0).all() and (table["popularity"] > 0).all()
    assert any("after WHITE HANGING HEART" in s.value.replace("\\", "") for s in at.subheader)
    # It is a different ranking from the symmetric one (else the mode would show nothing new).
    stored = Store(next_store).load_version("dir")
    assert table["item_id"].astype(str).tolist() != [str(r["item_id"]) for r in item_neighbors(
        stored.embeddings, ITEM, 10)]
    # What the "next item" ANN index serves is shown beside it; the golden marks stay with "also viewed".
    assert any(t.key == "nb_served" for t in at.toggle)
    assert not any(b.key == "nb_mark_good" for b in at.button)
    assert any("golden-pair marks are for the \"also viewed\" list" in c.value.replace("\\", "")
               for c in at.caption)
    # The single-item download has exactly these rows.
    csv = pd.read_csv(io.BytesIO(downloads[f"next-dir-{ITEM}.csv"]), dtype={"item_id": str})
    assert csv["item_id"].tolist() == [str(r["item_id"]) for r in want]
    assert csv["rank"].tolist() == list(range(1, 11))


def test_next_mode_bulk_export_uses_the_next_tables(next_store, monkeypatch, downloads):
    at = open_on(next_store, "dir", monkeypatch)
    at.radio(key="nb_mode").set_value("Next").run()
    at.text_area(key="nb_bulk_ids").set_value(f"{ITEM}\n22423").run()
    at.number_input(key="nb_bulk_k").set_value(4).run()
    at.button(key="nb_bulk_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    frame = pd.read_csv(io.BytesIO(downloads["next-dir-top4.csv"]), dtype={"query_item_id": str, "item_id": str})
    assert frame["query_item_id"].tolist() == [ITEM] * 4 + ["22423"] * 4
    assert frame["item_id"].tolist()[:4] == [str(r["item_id"]) for r in expected_next(next_store, 4)]


def test_next_mode_evidence_is_the_forward_cooccurrence(next_store, monkeypatch):
    at = open_on(next_store, "dir", monkeypatch)
    at.radio(key="nb_mode").set_value("Next").run()
    at.toggle(key="nb_explain").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    evidence = next(d.value for d in at.dataframe if "after it" in d.value.columns)
    want = expected_next(next_store, 10)
    assert evidence["item_id"].astype(str).tolist() == [str(r["item_id"]) for r in want]
    assert {"after it (weighted)", "after it", "before it", "direct support"} <= set(evidence.columns)
    assert evidence["after it"].sum() > 0  # the top next items of the best seller did follow it
    assert (evidence["direct support"] == (evidence["after it"] > 0)).all()
    assert any("never come after it within the window" in c.value for c in at.caption)


def test_side_by_side_stays_with_also_viewed(next_store, monkeypatch):
    at = open_on(next_store, "dir", monkeypatch)
    at.selectbox(key="nb_version_b").set_value("plain").run()
    at.radio(key="nb_mode").set_value("Next").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("comparison with plain is of the \"also viewed\" lists" in c.value.replace("\\", "")
               for c in at.caption), [c.value for c in at.caption]
    assert at.dataframe[0].value["item_id"].astype(str).tolist() == [
        str(r["item_id"]) for r in expected_next(next_store, 10)]
    # Back to Also viewed: the side-by-side tables return, without an exception.
    at.radio(key="nb_mode").set_value("Also viewed").run()
    assert not at.exception and not at.error
    assert len(at.table) >= 2
