"""AppTest: the Neighbors page shows, beside an item's exact top-K, the list the version's ANN index serves (issue 23
"Show it"): from the registered index (its name, parameters and measured recall), from one built in memory when the
version has none (nothing stored), the differences a weak index makes, and an error — not a traceback — when the
index file is not the one recorded."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
pytest.importorskip("faiss")
from conftest import open_app, shown_tables, store_copy
from streamlit.testing.v1 import AppTest

from behemb_core.ann.index import AnnParams
from behemb_core.ann.served import build_version_index, served_neighbors
from behemb_core.demo import load_demo_dataset
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.neighbors import next_item_neighbors
from behemb_core.store import Store
from behemb_core.train import train_version

ITEM = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the demo's best seller
VERSION = "demo-ppmi"
WEAK = AnnParams(m=4, ef_construction=8, ef_search=1)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb-served") / "store"
    train_version(Store(path), "ppmi_svd", {"dim": 32}, dataset=load_demo_dataset(), seed=0, name=VERSION)
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return store_copy(template, tmp_path, monkeypatch)


def open_item(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    at = open_app(store, "pages/3_Neighbors.py", monkeypatch)
    at.text_input(key="nb_filter").set_value(ITEM).run()
    assert at.selectbox(key="nb_item").value == ITEM
    return at


def served_table(at: AppTest) -> pd.DataFrame:
    """The "Served by the ANN index" table (the only table with an "exact rank" column)."""
    found = [t for t in shown_tables(at) if "exact rank" in t.columns]
    assert len(found) == 1, [list(t.columns) for t in shown_tables(at)]
    return found[0]


def captions(at: AppTest) -> str:
    """The page's captions as read on screen (markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(c.value for c in at.caption))


def library_view(store: Path) -> dict:
    """What the library says is served for the item (the page must show exactly this)."""
    stored = Store(store).load_version(VERSION)
    return served_neighbors(Store(store), stored, ITEM, 10)


