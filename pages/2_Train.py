"""Train: pick a method from the registry, fill in the form generated from its config class, train in-process
with a progress bar (optionally tuning the parameters first), and look at the saved version (its evaluation
against the baselines and the parameter search that chose its config)."""

from __future__ import annotations

import streamlit as st

from app_support import jobs, keys, loaders, resume
from app_support.collapse_view import show_collapse_diagnosis
from app_support.errors import page_guard, user_errors
from app_support.forms import model_form, unless_kept
from app_support.identity import current_access
from app_support.runs import run_key
from app_support.train_view import (
    content_refusal,
    extra_fits,
    holdout_words,
    missing_text_columns,
    outcome_sentence,
    session_order,
)
from app_support.tuning_view import tuning_caption, tuning_table
from app_support.views import evaluation_table, md
from behemb_core.boundary import doing
from behemb_core.errors import ConfigError, VersionExistsError
from behemb_core.methods.registry import DEFAULT_METHOD, METHODS, parse_config
from behemb_core.reports import Manifest, read_manifest
from behemb_core.store import validate_version_name
from behemb_core.train import base_version_choices, find_same_training, train_version, warm_start_choice
from behemb_core.tuning import tune_and_train

keys.init_state()
st.title("Train")


def method_name(manifest: Manifest) -> str:
    return str(manifest.get("method", "the method"))

dataset = fingerprint = None
with user_errors("The dataset could not be read"):
    spec, dataset = loaders.current_dataset()
    fingerprint = loaders.current_fingerprint()
    st.caption(f"Training data: {md(st.session_state.get(keys.DATASET_LABEL) or spec.label())} — "
               f"{dataset.sessions.n_sessions:,} sessions, {dataset.sessions.n_items:,} items "
               "(change it on the Data page).")

store = None
may_train: str | None = None  # an unusable store is said when Train is pressed, as before
actor = None
with user_errors("The store could not be opened"):
    store = loaders.current_store()
    acc = current_access(store)
    may_train = acc.refusal("train")
    actor = acc.actor
if store is not None and may_train:
    st.info(md(may_train) + ".", icon=":material/lock:")

method = st.selectbox("Method", list(METHODS), key="train_method", format_func=lambda m: METHODS[m].title,
                      **unless_kept("train_method", index=list(METHODS).index(DEFAULT_METHOD)))
spec_m = METHODS[method]
st.caption(spec_m.description)

base_version = None
if spec_m.accepts_base_version and store is not None:
    with user_errors():
        existing = base_version_choices(store)
        choice = st.selectbox(
            "Behavior vectors", ["(train the base method on the dataset)", *existing], key="train_base_version",
            help="Fuse a stored behavior version, or train `base_method` in-process first.",
        )
        base_version = None if choice.startswith("(") else choice

# A method that needs content gets it from item names (the dataset's, else the base version's): without any, say
# so now and offer no Train that would fail after the fit started.
no_content: str | None = None
if dataset is not None and spec_m.accepts_content:
    with user_errors("The base version could not be read"):
        base_meta = loaders.load_version(store.url, base_version).item_meta \
            if base_version is not None and store is not None and dataset.item_meta is None else None
        no_content = content_refusal(spec_m, dataset_meta=dataset.item_meta, base_version=base_version,
                                     base_meta=base_meta)
if no_content is not None:
    st.warning(md(no_content), icon=":material/text_snippet:")

warm_from: str | None = None
warm_refusal: str | None = "no store is open"
if store is not None:
    with user_errors():
        warm_from, warm_refusal = warm_start_choice(store, method)

# Outside the form, so that ticking it enables the budget at once (a form's widgets change nothing until Train).
tunable = spec_m.tunable
tune = st.checkbox(
    "Tune parameters first", value=False, key="train_tune", disabled=not tunable,
    help="Search the method's main parameters on a validation split carved from the training sessions — the "
    "evaluation hold-out is never read — starting from the values below, then train the best on all sessions."
    if tunable else f"{spec_m.title} has no search space"
    + ("; tune its base method and build on that version." if spec_m.accepts_base_version else "."),
) and tunable

