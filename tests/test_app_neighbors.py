"""AppTest: the Neighbors page on a version trained on the demo (by the library, into a temporary store)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from conftest import open_app, shown_tables
from streamlit.testing.v1 import AppTest

from behemb_core.demo import load_demo_dataset
from behemb_core.store import Store
from behemb_core.train import train_version


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb") / "store"
    train_version(Store(path), "ppmi_svd", {"dim": 32}, dataset=load_demo_dataset(), seed=0, name="demo-ppmi")
    return path


def open_neighbors(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(store, "pages/3_Neighbors.py", monkeypatch)


def test_neighbors_of_white_hanging_heart_with_names(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbors(demo_store, monkeypatch)
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

    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:2] == ["Download CSV", "Download Parquet"]


def test_neighbors_k_and_evidence(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbors(demo_store, monkeypatch)
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


def test_neighbors_page_with_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_neighbors(tmp_path / "empty", monkeypatch)
    assert any("no versions" in i.value for i in at.info)


def test_csv_of_the_table_round_trips(demo_store: Path) -> None:
    # The page exports table.to_csv(); ids such as 85123A stay strings when read back.
    from app_support.views import neighbor_table

    cat = pd.DataFrame({"item_id": ["A1", "B2"], "name": ["x", "y"], "events": [3, 4]})
    table = neighbor_table([{"rank": 1, "item_id": "B2", "name": "y", "score": 0.5}], cat)
    back = pd.read_csv(io.StringIO(table.to_csv(index=False)), dtype={"item_id": str})
    assert back.to_dict("records") == [{"rank": 1, "item_id": "B2", "name": "y", "similarity": 0.5, "popularity": 4}]


# ------------------------------------------------------------------------ two versions side by side, golden pairs


def page_tables(at: AppTest) -> list[pd.DataFrame]:
    """The page's static tables (side by side, golden pairs; text as on screen) first, then its st.dataframe
    tables (one version's neighbors, evidence), each group in page order."""
    return [*shown_tables(at), *(d.value for d in at.dataframe)]


def frame_keys(at: AppTest) -> list[str]:
    """Which of the page's tables are shown, in ``page_tables`` order (AppTest does not expose table keys, so
    tables are told apart by their columns; the side-by-side tables are the first two)."""
    out = []
    for t in page_tables(at):
        cols = set(t.columns)
        if "exact rank" in cols:  # the list the ANN index serves (tests/test_app_neighbors_served.py)
            out.append("nb_served")
        elif "served rank" in cols:  # the exact list beside it, with a second version
            out.append("nb_served_exact")
        elif "in both" in cols:
            out.append("nb_side_b" if "nb_side_a" in out else "nb_side_a")
        elif "status" in cols and "overall_rank" in cols:
            out.append("nb_golden_table")
        elif "co-occurrences" in cols:
            out.append("nb_evidence")
        else:
            out.append("nb_table")
    return out


def frame(at: AppTest, key: str) -> pd.DataFrame:
    return page_tables(at)[frame_keys(at).index(key)]


@pytest.fixture
def own_store(demo_store: Path, tmp_path: Path) -> Path:
    """A copy of the demo store (golden marks and extra versions must not leak into the other tests)."""
    import shutil

    path = tmp_path / "store"
    shutil.copytree(demo_store, path)
    return path


def test_two_versions_side_by_side_mark_shared_neighbors(own_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train_version(Store(own_store), "ppmi_svd", {"dim": 16}, dataset=load_demo_dataset(), seed=1, name="demo-16")
    at = open_neighbors(own_store, monkeypatch)
    at.selectbox(key="nb_version").set_value("demo-ppmi").run()
    at.text_input(key="nb_filter").set_value("85123A").run()
    assert frame_keys(at) == ["nb_served", "nb_table"]  # one version: the table as before, the served list beside
    assert at.selectbox(key="nb_version_b").options == ["(none)", "demo-16"]

    at.selectbox(key="nb_version_b").set_value("demo-16").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert frame_keys(at)[:2] == ["nb_side_a", "nb_side_b"]
    a, b = frame(at, "nb_side_a"), frame(at, "nb_side_b")
    for t in (a, b):
        assert list(t.columns) == ["rank", "item_id", "name", "similarity", "popularity", "in both"]
        assert len(t) == 10 and (t["name"].str.len() > 0).all() and "85123A" not in t["item_id"].tolist()
    shared = set(a["item_id"]) & set(b["item_id"])
    assert a["in both"].tolist() == ["yes" if i in shared else "" for i in a["item_id"]]
    assert b["in both"].tolist() == ["yes" if i in shared else "" for i in b["item_id"]]
    assert 0 < len(shared) < 10  # dim 32 vs dim 16: similar, not identical
    assert any(f"{len(shared)} of the top 10 neighbors are in both lists" in c.value for c in at.caption)
    # the readable list still names version A's neighbors
    assert next(m.value for m in at.markdown if m.value.startswith("1. ")).count("\n") == 9


def test_side_by_side_with_a_version_lacking_the_item(own_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    emb = make_embeddings(Vocabulary(["A1", "B2", "C3"]), [[1, 0], [0.8, 0.6], [0, 1]])
    Store(own_store).save_version(emb, manifest={"method": "hand"}, name="tiny")
    at = open_neighbors(own_store, monkeypatch)
    at.selectbox(key="nb_version").set_value("demo-ppmi").run()
    at.text_input(key="nb_filter").set_value("85123A").run()
    at.selectbox(key="nb_version_b").set_value("tiny").run()
    assert not at.exception and not at.error
    assert frame_keys(at)[0] == "nb_side_a" and "nb_side_b" not in frame_keys(at)
    assert any("has no vector for item 85123A" in i.value for i in at.info)
    assert set(frame(at, "nb_side_a")["in both"]) == {""}


def test_mark_neighbors_and_check_the_version(own_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.store import golden_pairs

    at = open_neighbors(own_store, monkeypatch)
    at.text_input(key="nb_filter").set_value("85123A").run()
    assert any("No golden pairs yet" in i.value for i in at.info)
    table = frame(at, "nb_table")
    first, second = table["item_id"].iloc[0], table["item_id"].iloc[1]
    assert at.selectbox(key="nb_golden_neighbor").options[0].startswith(f"1. {first} — ")

    # A mark needs a name.
    at.button(key="nb_mark_good").click().run()
    assert any("Enter your name" in e.value for e in at.error)
    assert golden_pairs(own_store).empty

    at.session_state["actor_name"] = "Ana"
    at.run()
    at.selectbox(key="nb_golden_neighbor").set_value(second).run()
    at.text_input(key="nb_golden_note").set_value("belongs together").run()
    at.button(key="nb_mark_good").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("as a good neighbor of WHITE HANGING HEART" in s.value for s in at.success)
    pairs = golden_pairs(own_store)
    assert pairs[["query_id", "neighbor_id", "label", "by", "note", "version_seen"]].values.tolist() == [
        ["85123A", second, "good", "Ana", "belongs together", "demo-ppmi"]]
    assert any(s.value.startswith("Passed: no good pair lost") for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Good kept"] == "1" and metrics["Good lost"] == "0" and metrics["As marked"] == "100%"
    checked = frame(at, "nb_golden_table")
    assert checked[["query_id", "neighbor_id", "status", "rank"]].values.tolist() == [["85123A", second, "kept", "2"]]
    assert checked.loc[0, "query"] == "WHITE HANGING HEART T-LIGHT HOLDER" and checked.loc[0, "neighbor"]
    assert any("Marked for this item" in c.value for c in at.caption)

    # The best neighbor marked bad: the version now fails the check.
    at.selectbox(key="nb_golden_neighbor").set_value(first).run()
    at.button(key="nb_mark_bad").click().run()
    assert not at.exception
    assert any(e.value.startswith("Failed: 0 good pair(s) lost and 1 bad pair(s) present") for e in at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Bad present"] == "1" and metrics["As marked"] == "50%"
    assert frame(at, "nb_golden_table")["status"].tolist() == ["kept", "present"]

    # Re-marking wins: the first neighbor is good after all; with K = 1 the second one is then lost.
    at.button(key="nb_mark_good").click().run()
    assert len(golden_pairs(own_store)) == 2 and golden_pairs(own_store)["label"].tolist() == ["good", "good"]
    at.number_input(key="nb_golden_k").set_value(1).run()
    assert frame(at, "nb_golden_table")["status"].tolist() == ["lost", "kept"]
    assert {m.label: m.value for m in at.metric}["Good lost"] == "1"


def test_golden_check_of_another_version_reports_missing_items(own_store: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.embeddings import make_embeddings
    from behemb_core.store import mark_pair
    from behemb_core.vocab import Vocabulary

    mark_pair(own_store, "85123A", "21733", label="good", by="Ana")
    emb = make_embeddings(Vocabulary(["85123A", "B2", "C3"]), [[1, 0], [0.8, 0.6], [0, 1]])
    Store(own_store).save_version(emb, manifest={"method": "hand"}, name="tiny")
    at = open_neighbors(own_store, monkeypatch)
    at.selectbox(key="nb_version").set_value("tiny").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Items missing"] == "1"
    assert frame(at, "nb_golden_table")["status"].tolist() == ["missing"]
    # The only pair cannot be judged in this version: a warning in words, never a green "Passed".
    assert not [s for s in at.success if s.value.startswith("Passed")]
    assert any("could not judge: none of the 1 golden pairs has both items" in w.value for w in at.warning)


def test_evidence_for_a_version_of_other_data_says_so_without_zero_counts(
    own_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported bug: a version trained on another dataset got "10 of 10 neighbors never occur with it"."""
    from behemb_core.ingest.dataset import Dataset
    from behemb_core.sessions import SessionOptions
    from behemb_core.synthetic import planted_sessions

    planted = planted_sessions(n_items=60, n_clusters=6, n_sessions=400, seed=3)
    other = Dataset(sessions=planted.sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())
    train_version(Store(own_store), "ppmi_svd", {"dim": 8}, dataset=other, seed=0, name="other-data")
    at = open_neighbors(own_store, monkeypatch)
    at.selectbox(key="nb_version").set_value("other-data").run()
    at.toggle(key="nb_explain").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("not the one this version was trained on" in w.value for w in at.warning), [w.value for w in at.warning]
    assert "nb_evidence" not in frame_keys(at)
    assert not any("never occur with it directly" in c.value for c in at.caption)


def test_an_item_without_a_name_shows_its_id_once(own_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from behemb_core.ingest.dataset import Dataset
    from behemb_core.sessions import SessionOptions
    from behemb_core.synthetic import planted_sessions

    planted = planted_sessions(n_items=60, n_clusters=6, n_sessions=400, seed=3)
    unnamed = Dataset(sessions=planted.sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())
    train_version(Store(own_store), "ppmi_svd", {"dim": 8}, dataset=unnamed, seed=0, name="no-names")
    at = open_neighbors(own_store, monkeypatch)
    at.selectbox(key="nb_version").set_value("no-names").run()
    assert not at.exception
    lines = [ln for m in at.markdown for ln in m.value.splitlines() if "similarity" in ln and re.match(r"\d+\. ", ln)]
    assert lines, [m.value for m in at.markdown]
    for line in lines:
        parts = line.split(". ", 1)[1].split(" · ")
        assert len(parts) == 2 and parts[1].startswith("similarity"), line  # "7 · similarity 0.9", not "7 · 7 · …"
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", " ".join(c.value for c in at.caption))  # no microseconds


def test_wording_follows_the_data_and_the_store_setting(own_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.store import read_settings

    at = open_neighbors(own_store, monkeypatch)
    assert at.selectbox(key="nb_wording").value == "automatic (from the data)"
    assert any(s.value.startswith("People who bought ") and s.value.endswith(" also bought") for s in at.subheader)
    # automatic: the verb is a guess from the data's names, and the page says what it was read from
    assert any("“bought”: guessed from" in c.value or "“bought”: a default guess" in c.value for c in at.caption)
    at.selectbox(key="nb_wording").set_value("viewed").run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("People who viewed ") and s.value.endswith(" also viewed") for s in at.subheader)
    assert not any("guess" in c.value for c in at.caption)  # set for the store: no longer a guess
    assert read_settings(Store(own_store)).interaction == "viewed"  # a setting of the store, not of the session
    fresh = open_neighbors(own_store, monkeypatch)
    assert fresh.selectbox(key="nb_wording").value == "viewed"
    fresh.selectbox(key="nb_wording").set_value("automatic (from the data)").run()
    assert read_settings(Store(own_store)).interaction is None
    assert any(s.value.startswith("People who bought ") for s in fresh.subheader)
