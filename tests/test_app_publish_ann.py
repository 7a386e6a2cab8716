"""The Publish page's "ANN index" section (issue 23), through Streamlit's AppTest: the button builds, measures and
registers the index and the page shows its recall; the checklist's "served neighbors match" goes from could not
judge to pass; an index already kept is shown from its record without building; bad parameters are refused
inline; a viewer under a policy sees the button disabled with the policy's reason and cannot build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
pytest.importorskip("faiss")
from conftest import REPO, shown_tables, write_sessions_jsonl
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError
from test_app_access import AUTH, POLICY, claims

import app_support.ann_view as ann_view
from behemb_core.ann.served import build_version_index
from behemb_core.errors import PermissionDenied
from behemb_core.identity import Actor
from behemb_core.ingest import read_session_jsonl
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.store import Store, set_policy
from behemb_core.train import train_version

PUBLISH = "pages/6_Publish.py"
SERVED = "served neighbors match"
BUILD = "pub_ann_build"


@pytest.fixture(scope="module")
def template(planted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app-ann")
    s = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 1500)
    dataset = read_session_jsonl(write_sessions_jsonl(root / "sessions.jsonl", s))
    train_version(Store(root / "store"), "ppmi_svd", {"dim": 8}, dataset=dataset, name="v1", by="Tom")
    return root / "store"


@pytest.fixture
def store_dir(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store"
    shutil.copytree(template, path)
    return path


def open_publish(store: Path, user: dict | None = None, version: str = "v1") -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    at.session_state["store_path"] = str(store)
    at.run()
    at.switch_page(PUBLISH).run()
    if user is None:
        at.session_state["actor_name"] = "Ada"
    at.selectbox(key="pub_version").set_value(version).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def served_row(at: AppTest) -> dict:
    rows = [r for t in shown_tables(at) if "check" in t.columns for r in t.to_dict("records") if r["check"] == SERVED]
    assert len(rows) == 1, [t.columns for t in shown_tables(at)]
    return rows[0]


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [i.value for i in at.info] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts).replace("\\", "")


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert len(found) == 1, [m.label for m in at.metric]
    return str(found[0])


def test_the_button_builds_registers_shows_recall_and_the_check_passes(store_dir: Path) -> None:
    at = open_publish(store_dir)
    before = served_row(at)
    assert before["state"] == "warning" and "no ANN index was built for v1" in before["detail"], before
    assert "No ANN index has been built from v1" in text(at)
    assert not at.button(key=BUILD).disabled

    at.button(key=BUILD).click().run()
    ok(at)
    record = json.loads((store_dir / "indexes" / "main.json").read_text())
    assert record["version"] == "v1" and record["by"] == "Ada" and record["index_file"].startswith("ann/v1/")
    m = record["measurement"]
    assert metric(at, f"Recall@{m['k']}") == f"{m['recall']:.3f}"
    for band in ("head", "torso", "tail"):
        assert metric(at, f"{band.title()} items") == f"{m['bands'][band]['recall']:.3f}"
    shown = text(at)
    said = f"Built and registered the ANN index main of v1 by Ada (unverified): recall@{m['k']} {m['recall']:.3f}"
    assert said in shown
    assert "Index **main** is registered for v1" in shown and record["index_sha256"][:12] in shown
    assert f"the smallest ef reaching recall 0.95: **{m['ef_for_target']}**" in shown
    after = served_row(at)
    assert after["state"] == "pass" and "index 'main'" in after["detail"], after
    assert f"at ef {m['ef_search']}" in after["detail"]


def test_a_kept_index_is_shown_from_its_record_without_building(store_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    record = build_version_index(str(store_dir), "v1", by="Ada")  # kept with the version, not registered

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the page built an index on a page run")

    monkeypatch.setattr(ann_view, "build_version_index", refuse)
    at = open_publish(store_dir)
    assert metric(at, "Recall@10") == f"{record['measurement']['recall']:.3f}"
    assert "kept with the version" in text(at) and "not registered" in text(at)
    assert served_row(at)["state"] == "pass"
    assert not (store_dir / "indexes").exists() or not list((store_dir / "indexes").iterdir())


def test_parameters_are_validated_inline_and_the_button_waits(store_dir: Path) -> None:
    at = open_publish(store_dir)
    at.number_input(key="pub_ann_m").set_value(64).run()
    at.number_input(key="pub_ann_ef_construction").set_value(32).run()
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("ef_construction (32) must be at least m (64)" in e for e in errors), errors
    assert at.button(key=BUILD).disabled
    at.number_input(key="pub_ann_ef_construction").set_value(128).run()
    ok(at)
    assert not at.button(key=BUILD).disabled
    at.text_input(key="pub_ann_name").set_value("../up").run()
    assert any("index name '../up'" in e.value.replace("\\", "") for e in at.error) and at.button(key=BUILD).disabled


def test_a_viewer_sees_the_button_disabled_with_the_reason_and_cannot_build(store_dir: Path) -> None:
    set_policy(Store(store_dir), POLICY, by="bootstrap")
    at = open_publish(store_dir, claims("carol"))
    assert at.button(key=BUILD).disabled
    assert "carol@example.com may not register an ANN index: that needs the publisher role" in text(at)
    assert "dave@example.com" in text(at)
    with pytest.raises(AppTestError):  # a browser cannot press it
        at.button(key=BUILD).click()
    carol = Actor.from_claims(claims("carol"), via="app sign-in")
    with pytest.raises(PermissionDenied, match="may not register an ANN index"):  # nor can the library be made to
        build_version_index(Store(store_dir), "v1", by=carol, register_as="main")
    assert not (store_dir / "ann").exists() and not (store_dir / "indexes").exists()


def test_a_publisher_under_the_policy_builds_as_the_signed_in_identity(store_dir: Path) -> None:
    set_policy(Store(store_dir), POLICY, by="bootstrap")
    at = open_publish(store_dir, claims("dave"))
    assert not at.button(key=BUILD).disabled
    at.text_input(key="pub_ann_name").set_value("serving").run()
    at.button(key=BUILD).click().run()
    ok(at)
    record = json.loads((store_dir / "indexes" / "serving.json").read_text())
    assert record["by"] == "dave@example.com" and record["actor"]["verified"] is True
    assert Actor.from_claims(claims("dave"), via="app sign-in").id == record["by"]


@pytest.fixture(scope="module")
def next_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template plus ``nx``: the default method with the "next item" tables, serving that ranking."""
    path = tmp_path_factory.mktemp("app-ann-next") / "store"
    shutil.copytree(template, path)
    dataset = read_session_jsonl(template.parent / "sessions.jsonl")  # the sessions v1 was trained on
    train_version(Store(path), DEFAULT_METHOD, {"dim": 8, "epochs": 3, "directional": True, "serves": "next"},
                  dataset=dataset, name="nx", by="Tom")
    return path


