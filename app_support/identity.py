"""Who is using the app, and what the store's policy lets them do.

With sign-in configured (an ``[auth]`` section in ``.streamlit/secrets.toml``: Streamlit's OpenID Connect
sign-in), the person is the identity provider's token as Streamlit checked it (``st.user``): email, else subject,
with the issuer — verified. Every page asks for sign-in first (:func:`sign_in_gate`). Without it (the demo, a
laptop), the person is the name typed in the sidebar, recorded as unverified, and every page says so;
``BEHEMB_REQUIRE_SIGN_IN=1`` refuses that mode.

Permissions are decided by the library (:func:`behemb_core.store.policy.access`), which also refuses in its verbs
whatever a page lets through; the pages only disable controls with the library's reason.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from behemb_core.errors import BehembError
from behemb_core.identity import Actor
from behemb_core.store import Store
from behemb_core.store.policy import Access, access, read_policy_state, sign_in_required_by_env

from .views import md

TYPED_NAME = "actor_name"  # the sidebar's "Your name" without sign-in (durable copy)
TYPED_NAME_INPUT = "actor_name_input"
_REQUIRED_AUTH_KEYS = ("client_id", "client_secret", "server_metadata_url", "redirect_uri", "cookie_secret")


def sign_in_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section Streamlit can sign people in with."""
    try:
        auth = st.secrets.get("auth")
    except (FileNotFoundError, StreamlitAPIException):  # no secrets file (StreamlitSecretNotFoundError), or unparsable
        return False
    if not auth:
        return False
    flat = dict(auth)
    return all(flat.get(k) for k in _REQUIRED_AUTH_KEYS) or any(isinstance(v, dict) for v in flat.values())


def _claims() -> dict[str, Any]:
    user = st.user
    to_dict = getattr(user, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else user)


def current_actor(groups_claim: str = "groups") -> Actor | None:
    """The person using this browser session: verified when signed in, else the typed name (None: nobody)."""
    if sign_in_configured():
        if not st.user.is_logged_in:
            return None
        return Actor.from_claims(_claims(), via="app sign-in", groups_claim=groups_claim)
    name = str(st.session_state.get(TYPED_NAME) or "").strip()
    return Actor.typed(name) if name else None


def current_access(store: Store) -> Access:
    """What the person may do in ``store`` (the library's decision; its reasons label disabled controls)."""
    state = read_policy_state(store)
    groups_claim = state.policy.groups_claim if state.policy else "groups"
    return access(store, current_actor(groups_claim), state=state)


def sign_in_gate() -> None:
    """Before anything else on every page: with sign-in configured, a visitor who is not signed in sees only the
    sign-in; with sign-in required but not configured, an explanation. Stops the page in both cases, behind a
    navigation of that one page (hidden), so Streamlit lists no other page either."""
    if sign_in_configured():
        if st.user.is_logged_in:
            return
        _only(_sign_in_view, "Sign in")
    if sign_in_required_by_env():
        _only(_sign_in_required_view, "Sign-in required")


def _only(view: Any, title: str) -> None:
    st.navigation([st.Page(view, title=title, default=True)], position="hidden").run()
    st.stop()


def _sign_in_view() -> None:
    st.title("behemb — sign in")
    st.markdown("This workbench is shared by a team: sign in with your organisation's account to continue. "
                "Every approval, publish and rollback is recorded with the identity you sign in with.")
    if st.button("Sign in", type="primary", key="sign_in", icon=":material/login:"):
        st.login()


def _sign_in_required_view() -> None:
    st.title("behemb — sign-in required")
    st.error("BEHEMB_REQUIRE_SIGN_IN=1 is set, but sign-in is not configured: add an [auth] section to "
             ".streamlit/secrets.toml (see the README, 'Running the app for a team').", icon=":material/block:")


def identity_sidebar(store: Store | None) -> None:
    """The sidebar's identity block: who is signed in (with a Sign out button) and their roles, or the typed name
    and the plain statement that actions are recorded as unverified; and whether the store has a policy."""
    ss = st.session_state
    if sign_in_configured():
        actor = current_actor()
        if actor is not None:
            st.caption(f":material/verified_user: Signed in as **{md(actor.id)}**")
            if st.button("Sign out", key="sign_out", icon=":material/logout:"):
                st.logout()
    else:
        ss[TYPED_NAME_INPUT] = ss.get(TYPED_NAME, "")
        st.text_input("Your name (unverified)", key=TYPED_NAME_INPUT, max_chars=100, on_change=_keep_name,
                      help="Recorded with what you do here. Sign-in is not configured, so nothing checks it.")
        st.warning("Sign-in is not configured: approvals, publishes and marks are recorded as **unverified**, "
                   "with the name typed above.", icon=":material/gpp_maybe:")
    if store is None:
        return
    try:
        a = current_access(store)
    except BehembError as exc:
        st.error(f"The store's policy cannot be read: {md(str(exc))}", icon=":material/block:")
        return
    if a.policy is None:
        st.caption(":material/lock_open: This store has no policy: everyone may do everything.")
    else:
        roles = ", ".join(r for r in ("trainer", "approver", "publisher", "admin") if r in a.roles) or "viewer only"
        st.caption(f":material/shield_person: Your roles in this store: {md(roles)} · "
                   f"{a.policy.approvals_required} approval(s) needed to publish.")


def _keep_name() -> None:
    st.session_state[TYPED_NAME] = st.session_state[TYPED_NAME_INPUT]


def view_gate(store: Store) -> None:
    """Stop the page when the store's policy does not let this person view it, saying why."""
    try:
        a = current_access(store)
    except BehembError as exc:
        st.error(f"The store's policy cannot be read, so nothing is shown: {md(str(exc))}", icon=":material/block:")
        st.stop()
    refusal = a.view_refusal
    if refusal is not None:
        st.error(md(refusal) + ".", icon=":material/block:")
        st.stop()
