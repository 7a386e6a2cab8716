"""The Publish page's "ANN index" section: build, measure and register the index customers are served from
(:func:`behemb_core.ann.served.build_version_index`, one library call that also enforces the store's policy), and
show the measurement kept with it — recall@k against exact search overall, by popularity band and on the golden
pairs' items, queries per second beside exact search, the smallest ``ef`` reaching the target, the file and its
sha256, the parameters. An index already kept or registered for the version is shown from its record, never
rebuilt on a page run. The index is of the mode the version serves (:func:`behemb_core.ann.modes.served_mode`):
over the symmetric vectors, or — for a version serving the "next item" ranking — over the candidate vectors K,
queried with the query vectors Q; the section says which. A version with the "next item" tables may also get the
other ranking's index (another placement): the section then asks which, the served one first; the checklist judges
only the served ranking's index."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from pydantic import ValidationError

from behemb_core.ann.index import AnnParams
from behemb_core.ann.modes import DEFAULT_INDEX_NAMES, IndexMode, served_mode
from behemb_core.ann.served import build_version_index, index_for_version
from behemb_core.errors import StoreError
from behemb_core.identity import Actor
from behemb_core.progress import ProgressEvent
from behemb_core.store import Store
from behemb_core.store.names import validate_version_name
from behemb_core.store.policy import Access

from .errors import user_errors
from .forms import field_widget
from .views import human_time, md

__all__ = ["AnnProgress", "EDITABLE", "MODE_LABELS", "ann_section", "code", "index_name_problem",
           "measurement_sentences", "mode_sentence", "param_errors", "recall_text"]

#: The build and search settings a person may change on the page (``threads`` stays the library's default).
EDITABLE = ("m", "ef_construction", "ef_search")
KEY_PREFIX = "pub_ann"
NAME_KEY = f"{KEY_PREFIX}_name"
BUILD_KEY = f"{KEY_PREFIX}_build"
_STAGES = {"index": "Building the ANN index", "recall": "Measuring recall"}
MODE_KEY = f"{KEY_PREFIX}_mode"
MODE_LABELS: dict[IndexMode, str] = {"also": "Also viewed", "next": "Next item"}


def param_errors(exc: ValidationError) -> list[str]:
    """One sentence per problem of an :class:`AnnParams` validation, naming the parameter (``m``, …) and what
    was expected; a problem between two parameters (``ef_construction`` below ``m``) names both itself."""
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        got = err.get("input")
        out.append(f"{where}: {message} (got {got!r})" if where else message)
    return out


def index_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a registered index (the store's naming rule), or None."""
    try:
        validate_version_name(name)
    except StoreError as exc:
        return f"index name {name!r}: {str(exc).replace('version name', 'name')}"
    return None


def mode_sentence(mode: IndexMode, served: IndexMode | None = None) -> str:
    """Which ranking an index of ``mode`` serves and what it holds, in markdown; ``served`` (default: ``mode``) is
    the mode the version serves — an index of the other mode is said to be for another placement, not judged."""
    served = mode if served is None else served
    if mode == "next":
        what = ("its index holds the candidate vectors (K) and is queried with each item's query vector (Q); recall "
                "is measured against the exact Q·K ranking.")
        head = "this version serves what people go on to next, so " if served == "next" else ""
        text = f"Mode: **next item** — {head}{what}"
    else:
        text = ("Mode: **also viewed** — the index holds the symmetric vectors and is queried with them; recall is "
                "measured against the exact cosine neighbors.")
    if served != mode:
        text += (f" This version serves the **{MODE_LABELS[served].lower()}** ranking: this index is for another "
                 f"placement, and the checklist's “served neighbors match” judges the {MODE_LABELS[served].lower()} "
                 "index, not this one.")
    return text


def recall_text(value: float | None) -> str:
    """A recall as shown: three decimals, or a dash when it could not be measured (never a number made up)."""
    return "—" if value is None else f"{value:.3f}"


