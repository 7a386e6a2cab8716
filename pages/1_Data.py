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
    ENCODING_CHOICES,
    UPLOAD_TYPES,
    DatasetSpec,
    check_page_columns,
    delimiter_choice,
    delimiter_value,
    demo_filters,
    file_layout,
    input_kind,
    is_demo,
    names_preview,
    preview,
    save_uploads,
    session_fields,
    spec_changes,
    suggest_columns,
)
from app_support.errors import user_errors
from app_support.forms import model_form
from app_support.views import drops_table, length_histogram, md
from app_support.widgets import dataset_counts
from behemb_core.demo import DEMO_FILE
from behemb_core.ingest import NAME_CANDIDATES, ROLES, EventFilters
from behemb_core.ingest.nested import NESTED_SHAPE
from behemb_core.interaction import guess_interaction
from behemb_core.sessions import SessionOptions

keys.init_state()
IN_USE = DatasetSpec.from_json(st.session_state[keys.DATASET_SPEC])  # the page starts from its settings
if "data_source" not in st.session_state:  # first visit: show the source of the dataset in use
    st.session_state["data_source"] = "demo" if is_demo(IN_USE) else "upload"
NONE = "(none)"
READ_MESSAGE = "data_read_message"  # shown once after a read (the page reruns to compare with the new dataset)
LAYOUT_CHOICES = {"table": "Table: one row per event (columns)",
                  "baskets": "Baskets: one session per line, items separated by the delimiter"}
#: Widgets whose value is decided by the file (detected) or by the dataset in use: forgotten on a new upload.
LAYOUT_KEYS = ("data_layout", "data_delimiter", "data_header")
FIELD_ROLES = ("session", "events", "item", "time", "type")
#: Prefixes of the choices made for one file (its columns, fields, timestamp unit): a new upload starts from
#: detection, even when its columns have the same generic names (column_1, …) as the previous file's.
FILE_PREFIXES = ("data_field_", "data_col_", "data_ts_unit")
META_KEYS = ("data_meta_delimiter", "data_meta_header", "data_meta_encoding", "data_meta_col_id",
             "data_meta_col_name")

st.title("Data")
limit_mb = st.get_option("server.maxUploadSize")
st.caption(
    f"Upload limit: **{limit_mb} MB per file** (Streamlit `server.maxUploadSize`). For bigger data use the "
    "command line (`python -m behemb_core train --input FOLDER …`) and open the store here."
)


def _seed(key: str, value: Any) -> None:
    """Give a widget its starting value once (detected, or the dataset in use's); the person's choice then stays."""
    if key not in st.session_state:
        st.session_state[key] = value


def _clear_uploads() -> None:
    st.session_state.pop(keys.UPLOADED_PATHS, None)
    for key in [*LAYOUT_KEYS, *(k for k in st.session_state if str(k).startswith(FILE_PREFIXES))]:
        st.session_state.pop(key, None)
    if st.session_state.get("data_meta_upload") is None:  # names uploaded for earlier files, no longer shown
        _clear_meta()


def _clear_meta() -> None:
    st.session_state.pop(keys.UPLOADED_META_PATH, None)
    for key in [*META_KEYS, *(k for k in st.session_state if str(k).startswith("data_meta_col_"))]:
        st.session_state.pop(key, None)


