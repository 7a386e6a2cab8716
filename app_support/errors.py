"""User errors → ``st.error`` with the library's message (file, line, field, parameter); never a traceback.

Only :class:`~behemb_core.errors.BehembError` is caught: anything else is a programming error and must surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from behemb_core.errors import BehembError


@dataclass
class Outcome:
    """Set by :func:`user_errors`: ``failed`` is true when a user error was shown."""

    failed: bool = False
    message: str = ""


@contextmanager
def user_errors(prefix: str = "") -> Iterator[Outcome]:
    """``with user_errors("Reading the data failed") as out: ...`` shows a BehembError and stops the block."""
    out = Outcome()
    try:
        yield out
    except BehembError as exc:
        out.failed, out.message = True, str(exc)
        st.error(f"{prefix}: {exc}" if prefix else str(exc), icon="🚫")