def measurement_sentences(record: Mapping[str, Any]) -> list[str]:
    """What the page says under the recall figures of an index record: where it was measured and how fast it is,
    the smallest ``ef`` reaching the target, the parameters and the file (markdown, escaped)."""
    m = record.get("measurement") or {}
    params = record.get("params") or {}
    out = []
    if m:
        qps, exact = float(m.get("queries_per_second") or 0), float(m.get("exact_queries_per_second") or 0)
        speed = (f"{qps:,.0f} queries/s beside {exact:,.0f} for exact search"
                 + (f" (×{qps / exact:.1f})" if exact > 0 else ""))
        grid = ", ".join(str(p.get("ef")) for p in m.get("by_ef") or [])
        reach = (f"the smallest ef reaching recall {m.get('target')}: **{m['ef_for_target']}**"
                 if m.get("ef_for_target") is not None else
                 f"no ef tried ({md(grid)}) reaches recall {m.get('target')}: raise m or ef_construction")
        out.append(f"Recall@{m.get('k')} at ef_search {m.get('ef_search')} on {int(m.get('queries') or 0):,} sampled "
                   f"items (seed {m.get('seed')}); {speed}; {reach}.")
        if m.get("band_definition"):
            out.append(f"Bands: {md(m['band_definition'])}.")
    shown = " · ".join(f"{k} {md(params[k])}" for k in ("m", "ef_construction", "ef_search", "threads") if k in params)
    library = " ".join(f"{md(k)} {md(v)}" for k, v in (record.get("library") or {}).items())
    out.append(f"Parameters: {shown or 'not recorded'}" + (f" · {library}" if library else "") + ".")
    sha = str(record.get("index_sha256") or "")
    out.append(f"Index file {code(record.get('index_file'))} · sha256 {code(sha[:12])}…"
               + (f" · {int(record['index_bytes']):,} bytes" if record.get("index_bytes") else "") + ".")
    return out


