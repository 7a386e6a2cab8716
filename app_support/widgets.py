"""Small rendering pieces shared by several pages (they draw with Streamlit; views.py holds the pure tables)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from .views import md


def dataset_counts(summary: dict[str, Any], *, rows_read: bool = False) -> None:
    """The dataset summary's counts as metrics (sessions, events, items, users, and optionally rows read)."""
    def n(value: Any) -> str:
        return "—" if value is None else f"{value:,}"

    shown = [("Sessions", summary["sessions"]), ("Events", summary["events"]), ("Items", summary["items"]),
             ("Users", summary["users"])]
    if rows_read:
        shown.append(("Rows read", summary["rows_read"]))
    for col, (label, value) in zip(st.columns(len(shown)), shown, strict=True):
        col.metric(label, n(value), border=True)


# Coloured labels with an icon from Streamlit's bundled Material Symbols font: readable without colour (the word)
# and without an emoji font on the viewer's machine (the icon is not an emoji).
STATE_BADGES = {
    "pass": ":green-badge[:material/check: pass]",
    "warning": ":orange-badge[:material/warning: warning]",
    "fail": ":red-badge[:material/close: fail]",
}


def display_cell(value: Any, decimals: int = 3) -> str:
    """One cell as text for people: escaped (``st.table`` renders markdown and names are untrusted), numbers
    rounded (``decimals`` 0 for counts and ranks), nothing shown as a dash, flags as ``yes`` or nothing."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return "—"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return str(int(round(float(value)))) if decimals == 0 else f"{float(value):.{decimals}f}"
    return md(value)


def static_table(frame: Any, *, alt: str, decimals: dict[str, int] | None = None,
                 badges: dict[str, dict[str, str]] | None = None) -> None:
    """A small table that shows every cell in full: ``st.table`` wraps long text, where ``st.dataframe`` cuts it
    off at a normal window width (names, neighbor lists, check details). For tables of tens of rows.

    ``decimals`` gives a float column's places (default 3; 0 for counts); ``badges`` maps a column's values to
    markdown labels (e.g. ``STATE_BADGES``), every other cell is escaped text."""
    decimals, badges = decimals or {}, badges or {}
    shown = pd.DataFrame({
        col: [badges[col].get(str(v), display_cell(v, 3)) if col in badges
              else display_cell(v, decimals.get(col, 3)) for v in frame[col].tolist()]
        for col in frame.columns
    }, columns=list(frame.columns))
    st.table(shown, hide_index=True, alt=alt)
