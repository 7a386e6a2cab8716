"""Projection: a 2-D UMAP map of a version's items (optionally next to a second version, aligned by Procrustes),
coloured by popularity, a metadata column or the fusion source, with one item and its top-10 neighbors
highlighted. Projections are computed by ``behemb_core.projection`` and cached in the store (outside the
immutable version folders), so revisiting a map is instant. Item names are untrusted: they appear only in plotly
hover text (entity-escaped) and in tables / escaped markdown, never as HTML."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_support import keys, loaders
from app_support.errors import user_errors
from app_support.runs import ProgressView
from app_support.views import md, neighbor_table
from app_support.widgets import static_table
from behemb_core.neighbors import item_neighbors
from behemb_core.projection import align_projections, project_version
from behemb_core.store import StoredVersion

keys.init_state()
st.title("Projection")
st.caption("A 2-D UMAP map (cosine) of the item vectors: items close on the map are close in the embedding. "
           "Distances between far-apart groups mean little; look at who sits with whom.")
MAX_OPTIONS = 1000
MAX_CATEGORIES = 12
POPULARITY, METADATA, SOURCE = "Popularity (log events)", "Metadata column", "Source (fusion)"

store, versions, published = loaders.store_and_versions()


def label(v: str | None) -> str:
    if v is None:
        return "— none —"
    return f"{v} (published)" if v == published else v


preferred = st.session_state.get(keys.LAST_VERSION) or published
c = st.columns(2)
version = c[0].selectbox("Version", versions, key="pj_version", format_func=label,
                         index=versions.index(preferred) if preferred in versions else len(versions) - 1)
other = c[1].selectbox(
    "Side by side with (optional)", [None, *[v for v in versions if v != version]], key="pj_other",
    format_func=label, help="The second map is rotated, scaled and shifted (Procrustes, on the items both "
    "versions share) to line up with the first, so the two layouts can be compared.")

with st.expander("UMAP settings"):
    s = st.columns(3)
    n_neighbors = int(s[0].number_input("Neighbors (n_neighbors)", 2, 200, 15, key="pj_n_neighbors",
                                        help="Larger = more global structure, smaller = tighter local groups."))
    min_dist = float(s[1].number_input("Minimum distance (min_dist)", 0.0, 1.0, 0.1, step=0.05,
                                       key="pj_min_dist", help="How tightly points may pack together."))
    max_fit = int(s[2].number_input(
        "Items in the fit (max)", 100, 1_000_000, 20_000, step=1000, key="pj_max_fit",
        help="Larger catalogues are fitted on a popularity-stratified sample of this many items (equally many "
        "from each popularity decile); each other item is placed among its nearest fitted items, as UMAP's "
        "transform would place it."))
    st.caption("Seed 0: UMAP runs single-threaded and deterministic, so the same settings give the same map. "
               "Maps are cached in the store under cache/projections/ (never inside a version).")
params: dict[str, Any] = {"n_neighbors": n_neighbors, "min_dist": min_dist, "max_fit_items": max_fit}

wanted = [version] + ([other] if other else [])
tables: dict[str, pd.DataFrame | None] = {}
with user_errors("The projection cache could not be read"):
    tables = {v: loaders.projection(store.url, v, **params) for v in wanted}
if len(tables) != len(wanted):
    st.stop()
missing = [v for v, t in tables.items() if t is None]
if missing:
    prompt = st.empty()  # the "no map yet" box, the button and the progress: cleared once the maps are there
    with prompt.container():
        st.info(f"No map of {', '.join(md(v) for v in missing)} with these settings yet. Computing takes seconds "
                "for thousands of items and about a minute for a hundred thousand; the first map ever computed on "
                "this machine also pays about a minute of one-off compilation (numba, kept on disk). The result is "
                "kept in the store.")
        if not st.button("Compute the projection", key="pj_compute", type="primary"):
            st.stop()
        for v in missing:
            with user_errors(f"The projection of {md(v)} failed"):
                st.caption(f"Projecting {md(v)}…")
                view = ProgressView()
                project_version(store, v, params, progress=view)
    tables = {v: loaders.projection(store.url, v, **params) for v in wanted}
    if any(t is None for t in tables.values()):
        st.stop()
    prompt.empty()

stored: dict[str, StoredVersion] = {}
catalogues: dict[str, pd.DataFrame] = {}
with user_errors("The version could not be loaded"):
    for v in wanted:
        stored[v] = loaders.load_version(store.url, v)
        catalogues[v] = loaders.version_catalogue(store.url, v)
if len(stored) != len(wanted):
    st.stop()

# ------------------------------------------------------------------------------------------- controls
main = stored[version]
meta_cols = [] if main.item_meta is None else [col for col in main.item_meta.table.columns
                                                if col not in ("item_id", "name")]
controls = st.columns([2, 2, 3, 4])
# "Source" tells behavior, fused and content-only items apart: only a version with more than one kind (fusion)
# has something to show, so the choice is offered only then and its absence is explained.
several_sources = [v for v in wanted if len(np.unique(stored[v].embeddings.source)) > 1]
colour_options = [POPULARITY, METADATA, SOURCE] if several_sources else [POPULARITY, METADATA]
if st.session_state.get("pj_colour") not in colour_options:
    st.session_state["pj_colour"] = POPULARITY
colour = controls[0].radio("Colour by", colour_options, key="pj_colour")
if not several_sources:
    kinds = ", ".join(sorted({str(stored[v].embeddings.source[0]) for v in wanted if len(stored[v].embeddings)}))
    controls[0].caption(f"No “{SOURCE}” colouring: every item of {md(' and '.join(wanted))} has the one source "
                        f"“{md(kinds or 'none')}”; it tells behavior, fused and content-only items apart in a "
                        "fusion version.")
meta_col = None
if colour == METADATA:
    if meta_cols:
        meta_col = controls[1].selectbox("Column", meta_cols, key="pj_meta_col")
    else:
        controls[1].caption("This version stores no metadata columns besides the name.")
query = controls[2].text_input("Find an item by name or id", key="pj_filter")
catalogue = catalogues[version]
text = query.strip()
matches = catalogue
if text:
    hay_id = catalogue["item_id"].astype(str)
    mask = hay_id.str.contains(text, case=False, regex=False) | catalogue["name"].astype(str).str.contains(
        text, case=False, regex=False)
    exact = hay_id == text
    matches = pd.concat([catalogue[exact], catalogue[mask & ~exact]])
matches = matches.head(MAX_OPTIONS)
names_by_id = dict(zip(matches["item_id"].tolist(), matches["name"].astype(str).tolist(), strict=True))
item = controls[3].selectbox(
    f"Highlight an item and its top-10 neighbors ({len(matches):,} shown, most popular first)",
    matches["item_id"].tolist(), index=None, key="pj_item", placeholder="Pick an item…",
    format_func=lambda i: f"{i} — {names_by_id[i]}" if names_by_id.get(i) else str(i),
)


# ------------------------------------------------------------------------------------------- drawing
def hover_safe(values: pd.Series) -> np.ndarray:
    """Names as literal hover text: plotly reads a few HTML-like tags, so escape the markup characters."""
    return (values.fillna("").astype(str).str.replace("&", "&amp;", regex=False)
            .str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)).to_numpy(object)


def categories(values: pd.Series) -> tuple[pd.Series, str]:
    """At most MAX_CATEGORIES most frequent values + "other"; '|'-separated lists use their first entry."""
    note = ""
    vals = values.astype("string").fillna("(missing)")
    if vals.str.contains("|", regex=False).any():
        vals, note = vals.str.split("|", n=1).str[0], " (first of the '|'-separated values)"
    top = vals.value_counts().index[:MAX_CATEGORIES]
    if vals.nunique() > MAX_CATEGORIES:
        note += f"; the {MAX_CATEGORIES} most frequent values, the rest as 'other'"
    return vals.where(vals.isin(top), "other"), note


def plot_frame(v: str, table: pd.DataFrame) -> pd.DataFrame:
    sv, cat = stored[v], catalogues[v].set_index("item_id")
    frame = table.copy()
    ids = frame["item_id"]
    frame["name"] = cat["name"].reindex(ids).fillna("").to_numpy(object)
    frame["events"] = cat["events"].reindex(ids).to_numpy(np.float64)
    src = pd.Series(sv.embeddings.source, index=pd.Index(sv.embeddings.vocab.ids))
    frame["source"] = src.reindex(ids).fillna("?").to_numpy(object)
    if meta_col is not None and sv.item_meta is not None and meta_col in sv.item_meta.table.columns:
        frame["meta"] = sv.item_meta.table.set_index("item_id")[meta_col].reindex(ids).to_numpy()
    return frame


def scatter(frame: pd.DataFrame, highlight: list[Any], selected: Any, title: str) -> tuple[go.Figure, str]:
    fig = go.Figure()
    custom = np.stack([hover_safe(frame["name"]), frame["item_id"].astype(str).to_numpy(object),
                       frame["events"].fillna(-1).astype(int).to_numpy()], axis=-1)
    hover = "%{customdata[0]}<br>item %{customdata[1]} · %{customdata[2]} events<extra></extra>"
    marker = {"size": 4, "opacity": 0.75}
    note = ""
    if colour == POPULARITY or (colour == METADATA and "meta" not in frame):
        fig.add_trace(go.Scattergl(
            x=frame["x"], y=frame["y"], mode="markers", name="items", customdata=custom, hovertemplate=hover,
            marker={**marker, "color": np.log10(1 + frame["events"].fillna(0)), "colorscale": "Viridis",
                    "showscale": True, "colorbar": {"title": {"text": "log10(1+events)"}}}))
    elif colour == METADATA and pd.api.types.is_numeric_dtype(frame["meta"]) and frame["meta"].nunique() > 12:
        fig.add_trace(go.Scattergl(
            x=frame["x"], y=frame["y"], mode="markers", name="items", customdata=custom, hovertemplate=hover,
            marker={**marker, "color": frame["meta"], "colorscale": "Viridis", "showscale": True,
                    "colorbar": {"title": {"text": str(meta_col)}}}))
    else:
        groups, note = categories(frame["meta"] if colour == METADATA else frame["source"])
        for value in groups.value_counts().index:
            rows = (groups == value).to_numpy()
            fig.add_trace(go.Scattergl(x=frame["x"][rows], y=frame["y"][rows], mode="markers",
                                       name=str(hover_safe(pd.Series([value]))[0]), customdata=custom[rows],
                                       hovertemplate=hover, marker=marker))
    if selected is not None:
        index = pd.Index(frame["item_id"])
        near = index.get_indexer(pd.Index(highlight))
        near = near[near >= 0]
        xs, ys = frame["x"].to_numpy(), frame["y"].to_numpy()
        fig.add_trace(go.Scatter(
            x=xs[near], y=ys[near], mode="markers", name="top-10 neighbors", customdata=custom[near],
            hovertemplate=hover, marker={"size": 12, "symbol": "circle-open", "color": "crimson",
                                         "line": {"width": 2}}))
        at = index.get_indexer(pd.Index([selected]))
        at = at[at >= 0]
        if len(at):
            fig.add_trace(go.Scatter(x=xs[at], y=ys[at], mode="markers", name="selected item",
                                     customdata=custom[at], hovertemplate=hover,
                                     marker={"size": 18, "symbol": "star", "color": "black"}))
    # The legend goes below the map: at the right (plotly's default) it sat on the colour bar's title.
    fig.update_layout(title={"text": title}, height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"itemsizing": "constant", "orientation": "h", "x": 0, "xanchor": "left",
                              "y": -0.02, "yanchor": "top"}, dragmode="zoom")
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False, scaleanchor="x")
    return fig, note


def neighbors_in(v: str, selected: Any) -> list[dict[str, Any]]:
    sv = stored[v]
    if selected is None or selected not in sv.embeddings.vocab:
        return []
    names = catalogues[v].set_index("item_id")["name"].reindex(sv.embeddings.vocab.ids).fillna("").to_numpy(object)
    return item_neighbors(sv.embeddings, selected, 10, names=names)


def sample_note(v: str, table: pd.DataFrame) -> None:
    n, n_fit = len(table), int(table["fitted"].sum())
    if n_fit < n:
        how = ("a popularity-stratified sample (equally many items from each popularity decile)"
               if stored[v].item_stats is not None else "a uniform random sample (the version stores no popularity)")
        st.info(f"{md(v)}: UMAP was fitted on {how} of {n_fit:,} of {n:,} items; the other {n - n_fit:,} were "
                "placed on the map among their nearest fitted items (as UMAP's transform places new points).",
                icon=":material/target:")


ref_table = tables[version]
assert ref_table is not None
shown = {version: ref_table}
alignment = None
if other:
    other_table = tables[other]
    assert other_table is not None
    with user_errors(f"{md(other)} could not be aligned with {md(version)}"):
        shown[other] = align_projections(ref_table, other_table)
        alignment = shown[other].attrs["alignment"]

cols = st.columns(len(shown)) if len(shown) > 1 else [st.container()]
neighbor_rows: dict[str, list[dict[str, Any]]] = {}
for col, (v, table) in zip(cols, shown.items(), strict=True):
    with col:
        rows = neighbors_in(v, item)
        neighbor_rows[v] = rows
        frame = plot_frame(v, table)
        fig, note = scatter(frame, [r["item_id"] for r in rows], item, label(v))
        st.plotly_chart(fig, key=f"pj_chart_{'a' if v == version else 'b'}", width="stretch")
        m = stored[v].manifest
        one_source = colour == SOURCE and v not in several_sources
        st.caption(f"{md(m.get('method', '?'))}, {len(table):,} items × {m.get('dim', '?')} dimensions"
                   + (f" · colours: {md(meta_col)}{md(note)}" if colour == METADATA and meta_col else "")
                   + (f" · colours{md(note)}" if colour == SOURCE and note else "")
                   + (f" · one colour: every item of {md(v)} has the same source (not a fusion version)"
                      if one_source else ""))
        sample_note(v, table)
        if item is not None and item not in stored[v].embeddings.vocab:
            st.caption(f"Item {md(item)} is not in {md(v)}.")
if alignment is not None:
    st.caption(f"{md(other)} is aligned to {md(version)} on the {alignment['n_shared']:,} items both contain "
               f"(rotation {alignment['rotation_degrees']:.0f}°{', mirrored' if alignment['reflection'] else ''}, "
               f"scale {alignment['scale']:.2f}); relative residual {alignment['relative_residual']:.2f} "
               "(0 = the same layout, about 1 = unrelated layouts).")

if item is not None:
    st.subheader(f"{md(names_by_id.get(item) or item)} and its top-10 neighbors")
    tcols = st.columns(len(shown)) if len(shown) > 1 else [st.container()]
    for col, v in zip(tcols, shown, strict=True):
        with col:
            if len(shown) > 1:
                st.caption(md(label(v)))
            rows = neighbor_rows[v]
            if rows:
                static_table(neighbor_table(rows, catalogues[v]), alt=f"Neighbors in {v}",
                             decimals={"rank": 0, "popularity": 0})
