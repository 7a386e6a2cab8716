"""Neighbors: pick a version and an item, see its top-K neighbors with names and popularity (optionally next to
a second version's, with the neighbors both lists share marked), optionally the co-occurrence evidence behind
each one, and export the table as CSV. With a second version, a diff lists the neighbors kept, gained and lost.
Beside the exact list, the list the version's ANN index serves for the item (the registered index, else the one kept
with the version, else one built in memory with the default parameters — nothing stored), with what differs.
A bulk export writes the top-K of pasted/uploaded ids or of the whole catalogue as one CSV/Parquet. Neighbor
pairs can be marked good or bad (golden pairs, kept with the store) and every version is re-checked against them.
A version with "next item" tables (directional query/candidate vectors) adds a *Next* mode: what people go on to
after the item (``Q_a · K_b``), with the same names, downloads and bulk export, and the forward co-occurrence
(how often the neighbor came *after* the item) as its evidence, and beside it what the version's "next item" ANN
index (over the candidate vectors, queried with the query vectors) serves; the golden-pair marks and the
side-by-side comparison stay with the "also viewed" list.
Item names are untrusted text: they are shown in tables and escaped markdown only (never as HTML)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st

from app_support import keys, loaders
from app_support.errors import user_errors
from app_support.identity import current_access
from app_support.served_view import build_hint, exact_frame, show_served_list, show_served_summary
from app_support.views import evidence_table, example_lines, human_time, md, neighbor_table
from app_support.widgets import static_table
from behemb_core.ann.served import MEMORY_BUILD_MAX_ITEMS, ServedComparison, index_for_version, served_neighbors
from behemb_core.checks.golden import check_golden
from behemb_core.cooccurrence import Weighting
from behemb_core.errors import BehembError
from behemb_core.explain import ForwardEvidence, evidence_plan, explain_version
from behemb_core.interaction import guess_interaction
from behemb_core.neighbor_export import neighbor_diff, neighbors_bytes, parse_item_list
from behemb_core.neighbors import item_neighbors, next_item_neighbors, no_next_tables
from behemb_core.progress import ProgressEvent
from behemb_core.reports import GoldenCheck
from behemb_core.sessions import Sessions
from behemb_core.store import (
    INTERACTIONS,
    golden_pairs,
    interaction_verb,
    mark_pair,
    read_settings,
    write_settings,
)

keys.init_state()
st.title("Neighbors")
MAX_OPTIONS = 1000
NO_SECOND = "(none)"
GOLDEN_FLASH = "nb_golden_flash"  # confirmation of the last mark, shown once after the rerun
AUTOMATIC = "automatic (from the data)"
WORDING_ERROR = "nb_wording_error"  # a refused wording setting, shown once after the rerun
ALSO, NEXT = "Also viewed", "Next"  # the list's mode: symmetric neighbors, or what people go on to after the item


def in_version(emb, item):
    """``item`` as an id of ``emb``'s vocabulary, or None when that version has no vector for it."""
    candidate = str(item) if emb.vocab.kind == "str" else item
    return candidate if candidate in emb.vocab else None


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def save_wording(store) -> None:
    """The "Wording" selectbox changed: write the store's setting (every user of the store sees it)."""
    choice = st.session_state.get("nb_wording")
    try:
        write_settings(store, by=current_access(store).actor,
                       interaction=None if choice in (None, AUTOMATIC) else choice)
    except BehembError as exc:
        st.session_state[WORDING_ERROR] = f"The wording was not saved: {exc}"


def names_for(catalogue: pd.DataFrame, vocab_ids: np.ndarray) -> np.ndarray:
    return catalogue.set_index("item_id")["name"].reindex(vocab_ids).fillna("").to_numpy(object)


@st.cache_resource(show_spinner="Counting which items follow which…", max_entries=4)
def forward_evidence(fingerprint: str, _sessions: Sessions, window: int, weighting: Weighting) -> ForwardEvidence:
    """Forward co-occurrence over the loaded sessions (the "Next" mode's evidence), keyed by their fingerprint."""
    return ForwardEvidence.build(_sessions, window=window, weighting=weighting)


store, versions, published = loaders.store_and_versions()

