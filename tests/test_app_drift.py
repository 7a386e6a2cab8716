"""AppTest of the Publish page's drift section: the published version checked on the dataset in use, the report
shown (verdict, rules, figures) and kept in the store when someone is named — shown but not kept otherwise — and
the candidate's summary showing the published version's latest drift report as the reason to retrain."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from conftest import shown_tables, store_copy
from streamlit.testing.v1 import AppTest

from behemb_core.demo import load_demo_dataset
from behemb_core.drift import drift_reports
from behemb_core.store import Store, publish
from behemb_core.store.lifecycle import record_approval
from behemb_core.train import train_version

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PUBLISH = "pages/6_Publish.py"


@pytest.fixture(scope="module")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift-app") / "store"
    store = Store(str(path))
    dataset = load_demo_dataset()
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=0, evaluate=True, name="live")
    record_approval(store, "live", by="carol", checks=[])
    publish(store, "live", by="dave")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=1, name="next")
    return path


@pytest.fixture
def store_dir(template_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return store_copy(template_store, tmp_path, monkeypatch)


def open_publish(store: Path, name: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["store_path"] = str(store)
    if name is not None:
        at.session_state["actor_name"] = name
    at.run()
    at.switch_page(PUBLISH).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]).replace("\\", "")


def test_drift_is_checked_shown_and_kept(store_dir: Path) -> None:
    at = open_publish(store_dir, None)
    assert "No drift report of live yet." in texts(at)
    assert "not kept: enter your name in the sidebar" in texts(at)
    at.button(key="pub_drift_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = texts(at)
    assert "live" in shown and "not kept in the store" in shown
    assert drift_reports(Store(str(store_dir)), "live") == []  # nobody named: shown, not kept
    tables = shown_tables(at)
    rules = next(t for t in tables if "rule" in t.columns)
    assert set(rules["rule"]) == {"missing_events", "hr_vs_stored", "hr_vs_item_knn", "neighbor_support"}
    figures = next(t for t in tables if "figure" in t.columns)
    assert set(figures["part"]) == {"coverage", "decay", "neighbor support", "popularity"}

    at = open_publish(store_dir, "Ada")
    at.button(key="pub_drift_run").click().run()
    assert not at.exception and not at.error
    kept = drift_reports(Store(str(store_dir)), "live")
    assert len(kept) == 1 and kept[0]["by"]
    assert f"kept by {kept[0]['by']}" in texts(at)
    # the demo is live's own training data: its verdict is shown with its reason, whatever it is
    assert kept[0]["verdict"] in ("fresh", "aging", "stale", "could not judge") and kept[0]["reason"] in texts(at)

    at.selectbox(key="pub_version").select("next").run()  # the candidate's summary shows why it was trained
    assert not at.exception
    assert "**Why retrain** — drift of live" in texts(at)


def test_figures_show_coverage_when_decay_could_not_be_judged() -> None:
    """A report whose decay could not be judged (too few pairs) still shows the coverage it measured, and no
    empty decay rows."""
    from app_support.drift_view import figures_table

    report = {"coverage": {"missing_events_share": 0.12, "missing_sessions_share": 0.3, "missing_items_share": 0.05},
              "decay": None, "neighbor_support": None, "popularity": None}
    table = figures_table(report)
    assert table["part"].tolist() == ["coverage"] * 3
    assert table["value"].tolist() == [0.12, 0.3, 0.05]
