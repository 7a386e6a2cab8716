"""Session-state keys and defaults. Session state holds *handles* — a store path, a dataset spec (JSON text),
a fingerprint, version names — never DataFrames or models; the heavy objects live in the ``st.cache_*`` caches
of :mod:`app_support.loaders`, keyed by these handles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from behemb_core.demo import DEMO_LABEL, demo_spec
from behemb_core.store.location import DEFAULT_STORE as DEFAULT_STORE  # re-exported: app.py, loaders use keys.*
from behemb_core.store.location import STORE_ENV as STORE_ENV
from behemb_core.store.location import default_store as default_store

from . import resume
from .persist import keep_form_values
from .shell import leave_legacy_page_mode

APP_DIR = Path(__file__).resolve().parents[1]

# Sidebar text input (shared by every page): the store folder or fsspec URL.
STORE_PATH = "store_path"
# The sidebar widget's own key. Streamlit drops a widget's state on pages where it was not rendered in the
# previous run, so the durable value lives in STORE_PATH and the widget is re-seeded from it on every run.
STORE_PATH_INPUT = "store_path_input"
# JSON text of the dataset spec in use (see data_io.DatasetSpec); the cache key of the loaded dataset.
DATASET_SPEC = "dataset_spec"
# Human label of the dataset in use ("Bundled demo …", "upload: a.csv, b.csv").
DATASET_LABEL = "dataset_label"
# Paths of the files currently uploaded on the Data page (written to a temporary folder).
UPLOADED_PATHS = "uploaded_paths"
UPLOADED_META_PATH = "uploaded_meta_path"
# Train page: training-cache key -> version name, and the last version trained in this session.
TRAIN_RUNS = "train_runs"
LAST_VERSION = "last_version"
# Id of this session's background training job (app_support.jobs), and the outcome message to show once.
TRAIN_JOB = "train_job"
TRAIN_MESSAGE = "train_message"

# The default store (DEFAULT_STORE, overridden by the environment variable STORE_ENV; the sidebar still wins) is
# behemb_core.store.location's, imported above: one definition, shared with the command line.


def init_state() -> None:
    """Set defaults for missing keys (idempotent; every page calls it first, so pages also run on their own).
    A page that a fresh server ran outside ``app.py``'s navigation is rerun through it first. After a browser
    reload, what the session had (dataset, store, its training job) is taken back first (:mod:`.resume`)."""
    leave_legacy_page_mode()
    ss = st.session_state
    resume.restore(ss)
    if STORE_PATH not in ss:
        ss[STORE_PATH] = default_store()
    if DATASET_SPEC not in ss:
        ss[DATASET_SPEC] = demo_spec().to_json()
        ss[DATASET_LABEL] = DEMO_LABEL
    ss.setdefault(TRAIN_RUNS, {})
    resume.remember(ss)  # what a callback changed (the sidebar's store) is kept before the page runs
    keep_form_values(ss)  # forms such as Train's survive a visit to another page


def keep_store_path() -> None:
    """``on_change`` of the sidebar input: copy the widget's value to the durable key."""
    st.session_state[STORE_PATH] = st.session_state[STORE_PATH_INPUT]


def resolve_store_path(text: str) -> str:
    """A URL (``memory://…``, ``s3://…``) as given; a relative folder relative to the app's folder."""
    text = text.strip() or default_store()
    if "://" in text:
        return text
    p = Path(text).expanduser()
    return str(p if p.is_absolute() else APP_DIR / p)