def test_a_version_serving_next_items_builds_and_judges_its_next_index(next_template: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    shutil.copytree(next_template, store_dir)
    build_version_index(str(store_dir), "nx", mode="also")  # an index of the other mode: not what nx serves
    at = open_publish(store_dir, version="nx")
    shown = text(at)
    assert "Mode: **next item**" in shown and "candidate vectors (K)" in shown
    assert "No ANN index has been built from nx yet for the mode it serves" in shown
    before = served_row(at)
    assert before["state"] == "warning" and "'also' mode" in before["detail"], before

    at.button(key=BUILD).click().run()
    ok(at)
    record = json.loads((store_dir / "indexes" / "main-next.json").read_text())
    assert record["version"] == "nx" and record["mode"] == "next" and record["build"].startswith("next-")
    m = record["measurement"]
    assert metric(at, f"Recall@{m['k']}") == f"{m['recall']:.3f}"
    assert (f"Built and registered the “next item” ANN index main-next of nx by Ada (unverified): "
            f"recall@{m['k']}") in text(at)
    after = served_row(at)
    assert after["state"] == "pass" and "of the 'next item' ranking (Q·K)" in after["detail"], after


def test_the_other_ranking_of_a_version_with_the_tables_gets_its_own_index_and_is_not_judged(
        next_template: Path, tmp_path: Path) -> None:
    """A version serving "next item" can also get an "also viewed" index (another placement): the page offers both,
    the served one first; the other one's build registers under its own default name, and the checklist still
    judges only the served ranking's index."""
    store_dir = tmp_path / "store"
    shutil.copytree(next_template, store_dir)
    at = open_publish(store_dir, version="nx")
    radio = at.radio(key="pub_ann_mode_nx")
    assert list(radio.options) == ["Next item", "Also viewed"] and radio.value == "next"
    radio.set_value("also").run()
    ok(at)
    shown = text(at)
    assert "Mode: **also viewed**" in shown and "this index is for another placement" in shown
    assert "No ANN index has been built from nx yet for the also viewed ranking" in shown
    assert at.text_input(key="pub_ann_name").value == "main"

    at.button(key=BUILD).click().run()
    ok(at)
    record = json.loads((store_dir / "indexes" / "main.json").read_text())
    assert record["version"] == "nx" and record.get("mode", "also") == "also"
    assert not (store_dir / "indexes" / "main-next.json").exists()
    assert "Built and registered the ANN index main of nx" in text(at)
    judged = served_row(at)  # the version serves "next": an "also" index does not make the check pass
    assert judged["state"] == "warning" and "'also' mode" in judged["detail"], judged

    at.radio(key="pub_ann_mode_nx").set_value("next").run()
    ok(at)
    assert "No ANN index has been built from nx yet for the mode it serves" in text(at)
    assert at.text_input(key="pub_ann_name_next").value == "main-next"


def test_a_version_without_the_tables_offers_no_choice_of_ranking(store_dir: Path) -> None:
    at = open_publish(store_dir)
    assert not [r for r in at.radio if str(r.key).startswith("pub_ann_mode")]
    assert "Mode: **also viewed**" in text(at) and "another placement" not in text(at)
