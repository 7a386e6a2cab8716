"""Sign people in to a Streamlit app through a real OpenID Connect provider on loopback, for browser tests.

The provider is oidc-provider-mock (a Flask app built on Authlib) run in-process in a thread; the app is
``streamlit run`` in a subprocess whose working folder holds ``.streamlit/secrets.toml`` with an ``[auth]`` section;
Playwright drives Debian's Chromium through ``st.login()`` → the provider's authorize form → ``/oauth2callback``.

Typical use::

    users = {"alice": {"email": "alice@example.com", "name": "Alice", "groups": ["analysts"]}}
    with oidc_provider(users) as issuer:
        port = free_port()
        write_auth_secrets(tmp, issuer=issuer, app_port=port)
        with serve_app(script, cwd=tmp, port=port, env={}) as app_url:
            sign_in(page, app_url, "alice")
            ...
            sign_out(page, app_url)

What ``st.user`` holds after a sign-in (observed with streamlit 1.67.0, Authlib 1.9.10, oidc-provider-mock 0.3.4;
``tests/test_oidc_harness.py`` pins the key set and the values of the identity claims). Streamlit keeps the claims
of the verified ID token (Authlib's ``token["userinfo"]``), adds ``is_logged_in`` and ``provider``, and drops the
``origin`` it keeps in its cookie. ``st.user.to_dict()`` for alice was::

    {"at_hash": "KRZwSqp-KYwDsog4CUZ_CA", "aud": ["behemb-test-client"], "auth_time": 1796292179,
     "email": "alice@example.com", "exp": 1796295779, "groups": ["behemb-analysts", "behemb-publishers"],
     "iat": 1796292179, "is_logged_in": true, "iss": "http://127.0.0.1:36325", "name": "Alice Analyst",
     "nonce": "KnJPw13JLjth5gCGXzpF", "provider": "default", "sub": "alice", "tokens": {}}

- ``is_logged_in``: ``True``; before sign-in ``st.user`` holds only ``is_logged_in = False``.
- ``iss``: the issuer URL, exactly the string ``oidc_provider`` yields. The mock derives it from the Host header
  the app's server used, so it is stable only while the metadata URL in secrets.toml is (a real provider's is fixed).
- ``sub``: the subject typed on the authorize form, e.g. ``"alice"``.
- ``email``, ``name``: the registered claims. Streamlit asks for scope ``openid email profile``, so the standard
  claims of those scopes pass; other standard ones (``address``, ``phone_number`` …) are dropped by the provider.
- ``groups``: a list, e.g. ``["behemb-analysts", "behemb-publishers"]``. The mock passes every non-standard claim on;
  real providers often send no ``groups`` at all (or only when configured to): read it with ``st.user.get``.
- ``aud`` is a *list* holding the client_id; ``exp``, ``iat``, ``auth_time`` are ints (seconds since the epoch);
  ``nonce``, ``at_hash`` strings; ``provider`` is the ``[auth]`` section's name (``"default"`` for a flat one);
  ``tokens`` is empty unless ``expose_tokens`` is set in secrets.toml.
- A subject typed on the form but not registered is accepted by the mock with claims ``{"email": sub}`` only.

So an identity can be recorded as ``st.user.get("email") or st.user.get("sub")`` plus ``st.user.get("iss")``.
A missing claim raises ``AttributeError`` on attribute access (``st.user.groups``): use ``.get`` for optional ones.

Pitfalls this module handles: the browser must use ``localhost`` for the app (the redirect URI in secrets.toml and
the auth cookie's host must match it), while the provider is addressed as ``127.0.0.1`` (no IPv6 ``::1`` attempt,
and a host distinct from the app's, so their cookies never mix). A Streamlit server does not always exit promptly on
SIGTERM, so ``serve_app`` waits until nothing listens on its port. Streamlit also reads ``.streamlit/`` beside the
*script* (after the working folder's, overriding it): a secrets.toml there would override the one written here.
``st.logout()`` goes through the provider's end-session page, which returns to ``/oauth2callback`` without a state:
the server then logs a harmless "Missing provider for OAuth callback" warning and redirects to the app.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

CLIENT_ID = "behemb-test-client"
CLIENT_SECRET = "behemb-test-client-secret"  # the mock accepts any secret for an unregistered client
PROVIDER_HOST = "127.0.0.1"
APP_HOST = "localhost"
STEP_MS = 30_000  # Playwright timeout for one step of the sign-in / sign-out walk


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def import_provider_mock() -> ModuleType:
    """Import oidc_provider_mock without the deprecation warnings Authlib 1.9 gives for the modules it uses.

    ``authlib.deprecate`` installs a global ``"always"`` filter for its warnings when first imported, in front of
    any filter set before: import it first, then ignore its warnings while the mock imports.
    """
    import authlib.deprecate  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock
    return oidc_provider_mock


@contextmanager
def oidc_provider(users: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """Run an OpenID Connect provider in a thread on a free loopback port; yields its issuer URL.

    ``users`` maps each subject (``sub``) to its claims, e.g. ``{"alice": {"email": ..., "name": ...,
    "groups": [...]}}``; they are registered up front and listed as one-click buttons on the authorize form. Any
    client_id / client_secret / redirect URI is accepted. The server is shut down when the block ends.
    """
    oidc_provider_mock = import_provider_mock()
    registered = [oidc_provider_mock.User(sub=sub, claims=dict(claims)) for sub, claims in users.items()]
    # Binds "localhost" with AF_INET, i.e. 127.0.0.1; port 0 lets the OS pick a free port (no race).
    with oidc_provider_mock.run_server_in_thread(port=0, user_claims=registered) as server:
        yield f"http://{PROVIDER_HOST}:{server.server_port}"


def write_auth_secrets(folder: Path, *, issuer: str, app_port: int) -> Path:
    """Write ``folder/.streamlit/secrets.toml`` with the ``[auth]`` section that makes ``st.login()`` use
    ``issuer`` for an app served at ``http://localhost:app_port``; returns the file's path."""
    values = {
        "redirect_uri": f"http://{APP_HOST}:{app_port}/oauth2callback",
        "cookie_secret": secrets.token_hex(32),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": f"{issuer}/.well-known/openid-configuration",
    }
    path = folder / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A JSON string of plain ASCII text is a valid TOML basic string.
    path.write_text("[auth]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items()))
    return path


def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    """Wait until Streamlit's ``/_stcore/health`` answers ``ok``; raise with the log's tail if it exits or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                if resp.status == 200 and resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"streamlit did not become healthy within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes], port: int, timeout: float = 15.0) -> None:
    """SIGTERM ``proc`` (SIGKILL if it lingers), then wait until nothing listens on ``port``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while port_is_listening(port):
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port} still accepts connections {timeout:.0f} s after streamlit exited")
        time.sleep(0.1)


