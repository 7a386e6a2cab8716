"""User and environment errors → ``st.error`` with one clear message; never a traceback.

Both helpers use the one error boundary of the library (:func:`behemb_core.boundary.describe`), so the app says
what the CLI says: a :class:`~behemb_core.errors.BehembError` with its message (file, line, field, parameter), an
OS error as ``could not <what> (<path>): <reason>`` (a read-only or full disk, a path under a file…), a NUL byte
in a path or a missing optional package as such. :func:`user_errors` catches exactly those; anything else is a
programming error and surfaces in the server log, not on screen: :func:`page_guard` (around ``pg.run()`` in
``app.py``) turns whatever escapes a page into a short message with a reference that is also in the logged
traceback.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import FragmentHandledException

from behemb_core.boundary import describe

from .data_io import UPLOAD_ROOT

log = logging.getLogger("behemb.app")
_UPLOAD_DIR = re.compile(re.escape(str(UPLOAD_ROOT)) + r"/[^/\s]+/")


def user_message(exc: BaseException) -> str:
    """The boundary's message for ``exc`` (its own text for an unexpected error), with the temporary upload
    folder removed so a file is named as uploaded."""
    return _UPLOAD_DIR.sub("", describe(exc) or str(exc))


@dataclass
class Outcome:
    """Set by :func:`user_errors`: ``failed`` is true when a user error was shown."""

    failed: bool = False
    message: str = ""


@contextmanager
def user_errors(prefix: str = "") -> Iterator[Outcome]:
    """``with user_errors("Reading the data failed") as out: ...`` shows a user or environment error (a
    BehembError, an OS error, a NUL byte in a path…) and stops the block; other exceptions propagate."""
    out = Outcome()
    try:
        yield out
    except Exception as exc:  # filtered: only what the boundary can say plainly is shown here
        if describe(exc) is None:
            raise
        out.failed, out.message = True, user_message(exc)
        st.error(f"{prefix}: {out.message}" if prefix else out.message, icon=":material/block:")


@contextmanager
def page_guard(page: str = "") -> Iterator[None]:
    """``with page_guard("Compare"): pg.run()`` — no page ever shows a traceback.

    A user or environment error that a page did not catch (a :class:`BehembError`, an OS error, …) is shown like
    :func:`user_errors` does; any other ``Exception`` is logged with its traceback under a short reference and
    shown as one line naming the reference.
    Streamlit's control flow passes through untouched: ``st.stop``/``st.rerun`` raise ``StopException``/
    ``RerunException``, which derive from ``BaseException`` (streamlit 1.67, ``runtime/scriptrunner_utils/
    exceptions.py``) and so are never caught here, and ``FragmentHandledException`` (a fragment that already
    reported its own error) is re-raised for the script runner.
    """
    try:
        yield
    except FragmentHandledException:
        raise
    except Exception as exc:  # the one app-wide guard; the traceback goes to the log
        if describe(exc) is not None:  # a user or environment error: its message, as user_errors shows it
            st.error(user_message(exc), icon=":material/block:")
            return
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error on page %s (ref %s)", page or "?", ref)
        st.error(f"Something went wrong on this page ({type(exc).__name__}) and it stopped here. The details are in "
                 f"the app's log under reference {ref}; please report it with what you did.",
                 icon=":material/stop_circle:")
