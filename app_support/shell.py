"""Keep every page inside the app's own navigation (``app.py``), also on the first request a server receives.

Streamlit still knows the old multipage layout: a folder called ``pages/`` next to the entry script. Until the
first run of ``app.py`` has called ``st.navigation``, a fresh server treats a deep link such as ``/Publish`` the
old way and runs ``pages/6_Publish.py`` on its own — no sidebar with the store, no page guard, a different page
list. ``leave_legacy_page_mode`` notices that case and reruns the request through ``app.py``, which then opens
the page the link asked for.
"""

from __future__ import annotations

import streamlit as st

_RERAN = "_shell_reran_through_app"  # once per browser session, so a Streamlit change can never cause a loop


def leave_legacy_page_mode() -> None:
    """Rerun through ``app.py`` if Streamlit ran this page as an old-style ``pages/`` script.

    Relies on ``PagesManager.uses_pages_directory`` (Streamlit 1.67's switch between the two layouts, which
    ``st.navigation`` itself turns off). If a later Streamlit drops it, nothing happens here and the browser
    test of deep links fails, which is where it should be noticed."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the old layout
        return
    if getattr(PagesManager, "uses_pages_directory", False) and not st.session_state.get(_RERAN):
        PagesManager.uses_pages_directory = False
        st.session_state[_RERAN] = True
        st.rerun()
