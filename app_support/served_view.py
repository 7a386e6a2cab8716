"""How the Neighbors page shows what the ANN index serves beside the exact list (one library call,
:func:`behemb_core.ann.served.served_neighbors`, rendered here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_support.views import md
from app_support.widgets import static_table
from behemb_core.ann.served import ServedComparison

__all__ = ["build_hint", "exact_frame", "served_frame", "show_served_list", "show_served_summary", "source_text"]


def params_text(params: dict[str, Any] | None) -> str:
    p = params if isinstance(params, dict) else {}
    return ", ".join(f"{key} {md(str(p.get(key, '?')))}" for key in ("m", "ef_construction", "ef_search"))


def build_hint(mode: object) -> str:
    """Where the index of ``mode`` ("also" or "next") is built, in one sentence."""
    which = "Next item" if mode == "next" else "Also viewed"
    return (f"The Publish page's ANN section builds it (for a version with the “next item” tables, pick **{which}** "
            f"under *Index of*), as does `export --format faiss --mode {'next' if mode == 'next' else 'also'}`.")


def source_text(served: ServedComparison) -> str:
    """Where the served list comes from, in one markdown sentence."""
    src = served["source"]
    if src["kind"] == "memory":
        words = "“next item”" if src.get("mode") == "next" else "“also viewed”"
        return (f"No {words} index was built for this version; shown is what one built with the default "
                f"parameters ({params_text(src.get('params'))}) would serve (nothing stored). "
                f"{build_hint(src.get('mode'))}")
    m = src.get("measurement") if isinstance(src.get("measurement"), dict) else None
    ok = m is not None and isinstance(m.get("recall"), (int, float)) and isinstance(m.get("queries", 0), int)
    recall = (f"its measured recall@{md(str(m.get('k', '?')))} is **{float(m['recall']):.3f}**"
              + (f" on {int(m['queries']):,} queries" if m.get("queries") else "")
              if ok and m is not None else "no recall was measured for it")
    where = (f"the registered index **{md(src.get('name'))}**" if src["kind"] == "registered"
             else "the index kept with this version (not registered as the one serving it)")
    over = (" — over the candidate vectors K, queried with the item's query vector Q" if src.get("mode") == "next"
            else "")
    copy = (f" Its registered file ({md(src['registered_file'])}) cannot be read here, so the index kept with the "
            "version with the same bytes was read." if src.get("registered_file") else "")
    return (f"Served by {where} ({md(src.get('build') or '?')}: {params_text(src.get('params'))}){over}; "
            f"{recall}.{copy}")


def _score_column(served: ServedComparison) -> str:
    """What the score is called: the "next item" score Q·K, else the cosine similarity."""
    return "score" if served["source"].get("mode") == "next" else "similarity"


def served_frame(served: ServedComparison) -> pd.DataFrame:
    """The served list as shown: rank, id, name, similarity (the score Q·K in the "next item" mode), the neighbor's
    rank in the exact list and a note."""
    score = _score_column(served)
    return pd.DataFrame([{"rank": r["rank"], "item_id": r["item_id"], "name": r.get("name", ""),
                          score: r["score"], "exact rank": r["exact_rank"],
                          "note": "" if r["exact_rank"] is not None else "not in exact top-K"}
                         for r in served["served"]],
                        columns=["rank", "item_id", "name", score, "exact rank", "note"])


def exact_frame(served: ServedComparison) -> pd.DataFrame:
    """The exact list beside the served one (the side-by-side layout): each neighbor's rank in the served list."""
    served_rank = {r["item_id"]: r["rank"] for r in served["served"]}
    score = _score_column(served)
    return pd.DataFrame([{"rank": r["rank"], "item_id": r["item_id"], "name": r.get("name", ""),
                          score: r["score"], "served rank": served_rank.get(r["item_id"]),
                          "note": "" if r["item_id"] in served_rank else "the index misses it"}
                         for r in served["exact"]],
                        columns=["rank", "item_id", "name", score, "served rank", "note"])


def show_served_list(served: ServedComparison) -> None:
    st.markdown("**Served by the ANN index**")
    static_table(served_frame(served), alt="Neighbors the ANN index serves",
                 decimals={"rank": 0, "exact rank": 0})


def show_served_summary(served: ServedComparison) -> None:
    """What differs between the two lists, and where the served list comes from."""
    n = len(served["exact"])
    if served["same"]:
        in_order = [r["item_id"] for r in served["exact"]] == [r["item_id"] for r in served["served"]]
        st.success(f"The index serves the same {n} neighbors as exact search"
                   + (", in the same order." if in_order else ", in another order."), icon=":material/check:")
    else:
        missed = {r["item_id"]: r for r in served["exact"]}
        st.warning(f"The index serves {len(served['served']) - len(served['only_served'])} of the exact top {n}; "
                   f"{len(served['only_served'])} served neighbor(s) are not in the exact top-K.\n\n"
                   "Exact neighbors the index misses: " + ", ".join(
                       f"{md(missed[i].get('name') or i)} ({md(i)}, exact rank "
                       f"{missed[i]['rank']})" for i in served["only_exact"]), icon=":material/difference:")
    st.caption(source_text(served))
