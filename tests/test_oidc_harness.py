"""The sign-in harness of tests/oidc_support.py works end to end: a tiny Streamlit app behind ``st.login()``, a real
OpenID Connect provider (oidc-provider-mock) on loopback, Debian's Chromium driven by Playwright.

Alice signs in and sees her email and groups, signs out (through the provider's end-session page) and is back at
the sign-in button; Bob then signs in in the same browser and sees his email, not hers. The app also dumps
``st.user`` to a JSON file after each sign-in, so the test pins down which claims it holds (the module docstring
of oidc_support.py lists them). Skipped when /usr/bin/chromium, playwright or oidc-provider-mock is missing.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,  # see pyproject.toml: CI runs it, `-m 'not slow'` skips it while editing
    # oidc-provider-mock 0.3.4 still uses an Authlib hook that Authlib 1.9 deprecates (warned in its server thread).
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install -r requirements-test.txt)")
pytest.importorskip("authlib", reason="Authlib is not installed (st.login needs it)")

from oidc_support import (
    CLIENT_ID,
    free_port,
    import_provider_mock,
    oidc_provider,
    serve_app,
    sign_in,
    sign_out,
    write_auth_secrets,
)

try:
    import_provider_mock()
except ImportError:
    pytest.skip("the oidc-provider-mock package is not installed", allow_module_level=True)

expect = sync_api.expect

USERS: dict[str, dict[str, object]] = {
    "alice": {"email": "alice@example.com", "name": "Alice Analyst",
              "groups": ["behemb-analysts", "behemb-publishers"]},
    "bob": {"email": "bob@example.com", "name": "Bob Builder", "groups": ["behemb-analysts"]},
}

# What st.user holds after sign-in (documented in oidc_support.py's docstring; a change there should fail here).
ST_USER_KEYS = {"is_logged_in", "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "name",
                "groups", "provider", "tokens"}

APP = textwrap.dedent('''\
    import json
    import os

    import streamlit as st

    if not st.user.is_logged_in:
        st.title("Signed out")
        if st.button("Sign in"):
            st.login()
    else:
        user = st.user.to_dict()
        with open(os.environ["USER_DUMP"], "w") as f:
            json.dump(user, f, default=repr)
        st.text(f"email: {st.user.get('email')}")
        st.text("groups: " + ", ".join(st.user.get("groups") or []))
        if st.button("Sign out"):
            st.logout()
''')


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_two_people_sign_in_and_out_through_a_real_provider(tmp_path: Path, chromium: object) -> None:
    script = tmp_path / "app" / "auth_app.py"
    script.parent.mkdir()
    script.write_text(APP)
    dump = tmp_path / "user.json"
    port = free_port()
    with oidc_provider(USERS) as issuer:
        write_auth_secrets(tmp_path, issuer=issuer, app_port=port)
        with serve_app(script, cwd=tmp_path, port=port, env={"USER_DUMP": str(dump)}) as app_url:
            assert app_url == f"http://localhost:{port}"
            context = chromium.new_context(viewport={"width": 1200, "height": 800})
            page = context.new_page()
            try:
                page.goto(app_url)
                expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)

                sign_in(page, app_url, "alice")
                expect(page.get_by_text("email: alice@example.com")).to_be_visible(timeout=30_000)
                expect(page.get_by_text("groups: behemb-analysts, behemb-publishers")).to_be_visible()
                alice = json.loads(dump.read_text())
                assert alice["is_logged_in"] is True
                assert alice["iss"] == issuer
                assert alice["sub"] == "alice"
                assert alice["email"] == "alice@example.com"
                assert alice["name"] == "Alice Analyst"
                assert alice["groups"] == ["behemb-analysts", "behemb-publishers"]
                assert alice["aud"] == [CLIENT_ID]
                assert alice["provider"] == "default"
                assert set(alice) == ST_USER_KEYS, sorted(set(alice) ^ ST_USER_KEYS)
                print("st.user after alice signed in:", json.dumps(alice, sort_keys=True))

                sign_out(page, app_url)
                expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
                expect(page.get_by_text("alice@example.com")).to_have_count(0)

                sign_in(page, app_url, "bob")
                expect(page.get_by_text("email: bob@example.com")).to_be_visible(timeout=30_000)
                expect(page.get_by_text("groups: behemb-analysts")).to_be_visible()
                expect(page.get_by_text("alice@example.com")).to_have_count(0)
                bob = json.loads(dump.read_text())
                assert (bob["sub"], bob["iss"], bob["email"]) == ("bob", issuer, "bob@example.com")
            finally:
                context.close()
        assert not any("Traceback" in line for line in (tmp_path / "streamlit.log").read_text().splitlines()), \
            (tmp_path / "streamlit.log").read_text()[-3000:]
