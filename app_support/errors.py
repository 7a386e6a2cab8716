"""User errors → ``st.error`` with the library's message (file, line, field, parameter); never a traceback.

Only :class:`~behemb_core.errors.BehembError` is caught: anything else is a programming error and must surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import re

import streamlit as st

from behemb_core.errors import BehembError

from .data_io import UPLOAD_ROOT

_UPLOAD_DIR = re.compile(re.escape(str(UPLOAD_ROOT)) + r"/[^/\s]+/")


def user_message(exc: BaseException) -> str:
    """The library's message, with the temporary upload folder removed so the file is named as uploaded."""
    return _UPLOAD_DIR.sub("", str(exc))


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
        out.failed, out.message = True, user_message(exc)
        st.error(f"{prefix}: {out.message}" if prefix else out.message, icon="🚫")
