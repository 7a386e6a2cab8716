"""Compare: how much did the neighbor lists change between a reference version (A, by default the published one)
and a candidate (B, by default the latest), and is that more than retraining noise? Also both versions'
popularity-collapse diagnostics and stored retrieval quality side by side. All numbers come from
``behemb_core.compare`` / ``behemb_core.diagnostics``; this page only renders them. Item names are untrusted:
tables and escaped markdown only."""

from __future__ import annotations

from typing import Any, TypedDict

import plotly.express as px
import streamlit as st

from app_support import keys, loaders
from app_support.errors import user_errors
from app_support.views import bands_table, diagnostics_table, md, moved_table, quality_table, same_data_table
from app_support.widgets import static_table
from behemb_core.compare import compare_stored, pick_noise_floor, shared_ids_note
from behemb_core.compare.same_data import SameDataComparison, compare_on_same_data
from behemb_core.reports import EvaluationReport, NoiseFloor, StoredComparison

keys.init_state()
st.title("Compare versions")


class Comparison(TypedDict):
    report: StoredComparison
    jaccard: list[float]
    noise: NoiseFloor | None
    noise_from: str | None
    popularity: dict[str, dict[str, Any]]
    evaluations: dict[str, EvaluationReport | None]
    ids_note: str | None


@st.cache_data(show_spinner="Comparing the neighbor lists…", max_entries=16)
def comparison(store_url: str, a_name: str, b_name: str, k: int) -> Comparison:
    """Everything the page shows for (A, B, k); versions are immutable, so the key never goes stale.

    The noise floor is the candidate's (else the reference's) when measured at the same ``k`` — as in
    ``python -m behemb_core compare``.
    """
    a, b = loaders.load_version(store_url, a_name), loaders.load_version(store_url, b_name)
    report = compare_stored(a, b, k=k, include_overlaps=True)
    noise = pick_noise_floor(a, b, k)[0] if report["noise"] is not None else None
    return {
        "report": report,
        "jaccard": report.pop("per_item_jaccard", []),
        "noise": noise,
        "noise_from": report["noise_floor_from"],
        "popularity": report["popularity"],
        "evaluations": report["evaluations"],
        "ids_note": shared_ids_note(a_name, a.manifest, b_name, b.manifest, report["counts"]["shared"]),
    }

store, versions, published = loaders.store_and_versions(
    2, "Comparing needs at least two versions in the store: train another one on the Train page."
)


def label(v: str) -> str:
    return f"{v} (published)" if v == published else v


a_default = published if published in versions else versions[-2]
b_default = next(v for v in reversed(versions) if v != a_default)
c = st.columns([3, 3, 1])
a_name = c[0].selectbox("A — reference", versions, index=versions.index(a_default), key="cmp_a",
                        format_func=label, help="Usually the version that serves traffic now.")
b_name = c[1].selectbox("B — candidate", versions, index=versions.index(b_default), key="cmp_b",
                        format_func=label, help="The version you consider approving.")
k = int(c[2].number_input("K", min_value=1, max_value=100, value=10, step=1, key="cmp_k",
                          help="Length of the neighbor lists compared (noise floors are stored at K = 10)."))
if a_name == b_name:
    st.warning("Pick two different versions.")
    st.stop()

data = None
with user_errors("The versions could not be compared"):
    data = comparison(store.url, a_name, b_name, k)
if data is None:
    st.stop()
report = data["report"]
noise = data["noise"]

st.subheader("Verdict")
ids_note = data["ids_note"]
# The report's sentence ends with the note on ids from different sources; it is shown on its own, as a warning.
sentence = md(report["sentence"].replace(f" {ids_note}", "") if ids_note else report["sentence"])
if ids_note:
    st.warning(md(ids_note), icon=":material/warning:")
if report["verdict"] == "within_noise":
    st.success(sentence, icon=":material/check_circle:")
elif report["verdict"] == "beyond_noise":
    st.warning(sentence + " Look at the most-moved items below before signing off.", icon=":material/warning:")
else:
    # With no shared item the explanation says all the sentence says, and more: show it alone.
    reason = md(report["no_verdict_reason"] or "")
    st.info(reason if report["counts"]["shared"] == 0 and reason else f"{sentence} {reason}".strip(),
            icon=":material/info:")
if data["noise_from"] and noise is not None and report["noise"] is not None:
    st.caption(f"Noise floor from {md(data['noise_from'])} (seeds {md(noise['seeds'])}, "
               f"{noise['n_items']:,} items). Rule: {md(report['noise']['rule'])}, margin "
               f"{report['noise']['margin']}.")

