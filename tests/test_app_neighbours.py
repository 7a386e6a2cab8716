"""AppTest: the Neighbours page on a version trained on the demo (by the library, into a temporary store)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from behemb_core.demo import load_demo_dataset  # noqa: E402
from behemb_core.store import Store  # noqa: E402
from behemb_core.train import train_version  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb") / "store"
    train_version(Store(path), "ppmi_svd", {"dim": 32}, dataset=load_demo_dataset(), seed=0, name="demo-ppmi")
    return path


def open_neighbours(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("BEHEMB_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["store_path"] = str(store)
    at.run()
    at.switch_page("pages/3_Neighbours.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_neighbours_of_white_hanging_heart_with_names(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbours(demo_store, monkeypatch)
    assert at.selectbox(key="nb_version").value == "demo-ppmi"
    at.text_input(key="nb_filter").set_value("white hanging heart").run()
    assert at.selectbox(key="nb_item").value == "85123A"  # the search matches names, best seller first
    at.text_input(key="nb_filter").set_value("85123A").run()
    assert at.selectbox(key="nb_item").value == "85123A"
    assert not at.error

    assert any("WHITE HANGING HEART T" in s.value for s in at.subheader)
    table = at.dataframe[0].value
    assert list(table.columns) == ["rank", "item_id", "name", "similarity", "popularity"]
    assert table["rank"].tolist() == list(range(1, 11))
    assert "85123A" not in table["item_id"].tolist()
    assert (table["name"].str.len() > 0).all()
    assert table["similarity"].is_monotonic_decreasing
    assert (table["popularity"] > 0).all()
    # The readable list names the same items.
    listing = next(m.value for m in at.markdown if m.value.startswith("1. "))
    assert listing.count("\n") == 9

    csv = at.get("download_button")[0]
    assert csv.proto.label == "Download CSV"


def test_neighbours_k_and_evidence(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbours(demo_store, monkeypatch)
    at.text_input(key="nb_filter").set_value("85123A").run()
    at.number_input(key="nb_k").set_value(5).run()
    assert len(at.dataframe[0].value) == 5
    at.toggle(key="nb_explain").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    evidence = at.dataframe[1].value
    assert len(evidence) == 5
    assert {"co-occurrences", "sessions together", "PPMI", "direct support"} <= set(evidence.columns)
    assert evidence["sessions together"].sum() > 0
    assert any("example sessions" in e.label for e in at.expander)


def test_neighbours_page_with_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbours(tmp_path / "empty", monkeypatch)
    assert any("no versions" in i.value for i in at.info)


def test_csv_of_the_table_round_trips(demo_store: Path) -> None:
    # The page exports table.to_csv(); ids such as 85123A stay strings when read back.
    from app_support.views import neighbour_table

    cat = pd.DataFrame({"item_id": ["A1", "B2"], "name": ["x", "y"], "events": [3, 4]})
    table = neighbour_table([{"rank": 1, "item_id": "B2", "name": "y", "score": 0.5}], cat)
    back = pd.read_csv(io.StringIO(table.to_csv(index=False)), dtype={"item_id": str})
    assert back.to_dict("records") == [{"rank": 1, "item_id": "B2", "name": "y", "similarity": 0.5, "popularity": 4}]