preferred = st.session_state.get(keys.LAST_VERSION) or published
default_index = versions.index(preferred) if preferred in versions else len(versions) - 1
label_of = lambda v: f"{v} (published)" if v == published else v  # noqa: E731
vc = st.columns([1, 1])
version = vc[0].selectbox("Version", versions, index=default_index, key="nb_version", format_func=label_of)
others = [v for v in versions if v != version]
second_choice = vc[1].selectbox(
    "Side by side with (optional)", [NO_SECOND, *others], key="nb_version_b",
    format_func=lambda v: v if v == NO_SECOND else label_of(v), disabled=not others,
    help="Show a second version's neighbors of the same item next to these; neighbors in both lists are marked.",
)
second: str | None = None if second_choice in (None, NO_SECOND) else second_choice

stored = catalogue = None
with user_errors("The version could not be loaded"):
    stored = loaders.load_version(store.url, version)
    catalogue = loaders.version_catalogue(store.url, version)
if stored is None:
    st.stop()

m = stored.manifest
st.caption(f"{md(m.get('method', '?'))}, {m.get('n_items', 0):,} items × {m.get('dim', '?')} dimensions, "
           f"created {md(human_time(m.get('created_at')) or '?')}"
           + ("" if stored.item_meta is not None else " — no item names stored"))

verb = "bought"
verb_basis = None  # why this verb, when the store's wording is not set (then it is a guess from the data's names)
with user_errors("The store's settings could not be read"):
    st.session_state["nb_wording"] = read_settings(store).interaction or AUTOMATIC  # the store is the truth
    verb = interaction_verb(store, m)
    if st.session_state["nb_wording"] == AUTOMATIC:
        verb_basis = guess_interaction(((m or {}).get("dataset") or {}).get("source")).reason()
if WORDING_ERROR in st.session_state:
    st.error(st.session_state.pop(WORDING_ERROR), icon=":material/block:")

if stored.directional is not None:
    mode = st.radio("List", [ALSO, NEXT], key="nb_mode", horizontal=True,
                    help="*Also viewed*: items seen in the same sessions (symmetric). *Next*: what people go on to "
                    "after the item, from the version's \"next item\" tables (query · candidate) — directional: "
                    "b may lead a's list while a is far down b's.")
else:
    mode = ALSO
    st.caption(f"Only the \"also viewed\" list: this version {md(no_next_tables())}.")
next_mode = mode == NEXT

c = st.columns([3, 5, 1, 2])
query = c[0].text_input("Search items by name or id", key="nb_filter",
                        help="Case-insensitive substring; the list on the right is ordered by popularity.")
text = query.strip()
if text:
    hay_id = catalogue["item_id"].astype(str)
    mask = hay_id.str.contains(text, case=False, regex=False) | catalogue["name"].astype(str).str.contains(
        text, case=False, regex=False)
    exact = hay_id == text
    matches = pd.concat([catalogue[exact], catalogue[mask & ~exact]])  # an exact id match first
else:
    matches = catalogue
matches = matches.head(MAX_OPTIONS)
if matches.empty:
    st.warning(f"No item matches {md(text)!s}.")
    st.stop()
options = matches["item_id"].tolist()
labels = dict(zip(options, matches["name"].astype(str).tolist(), strict=True))
item = c[1].selectbox(
    f"Item ({len(options):,} shown{'' if len(options) < MAX_OPTIONS else ', refine the search for more'})",
    options, key="nb_item", format_func=lambda i: f"{i} — {labels.get(i, '')}" if labels.get(i) else str(i),
)
k = c[2].number_input("K", min_value=1, max_value=100, value=10, step=1, key="nb_k")
may_set_wording = current_access(store).refusal("settings")
c[3].selectbox("Wording", [AUTOMATIC, *INTERACTIONS], key="nb_wording", on_change=save_wording, args=(store,),
               disabled=may_set_wording is not None,
               help=may_set_wording or "What people did with the items, for \"People who … this also …\": a "
               "setting of the store. Automatic follows the version's training data (views, purchases, plays or "
               "ratings).")

names = names_for(catalogue, stored.embeddings.vocab.ids)
if next_mode:
    rows = next_item_neighbors(stored.embeddings, stored.directional, item, int(k), names=names, version=version)
    table = neighbor_table(rows, catalogue).rename(columns={"similarity": "score"})
else:
    rows = item_neighbors(stored.embeddings, item, int(k), names=names)
    table = neighbor_table(rows, catalogue)
score_col = "score" if next_mode else "similarity"

if next_mode and second is not None:
    st.caption(f"The side-by-side comparison with {md(second)} is of the \"also viewed\" lists: switch **List** to "
               "*Also viewed* to see it.")
    second = None
