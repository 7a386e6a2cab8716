"""The app under a store policy, through Streamlit's AppTest with the signed-in person faked (``at.user``): what
each role sees enabled, disabled with the library's reason, or not at all; and the app without sign-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_sessions_jsonl
from streamlit.testing.v1 import AppTest

from behemb_core.ingest import read_session_jsonl
from behemb_core.store import Store, approvals, set_policy
from behemb_core.train import train_version

ISSUER = "http://localhost:9/test-idp"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "behemb",
        "client_secret": "secret", "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration"}
POLICY = {"members": {"alice@example.com": ["trainer"], "bob@example.com": ["approver"],
                      "dave@example.com": ["publisher", "admin"]}}
PUBLISH, TRAIN, NEIGHBORS = "pages/6_Publish.py", "pages/2_Train.py", "pages/3_Neighbors.py"
WARNINGS = ("quality vs item-kNN", "same catalogue as published", "stability vs published", "golden pairs",
            "served neighbors match")  # no evaluation, nothing published, no golden pair, no ANN index


def claims(name: str) -> dict:
    return {"is_logged_in": True, "iss": ISSUER, "sub": f"sub-{name}", "email": f"{name}@example.com",
            "name": name.title(), "groups": []}


@pytest.fixture(scope="module")
def store_dir(planted, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("app-access")
    s = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 1500)
    dataset = read_session_jsonl(write_sessions_jsonl(root / "sessions.jsonl", s))
    st = Store(root / "store")
    set_policy(st, POLICY, by="bootstrap")
    from behemb_core.identity import Actor

    alice = Actor.from_claims(claims("alice"), via="app sign-in")
    train_version(st, "ppmi_svd", {"dim": 8}, dataset=dataset, name="v1", by=alice)
    return root / "store"


def signed_in(store: Path, user: dict | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = user if user is not None else {"is_logged_in": False}
    at.session_state["store_path"] = str(store)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [i.value for i in at.info] + [c.value for c in at.sidebar.caption]
    return "\n".join(str(p) for p in parts).replace("\\", "")  # markdown escapes


def test_a_visitor_who_is_not_signed_in_sees_only_the_sign_in(store_dir: Path) -> None:
    at = signed_in(store_dir, None)
    assert at.button(key="sign_in").label == "Sign in"
    assert not [t for t in at.text_input if t.key == "store_path_input"]  # no sidebar, no store, no pages
    assert "sign in with your organisation's account" in text(at)


def test_alice_the_trainer_may_train_but_not_approve(store_dir: Path) -> None:
    at = signed_in(store_dir, claims("alice"))
    assert "Signed in as **alice@example.com**" in text(at) and "Your roles in this store: trainer" in text(at)
    at.switch_page(TRAIN).run()
    assert "alice@example.com may not" not in text(at)
    at.switch_page(PUBLISH).run()
    at.selectbox(key="pub_version").set_value("v1").run()
    assert at.button(key="pub_approve").disabled
    assert "may not approve a version: that needs the approver role" in text(at) and "bob@example.com" in text(at)


def test_carol_a_viewer_sees_every_page_with_every_action_disabled(store_dir: Path) -> None:
    at = signed_in(store_dir, claims("carol"), PUBLISH)
    at.selectbox(key="pub_version").set_value("v1").run()
    assert at.button(key="pub_approve").disabled and at.button(key="pub_publish").disabled
    assert "carol@example.com may not approve a version" in text(at)
    at.switch_page(TRAIN).run()
    assert not at.exception
    assert "carol@example.com may not train or tune a version" in text(at)
    at.switch_page(NEIGHBORS).run()
    assert not at.exception
    assert at.button(key="nb_mark_good").disabled and at.button(key="nb_mark_bad").disabled
    assert at.selectbox(key="nb_wording").disabled  # a store setting: admins only


def test_bob_approves_and_the_record_is_his_verified_identity(store_dir: Path) -> None:
    at = signed_in(store_dir, claims("bob"), PUBLISH)
    at.selectbox(key="pub_version").set_value("v1").run()
    assert not at.button(key="pub_approve").disabled
    for name in WARNINGS:
        at.checkbox(key=f"pub_ack::v1::{name}").check()
    at.button(key="pub_approve").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    record = approvals(Store(store_dir), "v1")[-1]
    assert record["by"] == "bob@example.com" and record["actor"]["verified"] is True
    assert record["actor"]["issuer"] == ISSUER and record["actor"]["via"] == "app sign-in"
    assert at.button(key="pub_publish").disabled  # bob is no publisher
    assert "bob@example.com may not publish a version" in text(at)


def test_without_sign_in_the_app_says_actions_are_unverified(tmp_path: Path, monkeypatch) -> None:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["store_path"] = str(tmp_path / "open")
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "Sign-in is not configured" in warnings and "unverified" in warnings
    assert at.text_input(key="actor_name_input").label == "Your name (unverified)"
    assert "no policy: everyone may do everything" in " ".join(c.value for c in at.sidebar.caption)
    monkeypatch.setenv("BEHEMB_REQUIRE_SIGN_IN", "1")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["store_path"] = str(tmp_path / "open")
    at.run()
    assert any("BEHEMB_REQUIRE_SIGN_IN=1 is set, but sign-in is not configured" in e.value for e in at.error)
    assert not [t for t in at.text_input if t.key == "store_path_input"]
