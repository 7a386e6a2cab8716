"""behemb workbench — Streamlit entry point: ``streamlit run app.py``.

This file sets up shared state and the sidebar (the store in use), then routes to the pages with
``st.navigation``. The home page is rendered here; each task has one file in ``pages/``.
"""

from __future__ import annotations

import streamlit as st

from app_support import jobs, keys, loaders, resume
from app_support.errors import page_guard, user_errors
from app_support.identity import identity_sidebar, sign_in_gate, view_gate
from app_support.views import md
from app_support.widgets import dataset_counts
from behemb_core.store import published_version

st.set_page_config(page_title="behemb workbench", page_icon=":material/explore:", layout="wide")
keys.init_state()


@st.cache_resource(show_spinner=False)
def warm_up_numba() -> bool:
    """Load the training kernels and the projection's numba kernels (umap's and ours) once per server process, in
    a background thread at start-up, so the first training and the first projection a user asks for pay only for
    their data. The kernels live in numba's disk cache (~/.cache/behemb/numba unless NUMBA_CACHE_DIR is set): on a
    machine that never compiled them this takes a while once, afterwards a few seconds. Off when BEHEMB_NO_WARMUP
    is set (tests)."""
    import os
    import threading

    if os.environ.get("BEHEMB_NO_WARMUP"):
        return False
    from behemb_core.projection import warm_up
    from behemb_core.warmup import start_background_warm_up

    start_background_warm_up()  # training kernels first: a job started meanwhile waits for them, and says so
    threading.Thread(target=warm_up, kwargs={"pynndescent": False}, name="behemb-warm-up", daemon=True).start()
    return True


warm_up_numba()


def sidebar() -> None:
    with st.sidebar:
        st.session_state[keys.STORE_PATH_INPUT] = st.session_state[keys.STORE_PATH]
        st.text_input(
            "Store (folder or fsspec URL)", key=keys.STORE_PATH_INPUT, on_change=keys.keep_store_path, max_chars=2048,
            help="Where versions are saved and read. Several people can share one store folder; versions are "
            f"immutable and never overwritten. Default: {keys.DEFAULT_STORE} (env {keys.STORE_ENV} overrides).",
        )
        problem = loaders.store_problem()
        store = None
        if problem is not None:
            st.error(f"This store cannot be used: {md(problem)}", icon=":material/block:")
        else:
            st.caption("Using " + md(keys.resolve_store_path(st.session_state[keys.STORE_PATH])))
            with user_errors("The store could not be opened"):
                store = loaders.current_store()
                note = store.writer_note()
                if note:
                    st.caption(":material/person: " + md(note[0].upper() + note[1:]) + ".")
        identity_sidebar(store)
        training_indicator()


@st.fragment(run_every=2.0)
def training_indicator() -> None:
    """This session's training job, on every page (also after a reload): method, share done, a Cancel button,
    and where to see the outcome."""
    job = jobs.get_job(st.session_state.get(keys.TRAIN_JOB))
    if job is None:
        return
    if job.running:
        st.progress(job.fraction, text=f"training: {md(job.label)}, {job.fraction:.0%}")
        if not job.cancelling and st.button(
                "Cancel training", key="sidebar_train_cancel", icon=":material/cancel:",
                help="Stops at the next progress step (epoch, SVD iteration…); nothing is saved."):
            job.cancel()
        if job.cancelling:
            st.caption("Cancelling: it stops at its next progress step; nothing is saved.")
    else:
        st.caption(f"Training {md(job.label)} {job.status} — see the Train page.")


def home() -> None:
    st.title("behemb — behavior-based item embeddings")
    st.markdown(
        "Learn **item vectors from behavior** — which items people buy, view or play together in a session — "
        "compare them with simple baselines, look at the neighbors they produce, and save them as immutable, "
        "checksummed versions an ANN index builder can read."
    )

    st.subheader("Dataset in use")
    with user_errors("The dataset could not be read"):
        spec_json = st.session_state[keys.DATASET_SPEC]
        summary = loaders.dataset_summary(spec_json)
        st.markdown(md(st.session_state.get(keys.DATASET_LABEL) or "dataset"))
        dataset_counts(summary)
        st.caption(f"Fingerprint {summary['fingerprint'][:23]}…")

    st.subheader("Store")
    with user_errors("The store could not be read"):
        store = loaders.current_store()
        versions = store.list_versions()
        published = published_version(store)
        c = st.columns(3)
        c[0].metric("Versions", len(versions), border=True)
        c[1].metric("Published", published or "none yet", border=True)
        c[2].metric("Latest", versions[-1].name if versions else "—", border=True)
        st.caption(f"Store: {md(store.url)}")

    st.subheader("What next")
    st.page_link(DATA, label="1 · Data — upload your own sessions or event logs, check the summary",
                 icon=":material/upload_file:")
    st.page_link(TRAIN, label="2 · Train — pick a method, train, compare with the baselines",
                 icon=":material/model_training:")
    st.page_link(NEIGHBORS, label="3 · Neighbors — people who bought this also bought…", icon=":material/search:")
    st.page_link(PROJECTION, label="4 · Projection — a 2-D map of a version's items, side by side with another",
                 icon=":material/map:")
    st.page_link(COMPARE, label="5 · Compare — how much did the neighbor lists change, beyond retraining noise?",
                 icon=":material/compare_arrows:")
    st.page_link(PUBLISH, label="6 · Publish — sign-off checklist, approve, publish, roll back, audit log",
                 icon=":material/rocket_launch:")


HOME = st.Page(home, title="Home", icon=":material/home:", default=True)
DATA = st.Page("pages/1_Data.py", title="Data", icon=":material/upload_file:")
TRAIN = st.Page("pages/2_Train.py", title="Train", icon=":material/model_training:")
NEIGHBORS = st.Page("pages/3_Neighbors.py", title="Neighbors", icon=":material/search:")
PROJECTION = st.Page("pages/4_Projection.py", title="Projection", icon=":material/map:")
COMPARE = st.Page("pages/5_Compare.py", title="Compare", icon=":material/compare_arrows:")
PUBLISH = st.Page("pages/6_Publish.py", title="Publish", icon=":material/rocket_launch:")

sign_in_gate()  # with sign-in configured, a visitor who is not signed in sees only the sign-in
sidebar()
pg = st.navigation([HOME, DATA, TRAIN, NEIGHBORS, PROJECTION, COMPARE, PUBLISH])
try:
    with page_guard(pg.title):
        resume.show_notice()  # a reload that could not bring the session back says so, loudly, on every page
        if loaders.store_problem() is None:
            view_gate(loaders.current_store())  # a store whose policy gives this person no role shows nothing
        pg.run()
finally:  # also after st.stop / st.rerun: what the page changed (the dataset read on Data) survives a reload
    resume.remember(st.session_state)