def _names_controls(meta_path: str) -> dict[str, Any]:
    """The reading choices of an item-name file (delimiter, header, encoding, id and name columns), pre-set by
    detection or by the dataset in use; returns the spec's ``meta_*`` values."""
    same = IN_USE.meta_path == meta_path
    _seed("data_meta_delimiter", delimiter_choice(IN_USE.meta_delimiter) if same else "auto")
    _seed("data_meta_encoding", (IN_USE.meta_encoding or "auto") if same else "auto")
    dl, hd, en = st.columns(3)
    with dl:
        delim = delimiter_value(st.selectbox("Names: delimiter", list(DELIMITER_CHOICES), key="data_meta_delimiter",
                                             format_func=DELIMITER_CHOICES.__getitem__))
    with en:
        encoding = st.selectbox("Names: encoding", list(ENCODING_CHOICES), key="data_meta_encoding",
                                format_func=ENCODING_CHOICES.__getitem__,
                                help="auto = UTF-8 when the whole file is UTF-8, else cp1252 (Windows Western), "
                                     "else Latin-1; the caption says which was used.")
    enc_given = None if encoding == "auto" else encoding
    if same and IN_USE.meta_header is not None:
        _seed("data_meta_header", IN_USE.meta_header)
    _seed("data_meta_header", names_preview(meta_path, delimiter=delim, header=None, encoding=enc_given, rows=0)[4])
    with hd:
        header = st.checkbox("Names: first line is a header", key="data_meta_header",
                             help="Detected: a first line with a number or a date is data.")
    names, used, frame, enc, _ = names_preview(meta_path, delimiter=delim, header=header, encoding=enc_given)
    st.caption(f"Preview of {md(meta_path.rsplit('/', 1)[-1])} — delimiter "
               f"{'chosen' if delim else 'detected'}: {DELIMITER_CHOICES.get(used or '', repr(used))}; encoding "
               + (f"{enc} (chosen)" if enc_given else f"{enc} (detected" + (")" if enc == "utf-8" else
                                                                           ": the file is not UTF-8)")))
    st.dataframe(frame, hide_index=True, key="data_meta_preview")
    lower = {n.lower(): n for n in names}
    id_guess = next((lower[c.lower()] for c in ("item_id", "itemId", "movieId", "StockCode", "product_id", "sku",
                                                 "item", "id") if c.lower() in lower), None) if header else None
    name_guess = next((lower[c.lower()] for c in NAME_CANDIDATES if c.lower() in lower), None) if header else None
    if same and IN_USE.meta_id_column in names:
        id_guess = IN_USE.meta_id_column
    if same and IN_USE.meta_name_column in names:
        name_guess = IN_USE.meta_name_column
    id_guess = id_guess or (names[0] if names else None)
    name_guess = name_guess or (names[1] if len(names) > 1 else None)
    tag = hashlib.sha1("\x1f".join(names).encode()).hexdigest()[:8]
    ic, nc = st.columns(2)
    with ic:
        id_col = st.selectbox("Names: id column", names, key=f"data_meta_col_id_{tag}",
                              index=names.index(id_guess) if id_guess in names else 0)
    with nc:
        name_col = st.selectbox("Names: name column", names, key=f"data_meta_col_name_{tag}",
                                index=names.index(name_guess) if name_guess in names else min(1, len(names) - 1))
    return {"meta_delimiter": delim, "meta_header": header, "meta_encoding": enc_given,
            "meta_id_column": id_col, "meta_name_column": name_col}


source = st.radio(
    "Source", ["demo", "upload"], key="data_source", horizontal=True,
    format_func={"demo": "Bundled demo (Online Retail, Oct–Nov 2011)", "upload": "Upload files"}.get,
)

paths: list[str] = []
if source == "upload":
    files = st.file_uploader(
        "Session JSON Lines (one session per line: an items list, or nested events as in OTTO), event logs "
        "(CSV/TSV/TXT/Parquet, optionally .gz; several files with the same columns are read as one log) or baskets "
        "(one per line). Files without these extensions — MovieLens `u.data`, YOOCHOOSE `clicks.dat` — are taken "
        "too and read by their content.",
        type=None, accept_multiple_files=True, key="data_upload", on_change=_clear_uploads,
    )
    st.caption("Named types: " + ", ".join(f".{t}" for t in UPLOAD_TYPES) + " — any other text file works too.")
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