counts = report["counts"]
overall = report["overall"]["jaccard"]
tiles = st.columns(5)
tiles[0].metric("Shared items", f"{counts['shared']:,}", border=True)
tiles[1].metric("Added in B", f"{counts['added']:,}", border=True)
tiles[2].metric("Removed in B", f"{counts['removed']:,}", border=True)
tiles[3].metric(f"Median Jaccard@{k}", "—" if overall["median"] is None else f"{overall['median']:.2f}", border=True)
floor_median = None if noise is None else noise["overall"]["jaccard"]["median"]
tiles[4].metric("Noise-floor median", "—" if floor_median is None else f"{floor_median:.2f}", border=True)

if data["jaccard"]:
    st.subheader(f"Jaccard@{k} per shared item")
    fig = px.histogram(x=data["jaccard"], nbins=20, range_x=[0, 1.02],
                       labels={"x": f"Jaccard@{k} of the item's lists in A and B", "y": "items"})
    fig.update_layout(yaxis_title="items", bargap=0.05)
    if overall["median"] is not None:
        fig.add_vline(x=overall["median"], line_dash="solid", line_color="#1f77b4",
                      annotation_text="median A vs B", annotation_position="top left")
    if floor_median is not None:
        fig.add_vline(x=floor_median, line_dash="dash", line_color="#d62728",
                      annotation_text="noise-floor median", annotation_position="top right")
    st.plotly_chart(fig, key="cmp_hist")
    q = report["overall"]["jaccard"]["quantiles"]
    rbo = report["overall"]["rbo"]
    if overall["median"] is not None:
        st.caption(f"Quartiles of Jaccard@{k}: {q['q25']:.2f} / {q['q50']:.2f} / {q['q75']:.2f}; median RBO "
                   f"{rbo['median']:.2f}. 1 = the same neighbors, 0 = none in common.")

if report.get("bands"):
    st.subheader("By popularity band")
    st.caption(md(report["band_definition"]))
    static_table(bands_table(report), alt="Neighbor-list change per popularity band",
                 decimals={"items": 0, "median Jaccard": 2, "median RBO": 2, "noise-floor median Jaccard": 2,
                           "limit": 2})

moved = moved_table(report)
if not moved.empty:
    st.subheader("Most-moved items")
    st.caption("The shared items whose lists changed most, with their top neighbors in A and in B — look at "
               "them before signing off.")
    static_table(moved, alt="Most-moved items with their neighbors in A and B",
                 decimals={"popularity": 0, "Jaccard": 2, "RBO": 2})

st.subheader("Popularity collapse")
static_table(diagnostics_table(data["popularity"]), alt="Popularity diagnostics of both versions")
cols = st.columns(2)
for col, (name, diag) in zip(cols, data["popularity"].items(), strict=False):
    with col:
        summary = (diag.get("judged") or {}).get("summary") or diag["summary"]  # as sign-off judges it
        st.markdown(f"**{md(name)}** — {md(summary)}")
        for hint in diag.get("hints", []):
            st.markdown(f"- {md(hint)}")

st.subheader("Retrieval quality (stored evaluations)")
evaluations = data["evaluations"]
if any(ev is not None for ev in evaluations.values()):
    st.dataframe(quality_table(evaluations), hide_index=True, key="cmp_quality",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("HR@10", "NDCG@10", "MRR@10", "item-kNN HR@10", "most-popular HR@10")})
    missing = [n for n, ev in evaluations.items() if ev is None]
    if missing:
        st.caption(f"No evaluation stored with {md(', '.join(missing))} (train with “Evaluate against baselines”).")
    st.caption("Each evaluation was made on its own training data's time split: compare versions trained on the "
               "same data.")
else:
    st.info("Neither version stores an evaluation (train with “Evaluate against baselines”).")

st.subheader("Both on the data in use")
st.caption("The stored evaluations were each made on their own training data. To tell “moved because the data "
           "moved” from retraining noise, score both versions on the same next-item pairs of the dataset in use "
           "(load the newest data on the Data page): the difference B − A comes with a paired 95 % interval.")
if st.button("Score both on the data in use", key="cmp_same_data"):
    with user_errors("The versions could not be scored on the data in use"):
        with st.spinner("Scoring both versions on the same pairs…"):
            _spec, _dataset = loaders.current_dataset()
            same = compare_on_same_data(loaders.load_version(store.url, a_name),
                                        loaders.load_version(store.url, b_name), _dataset.sessions, k=k)
        st.session_state["cmp_same_data_result"] = {"key": (a_name, b_name, k, loaders.current_fingerprint()),
                                                     "report": same}
_same = st.session_state.get("cmp_same_data_result")
if _same and _same["key"] == (a_name, b_name, k, loaders.current_fingerprint()):
    same_report: SameDataComparison = _same["report"]
    (st.success if not same_report["beyond_chance"] or same_report["difference"] > 0 else st.warning)(
        md(same_report["sentence"]))
    static_table(same_data_table(same_report), alt="HR@k of both versions on the same pairs")
    for note in same_report["notes"]:
        st.caption(md(note))

st.page_link("pages/6_Publish.py", label="Sign off and publish →", icon=":material/rocket_launch:")
