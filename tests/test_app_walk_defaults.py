"""AppTest tests of defaults the browser walk over five public layouts (tests/test_browser_walk_layouts.py, issue 22
"Done when") ran into: what a newcomer finds pre-selected after the step before."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from test_app_publish_flow import (  # noqa: F401 — template_store and store_dir are fixtures
    PUBLISH,
    ok,
    open_page,
    store_dir,
    template_store,
)


def test_publish_offers_the_version_trained_since_the_last_visit(store_dir: Path) -> None:  # noqa: F811
    """Publish cs_v1, train another version (the Train page remembers it), come back: the version offered for
    sign-off is the new one, not cs_v1 — a newcomer would otherwise approve nothing new or sign off the wrong one."""
    at = open_page(store_dir)
    at.selectbox(key="pub_version").set_value("cs_v1").run()
    at.button(key="pub_publish").click().run()
    ok(at)
    assert at.selectbox(key="pub_version").value == "cs_v1"
    at.switch_page("pages/2_Train.py").run()
    at.session_state["last_version"] = "draft_v"  # what the Train page keeps once a training is done
    at.switch_page(PUBLISH).run()
    ok(at)
    assert at.selectbox(key="pub_version").value == "draft_v"
    # A version picked by hand afterwards stays picked across page visits (no new training since).
    at.selectbox(key="pub_version").set_value("dig_cs").run()
    at.switch_page("pages/2_Train.py").run()
    at.switch_page(PUBLISH).run()
    ok(at)
    assert at.selectbox(key="pub_version").value == "dig_cs"


def test_without_a_policy_your_own_approval_counts_for_publishing(tmp_path: Path) -> None:
    """No policy: a self-approval is allowed (README "Four eyes"), and ``publish`` takes it — so it counts. It used
    to count 0 of 1, and the Publish page, which asks ``approval_state``, kept Publish disabled: a newcomer who had
    typed a name before training could never publish their own version."""
    from behemb_core.demo import load_demo_dataset
    from behemb_core.store import Store, approval_state, published_version
    from behemb_core.store.lifecycle import record_approval
    from behemb_core.train import train_version

    store = Store(tmp_path / "store")
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=load_demo_dataset(), seed=0, name="own", by="Ada")
    state = approval_state(store, "own")
    assert (state["count"], state["enough"]) == (0, False)
    record_approval(store, "own", by="Ada", checks=[])
    state = approval_state(store, "own")
    assert (state["count"], state["enough"]) == (1, True), state["sentence"]

    at = open_page(tmp_path / "store")  # typed name "Ada", the trainer
    assert at.selectbox(key="pub_version").value == "own"
    publish_button = at.button(key="pub_publish")
    assert not publish_button.disabled, [c.value for c in at.caption]
    publish_button.click().run()
    ok(at)
    assert published_version(store) == "own"


def test_a_new_upload_does_not_keep_the_item_names_of_the_previous_one(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """MovieLens u.data with u.item as names is read; the page is left and a new file (OTTO) is uploaded: the names
    uploader is empty, so u.item must not be read with it — it used to be (its names controls shown under an empty
    uploader), naming OTTO's items with MovieLens titles."""
    import json

    from conftest import open_app
    from test_app_data import LAYOUTS, _column, _read, _upload

    at = _upload(open_app(tmp_path / "store", "pages/1_Data.py", monkeypatch), "u.data")
    for role, column in (("user", "column_1"), ("item", "column_2"), ("timestamp", "column_4")):
        _column(at, role).set_value(column)
    at.run()
    at.file_uploader(key="data_meta_upload").set_value(("u.item", (LAYOUTS / "u.item").read_bytes(), "text/plain"))
    at.run()
    _read(at)
    assert json.loads(at.session_state["dataset_spec"])["meta_path"].endswith("u.item")
    at.switch_page("pages/2_Train.py").run()
    at.switch_page("pages/1_Data.py").run()
    at.file_uploader(key="data_upload").set_value(("otto.jsonl", (LAYOUTS / "otto.jsonl").read_bytes(),
                                                   "application/json")).run()
    ok(at)
    assert not [s for s in at.selectbox if (s.key or "").startswith("data_meta_")]  # no names file in play
    _read(at)
    spec = json.loads(at.session_state["dataset_spec"])
    assert spec["paths"][0].endswith("otto.jsonl") and spec["meta_path"] is None, spec


def test_a_new_upload_starts_its_column_mapping_from_detection(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """u.data's columns are mapped by hand (user column_1, item column_2, timestamp column_4); then YOOCHOOSE's
    clicks are uploaded, whose columns have the same generic names. Its mapping is detection's (timestamp column_2,
    the ISO times), not u.data's — the kept choice made the category column (all 0) the timestamp."""
    from conftest import open_app
    from test_app_data import LAYOUTS, _column, _upload

    at = _upload(open_app(tmp_path / "store", "pages/1_Data.py", monkeypatch), "u.data")
    for role, column in (("user", "column_1"), ("item", "column_2"), ("timestamp", "column_4")):
        _column(at, role).set_value(column)
    at.run()
    at.switch_page("pages/2_Train.py").run()  # kept across pages (app_support.persist) …
    at.switch_page("pages/1_Data.py").run()
    assert _column(at, "timestamp").value == "column_4"
    at.file_uploader(key="data_upload").set_value(  # … but not for another file
        ("yoochoose-clicks.dat", (LAYOUTS / "yoochoose-clicks.dat").read_bytes(), "text/plain")).run()
    ok(at)
    assert {r: _column(at, r).value for r in ("user", "item", "timestamp")} == {
        "user": "(none)", "item": "(none)", "timestamp": "column_2"}
