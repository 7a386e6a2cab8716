"""Sign-off by signed-in people, end to end: the app served by ``streamlit run`` with Streamlit's OpenID Connect
sign-in against a real provider on loopback (oidc-provider-mock, started in-process), driven by Playwright with
Debian's Chromium.

The store's policy: alice trains and approves (trainer, approver), bob approves and publishes; carol is not named,
so she is a viewer. A visitor who is not signed in sees only the sign-in. Alice signs in and trains; she is refused
approving her own version (four eyes), with the reason; she signs out. Carol sees every page, with every action
disabled and a reason. Bob approves and publishes. The audit log records the identities from the tokens,
``"verified": true``, with the provider as issuer, and ``verify`` with the audit key passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

from test_browser import (
    LONG,
    REPO,
    STORE_IN_USE,
    chromium,  # noqa: F401  (the module's one browser)
    expect,
    go_to,
    new_page,
    no_exception,
    settle,
)

pytest.importorskip("authlib", reason="Authlib is not installed (st.login needs it)")
from oidc_support import (
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

from behemb_core.store import Store, read_audit_log, set_policy
from behemb_core.store.verify import verify_store

VERSION = "signed-cs"
USERS = {
    "alice": {"email": "alice@example.com", "name": "Alice Analyst", "groups": ["ml-team"]},
    "bob": {"email": "bob@example.com", "name": "Bob Reviewer", "groups": ["ml-team"]},
    "carol": {"email": "carol@example.com", "name": "Carol Manager", "groups": ["product"]},
}
POLICY = {"members": {"alice@example.com": ["trainer", "approver"], "bob@example.com": ["approver", "publisher"],
                      "sub:admin": ["admin"]}}


@pytest.fixture(scope="module")
def team_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(app URL, issuer, store): the provider, the secrets in the server's working folder, and the app."""
    tmp = tmp_path_factory.mktemp("sign-in")
    store = tmp / "store"
    set_policy(Store(store), POLICY, by="bootstrap")
    with oidc_provider(USERS) as issuer:
        port = free_port()
        write_auth_secrets(tmp, issuer=issuer, app_port=port)
        with serve_app(REPO / "app.py", cwd=tmp, port=port, env={"BEHEMB_STORE": str(store)}) as url:
            STORE_IN_USE[url] = store
            yield url, issuer, store


def lock_note(page: object, text: str) -> None:
    """A disabled control's reason, as the page shows it."""
    expect(page.get_by_test_id("stMain")).to_contain_text(text)


def test_sign_in_roles_and_four_eyes_in_a_browser(team_app: tuple[str, str, Path], chromium: object) -> None:  # noqa: F811
    url, issuer, store = team_app

    # A visitor who is not signed in sees only the sign-in: no sidebar store, no pages.
    visitor = new_page(chromium)
    try:
        visitor.goto(url)
        expect(visitor.get_by_role("heading", level=1)).to_contain_text("sign in", timeout=LONG)
        expect(visitor.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
        expect(visitor.get_by_role("textbox", name="Store (folder or fsspec URL)")).to_have_count(0)
        expect(visitor.get_by_test_id("stSidebarNav")).to_have_count(0)
    finally:
        visitor.close()

    page = new_page(chromium)
    try:
        # Alice signs in and trains.
        sign_in(page, url, "alice")
        expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in as", timeout=LONG)
        expect(page.get_by_test_id("stSidebar")).to_contain_text("trainer, approver")
        go_to(page, url, "Train")
        dim = page.get_by_role("spinbutton", name="Dimensions", exact=True)
        dim.fill("16")
        dim.press("Tab")
        name = page.get_by_role("textbox", name="Version name (optional)", exact=True)
        name.fill(VERSION)
        name.press("Tab")
        page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train").click()
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Saved version {VERSION}",
                                                                             timeout=LONG)
        no_exception(page)
        assert Store(store).manifest(VERSION)["trained_by"]["id"] == "alice@example.com"

        # Alice may approve in general, but not her own version: the button is disabled, with the reason.
        go_to(page, url, "Publish", "Sign-off and publish")
        expect(page.get_by_role("button", name="Approve", exact=True)).to_be_disabled()
        lock_note(page, "may not approve it too (four eyes)")
        expect(page.get_by_test_id("stMain")).to_contain_text("bob@example.com")
        expect(page.get_by_role("textbox", name="Your name (unverified)")).to_have_count(0)  # no typed names
        sign_out(page, url)
        expect(page.get_by_role("button", name=re.compile("Sign in"))).to_be_visible(timeout=LONG)

        # Carol, whom the policy does not name, sees every page with every action disabled and a reason.
        sign_in(page, url, "carol")
        expect(page.get_by_test_id("stSidebar")).to_contain_text("viewer only", timeout=LONG)
        for title, heading in (("Data", "Data"), ("Projection", "Projection"), ("Compare", "Compare")):
            go_to(page, url, title, heading)
        go_to(page, url, "Train")
        expect(page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Train")).to_be_disabled()
        lock_note(page, "carol@example.com may not train or tune a version")
        go_to(page, url, "Neighbors")
        expect(page.get_by_role("button", name="Good", exact=True)).to_be_disabled()
        expect(page.get_by_role("button", name="Bad", exact=True)).to_be_disabled()
        lock_note(page, "carol@example.com may not mark golden pairs")
        go_to(page, url, "Publish", "Sign-off and publish")
        expect(page.get_by_role("button", name="Approve", exact=True)).to_be_disabled()
        expect(page.get_by_role("button", name=f"Publish {VERSION}")).to_be_disabled()
        lock_note(page, "carol@example.com may not approve a version")
        sign_out(page, url)

        # Bob approves (acknowledging the checks that could not judge) and publishes.
        sign_in(page, url, "bob")
        go_to(page, url, "Publish", "Sign-off and publish")
        boxes = page.get_by_test_id("stCheckbox").filter(has_text="I acknowledge")
        expect(boxes.first).to_be_visible()
        for i in range(boxes.count()):
            boxes.nth(i).locator("label").click()
            settle(page)
            expect(boxes.nth(i).locator("input")).to_be_checked()
        override = page.get_by_test_id("stCheckbox").filter(has_text="Override the failed checks")
        if override.count() and override.locator("input").is_enabled():
            override.locator("label").click()
            settle(page)
        page.get_by_test_id("stButton").get_by_role("button", name="Approve", exact=True).click()
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Approved {VERSION}", timeout=LONG)
        settle(page)
        page.get_by_test_id("stButton").get_by_role("button", name=f"Publish {VERSION}").click()
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Published {VERSION}", timeout=LONG)
        no_exception(page)
        sign_out(page, url)
    finally:
        page.close()

    log = read_audit_log(Store(store))
    signed = [(e["action"], e["by"], e["actor"]["verified"], e["actor"]["via"], e["actor"]["issuer"])
              for e in log if e["action"] in ("approve", "publish")]
    assert signed == [("approve", "bob@example.com", True, "app sign-in", issuer),
                      ("publish", "bob@example.com", True, "app sign-in", issuer)]
    report = verify_store(Store(store))
    assert report["ok"], report["problems"] + report["unjudged"]
