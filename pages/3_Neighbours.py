"""Neighbours: pick a version and an item, see its top-K neighbours with names and popularity, optionally the
co-occurrence evidence behind each one, and export the table as CSV. Item names are untrusted text: they are
shown in tables and escaped markdown only (never as HTML)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_support import keys, loaders
from app_support.errors import user_errors
from app_support.views import evidence_table, example_lines, md, neighbour_table
from behemb_core.explain import explain_neighbors
from behemb_core.neighbors import item_neighbors
from behemb_core.store import published_version

keys.init_state()
st.title("Neighbours")
MAX_OPTIONS = 1000

store = None
versions: list[str] = []
published = None
with user_errors("The store could not be read"):
    store = loaders.current_store()
    versions = [v.name for v in store.list_versions()]
    published = published_version(store)

if store is None:
    st.stop()
if not versions:
    st.info("The store has no versions yet: train one on the Train page.")
    st.page_link("pages/2_Train.py", label="Train a version →", icon="🏋️")
    st.stop()

preferred = st.session_state.get(keys.LAST_VERSION) or published
default_index = versions.index(preferred) if preferred in versions else len(versions) - 1
version = st.selectbox(
    "Version", versions, index=default_index, key="nb_version",
    format_func=lambda v: f"{v} (published)" if v == published else v,
)

stored = catalogue = None
with user_errors("The version could not be loaded"):
    stored = loaders.load_version(store.url, version)
    catalogue = loaders.version_catalogue(store.url, version)
if stored is None:
    st.stop()

m = stored.manifest
st.caption(f"{md(m.get('method', '?'))}, {m.get('n_items', 0):,} items × {m.get('dim', '?')} dimensions, "
           f"created {md(m.get('created_at', '?'))}" + ("" if stored.item_meta is not None else " — no item names stored"))

c = st.columns([3, 5, 1])
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
labels = dict(zip(options, matches["name"].astype(str).tolist()))
item = c[1].selectbox(
    f"Item ({len(options):,} shown{'' if len(options) < MAX_OPTIONS else ', refine the search for more'})",
    options, key="nb_item", format_func=lambda i: f"{i} — {labels.get(i, '')}" if labels.get(i) else str(i),
)
k = c[2].number_input("K", min_value=1, max_value=100, value=10, step=1, key="nb_k")

names = catalogue.set_index("item_id")["name"].reindex(stored.embeddings.vocab.ids).fillna("").to_numpy(object)
rows = item_neighbors(stored.embeddings, item, int(k), names=names)
table = neighbour_table(rows, catalogue)

pop = catalogue.set_index("item_id")["events"].get(item)
st.subheader(f"People who bought {md(labels.get(item) or item)} also bought")
st.caption(f"Item {md(item)}" + (f", {int(pop):,} training events" if pd.notna(pop) else ""))
st.markdown("\n".join(
    f"{r['rank']}. {md(r['name'] or r['item_id'])} · {md(r['item_id'])} · similarity {r['similarity']:.3f}"
    for r in table.to_dict("records")
))
st.dataframe(table, hide_index=True, key="nb_table",
             column_config={"similarity": st.column_config.NumberColumn(format="%.3f")})
st.download_button(
    "Download CSV", table.to_csv(index=False).encode("utf-8"), file_name=f"neighbours-{version}-{item}.csv",
    mime="text/csv", key="nb_download",
)

st.divider()
if st.toggle("Show the evidence from the sessions", key="nb_explain",
             help="Co-occurrence counts, sessions containing both items, PPMI and example sessions, from the "
             "dataset in use (Data page)."):
    with user_errors("The evidence could not be computed"):
        spec, dataset = loaders.current_dataset()
        fingerprint = loaders.current_fingerprint()
        trained_on = (m.get("dataset") or {}).get("fingerprint")
        if trained_on and trained_on != fingerprint:
            st.warning("The dataset in use is not the one this version was trained on: the evidence below comes "
                       "from the dataset in use.")
        ev = loaders.evidence(fingerprint, dataset.sessions)
        explained = explain_neighbors(stored.embeddings, ev, item, k=int(k), names=names)
        unsupported = explained["without_direct_support"]
        st.caption(f"Window {explained['window']}; the item is in {explained['query']['sessions']:,} sessions. "
                   f"{unsupported} of {len(explained['neighbors'])} neighbours never occur with it directly "
                   "(they come from the embedding's smoothing — worth a look).")
        st.dataframe(evidence_table(explained), hide_index=True, key="nb_evidence")
        for r in explained["neighbors"]:
            if r["examples"]:
                with st.expander(f"{r['rank']}. {md(r.get('name') or r['item_id'])} — example sessions"):
                    for ex in r["examples"]:
                        st.text(example_lines(ex))