table_b = None
if second is not None:
    with user_errors(f"Version {second} could not be loaded"):
        stored_b = loaders.load_version(store.url, second)
        catalogue_b = loaders.version_catalogue(store.url, second)
        item_b = in_version(stored_b.embeddings, item)
        if item_b is not None:
            rows_b = item_neighbors(stored_b.embeddings, item_b, int(k),
                                    names=names_for(catalogue_b, stored_b.embeddings.vocab.ids))
            table_b = neighbor_table(rows_b, catalogue_b)

catalogue_names = dict(zip(catalogue["item_id"].astype(str), catalogue["name"].astype(str), strict=True))
pop = catalogue.set_index("item_id")["events"].get(item)
if next_mode:
    st.subheader(f"What people {verb} after {md(labels.get(item) or item)}")
else:
    st.subheader(f"People who {verb} {md(labels.get(item) or item)} also {verb}")
st.caption(f"Item {md(item)}" + (f", {int(pop):,} training events" if pd.notna(pop) else "")
           + (f" · “{verb}”: {md(verb_basis)} (set **Wording** to decide it for the store)" if verb_basis else ""))
st.markdown("\n".join(
    f"{r['rank']}. " + (f"{md(r['name'])} · " if r["name"] else "") + f"{md(r['item_id'])} · {score_col} "
    f"{r[score_col]:.3f}"
    for r in table.to_dict("records")
))
similarity_format = {score_col: st.column_config.NumberColumn(format="%.3f")}
served: ServedComparison | None = None
index_mode = "next" if next_mode else "also"
if next_mode:
    st.caption("Ranked by the version's \"next item\" tables (query · candidate); the ANN index beside it is the "
               "one over the candidate vectors, queried with the item's query vector. The golden-pair marks are "
               "for the \"also viewed\" list: switch **List** to *Also viewed* for them.")
if st.toggle("Show what the ANN index serves", value=True, key="nb_served",
             help="Next to the exact top-K, the K neighbors the version's approximate-nearest-neighbor index "
             "of this list's mode returns for this item — what customers are served — and which neighbors "
             "differ."):
    with user_errors("What the ANN index serves could not be shown"):
        record = index_for_version(store, version, index_mode)
        small = len(stored.embeddings) <= MEMORY_BUILD_MAX_ITEMS
        spinner = ("Reading the ANN index…" if record is not None else
                   f"Building an ANN index of {len(stored.embeddings):,} vectors in memory (nothing is stored)…")
        with st.spinner(spinner):  # the library keeps opened and in-memory indexes: a rerun searches one item
            served = served_neighbors(store, stored, item, int(k), names=names, build_if_missing=small,
                                      mode=index_mode)
        if served is None:
            words = "“next item”" if index_mode == "next" else "“also viewed”"
            st.caption(f"No {words} ANN index was built for {md(version)}, and at {len(stored.embeddings):,} items "
                       f"none is built in memory here: build one to see what it serves. {build_hint(index_mode)}")
if second is None and served is not None:
    exact_col, served_col = st.columns(2)
    with exact_col:
        st.markdown("**Exact top-K**")
        st.dataframe(table, hide_index=True, key="nb_table", column_config=similarity_format)
    with served_col:
        show_served_list(served)
    show_served_summary(served)
elif second is None:
    st.dataframe(table, hide_index=True, key="nb_table", column_config=similarity_format)