same_files = [str(p) for p in IN_USE.paths] == paths  # the page shows the dataset in use's own settings
spec: DatasetSpec | None = None
if paths:
    with user_errors() as outcome:
        kind: Literal["events", "sessions", "baskets"] = "events" if source == "demo" else input_kind(paths)
        columns: dict[str, Any] | None = None
        name_column: str | None = None
        filters: dict[str, Any] | None = None
        fields: dict[str, Any] = {}
        delimiter, has_header = None, True
        if kind == "events" and source == "upload":
            st.subheader("File layout")
            if same_files:
                _seed("data_layout", "baskets" if IN_USE.format == "baskets" else "table")
                _seed("data_delimiter", delimiter_choice(IN_USE.delimiter if IN_USE.format == "baskets"
                                                         else IN_USE.columns.delimiter))
                _seed("data_header", IN_USE.columns.header is not False and IN_USE.format != "baskets")
            guessed = file_layout(paths[0])
            _seed("data_layout", guessed["layout"])
            _seed("data_delimiter", "auto")
            _seed("data_header", guessed["header"])
            lay, dl, hd = st.columns([2, 1, 1])
            with lay:
                layout = st.radio("Layout", list(LAYOUT_CHOICES), key="data_layout", horizontal=True,
                                  format_func=LAYOUT_CHOICES.__getitem__)
            with dl:
                delimiter = delimiter_value(st.selectbox(
                    "Delimiter", list(DELIMITER_CHOICES), key="data_delimiter",
                    format_func=DELIMITER_CHOICES.__getitem__))
            with hd:
                has_header = st.checkbox("First line is a header", key="data_header", disabled=layout == "baskets",
                                         help="Detected: a first line with a number or a date is data.")
            if guessed["baskets_suggested"]:
                st.caption("The lines have different numbers of fields and no item, time or session column: this "
                           "looks like **baskets**, one session per line" + (
                               "." if layout == "baskets" else " — choose *Baskets* above to read it so."))
            if layout == "baskets":
                kind, has_header = "baskets", False
            names, used_delim, frame = preview(paths[0], delimiter=delimiter, header=has_header)
            if used_delim is not None:
                how = "chosen" if delimiter else "detected"
                st.caption(f"Preview of {md(paths[0].rsplit('/', 1)[-1])} — delimiter {how}: "
                           f"{DELIMITER_CHOICES.get(used_delim, repr(used_delim))}"
                           + ("" if kind == "baskets" else f"; {len(names)} columns"
                              + ("" if has_header else ", no header (columns are named column_1, column_2, …)")))
            st.dataframe(frame, hide_index=True, key="data_preview")
        if kind == "sessions":
            if same_files:
                for role in FIELD_ROLES:
                    _seed(f"data_field_{role}", getattr(IN_USE.fields, role) or "")
            given = {r: st.session_state.get(f"data_field_{r}") or None for r in FIELD_ROLES}
            found = session_fields(paths[0], {k: v for k, v in given.items() if v})
            if found.layout == "nested":
                st.subheader("Session fields")
                st.caption(f"Nested sessions: one session per line with its events as objects, e.g. "
                           f"`{NESTED_SHAPE}`. Events become sessions in time order; the event type works like an "
                           "event log's type column (keep only some types below).")
                field_grid = st.columns(len(FIELD_ROLES) + 1)
                labels = {"session": "session field", "events": "events field", "item": "event item field",
                          "time": "event time field", "type": "event type field"}
                for i, role in enumerate(FIELD_ROLES):
                    _seed(f"data_field_{role}", getattr(found, role) or "")
                    with field_grid[i]:
                        fields[role] = st.text_input(labels[role], key=f"data_field_{role}",
                                                     help="Detected from the first lines; empty = none"
                                                     if role in ("time", "type") else "Detected from the first lines")
                with field_grid[-1]:
                    _seed("data_field_time_unit", IN_USE.fields.time_unit or "auto" if same_files else "auto")
                    unit = st.selectbox("time unit", ["auto", "s", "ms", "us", "ns"], key="data_field_time_unit",
                                        help="Unit of numeric event times; auto = from their magnitude (OTTO: ms).")
                fields = {"layout": "nested", **{k: v.strip() for k, v in fields.items()},
                          "time_unit": None if unit == "auto" else unit}
                nested_defaults = (IN_USE.filters if same_files else EventFilters()).model_dump()
                filters = model_form(EventFilters, key_prefix="data_filter_nested", defaults=nested_defaults,
                                     exclude=("drop_nonpositive_weight", "exclude_session_prefix"))
        if kind == "events":
            header = names if source == "upload" else preview(paths[0], rows=0)[0]
            detected = suggest_columns(paths[0], delimiter=delimiter, header=has_header)
            if same_files and IN_USE.format == "events":
                detected.update({r: getattr(IN_USE.columns, r) for r in ROLES
                                 if getattr(IN_USE.columns, r) is not None})
            st.subheader("Columns")
            st.caption("Pre-filled from the column names; (none) = this role is absent.")
            options_cols = [NONE, *header]
            tag = hashlib.sha1("\x1f".join(header).encode()).hexdigest()[:8]  # new widgets for other columns
            grid = st.columns(4)
            columns = {}
            for i, role in enumerate(ROLES):
                found_col = detected.get(role)
                with grid[i % 4]:
                    choice = st.selectbox(
                        role.replace("_", " "), options_cols, key=f"data_col_{role}_{tag}",
                        index=options_cols.index(found_col) if found_col in options_cols else 0,
                    )
                columns[role] = "" if choice == NONE else choice
            with grid[len(ROLES) % 4]:
                if same_files and IN_USE.format == "events":
                    guess = IN_USE.name_column
                else:
                    guess = DEMO_NAME_COLUMN if source == "demo" else next(
                        (h for c in NAME_CANDIDATES for h in header if h.lower() == c.lower()), None)
                choice = st.selectbox(
                    "item name", options_cols, key=f"data_col_name_{tag}",
                    index=options_cols.index(guess) if guess in options_cols else 0,
                    help="A column with item names (most frequent name per item is kept).",
                )
                name_column = None if choice == NONE else choice
            with grid[(len(ROLES) + 1) % 4]:
                units = ["auto", "s", "ms", "us", "ns"]
                _seed("data_ts_unit", (IN_USE.columns.timestamp_unit or "auto") if same_files else "auto")
                unit = st.selectbox(
                    "timestamp unit", units, key="data_ts_unit",
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
            if same_files and IN_USE.format == "events":
                filter_defaults = IN_USE.filters.model_dump()
            else:
                filter_defaults = demo_filters().model_dump() if source == "demo" else EventFilters().model_dump()
            filters = model_form(EventFilters, key_prefix=f"data_filter_{source}", defaults=filter_defaults)

        st.subheader("Sessions")
        opts = model_form(  # starts from the dataset in use's options: reading again changes nothing unasked
            SessionOptions, key_prefix="data_opt", columns=3, defaults=IN_USE.options.model_dump(),
            exclude=("gap_minutes", "use_session_column") if kind in ("sessions", "baskets") else (),
        )
        meta_path = None
        meta: dict[str, Any] = {}
        if source == "upload":
            meta_file = st.file_uploader(
                "Optional item names: a table with an id column and a name/title column — CSV/TSV/TXT/Parquet or any "
                "text table (MovieLens `u.item`: `|`-separated, no header, Latin-1)",
                type=None, key="data_meta_upload", on_change=_clear_meta,
            )
            if meta_file is not None:
                st.session_state[keys.UPLOADED_META_PATH] = str(
                    save_uploads([(meta_file.name, meta_file.getbuffer())], tag=f"meta-{meta_file.file_id}")[0])
            meta_path = st.session_state.get(keys.UPLOADED_META_PATH)
            if meta_path:
                meta = _names_controls(meta_path)
        spec = DatasetSpec.create(
            format=kind, paths=paths, columns=columns or {}, filters=filters or {}, options=opts, fields=fields,
            name_column=name_column, meta_path=meta_path, delimiter=delimiter if kind == "baskets" else None, **meta,
        )

if spec is not None:
    with user_errors():
        resolved = loaders.load_dataset(st.session_state[keys.DATASET_SPEC]).source.get("columns")
        changes = spec_changes(spec, IN_USE, resolved if isinstance(resolved, dict) and IN_USE.format == "events"
                               else None)
        if changes:
            st.caption("**Read data** changes the dataset in use — " + md("; ".join(changes[:8]))
                       + (" …" if len(changes) > 8 else ""))
        else:
            st.caption("These are the settings of the dataset in use: reading again gives the same data.")
if spec is not None and st.button("Read data", key="data_read", type="primary"):
    with user_errors("Reading the data failed") as outcome:
        if spec.format == "events":
            check_page_columns(spec.columns.model_dump(), use_session=spec.options.use_session_column)
        text = spec.to_json()
        loaders.load_dataset(text)
        st.session_state[keys.DATASET_SPEC] = text
        st.session_state[keys.DATASET_LABEL] = spec.label()
    if not outcome.failed:  # again from the top: the page now compares its settings with the new dataset in use
        st.session_state[READ_MESSAGE] = "Data read: it is now the dataset used by the Train and Neighbors pages."
        st.rerun()
if st.session_state.get(READ_MESSAGE):
    st.success(st.session_state.pop(READ_MESSAGE))

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
    verb = guess_interaction(loaders.load_dataset(spec_json).source)
    st.caption(f"Wording: “people who **{verb.verb}** this also {verb.verb}” — " + md(verb.reason())
               + ". The store's *Wording* setting (Neighbors page) replaces the guess.")
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
