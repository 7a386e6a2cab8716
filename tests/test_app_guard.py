"""The app-wide guard around ``pg.run()``: an unexpected error becomes a short message plus a logged traceback;
a user error its message; ``st.stop``/``st.rerun`` pass through."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest


def _page_that_fails() -> None:
    import streamlit as st

    from app_support.errors import page_guard

    with page_guard("Broken"):
        st.write("before")
        kind = st.session_state.get("kind")
        if kind == "bug":
            noise = st.session_state.get("noise")
            st.write(noise["rule"])  # the TypeError of the reported crash: 'NoneType' object is not subscriptable
        elif kind == "user":
            from behemb_core.errors import ConfigError

            raise ConfigError("k must be at least 1, got k=0")
        elif kind == "stop":
            st.stop()
        elif kind == "rerun":
            st.session_state["kind"] = "done"
            st.rerun()
        st.write("after")


def _run(kind: str) -> AppTest:
    at = AppTest.from_function(_page_that_fails, default_timeout=30)
    at.session_state["kind"] = kind
    return at.run()


def test_unexpected_error_is_a_short_message_and_a_logged_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="behemb.app"):
        at = _run("bug")
    assert not at.exception
    [err] = [e.value for e in at.error]
    assert "TypeError" in err and "reference" in err and "Traceback" not in err
    ref = err.split("reference ")[1].split(";")[0]
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is TypeError
    assert [m.value for m in at.markdown] == ["before"]


def test_user_error_shows_its_message() -> None:
    at = _run("user")
    assert not at.exception and [e.value for e in at.error] == ["k must be at least 1, got k=0"]


def test_stop_and_rerun_pass_through() -> None:
    at = _run("stop")
    assert not at.exception and not at.error and [m.value for m in at.markdown] == ["before"]
    at = _run("rerun")
    assert not at.exception and not at.error
    assert at.session_state["kind"] == "done" and [m.value for m in at.markdown] == ["before", "after"]


def test_app_guards_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """app.py runs the routed page inside the guard (here the home page, whose dataset summary breaks).

    AppTest's ``switch_page`` cannot show this for the other pages: with a ``pages/`` folder it runs the page
    file directly, without app.py (streamlit 1.67 resets ``PagesManager.uses_pages_directory`` per run).
    """
    from pathlib import Path

    import app_support.loaders

    def broken(*args, **kwargs):
        raise TypeError("'NoneType' object is not subscriptable")

    monkeypatch.setattr(app_support.loaders, "dataset_summary", broken)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("TypeError" in e.value and "reference" in e.value for e in at.error), [e.value for e in at.error]