else:
    ids_a = set(map(str, table["item_id"]))
    ids_b = set() if table_b is None else set(map(str, table_b["item_id"]))
    side_decimals = {"rank": 0, "popularity": 0}
    side = st.columns(2)
    with side[0]:
        st.markdown(f"**{md(version)}**")
        static_table(table.assign(**{"in both": table["item_id"].astype(str).isin(ids_b)}),
                     alt=f"Neighbors in {version}", decimals=side_decimals)
    with side[1]:
        st.markdown(f"**{md(second)}**")
        if table_b is None:
            st.info(f"Version {md(second)} has no vector for item {md(item)}.")
        else:
            static_table(table_b.assign(**{"in both": table_b["item_id"].astype(str).isin(ids_a)}),
                         alt=f"Neighbors in {second}", decimals=side_decimals)
    st.caption("*in both*: the neighbor is in both versions' top-K lists; *popularity*: its training events.")
    if table_b is not None:
        shared = len(ids_a & ids_b)
        st.caption(f"{shared} of the top {int(k)} neighbors are in both lists "
                   f"(Jaccard {shared / max(1, len(ids_a | ids_b)):.2f}).")
        diff = neighbor_diff(stored.embeddings, stored_b.embeddings, item, int(k), names_a=names,
                             names_b=names_for(catalogue_b, stored_b.embeddings.vocab.ids))
        counts = diff["change"].value_counts()
        st.markdown(f"**What changed from {md(version)} to {md(second)}** — "
                    f"{counts.get('kept', 0)} kept, {counts.get('gained', 0)} gained, {counts.get('lost', 0)} lost")
        static_table(diff.rename(columns={"rank_a": f"rank in {version}", "rank_b": f"rank in {second}",
                                          "score_a": f"similarity in {version}",
                                          "score_b": f"similarity in {second}"}),
                     alt=f"Neighbors kept, gained and lost from {version} to {second}",
                     decimals={f"rank in {version}": 0, f"rank in {second}": 0})
        st.caption(f"*kept*: in both top-{int(k)} lists; *gained*: only in {md(second)}; *lost*: only in "
                   f"{md(version)}.")
    if served is not None:
        st.markdown(f"**What the ANN index serves for {md(version)}**")
        exact_col, served_col = st.columns(2)
        with exact_col:
            st.markdown("**Exact top-K**")
            static_table(exact_frame(served), alt=f"Exact neighbors in {version}",
                         decimals={"rank": 0, "served rank": 0})
        with served_col:
            show_served_list(served)
        show_served_summary(served)
dl = st.columns(2)
file_stem = f"{'next' if next_mode else 'neighbors'}-{version}-{item}"
dl[0].download_button(
    "Download CSV", table.to_csv(index=False).encode("utf-8"), file_name=f"{file_stem}.csv",
    mime="text/csv", key="nb_download",
)
dl[1].download_button(
    "Download Parquet", parquet_bytes(table), file_name=f"{file_stem}.parquet",
    mime="application/vnd.apache.parquet", key="nb_download_parquet",
)

with st.expander("Bulk export — top-K of many items or of the whole catalogue"):
    st.caption(("Exact \"next item\" lists (query · candidate)" if next_mode else "Exact neighbors")
               + ", one file with the query's id and name on every row: "
               "`query_item_id, query_name, rank, item_id, name, score`. Ids this version lacks are listed, "
               "not dropped silently.")
    scope = st.radio("Items", ["Listed items", "Whole catalogue"], key="nb_bulk_scope", horizontal=True)
    pasted, uploaded = "", None
    if scope == "Listed items":
        bc = st.columns(2)
        pasted = bc[0].text_area("Item ids (one per line, or separated by commas)", key="nb_bulk_ids")
        uploaded = bc[1].file_uploader("…or a file of ids (text, or CSV with an item_id column first)",
                                       type=["txt", "csv", "tsv"], key="nb_bulk_file")
    else:
        st.caption(f"All {len(stored.embeddings):,} items: {len(stored.embeddings) * int(k):,} rows at K = {int(k)}.")
    ec = st.columns([1, 1, 2], vertical_alignment="bottom")
    bulk_k = ec[0].number_input("K", min_value=1, max_value=100, value=int(k), step=1, key="nb_bulk_k")
    bulk_fmt = ec[1].radio("Format", ["csv", "parquet"], key="nb_bulk_format", horizontal=True)
    if ec[2].button("Prepare the export", key="nb_bulk_run", type="primary"):
        ids = None
        if scope == "Listed items":
            ids = parse_item_list(pasted) + (parse_item_list(uploaded.getvalue().decode("utf-8-sig", "replace"))
                                             if uploaded is not None else [])
        if ids is not None and not ids:
            st.error("Paste item ids or upload a file of ids first.", icon=":material/block:")
        else:
            bar = st.progress(0.0, text="computing neighbors")

            def show_progress(e: ProgressEvent) -> None:
                bar.progress(e.fraction or 0.0, text=e.message or e.stage)

            with user_errors("The export failed") as failed:
                data, result = neighbors_bytes(
                    stored.embeddings, fmt="parquet" if bulk_fmt == "parquet" else "csv", k=int(bulk_k), items=ids,
                    names=names, progress=show_progress, pair=stored.directional if next_mode else None)
            bar.empty()
            if not failed.failed:
                if result.unknown:
                    shown = ", ".join(map(md, result.unknown[:20])) + (" …" if len(result.unknown) > 20 else "")
                    st.warning(f"{len(result.unknown)} of {result.queries + len(result.unknown)} ids are not in "
                               f"version {md(version)} and have no rows: {shown}", icon=":material/warning:")
                st.success(f"{result.rows:,} rows for {result.queries:,} items, K = {int(bulk_k)}.",
                           icon=":material/check_circle:")
                st.download_button(
                    f"Download {bulk_fmt.upper()}", data,
                    file_name=f"{'next' if next_mode else 'neighbors'}-{version}-top{int(bulk_k)}.{bulk_fmt}",
                    mime="text/csv" if bulk_fmt == "csv" else "application/vnd.apache.parquet",
                    key="nb_bulk_download", on_click="ignore")