@contextmanager
def serve_app(script: Path, cwd: Path, port: int, env: Mapping[str, str], *, log: Path | None = None) -> Iterator[str]:
    """``python -m streamlit run <script>`` on 127.0.0.1:``port`` with working folder ``cwd`` (where
    ``.streamlit/secrets.toml`` is); yields ``http://localhost:PORT`` once healthy.

    ``env`` is added to this process's environment. Output goes to ``log`` (default ``cwd/streamlit.log``). On exit
    the server is terminated and the port waited on until free, so the next server can bind it.
    """
    log = log or cwd / "streamlit.log"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script.resolve()), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(port, proc, log)
        yield f"http://{APP_HOST}:{port}"
    finally:
        stop_process(proc, port)


def _in_app(app_url: str) -> Any:
    """A URL predicate: the app itself, not its auth routes (``/auth/…``, ``/oauth2callback``)."""
    def matches(url: str) -> bool:
        if not url.startswith(app_url):
            return False
        path = url[len(app_url):]
        return not (path.startswith("/auth/") or path.startswith("/oauth2callback"))
    return matches


def sign_in(page: Page, app_url: str, sub: str, *, button_name: str = "Sign in", timeout: float = STEP_MS) -> None:
    """Sign ``sub`` in: open the app, press its ``button_name`` button (which calls ``st.login()``), type ``sub`` on
    the provider's authorize form and press Authorize, then wait until the browser is back on the app.

    The caller then asserts what the signed-in app shows (the app reruns after the redirect).
    """
    if not _in_app(app_url)(page.url):
        page.goto(app_url)
    page.get_by_role("button", name=button_name, exact=True).click(timeout=timeout)
    sub_field = page.locator('input[name="sub"]')
    sub_field.wait_for(state="visible", timeout=timeout)
    sub_field.fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click(timeout=timeout)
    page.wait_for_url(_in_app(app_url), timeout=timeout)


def sign_out(page: Page, app_url: str, *, button_name: str = "Sign out", timeout: float = STEP_MS) -> None:
    """Press the app's ``button_name`` button (which calls ``st.logout()``): Streamlit clears its cookies and sends
    the browser to the provider's end-session page; press "End session" there and wait until back on the app."""
    page.get_by_role("button", name=button_name, exact=True).click(timeout=timeout)
    page.wait_for_url("**/oauth2/end_session?**", timeout=timeout)
    page.get_by_role("button", name="End session", exact=True).click(timeout=timeout)
    page.wait_for_url(_in_app(app_url), timeout=timeout)
