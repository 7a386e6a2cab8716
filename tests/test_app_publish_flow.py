"""AppTest tests of the Publish page's sign-off path (issue 22, section 1): the rollback the page preselects is
the library's default after any history, an approved version says who approved it and when and offers publishing,
the note box is emptied after an approval, and the checklist shown is the one of the store after an action.

Three ppmi_svd versions of the bundled demo (``cs_v1``, ``demo_ppmi``, ``dig_cs``) are trained once per module,
approved with the library (so the page only publishes and rolls back), and copied into every test's own store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from conftest import store_copy
from streamlit.testing.v1 import AppTest
from test_app_access import AUTH, claims

from behemb_core.demo import load_demo_dataset
from behemb_core.identity import Actor
from behemb_core.store import Store, approvals, published_version, read_audit_log, rollback_target, set_policy
from behemb_core.store.lifecycle import record_approval
from behemb_core.train import train_version

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PUBLISH = "pages/6_Publish.py"
HISTORY = ("cs_v1", "demo_ppmi", "dig_cs")


@pytest.fixture(scope="module")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store"
    store = Store(str(path))
    dataset = load_demo_dataset()
    alice = Actor.from_claims(claims("alice"), via="app sign-in")  # draft_v's trainer, for four eyes
    for seed, name in enumerate((*HISTORY, "draft_v")):
        train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=seed, name=name, by=alice)
    for name in HISTORY:
        record_approval(store, name, by="Carol", checks=[], note=f"{name} looks fine")
    return path


@pytest.fixture
def store_dir(template_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return store_copy(template_store, tmp_path, monkeypatch)


def open_page(store: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["store_path"] = str(store)
    at.run()
    at.switch_page(PUBLISH).run()
    ok(at)
    at.session_state["actor_name"] = "Ada"
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def publish_on_page(at: AppTest, version: str) -> None:
    at.selectbox(key="pub_version").set_value(version).run()
    at.button(key="pub_publish").click().run()
    ok(at)


def roll_back_on_page(at: AppTest) -> str:
    target = at.selectbox(key="pub_rollback_to").value
    at.button(key="pub_rollback").click().run()
    ok(at)
    return str(target)


def approved_lines(at: AppTest) -> list[str]:
    """The page's "… is approved by … on …" sentence(s), as read on screen (markdown escapes removed)."""
    return [m.value.replace("\\", "") for m in at.markdown if "is approved by" in m.value]


def test_rollback_preselects_the_version_published_just_before(store_dir: Path) -> None:
    """cs_v1 → demo_ppmi → rollback to cs_v1 → dig_cs, all on the page: Roll back re-publishes cs_v1 (live just
    before dig_cs), the library's default, never demo_ppmi left over from the earlier choice."""
    store = Store(store_dir)
    at = open_page(store_dir)
    publish_on_page(at, "cs_v1")
    publish_on_page(at, "demo_ppmi")
    assert roll_back_on_page(at) == "cs_v1"
    assert published_version(store) == "cs_v1"
    publish_on_page(at, "dig_cs")
    assert published_version(store) == "dig_cs"

    assert at.selectbox(key="pub_rollback_to").options == ["cs_v1", "demo_ppmi"]
    assert at.selectbox(key="pub_rollback_to").value == rollback_target(store) == "cs_v1"
    assert roll_back_on_page(at) == "cs_v1"
    assert published_version(store) == "cs_v1"
    assert [(e["action"], e["version"]) for e in read_audit_log(store) if e["action"] != "approve"] == [
        ("publish", "cs_v1"), ("publish", "demo_ppmi"), ("rollback", "cs_v1"), ("publish", "dig_cs"),
        ("rollback", "cs_v1")]
    # Afterwards the page still preselects what the library would roll back to.
    assert at.selectbox(key="pub_rollback_to").value == rollback_target(store)


def test_an_approved_version_says_who_approved_it_and_offers_publish(store_dir: Path) -> None:
    at = open_page(store_dir)
    at.selectbox(key="pub_version").set_value("demo_ppmi").run()
    ok(at)
    said = approved_lines(at)
    assert len(said) == 1, said
    when = approvals(Store(store_dir), "demo_ppmi")[-1]["at"][:10]
    assert "Carol" in said[0] and when in said[0] and said[0].endswith("publish it.")
    assert not [b for b in at.button if b.key == "pub_approve"]  # no second approval form
    assert not [t for t in at.text_area if t.key == "pub_note::demo_ppmi"]
    publish_button = at.button(key="pub_publish")
    assert not publish_button.disabled and publish_button.proto.type == "primary"