with st.form("train_form"):
    st.markdown(f"**{md(spec_m.title)} parameters**")
    with user_errors() as form_outcome:
        values = model_form(spec_m.config_class, key_prefix=f"cfg_{method}", columns=3, choices=spec_m.field_choices())
    c = st.columns(4)
    seed = c[0].number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed",
                             **unless_kept("train_seed", value=0))
    name = c[1].text_input("Version name (optional)", key="train_name",
                           help="1–64 characters [A-Za-z0-9._-]; empty = generated (e.g. ppmi_v3).").strip() or None
    not_here = "" if spec_m.learns_from_sessions else \
        f" Not available for {spec_m.title}: it does not learn from the sessions alone."
    evaluate = c[2].checkbox("Evaluate against baselines", key="train_evaluate",
                             **unless_kept("train_evaluate", value=True),
                             help="Also train on a time split and score HR/NDCG@10 vs most-popular and item-kNN "
                             "(a second training run)." + not_here)
    noise_floor = c[3].checkbox("Measure noise floor", key="train_noise_floor",
                                help="Retrain with seed+1 and store how much the neighbor lists move by chance "
                                "(another training run)." + not_here)
    warm = st.checkbox(
        "Start from the published version" + (f" ({warm_from})" if warm_from else ""), value=False,
        key="train_warm_start", disabled=warm_refusal is not None,
        help=(f"A warm-started retrain: {spec_m.warm_start_note}. Much faster than a cold start, and the neighbor "
              "lists move less from the published ones." if warm_refusal is None else md(warm_refusal) + "."),
    ) and warm_refusal is None
    warm_start = warm_from if warm else None
    tuning_cols = st.columns([1, 3])
    budget = tuning_cols[0].number_input(
        "Tuning budget (minutes)", min_value=0.5, max_value=600.0, step=0.5, key="train_budget",
        disabled=not tune, **unless_kept("train_budget", value=10.0),
        help="No new trial starts once this is spent; the best so far wins." if tune else
        "Tick 'Tune parameters first' above to set a budget.")
    pass_gate = tuning_cols[1].checkbox(
        "Only settings that pass the popularity-collapse check", key="train_pass_gate", disabled=not tune,
        help="Diagnose every fitted trial as sign-off does (against item-kNN on the validation sessions) and choose "
        "the best one whose verdict is ok; if none is, the best is chosen anyway and the search says so."
        if tune else "Tick 'Tune parameters first' above to choose this.") and tune
    blocked = may_train or no_content
    submitted = st.form_submit_button("Train", type="primary", key="train_submit", disabled=blocked is not None,
                                      help=blocked)

if submitted and dataset is not None and store is not None and not form_outcome.failed and may_train is None \
        and no_content is None:
    with user_errors("Training could not start"):
        if name is not None:
            validate_version_name(name)  # before anything else is looked at
        config = parse_config(method, values).model_dump(mode="json")
        if spec_m.accepts_content:  # the names' columns are known now: refuse before the job, not in it
            meta = dataset.item_meta if dataset.item_meta is not None or base_version is None else \
                loaders.load_version(store.url, base_version).item_meta
            bad_columns = missing_text_columns(spec_m, config, meta)
            if bad_columns is not None:
                raise ConfigError(bad_columns)
        key = run_key(fingerprint=fingerprint, method=method, config=config, seed=int(seed), store_url=store.url,
                      evaluate=evaluate, noise_floor=noise_floor, name=name, base_version=base_version,
                      tune_budget=float(budget) if tune else None, warm_start=None if tune else warm_start,
                      pass_gate=pass_gate)
        current = jobs.get_job(st.session_state.get(keys.TRAIN_JOB))
        previous = None if tune else find_same_training(
            store, method, config, dataset=dataset, seed=int(seed), base_version=base_version, evaluate=evaluate,
            noise_floor=noise_floor, warm_start=warm_start)
        if current is not None and current.running:
            st.warning(f"Training {md(current.label)} is still running; wait for it or cancel it first.")
        elif previous is not None:
            unused = f" The name {md(name)} was not used: versions are immutable, and this one would be identical." \
                if name is not None and name != previous else ""
            st.info(f"Already trained as version **{md(previous)}** (same data, method, config and seed) — not "
                    f"retrained.{unused}")
            st.session_state[keys.LAST_VERSION] = previous
        else:
            if name is not None and store.exists(name):  # fail now, not after the training
                raise VersionExistsError(f"version {name!r} already exists in the store; choose another name")

            fits = extra_fits(spec_m, evaluate=evaluate, noise_floor=noise_floor)

            def work(progress, _ds=dataset, _store=store, _cfg=config, _seed=int(seed), _by=actor):  # in the thread
                with doing(path=_store.url):  # an OS error without a file name (a full disk) names the store
                    if tune:  # the form's values are the starting point and trial 1 of the search
                        result = tune_and_train(
                            _store, method, dataset=_ds, budget_seconds=float(budget) * 60, seed=_seed, name=name,
                            evaluate=evaluate, noise_floor=noise_floor, base_config=_cfg, progress=progress, by=_by,
                            base_version=base_version, pass_gate=pass_gate,
                        )
                    else:
                        result = train_version(
                            _store, method, _cfg, dataset=_ds, seed=_seed, name=name, evaluate=evaluate,
                            noise_floor=noise_floor, base_version=base_version, progress=progress, by=_by,
                            warm_start=warm_start,
                        )
                return {**result, "extra_fits": fits}

            label = f"{spec_m.title}, seed {int(seed)}" + (f", tuned for up to {float(budget):g} min" if tune else "") \
                + (f", warm-started from {warm_start}" if warm_start and not tune else "")
            job = jobs.start_job(key, label, work, owner=resume.token(st.session_state))
            st.session_state[keys.TRAIN_JOB] = job.id