def test_registered_index_served_beside_the_exact_list(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = build_version_index(store, VERSION, register_as="main")
    at = open_item(store, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.toggle(key="nb_served").value is True
    exact = at.dataframe[0].value  # the exact top-K, as before, in the column beside the served list
    served = served_table(at)
    assert list(served.columns) == ["rank", "item_id", "name", "similarity", "exact rank", "note"]
    expected = library_view(store)
    assert served["item_id"].tolist() == [r["item_id"] for r in expected["served"]]
    assert served["rank"].tolist() == [str(i) for i in range(1, 11)]
    assert (served["name"].str.len() > 0).all()
    # each served neighbor's exact rank is its position in the exact table shown beside it
    position = {i: str(n) for n, i in enumerate(exact["item_id"], start=1)}
    assert served["exact rank"].tolist() == [position.get(i, "—") for i in served["item_id"]]
    assert any(m.value == "**Exact top-K**" for m in at.markdown)
    assert any(m.value == "**Served by the ANN index**" for m in at.markdown)
    recall = record["measurement"]["recall"]
    text = captions(at)
    assert "registered index **main**" in text and record["build"] in text
    assert f"ef_search {record['params']['ef_search']}" in text and f"**{recall:.3f}**" in text
    if expected["same"]:
        assert any("same 10 neighbors as exact search" in s.value for s in at.success)
    else:
        assert any("Exact neighbors the index misses" in w.value for w in at.warning)


def test_without_an_index_the_page_says_it_builds_one_in_memory(store: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_item(store, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.error]
    served = served_table(at)
    expected = library_view(store)
    assert expected["source"]["kind"] == "memory"
    assert served["item_id"].tolist() == [r["item_id"] for r in expected["served"]]
    text = captions(at)
    assert "No “also viewed” index was built for this version" in text and "(nothing stored)" in text
    assert "The Publish page's ANN section builds it" in text and "ef_search 64" in text
    assert not (store / "ann").exists() and not (store / "indexes").exists()  # nothing was written


def test_an_index_kept_but_not_registered_is_named_as_such(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_version_index(store, VERSION)
    at = open_item(store, monkeypatch)
    assert not at.exception and not at.error
    served_table(at)
    assert "the index kept with this version (not registered" in captions(at)


def test_a_weak_index_shows_what_differs(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = build_version_index(store, VERSION, params=WEAK, register_as="weak")
    expected = library_view(store)
    assert not expected["same"] and expected["only_exact"]  # the check below means something on this catalogue
    at = open_item(store, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.error]
    served = served_table(at)
    missing = served[served["note"] == "not in exact top-K"]["item_id"].tolist()
    assert missing == expected["only_served"]
    assert (served[served["note"] == "not in exact top-K"]["exact rank"] == "—").all()
    warning = next(w.value for w in at.warning if "Exact neighbors the index misses" in w.value)
    assert f"{len(expected['only_served'])} served neighbor(s) are not in the exact top-K" in warning
    exact_rows = {r["item_id"]: r for r in expected["exact"]}
    for item in expected["only_exact"]:
        assert f"({item}, exact rank {exact_rows[item]['rank']})" in warning
    assert not any("same 10 neighbors" in s.value for s in at.success)
    assert "registered index **weak**" in captions(at)
    assert f"**{record['measurement']['recall']:.3f}**" in captions(at)


def test_a_tampered_index_file_is_an_error_not_a_traceback(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = build_version_index(store, VERSION, register_as="main")
    index_file = store / record["index_file"]
    data = bytearray(index_file.read_bytes())
    data[-1] ^= 0xFF
    index_file.write_bytes(bytes(data))
    at = open_item(store, monkeypatch)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("What the ANN index serves could not be shown") and "sha256" in e
               and record["index_file"] in e for e in errors), errors
    assert not [t for t in shown_tables(at) if "exact rank" in t.columns]  # nothing served is shown as if it were
    assert len(at.dataframe[0].value) == 10  # the exact list is still there


def test_the_toggle_hides_the_served_list(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_item(store, monkeypatch)
    at.toggle(key="nb_served").set_value(False).run()
    assert not at.exception and not at.error
    assert not [t for t in shown_tables(at) if "exact rank" in t.columns]
    assert "No index was built" not in captions(at)
    assert len(at.dataframe[0].value) == 10


def test_with_a_second_version_the_served_list_follows_the_comparison(store: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    train_version(Store(store), "ppmi_svd", {"dim": 16}, dataset=load_demo_dataset(), seed=1, name="demo-16")
    build_version_index(store, VERSION, params=WEAK, register_as="weak")
    at = open_item(store, monkeypatch)
    at.selectbox(key="nb_version").set_value(VERSION).run()
    at.selectbox(key="nb_version_b").set_value("demo-16").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    tables = shown_tables(at)
    kinds = ["served" if "exact rank" in t.columns else "exact" if "served rank" in t.columns
             else "side" if "in both" in t.columns else "other" for t in tables]
    assert kinds[:2] == ["side", "side"] and kinds[-2:] == ["exact", "served"]  # the comparison layout comes first
    expected = library_view(store)
    exact, served = tables[-2], tables[-1]
    assert exact["item_id"].tolist() == [r["item_id"] for r in expected["exact"]]
    assert exact[exact["note"] == "the index misses it"]["item_id"].tolist() == expected["only_exact"]
    assert served["item_id"].tolist() == [r["item_id"] for r in expected["served"]]
    assert any(re.sub(r"\\(.)", r"\1", m.value) == f"**What the ANN index serves for {VERSION}**"
               for m in at.markdown)
    # the exact list shown is the version's own: its similarities are the vectors' cosines
    emb = Store(store).load_version(VERSION).embeddings
    q = emb.vectors[emb.vocab.code(ITEM)]
    cos = [float(emb.vectors[emb.vocab.code(i)] @ q) for i in exact["item_id"]]
    assert np.allclose(cos, exact["similarity"].astype(float), atol=1e-3)


@pytest.fixture(scope="module")
def next_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version with the "next item" tables serving that ranking, its "next" index registered as ``next-main``."""
    path = tmp_path_factory.mktemp("nb-served-next") / "store"
    train_version(Store(path), DEFAULT_METHOD, {"dim": 16, "directional": True, "serves": "next"},
                  dataset=load_demo_dataset(), seed=0, name="dir")
    build_version_index(path, "dir", register_as="next-main")
    return path


def test_next_mode_shows_the_next_index_beside_the_exact_next_list(next_template: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_copy(next_template, tmp_path, monkeypatch)
    at = open_app(store, "pages/3_Neighbors.py", monkeypatch)
    at.selectbox(key="nb_version").set_value("dir").run()
    at.text_input(key="nb_filter").set_value(ITEM).run()
    at.radio(key="nb_mode").set_value("Next").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.toggle(key="nb_served").value is True
    stored = Store(store).load_version("dir")
    expected = served_neighbors(Store(store), stored, ITEM, 10, mode="next")
    assert expected is not None and expected["source"]["mode"] == "next"
    assert [r["item_id"] for r in expected["exact"]] == [
        r["item_id"] for r in next_item_neighbors(stored.embeddings, stored.directional, ITEM, 10)]
    served = served_table(at)
    assert list(served.columns) == ["rank", "item_id", "name", "score", "exact rank", "note"]
    assert served["item_id"].tolist() == [r["item_id"] for r in expected["served"]]
    # the exact table beside it is the "next item" list, not the symmetric one
    assert at.dataframe[0].value["item_id"].astype(str).tolist() == [str(r["item_id"]) for r in expected["exact"]]
    text = captions(at)
    assert "registered index **next-main**" in text and "queried with the item's query vector Q" in text
    # back to "also viewed": the "next" index is not used for the symmetric list (one is built in memory)
    at.radio(key="nb_mode").set_value("Also viewed").run()
    assert not at.exception and not at.error
    assert "No “also viewed” index was built for this version" in captions(at)