def test_the_note_box_is_empty_after_an_approval(store_dir: Path) -> None:
    """Under a policy that needs two approvals the form stays offered after the first (as a secondary action):
    its note box is emptied, the note having gone into the approval record."""
    set_policy(Store(store_dir), {"members": {"bob@example.com": ["approver"], "eve@example.com": ["approver"],
                                              "dave@example.com": ["publisher", "admin"]},
                                  "approvals_required": 2}, by="bootstrap")
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = claims("bob")
    at.session_state["store_path"] = str(store_dir)
    at.run()
    at.switch_page(PUBLISH).run()
    at.selectbox(key="pub_version").set_value("draft_v").run()
    ok(at)
    for box in at.checkbox:
        if (box.key or "").startswith("pub_ack::draft_v::"):
            box.check()
    at.text_area(key="pub_note::draft_v").set_value("looked at the golden pairs")
    at.button(key="pub_approve").click().run()
    ok(at)
    assert approvals(Store(store_dir), "draft_v")[-1]["note"] == "looked at the golden pairs"
    assert at.text_area(key="pub_note::draft_v").value == ""
    assert at.session_state["pub_note::draft_v"] == ""
    said = approved_lines(at)
    assert len(said) == 1 and "bob@example.com on" in said[0] and "needs 1 more" in said[0], said
    assert at.button(key="pub_publish").disabled


class BrowserView:
    """What a browser shows while a run is under way, rebuilt from the messages the app sends: an element stays on
    screen until the running script writes at its place (Streamlit keeps the previous run's elements, stale, during
    a rerun), and writing an element or block at a place replaces what was there with everything inside it. A
    transient element (the spinner) is shown next to the element at its place, which it does not replace; an empty
    transient message removes it."""

    def __init__(self) -> None:
        self.deltas: list[tuple[tuple[int, ...], str]] = []

    def record(self, msg) -> None:
        if msg.HasField("delta"):
            self.deltas.append((tuple(msg.metadata.delta_path), str(msg.delta)))

    def texts(self) -> list[str]:
        view: dict[tuple[int, ...], str] = {}
        transient: dict[tuple[int, ...], str] = {}
        for path, delta in self.deltas:
            if delta.startswith("new_transient"):
                transient[path] = delta
                continue
            for shown in (view, transient):
                for old in [p for p in shown if p[: len(path)] == path]:
                    del shown[old]
            view[path] = delta
        return [*view.values(), *transient.values()]


def test_the_old_checklist_is_gone_while_the_new_one_is_checked_after_a_rollback(
        store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 §1: for about 2 s after a rollback the previous checklist stood on the page while the new checks
    ran. A slow check looks at the screen while the new checks run: the old checklist is not on it, the spinner is."""
    import time

    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    from behemb_core import signoff
    from behemb_core.store.checklist import CheckResult

    view = BrowserView()
    enqueue = ForwardMsgQueue.enqueue

    def recording(self, msg) -> None:
        view.record(msg)
        enqueue(self, msg)

    seen: list[tuple[str | None, list[str]]] = []

    def check_slow_marker(ctx) -> CheckResult:
        time.sleep(0.8)  # slow checks (the spinner shows after half a second)
        seen.append((ctx.published, view.texts()))
        live = str(ctx.published).replace("_", "")  # no markdown escape in the way
        return CheckResult("slow marker", True, 1.0, "none", f"checked while published={live}")

    at = open_page(store_dir)
    publish_on_page(at, "cs_v1")
    publish_on_page(at, "demo_ppmi")
    monkeypatch.setattr(signoff, "SIGNOFF_CHECKS", (*signoff.SIGNOFF_CHECKS, check_slow_marker))
    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    at.run()  # a complete run: the screen shows demo_ppmi's checklist with demo_ppmi published
    ok(at)
    assert any("checked while published=demoppmi" in t for t in view.texts())
    seen.clear()

    assert roll_back_on_page(at) == "cs_v1"
    (published, screen), = seen  # the checks of the new state ran once, in the run after the rollback
    assert published == "cs_v1"
    assert not any("checked while published=demoppmi" in t for t in screen)  # the old checklist is gone
    assert any("Running the checks" in t for t in screen)
    assert any("checked while published=csv1" in t for t in view.texts())  # and the new one is shown at the end
