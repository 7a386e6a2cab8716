"""Form values that survive page switches.

Streamlit forgets a widget's value when a run does not render the widget (the user is on another page), so a
half-filled form was empty on return. :func:`keep_form_values` runs first on every page (``app.py``) and turns
those values into plain session state, which Streamlit keeps; the widget picks its value up again when its page
is shown. Buttons are never listed: their state cannot be set.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

# Widget keys kept for the browser session: the Train form (and its method config fields, ``cfg_<method>_<field>``)
# and the Data page's choices (source, layout, delimiter, header, column mapping, filters, session options).
KEPT_KEYS = (
    "train_method", "train_seed", "train_name", "train_evaluate", "train_noise_floor", "train_tune", "train_budget",
    "train_base_version",
)
KEPT_PREFIXES = ("cfg_", "data_source", "data_layout", "data_delimiter", "data_header", "data_col_", "data_ts_unit",
                 "data_filter_", "data_opt_", "data_field_", "data_meta_delimiter", "data_meta_header",
                 "data_meta_encoding", "data_meta_col_")


def keep_form_values(state: MutableMapping[Any, Any]) -> list[str]:
    """Re-assign every kept widget value so Streamlit keeps it across pages; returns the keys kept. ``state`` is
    ``st.session_state`` (whose keys may also be ints, never kept) or a plain dict."""
    kept = [k for k in list(state.keys()) if isinstance(k, str) and (k in KEPT_KEYS or k.startswith(KEPT_PREFIXES))]
    for key in kept:
        state[key] = state[key]
    return kept
