"""Cached loaders: the only place the app keeps heavy objects, keyed by the handles in session state.

* datasets by their spec JSON (``st.cache_resource``: the demo is read once per process, keyed by its path);
* stored versions by (store URL, version name) — versions are immutable, so the cache never goes stale;
* neighbor evidence by dataset fingerprint.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from behemb_core.boundary import describe, doing
from behemb_core.explain import Evidence
from behemb_core.ingest import Dataset, summarize
from behemb_core.sessions import Sessions
from behemb_core.store import Store, StoredVersion, check_store_location, open_store

from . import keys
from .data_io import DatasetSpec, read_dataset


@st.cache_resource(show_spinner="Reading the data…", max_entries=8)
def load_dataset(spec_json: str) -> Dataset:
    """The dataset described by ``spec_json`` (errors are not cached: a fixed file is read again)."""
    return read_dataset(DatasetSpec.from_json(spec_json))


@st.cache_data(show_spinner=False, max_entries=16)
def dataset_summary(spec_json: str) -> dict[str, Any]:
    """``summarize(dataset)`` (JSON-able, includes the fingerprint)."""
    return summarize(load_dataset(spec_json))


@st.cache_data(show_spinner=False, max_entries=16)
def popularity_curve(spec_json: str) -> pd.DataFrame:
    """Events per item, most popular first, with the item's rank (for the long-tail plot)."""
    counts = np.sort(load_dataset(spec_json).sessions.item_counts())[::-1]
    return pd.DataFrame({"rank": np.arange(1, len(counts) + 1), "events": counts})


def current_dataset() -> tuple[DatasetSpec, Dataset]:
    """The dataset in use (the demo unless the Data page loaded another one). Raises BehembError."""
    text = st.session_state[keys.DATASET_SPEC]
    return DatasetSpec.from_json(text), load_dataset(text)


def current_fingerprint() -> str:
    return dataset_summary(st.session_state[keys.DATASET_SPEC])["fingerprint"]


def current_store() -> Store:
    """The store named in the sidebar; a local folder is created on first use. A location that cannot be a
    store (a file, a path under a file, a NUL byte, ``nosuch://``, ``s3://`` without s3fs…) raises StoreError
    saying why; a folder that cannot be created raises the OSError (both shown by ``user_errors``)."""
    url = check_store_location(
        keys.resolve_store_path(str(st.session_state.get(keys.STORE_PATH, keys.default_store()))))
    if "://" not in url:
        with doing("create the store folder", url):
            os.makedirs(url, exist_ok=True)
    return open_store(url)


def store_problem() -> str | None:
    """Why the sidebar's store location cannot be used (one line), or ``None`` when it can. Nothing is
    created: the sidebar calls this on every page."""
    try:
        check_store_location(keys.resolve_store_path(
            str(st.session_state.get(keys.STORE_PATH, keys.default_store()))))
    except Exception as exc:  # only what the boundary can say plainly; anything else propagates
        if describe(exc) is None:
            raise
        return describe(exc)
    return None


def store_and_versions(
    minimum: int = 1, hint: str = "The store has no versions yet: train one on the Train page."
) -> tuple[Store, list[str], str | None]:
    """The sidebar's store, its version names (oldest first) and the published one — or a message and
    ``st.stop()`` when the store cannot be read or holds fewer than ``minimum`` versions."""
    from behemb_core.store import published_version

    from .errors import user_errors

    store, versions, published = None, [], None
    with user_errors("The store could not be read"):
        store = current_store()
        versions = [v.name for v in store.list_versions()]
        published = published_version(store)
    if store is None:
        st.stop()
    if len(versions) < minimum:
        st.info(hint)
        st.page_link("pages/2_Train.py", label="Train a version →", icon=":material/model_training:")
        st.stop()
    return store, versions, published


@st.cache_resource(show_spinner="Loading the version…", max_entries=8)
def load_version(store_url: str, name: str) -> StoredVersion:
    """A verified, loaded version (immutable, so caching by name is safe)."""
    return Store(store_url).load_version(name)


@st.cache_resource(show_spinner=False, max_entries=8)
def version_catalogue(store_url: str, name: str) -> pd.DataFrame:
    """Items of a version: ``item_id``, ``name``, ``events``, ``sessions``, most popular first."""
    stored = load_version(store_url, name)
    ids = stored.embeddings.vocab.ids
    names = stored.item_meta.names_for(ids) if stored.item_meta is not None else np.full(len(ids), "", object)
    cat = pd.DataFrame({"item_id": ids, "name": names})
    if stored.item_stats is not None:
        cat = cat.merge(stored.item_stats, on="item_id", how="left")
    else:
        cat["events"], cat["sessions"] = np.nan, np.nan
    return cat.sort_values(["events", "item_id"], ascending=[False, True], na_position="last",
                           kind="stable").reset_index(drop=True)


@st.cache_resource(show_spinner="Indexing co-occurrence evidence…", max_entries=4)
def evidence(fingerprint: str, _sessions: Sessions, window: int = 5) -> Evidence:
    """Co-occurrence evidence over the loaded sessions, keyed by their fingerprint (sessions are not hashed)."""
    return Evidence.build(_sessions, window=window)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_projection(store_url: str, name: str, n_neighbors: int, min_dist: float, max_fit_items: int,
                      seed: int = 0) -> pd.DataFrame | None:
    """The projection of a version from the store cache (``behemb_core.projection``), or ``None`` when it was
    not computed yet. Only hits are kept here: a miss is re-checked on the next run, so a projection computed
    by the page (or elsewhere, e.g. the CLI) shows up at once."""
    from behemb_core.projection import load_cached_projection

    table = load_cached_projection(Store(store_url), name, {"n_neighbors": n_neighbors, "min_dist": min_dist,
                                                            "max_fit_items": max_fit_items, "seed": seed})
    if table is None:
        raise _NotCached  # exceptions are not cached by st.cache_data
    return table


class _NotCached(Exception):
    pass


def projection(store_url: str, name: str, n_neighbors: int, min_dist: float, max_fit_items: int,
               seed: int = 0) -> pd.DataFrame | None:
    """:func:`cached_projection`, with ``None`` for a projection not computed yet (never cached as a miss)."""
    try:
        return cached_projection(store_url, name, n_neighbors, min_dist, max_fit_items, seed)
    except _NotCached:
        return None
