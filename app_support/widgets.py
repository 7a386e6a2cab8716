"""Small rendering pieces shared by several pages (they draw with Streamlit; views.py holds the pure tables)."""

from __future__ import annotations

from typing import Any

import streamlit as st


def dataset_counts(summary: dict[str, Any], *, rows_read: bool = False) -> None:
    """The dataset summary's counts as metrics (sessions, events, items, users, and optionally rows read)."""
    def n(value: Any) -> str:
        return "—" if value is None else f"{value:,}"

    shown = [("Sessions", summary["sessions"]), ("Events", summary["events"]), ("Items", summary["items"]),
             ("Users", summary["users"])]
    if rows_read:
        shown.append(("Rows read", summary["rows_read"]))
    for col, (label, value) in zip(st.columns(len(shown)), shown):
        col.metric(label, n(value), border=True)