marks = None
with user_errors("The golden pairs could not be read"):
    marks = golden_pairs(store)
if not next_mode:  # marks are judged against the "also viewed" list
    with st.container(border=True):
        st.markdown("**Mark a neighbor as good or bad** — kept with the store as a golden pair and re-checked for "
                    "every later version (below).")
        if GOLDEN_FLASH in st.session_state:
            st.success(st.session_state.pop(GOLDEN_FLASH), icon=":material/check_circle:")
        neighbor_ids = table["item_id"].tolist()
        neighbor_names = dict(zip(neighbor_ids, table["name"].astype(str), strict=True))
        ranks = dict(zip(neighbor_ids, table["rank"], strict=True))
        gc = st.columns([3, 2, 3, 1.2, 1.2], vertical_alignment="bottom")
        neighbor = gc[0].selectbox(
            "Neighbor", neighbor_ids, key="nb_golden_neighbor",
            format_func=lambda i: f"{ranks.get(i, '?')}. {i} — {neighbor_names.get(i, '')}",
        )
        acc = current_access(store)
        refusal = acc.refusal("golden")
        by = acc.actor
        gc[1].caption(f"Marked as **{md(by.shown)}**" if by is not None else "Enter your name in the sidebar")
        note = gc[2].text_input("Note (optional)", key="nb_golden_note", max_chars=1000,
                                disabled=refusal is not None).strip() or None
        good = gc[3].button("Good", icon=":material/thumb_up:", key="nb_mark_good", disabled=refusal is not None,
                            help=refusal or "This neighbor belongs in the list.")
        bad = gc[4].button("Bad", icon=":material/thumb_down:", key="nb_mark_bad", disabled=refusal is not None,
                           help=refusal or "This neighbor should not be in the list.")
        if refusal is not None:
            st.caption(f":material/lock: {md(refusal)}.")
        if (good or bad) and neighbor is not None:
            if by is None:
                st.error("Enter your name in the sidebar: every mark records who made it.", icon=":material/block:")
            else:
                with user_errors("Not marked") as marked:
                    mark_pair(store, item, neighbor, label="good" if good else "bad", by=by, note=note,
                              version=version)
                if not marked.failed:
                    st.session_state[GOLDEN_FLASH] = (
                        f"Marked {md(neighbor_names.get(neighbor) or neighbor)} as a {'good' if good else 'bad'} "
                        f"neighbor of {md(labels.get(item) or item)}.")
                    st.rerun()
        if marks is not None and not marks.empty:
            mine = marks[marks["query_id"].astype(str) == str(item)]
            if not mine.empty:
                st.caption("Marked for this item: " + " · ".join(
                    f"{':material/thumb_up:' if r['label'] == 'good' else ':material/thumb_down:'} {r['label']}: "
                    f"{md(catalogue_names.get(str(r['neighbor_id'])) or r['neighbor_id'])} ({md(r['by'])})"
                    for r in mine.to_dict("records")))

st.divider()
evidence_help = ("How often each neighbor came *after* the item within the window (weighted by distance as the "
                 "method weighs its pairs, and as a count), how often before it, and example sessions"
                 if next_mode else "Co-occurrence counts, sessions containing both items, PPMI and example sessions")