@st.fragment(run_every=1.0)
def training_status() -> None:
    """Polls the background job: progress while it runs (the rest of the app stays usable), then the outcome.
    A fragment's own reruns do not pass through app.py's ``page_guard``, so it guards itself."""
    with page_guard("Train (training status)"):
        show_training_status()


def show_training_status() -> None:
    job = jobs.get_job(st.session_state.get(keys.TRAIN_JOB))
    if job is None:
        return
    if job.running:
        st.progress(job.fraction, text=f"{md(job.label)} — {md(job.text)}")
        if job.losses:
            st.caption("Loss per epoch: " + ", ".join(f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"
                                                  for x in job.losses))
        if not job.cancelling and st.button(
                "Cancel training", key="train_cancel",
                help="Stops at the next progress step (epoch, SVD iteration…); nothing is saved."):
            job.cancel()
        if job.cancelling:
            st.caption("Cancelling: it stops at its next progress step; nothing is saved.")
        st.caption(f"Running for {job.seconds:.0f} s in the background — other pages stay usable.")
        return
    st.session_state.pop(keys.TRAIN_JOB, None)
    job.reported = True  # a later reload does not show this outcome again
    if job.status == "done" and job.result is not None:
        st.session_state[keys.TRAIN_RUNS][job.key] = job.result["version"]
        st.session_state[keys.LAST_VERSION] = job.result["version"]
        result = {**job.result, "version": md(job.result["version"])}
        st.session_state[keys.TRAIN_MESSAGE] = ("success", outcome_sentence(result, job.result.get("extra_fits", [])))
    elif job.status == "cancelled":
        st.session_state[keys.TRAIN_MESSAGE] = (
            "warning", f"Training {md(job.label)} was cancelled; nothing was saved.")
    else:
        st.session_state[keys.TRAIN_MESSAGE] = ("error", f"Training failed: {md(job.error or 'unknown error')}")
    st.rerun(scope="app")


training_status()
kind_text = st.session_state.pop(keys.TRAIN_MESSAGE, None)
if kind_text is not None:
    getattr(st, kind_text[0])(kind_text[1])

last = st.session_state.get(keys.LAST_VERSION)
if last and store is not None:
    with user_errors("The version could not be read"):
        if store.exists(last):
            manifest = read_manifest(store.manifest(last), where=f"version {last}")
            st.subheader(f"Version {md(last)}")
            tiles = st.columns([2, 1, 1, 1, 1])  # method names are the longest values
            tiles[0].metric("Method", manifest.get("method", "?"), border=True)
            tiles[1].metric("Items", f"{manifest.get('n_items', 0):,}", border=True)
            tiles[2].metric("Dimensions", manifest.get("dim", "?"), border=True)
            tiles[3].metric("Training seconds", f"{manifest.get('training_seconds', 0):.1f}", border=True)
            tiles[4].metric("Seed", manifest.get("seed", "?"), border=True)
            evaluation = manifest.get("evaluation")
            if evaluation:
                split = evaluation["split"]
                trained_on = manifest.get("dataset") or {}
                same_data = dataset is not None and trained_on.get("fingerprint") == fingerprint
                order = session_order(trained_on.get("source"),
                                      (dataset.sessions.start_times is not None) if same_data else None)
                st.markdown(f"**Held-out next-item evaluation** — {holdout_words(split, order)}, "
                            f"{split['pairs']:,} query pairs")
                st.dataframe(evaluation_table(evaluation), hide_index=True, key="train_eval_table")
                cmp = evaluation.get("comparison")
                if cmp is not None:
                    verdict = "matches or beats" if cmp["beats_item_knn"] else "is below"
                    ratio = cmp["hr_ratio_to_most_popular"]
                    st.caption(f"{md(method_name(manifest))} {verdict} item-kNN (HR@{cmp['k']} difference "
                               f"{cmp['hr_minus_item_knn']:+.3f})"
                               + (f" and reaches {ratio:.1f}× most-popular." if ratio else "."))
            show_collapse_diagnosis(manifest.get("popularity_diagnosis"), method_title=method_name(manifest))
            tuning = manifest.get("tuning")
            if tuning:
                st.markdown("**Parameter search** — " + md(tuning_caption(tuning)))
                st.caption(md((tuning.get("protocol") or {}).get("summary", "")))
                st.dataframe(tuning_table(tuning), hide_index=True, key="train_tuning_table")
            noise_floor_stored = manifest.get("noise_floor")
            floor_median = None if noise_floor_stored is None else noise_floor_stored["overall"]["jaccard"]["median"]
            if noise_floor_stored is not None and floor_median is not None:
                st.caption(f"Noise floor stored: retraining with another seed gives median Jaccard@"
                           f"{noise_floor_stored['k']} {floor_median:.2f} between the two runs' neighbor lists.")
            with st.expander("Fit report and config"):
                st.json({"config": manifest.get("config"), "fit_report": manifest.get("fit_report")},
                        expanded=False)
            st.page_link("pages/3_Neighbors.py", label="Look at its neighbors →", icon=":material/search:")
