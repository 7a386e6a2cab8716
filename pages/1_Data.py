"""Data: choose the bundled demo or upload sessions / event logs, map columns, set cleaning rules, and check
the summary. Reading is the library's job (through app_support.data_io); this page only renders."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import plotly.express as px
import streamlit as st

from app_support import keys, loaders
from app_support.data_io import (
    DELIMITER_CHOICES,
    DEMO_NAME_COLUMN,
    UPLOAD_TYPES,
    DatasetSpec,
    check_page_columns,
    demo_filters,
    input_kind,
    is_demo,
    preview,
    save_uploads,
    suggest_columns,
)
from app_support.errors import user_errors
from app_support.forms import model_form
from app_support.views import drops_table, length_histogram, md
from app_support.widgets import dataset_counts
from behemb_core.demo import DEMO_FILE
from behemb_core.ingest import NAME_CANDIDATES, ROLES, EventFilters
from behemb_core.sessions import SessionOptions

keys.init_state()
if "data_source" not in st.session_state:  # first visit: show the source of the dataset in use
    st.session_state["data_source"] = (
        "demo" if is_demo(DatasetSpec.from_json(st.session_state[keys.DATASET_SPEC])) else "upload")
NONE = "(none)"
LAYOUT_CHOICES = {"table": "Table: one row per event (columns)",
                  "baskets": "Baskets: one session per line, items separated by the delimiter"}

st.title("Data")
limit_mb = st.get_option("server.maxUploadSize")
st.caption(
    f"Upload limit: **{limit_mb} MB per file** (Streamlit `server.maxUploadSize`). For bigger data use the "
    "command line (`python -m behemb_core train --input FOLDER …`) and open the store here."
)


def _clear_uploads() -> None:
    st.session_state.pop(keys.UPLOADED_PATHS, None)


def _clear_meta() -> None:
    st.session_state.pop(keys.UPLOADED_META_PATH, None)


source = st.radio(
    "Source", ["demo", "upload"], key="data_source", horizontal=True,
    format_func={"demo": "Bundled demo (Online Retail, Oct–Nov 2011)", "upload": "Upload files"}.get,
)

paths: list[str] = []
if source == "upload":
    files = st.file_uploader(
        "Session JSONL (one session per line) or event logs (CSV/TSV/Parquet, optionally .gz; several files "
        "with the same columns are read as one log)",
        type=UPLOAD_TYPES, accept_multiple_files=True, key="data_upload", on_change=_clear_uploads,
    )
    if files:
        tag = "-".join(f.file_id for f in files)[:120]
        st.session_state[keys.UPLOADED_PATHS] = [
            str(p) for p in save_uploads([(f.name, f.getbuffer()) for f in files], tag=tag)
        ]
    paths = list(st.session_state.get(keys.UPLOADED_PATHS, []))
    if not paths:
        st.info("Upload one or more files to read them. The summary below is of the dataset currently in use.")
    elif not files:
        st.caption("Using the files uploaded earlier in this session: "
                   + md(", ".join(p.rsplit("/", 1)[-1] for p in paths)))
else:
    paths = [str(DEMO_FILE)]

spec: DatasetSpec | None = None
if paths:
    with user_errors() as outcome:
        kind: Literal["events", "sessions", "baskets"] = "events" if source == "demo" else input_kind(paths)
        columns: dict[str, Any] | None = None
        name_column: str | None = None
        filters: dict[str, Any] | None = None
        delimiter, has_header = None, True
        if kind == "events" and source == "upload":
            st.subheader("File layout")
            lay, dl, hd = st.columns([2, 1, 1])
            with lay:
                layout = st.radio(
                    "Layout", ["table", "baskets"], key="data_layout", horizontal=True,
                    format_func=LAYOUT_CHOICES.__getitem__,
                )
            with dl:
                delimiter = st.selectbox("Delimiter", list(DELIMITER_CHOICES), key="data_delimiter",
                                         format_func=DELIMITER_CHOICES.__getitem__)
            with hd:
                has_header = st.checkbox("First line is a header", value=True, key="data_header",
                                         disabled=layout == "baskets")
            if layout == "baskets":
                kind, has_header = "baskets", False
            names, used_delim, frame = preview(paths[0], delimiter=delimiter, header=has_header)
            if used_delim is not None:
                how = "chosen" if delimiter else "detected"
                st.caption(f"Preview of {md(paths[0].rsplit('/', 1)[-1])} — delimiter {how}: "
                           f"{DELIMITER_CHOICES.get(used_delim, repr(used_delim))}"
                           + ("" if kind == "baskets" else f"; {len(names)} columns"))
            st.dataframe(frame, hide_index=True, key="data_preview")
        if kind == "events":
            header = names if source == "upload" else preview(paths[0], rows=0)[0]
            detected = suggest_columns(paths[0], delimiter=delimiter, header=has_header)
            st.subheader("Columns")
            st.caption("Pre-filled from the column names; (none) = this role is absent.")
            options_cols = [NONE, *header]
            tag = hashlib.sha1("\x1f".join(header).encode()).hexdigest()[:8]  # new widgets for other columns
            grid = st.columns(4)
            columns = {}
            for i, role in enumerate(ROLES):
                found = detected.get(role)
                with grid[i % 4]:
                    choice = st.selectbox(
                        role.replace("_", " "), options_cols, key=f"data_col_{role}_{tag}",
                        index=options_cols.index(found) if found in options_cols else 0,
                    )
                columns[role] = "" if choice == NONE else choice
            with grid[len(ROLES) % 4]:
                guess = DEMO_NAME_COLUMN if source == "demo" else next(
                    (h for c in NAME_CANDIDATES for h in header if h.lower() == c.lower()), None)
                choice = st.selectbox(
                    "item name", options_cols, key=f"data_col_name_{tag}",
                    index=options_cols.index(guess) if guess in options_cols else 0,
                    help="A column with item names (most frequent name per item is kept).",
                )
                name_column = None if choice == NONE else choice
            with grid[(len(ROLES) + 1) % 4]:
                unit = st.selectbox(
                    "timestamp unit", ["auto", "s", "ms", "us", "ns"], key="data_ts_unit",
                    help="Unit of numeric (unix) timestamps; auto = from their magnitude (the summary says "
                         "which unit was assumed). Text timestamps are ISO 8601.",
                )
                columns["timestamp_unit"] = None if unit == "auto" else unit
            if detected.get("timestamp_found_by") == "content":
                st.caption(f"The timestamp column {md(detected['timestamp'])!s} was recognised by its values "
                           "(no column has a usual timestamp name).")
            if source == "upload":
                columns["delimiter"] = delimiter
                columns["header"] = has_header
            st.subheader("Row filters")
            filter_defaults = demo_filters().model_dump() if source == "demo" else EventFilters().model_dump()
            filters = model_form(EventFilters, key_prefix=f"data_filter_{source}", defaults=filter_defaults)

        st.subheader("Sessions")
        opts = model_form(
            SessionOptions, key_prefix="data_opt", columns=3,
            exclude=("gap_minutes", "use_session_column") if kind in ("sessions", "baskets") else (),
        )
        meta_path = None
        if source == "upload":
            meta = st.file_uploader(
                "Optional item metadata (CSV/TSV/Parquet with an id column and a name/title column)",
                type=UPLOAD_TYPES, key="data_meta_upload", on_change=_clear_meta,
            )
            if meta is not None:
                st.session_state[keys.UPLOADED_META_PATH] = str(
                    save_uploads([(meta.name, meta.getbuffer())], tag=f"meta-{meta.file_id}")[0])
            meta_path = st.session_state.get(keys.UPLOADED_META_PATH)
        spec = DatasetSpec.create(
            format=kind, paths=paths, columns=columns or {}, filters=filters or {}, options=opts,
            name_column=name_column, meta_path=meta_path, delimiter=delimiter if kind == "baskets" else None,
        )

if spec is not None and st.button("Read data", key="data_read", type="primary"):
    with user_errors("Reading the data failed") as outcome:
        if spec.format == "events":
            check_page_columns(spec.columns.model_dump(), use_session=spec.options.use_session_column)
        text = spec.to_json()
        loaders.load_dataset(text)
        st.session_state[keys.DATASET_SPEC] = text
        st.session_state[keys.DATASET_LABEL] = spec.label()
    if not outcome.failed:
        st.success("Data read: it is now the dataset used by the Train and Neighbors pages.")

st.divider()
st.header("Summary of the dataset in use")
with user_errors("The dataset could not be read"):
    spec_json = st.session_state[keys.DATASET_SPEC]
    summary = loaders.dataset_summary(spec_json)
    st.markdown(md(st.session_state.get(keys.DATASET_LABEL) or ""))
    dataset_counts(summary, rows_read=True)
    sl, pop = summary["session_length"], summary["popularity"]
    st.caption(
        f"Session length: median {sl['median']:g}, mean {sl['mean']:.1f}, p90 {sl['p90']:g}, max {sl['max']:,}. "
        f"Popularity: Gini {pop['gini']:.2f}; the top 1 % of items get {pop['head_share_top1pct']:.0%} of events, "
        f"the top 10 % get {pop['head_share_top10pct']:.0%}. Fingerprint {summary['fingerprint']}"
    )
    ts = summary.get("timestamp")
    if ts:
        found_by = {"content": "recognised by its values", "name": "recognised by its name", "given": "as chosen"}
        unit = ts.get("meaning") or ts["unit"]
        st.caption(
            f"Timestamp: column {md(str(ts['column']))} ({found_by.get(ts['found_by'], ts['found_by'])}); {unit}"
            + (" — unit **assumed** from the magnitude of the values; if wrong, choose the 'timestamp unit' "
               "above and read again." if ts.get("unit_assumed") else ".")
        )
    skipped = summary.get("skipped_lines")
    if skipped:
        where = ", ".join(f"{md(s['path'].rsplit('/', 1)[-1])} line {s['line']}" for s in skipped[:5])
        n = sum(v for k, v in summary["notes"].items() if k.startswith("lines without items"))
        st.caption(f"{n:,} line(s) without items were skipped: {where}" + (" …" if n > 5 else ""))
    left, right = st.columns(2)
    with left:
        hist = length_histogram(summary)
        fig = px.bar(hist, x="length", y="sessions", title="Session length (items per session)")
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(hist["length"]))
        st.plotly_chart(fig, key="data_length_hist")
    with right:
        curve = loaders.popularity_curve(spec_json)
        fig = px.line(curve, x="rank", y="events", log_x=True, log_y=True,
                      title="Item popularity (long tail): events per item by rank")
        st.plotly_chart(fig, key="data_popularity")
    left, right = st.columns(2)
    with left:
        st.markdown("**Dropped rows by reason**")
        st.dataframe(drops_table(summary), hide_index=True, key="data_drops")
    with right:
        st.markdown("**Most popular items**")
        st.dataframe(pop["top_items"], hide_index=True, key="data_top_items")