def code(text: object) -> str:
    """``text`` as an inline code span: shown literally (no markdown inside, so nothing escaped), backticks and
    line breaks taken out so it cannot end the span."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


class AnnProgress:
    """A ``ProgressCallback`` drawing one bar for the build (the library's stages "index" and "recall")."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="starting…")
        self.fraction = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if event.fraction is not None:
            self.fraction = min(max(float(event.fraction), self.fraction), 1.0)
        label = _STAGES.get(event.stage, event.stage)
        self.bar.progress(self.fraction, text=f"{label}: {event.message}" if event.message else label)

    def empty(self) -> None:
        self.bar.empty()


def _params_form() -> tuple[AnnParams | None, list[str]]:
    """The parameter widgets (defaults from :class:`AnnParams`) and the validated parameters, or the problems."""
    values: dict[str, Any] = {}
    with st.expander("Index parameters (m, ef_construction, ef_search)"):
        cols = st.columns(len(EDITABLE))
        for col, name in zip(cols, EDITABLE, strict=True):
            with col:
                values[name] = field_widget(name, AnnParams.model_fields[name], key=f"{KEY_PREFIX}_{name}", label=name)
    try:
        return AnnParams(**{k: v for k, v in values.items() if v is not None}), []
    except ValidationError as exc:
        return None, param_errors(exc)


def _show_record(record: Mapping[str, Any], version: str) -> None:
    m = record.get("measurement") or {}
    name = record.get("registered_as")
    who = record.get("by") or "someone unnamed"
    if name:
        st.markdown(f":material/verified: Index **{md(name)}** is registered for {md(version)} "
                    f"(by {md(who)}, {md(human_time(record.get('at')))}).")
    else:
        st.markdown(f"An index of {md(version)} is kept with the version (built by {md(who)}, "
                    f"{md(human_time(record.get('built_at')))}) but not registered as the one that serves.")
    if not m:
        st.caption("This registration records no measurement: build the index again to measure it.")
    else:
        bands = m.get("bands") or {}
        golden = m.get("golden")
        cols = st.columns(5)
        cols[0].metric(f"Recall@{m.get('k')}", recall_text(m.get("recall")), border=True,
                       help="Of the exact top-k neighbors (as on the Neighbors page), the share the index serves.")
        for col, band in zip(cols[1:4], ("head", "torso", "tail"), strict=True):
            b = bands.get(band)
            col.metric(f"{band.title()} items", recall_text(b["recall"]) if b else "—", border=True,
                       help=f"{b['n']:,} sampled items in this band" if b else "No item counts stored: no bands.")
        cols[4].metric("Golden pairs' items", recall_text(golden["recall"]) if golden else "—", border=True,
                       help=f"{golden['n']:,} query items of the golden pairs" if golden else "No golden pairs.")
    for sentence in measurement_sentences(record):
        st.caption(sentence)


def ann_section(store: Store, version: str, published: str | None, acc: Access, by: Actor | None,
                done: Callable[[str], None]) -> None:
    """The section for ``version`` (``published``: the store's published version): its index (measurement as
    stored), the parameters, the index name and the button that builds, measures and registers — disabled with
    the policy's reason when the person may not. ``done`` is the page's "remember this message and rerun" (the
    checklist runs again on the new index)."""
    st.subheader("ANN index")
    st.caption("Customers are served neighbors from an approximate-nearest-neighbor index (faiss HNSW), not from the "
               "exact lists inspected above. Building it measures how many exact neighbors it serves; the "
               "checklist's “served neighbors match” judges that measurement.")
    record = other = None
    mode: IndexMode = "also"
    served: IndexMode = "also"
    has_pair = False
    with user_errors("The ANN index records could not be read"):
        manifest = store.manifest(version)
        served = served_mode(manifest)
        mode = served
        has_pair = manifest.get("directional") is not None
    if has_pair:  # both rankings can be indexed; the served one first, and chosen unless the person picks the other
        options: list[IndexMode] = [served, "also" if served == "next" else "next"]
        mode = st.radio("Index of", options=options, horizontal=True,
                        format_func=lambda m: MODE_LABELS[m], key=f"{MODE_KEY}_{version}",
                        help="This version has the “next item” tables, so it can be served by two indexes: one of "
                        "the “also viewed” ranking (symmetric vectors) and one of the “next item” ranking (K, "
                        "queried with Q). The checklist judges the index of the ranking the version serves.")
    with user_errors("The ANN index records could not be read"):
        record = index_for_version(store, version, mode)
        other = None if record is not None else index_for_version(store, version, "also" if mode == "next" else
                                                                  "next")
    st.caption(mode_sentence(mode, served))
    if record is None:
        wrong = (f" for the mode it serves (an index of the other mode, {md(other.get('build'))}, exists: it does "
                 "not serve what this version serves)" if other is not None and mode == served else
                 f" for the {MODE_LABELS[mode].lower()} ranking" if mode != served else "")
        judge = ("so the check “served neighbors match” cannot judge it" if mode == served else
                 "(the check “served neighbors match” judges the index of the ranking the version serves)")
        st.info(f"No ANN index has been built from {md(version)} yet{wrong}, {judge}.", icon=":material/info:")
    else:
        _show_record(record, version)

    params, problems = _params_form()
    for problem in problems:
        st.error(f"Index parameters: {md(problem)}", icon=":material/block:")
    name_key = NAME_KEY if mode == "also" else f"{NAME_KEY}_{mode}"  # each mode keeps its own name
    if name_key not in st.session_state:
        st.session_state[name_key] = DEFAULT_INDEX_NAMES[mode]
    name = st.text_input("Index name", key=name_key,
                         help="The name the index is registered under (`indexes/<name>.json` in the store); "
                         "`verify` then reports it when it was built from another version than the published one. "
                         "A name serves one mode for good: an “also viewed” index and a “next item” one never share "
                         "it.")
    name = name.strip()
    bad_name = index_name_problem(name)
    if bad_name is not None:
        st.error(md(bad_name), icon=":material/block:")
    refused = acc.refusal("index")
    if refused is not None:
        st.caption(f":material/lock: {md(refused)}.")
    reason = refused or ("fix the index parameters" if problems else None) or bad_name
    if st.button("Build, measure and register the ANN index", key=BUILD_KEY, type="secondary",
                 disabled=reason is not None,
                 help=reason or "Builds the index (or reuses the one kept with these parameters), measures recall "
                 "against exact search and registers it under the name above."):
        if by is None:
            st.error("Enter your name in the sidebar: registering an index records who did it.",
                     icon=":material/block:")
            return
        if reason is not None or params is None:  # the disabled button cannot be pressed; belt and braces
            return
        view = AnnProgress()
        built = None
        with user_errors("The ANN index was not built"):
            built = build_version_index(store, version, params=params, by=by, register_as=name, mode=mode,
                                        progress=view)
        view.empty()
        if built is not None:
            m = built.get("measurement") or {}
            what = "“next item” ANN index" if mode == "next" else "ANN index"
            done(f"Built and registered the {what} {md(name)} of {md(version)} by {md(by.shown)}: recall@"
                 f"{m.get('k')} {recall_text(m.get('recall'))} at ef_search {m.get('ef_search')}.")
    if version != published:
        st.caption("Registering an index of a version that is not the published one makes `verify` report index "
                   "skew until that version is published.")

