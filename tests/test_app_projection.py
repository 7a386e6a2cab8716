"""AppTest: the Projection page on small planted versions in a temporary store — compute once, map drawn,
highlight an item and its neighbors, side by side with a second version, and the map comes from the store
cache on the next visit."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
pytest.importorskip("umap")
from conftest import open_app, shown_tables
from streamlit.testing.v1 import AppTest

from behemb_core.metadata import ItemMetadata
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.store import Store
from behemb_core.synthetic import planted_sessions


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    planted = planted_sessions(n_items=300, n_clusters=15, n_sessions=3000, seed=3)
    store = Store(tmp_path_factory.mktemp("pj") / "store")
    for name, seed in (("planted-a", 0), ("planted-b", 1)):
        emb = get_method("ppmi_svd").fit(TrainingInputs(sessions=planted.sessions),
                                         parse_config("ppmi_svd", {"dim": 12}), seed=seed).embeddings
        ids = emb.vocab.ids
        meta = ItemMetadata(pd.DataFrame({
            "item_id": ids, "name": [f"<b>item</b> {i}" for i in ids],  # untrusted-looking names
            "genres": [f"g{i % 15}|extra" for i in ids]}))
        store.save_version(emb, manifest={"method": "ppmi_svd"}, name=name, item_meta=meta,
                           item_stats=planted.sessions.item_stats())
    return Path(store.root)


def open_page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(store, "pages/4_Projection.py", monkeypatch, timeout=300)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def n_points(values: list | dict) -> int:
    """Length of a plotly array (plotly 6+ sends numeric arrays as ``{"bdata": base64, "dtype": ...}``)."""
    if isinstance(values, dict):
        return len(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
    return len(values)


def trace_names(chart: dict) -> list[str]:
    return [t.get("name") for t in chart["data"]]


def test_projection_page_draws_highlights_and_reuses_the_cache(planted_store: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(planted_store, monkeypatch)
    assert at.selectbox(key="pj_version").value == "planted-b"  # the latest
    assert not charts(at) and any("No map" in i.value for i in at.info)
    at.button(key="pj_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (chart,) = charts(at)
    assert n_points(chart["data"][0]["x"]) == len(Store(planted_store).load_version("planted-b").embeddings)
    assert "&lt;b&gt;item&lt;/b&gt;" in chart["data"][0]["customdata"][0][0]  # names are hover text, escaped
    assert list((planted_store / "cache" / "projections" / "planted-b").glob("*.parquet"))
    # Once computed, the "No map yet" box and the Compute button are gone from the page.
    assert not any("No map" in i.value for i in at.info) and not any(b.key == "pj_compute" for b in at.button)
    assert chart["layout"]["legend"]["orientation"] == "h"  # below the map, off the colour bar's title

    # Highlight an item: it and its top-10 neighbors get their own traces and a table.
    item = at.selectbox(key="pj_item").options[0]
    at.selectbox(key="pj_item").select_index(0).run()
    assert not at.exception
    (chart,) = charts(at)
    assert trace_names(chart)[-2:] == ["top-10 neighbors", "selected item"]
    assert n_points(chart["data"][-2]["x"]) == 10 and n_points(chart["data"][-1]["x"]) == 1
    table = shown_tables(at)[0]
    assert table["rank"].tolist() == [str(r) for r in range(1, 11)] and item.split(" — ")[0] not in table["item_id"]

    # Colour by a metadata column: one trace per (first) genre.
    at.radio(key="pj_colour").set_value("Metadata column").run()
    assert at.selectbox(key="pj_meta_col").value == "genres"
    (chart,) = charts(at)
    assert {n for n in trace_names(chart)} >= {f"g{i}" for i in range(12)}

    # Side by side with a second version, aligned.
    at.selectbox(key="pj_other").set_value("planted-a").run()
    at.button(key="pj_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(charts(at)) == 2
    assert any("is aligned to" in c.value and "relative residual" in c.value for c in at.caption)
    assert len(shown_tables(at)) == 2  # the item's neighbors in each version

    # A fresh session: the maps come from the store cache, no button needed.
    again = open_page(planted_store, monkeypatch)
    assert len(charts(again)) == 1 and not any("No map" in i.value for i in again.info)


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions of 120 items: ``mixed`` has behavior, fused and content-only rows (as a fusion version has),
    ``plain`` (the latest) only behavior rows."""
    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    store = Store(tmp_path_factory.mktemp("pj_src") / "store")
    rng = np.random.default_rng(0)
    vocab = Vocabulary(np.arange(120))
    sources = np.array(["behavior", "fused", "content_only"], dtype=object)[np.arange(120) % 3]
    store.save_version(make_embeddings(vocab, rng.normal(size=(120, 8)), source=sources), manifest={}, name="mixed")
    store.save_version(make_embeddings(vocab, rng.normal(size=(120, 8))), manifest={}, name="plain")
    return Path(store.root)


def test_source_colouring_is_offered_only_for_a_version_with_several_sources(
        mixed_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Choosing "Source (fusion)" for a non-fusion version turned the map one colour without a word."""
    at = open_page(mixed_store, monkeypatch)
    assert at.selectbox(key="pj_version").value == "plain"
    at.button(key="pj_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.radio(key="pj_colour").options == ["Popularity (log events)", "Metadata column"]
    assert any("No “Source (fusion)” colouring: every item of plain has the one source “behavior”" in c.value
               for c in at.caption), [c.value for c in at.caption]

    at.selectbox(key="pj_version").set_value("mixed").run()
    at.button(key="pj_compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Source (fusion)" in at.radio(key="pj_colour").options
    assert not any("No “Source (fusion)” colouring" in c.value for c in at.caption)
    at.radio(key="pj_colour").set_value("Source (fusion)").run()
    (chart,) = charts(at)
    assert set(trace_names(chart)) == {"behavior", "fused", "content_only"}

    # Side by side with the plain version: its map is one colour, and the caption under it says why.
    at.selectbox(key="pj_other").set_value("plain").run()
    assert not at.exception
    assert len(charts(at)) == 2 and trace_names(charts(at)[1]) == ["behavior"]
    assert any("one colour: every item of plain has the same source" in c.value for c in at.caption)

    # Back to the plain version alone: the choice is withdrawn and the map is coloured by popularity.
    at.selectbox(key="pj_other").set_value(None).run()
    at.selectbox(key="pj_version").set_value("plain").run()
    assert not at.exception
    assert at.radio(key="pj_colour").value == "Popularity (log events)"
    (chart,) = charts(at)
    assert trace_names(chart) == ["items"]