if st.toggle("Show the evidence from the sessions", key="nb_explain",
             help=f"{evidence_help}, from the version's training data (load it on the Data page)."):
    with user_errors("The evidence could not be computed"):
        spec, dataset = loaders.current_dataset()
        fingerprint = loaders.current_fingerprint()
        plan = evidence_plan(m, fingerprint, mode="next" if next_mode else "also")
        ev = loaders.evidence(fingerprint, dataset.sessions, plan.window) if plan.usable else None
        fwd = (forward_evidence(fingerprint, dataset.sessions, plan.window, plan.weighting)
               if plan.usable and next_mode else None)
        explained = explain_version(stored, dataset.sessions, item, k=int(k), names=names, evidence=ev,
                                    fingerprint=fingerprint, mode="next" if next_mode else "also", forward=fwd)
        if explained["note"]:
            st.warning(md(explained["note"]), icon=":material/warning:")
        unsupported = explained["without_direct_support"]
        if unsupported is not None and next_mode:
            st.caption(f"Window {explained['window']}, pairs weighted {explained['weighting']}; the item is in "
                       f"{explained['query']['sessions']:,} sessions. {unsupported} of {len(explained['neighbors'])} "
                       "next items never come after it within the window (the tables generalise from the "
                       "symmetric co-occurrence and from neighbors of neighbors — worth a look).")
            st.dataframe(evidence_table(explained), hide_index=True, key="nb_evidence")
        elif unsupported is not None:
            st.caption(f"Window {explained['window']}; the item is in {explained['query']['sessions']:,} sessions. "
                       f"{unsupported} of {len(explained['neighbors'])} neighbors never occur with it directly "
                       "(they come from the embedding's smoothing — worth a look).")
            st.dataframe(evidence_table(explained), hide_index=True, key="nb_evidence")
        for r in explained["neighbors"] if unsupported is not None else []:
            if r["examples"]:
                with st.expander(f"{r['rank']}. {md(r.get('name') or r['item_id'])} — example sessions"):
                    for ex in r["examples"]:
                        st.text(example_lines(ex))

st.divider()
st.subheader(f"Golden pairs — check of {md(version)}")
if next_mode:
    st.caption("Golden pairs are checked against the \"also viewed\" lists (the version's symmetric neighbors).")
if marks is None:
    st.stop()
if marks.empty:
    st.info("No golden pairs yet: mark neighbors as good or bad above; every version is then checked against "
            "them here.")
    st.stop()
golden_k = st.number_input("Top K for the check", min_value=1, max_value=100, value=10, step=1, key="nb_golden_k",
                           help="A good pair must be in the query's top K, a bad pair must not.")
golden: GoldenCheck | None = None
with user_errors("The golden check failed"):
    golden = check_golden(stored.embeddings, marks, k=int(golden_k))
if golden is None:
    st.stop()
if golden["could_not_judge"]:  # nothing judged is not a pass
    st.warning(f"Warning — could not judge: {golden['could_not_judge']}.", icon=":material/warning:")
elif golden["passed"]:
    st.success(f"Passed: no good pair lost and no bad pair in the top {golden['k']} "
               f"({golden['checked']} of {golden['pairs']} pairs judged"
               + (f"; {golden['missing']} not in this version" if golden["missing"] else "") + ").",
               icon=":material/check_circle:")
else:
    st.error(f"Failed: {golden['good_lost']} good pair(s) lost and {golden['bad_present']} bad pair(s) present in "
             f"the top {golden['k']}.", icon=":material/cancel:")
mc = st.columns(6)
mc[0].metric("Good kept", golden["good_kept"], border=True)
mc[1].metric("Good lost", golden["good_lost"], border=True)
mc[2].metric("Bad present", golden["bad_present"], border=True)
mc[3].metric("Bad gone", golden["bad_gone"], border=True)
mc[4].metric("Items missing", golden["missing"], border=True)
mc[5].metric("As marked", "—" if golden["share_ok"] is None else f"{golden['share_ok']:.0%}", border=True)
gt = golden["table"]
gt.insert(1, "query", gt["query_id"].astype(str).map(catalogue_names).fillna(""))
gt.insert(3, "neighbor", gt["neighbor_id"].astype(str).map(catalogue_names).fillna(""))
gt["query_id"], gt["neighbor_id"] = gt["query_id"].astype(str), gt["neighbor_id"].astype(str)
static_table(gt[["query_id", "query", "neighbor_id", "neighbor", "label", "status", "rank", "overall_rank",
                 "similarity", "by", "at", "note"]].assign(at=gt["at"].map(human_time)),
             alt=f"Golden pairs checked against {version}", decimals={"rank": 0, "overall_rank": 0})
st.caption("Names from this version's items (a pair whose item this version lacks is *missing* and not judged). "
           "`overall_rank` is the neighbor's rank among all items, also when outside the top K.")
