"""Store-level settings: the interaction verb ("People who viewed this also viewed"), its default from the
training data, atomic writes and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from behemb_core.errors import ConfigError
from behemb_core.store import Store, interaction_verb, read_settings, write_settings
from behemb_core.store.settings import SETTINGS_FILE, verb_from_source


def manifest_with(source: dict) -> dict:
    return {"method": "ppmi_svd", "dataset": {"source": source}}


@pytest.mark.parametrize(
    ("source", "verb"),
    [
        ({"kind": "event_log", "filters": {"keep_event_types": ["view"]}, "columns": {"event_type": "event"}},
         "viewed"),
        ({"kind": "event_log", "filters": {"keep_event_types": ["transaction"]}, "columns": {"event_type": "event"}},
         "bought"),
        ({"kind": "event_log", "columns": {"event_type": "listen_type"}}, "played"),
        ({"kind": "event_log", "columns": {"item": "movieId", "weight": "rating"}}, "played"),
        ({"kind": "event_log", "columns": {"item": "StockCode", "session": "InvoiceNo"}}, "bought"),
        ({"kind": "baskets"}, "bought"),
        ({"kind": "sessions_jsonl"}, "bought"),  # nothing recognised
        ({}, "bought"),
        (None, "bought"),
    ],
)
def test_default_verb_follows_the_training_data(source, verb) -> None:
    assert verb_from_source(source) == verb


def test_default_comes_from_the_manifest_and_the_setting_wins(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    viewed = manifest_with({"kind": "event_log", "filters": {"keep_event_types": ["pageview", "click"]}})
    assert read_settings(store).interaction is None
    assert interaction_verb(store, viewed) == "viewed"
    assert interaction_verb(store, {"method": "fusion"}) == "bought"  # a version without training data
    assert write_settings(store, interaction="played").interaction == "played"
    assert interaction_verb(store, viewed) == "played"
    write_settings(store, interaction=None)  # back to automatic
    assert interaction_verb(store, viewed) == "viewed"


def test_the_bundled_demo_says_bought(tmp_path: Path) -> None:
    from behemb_core.demo import load_demo_dataset

    assert verb_from_source(load_demo_dataset().source) == "bought"


def test_write_is_atomic_in_the_store_root_and_leaves_no_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_settings(Store(root), interaction="viewed")
    assert json.loads((root / SETTINGS_FILE).read_text()) == {"interaction": "viewed"}
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]
    assert not (root / "versions").exists()  # never inside a version folder


def test_invalid_values_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with pytest.raises(ConfigError, match=r"'interaction'.*'clicked'.*viewed, bought, played"):
        write_settings(store, interaction="clicked")
    assert not (tmp_path / "store" / SETTINGS_FILE).exists()  # nothing written
    with pytest.raises(ConfigError, match="colour"):
        write_settings(store, colour="red")
    (tmp_path / "store").mkdir(exist_ok=True)
    (tmp_path / "store" / SETTINGS_FILE).write_text('{"interaction": "liked"}')
    with pytest.raises(ConfigError, match=r"settings\.json.*'interaction'.*'liked'"):
        read_settings(store)


def test_wording_matches_whole_words_not_substrings():
    from behemb_core.store.settings import verb_from_source

    assert verb_from_source({"filters": {"keep_event_types": ["review"]}}) == "bought"  # not "viewed"
    assert verb_from_source({"columns": {"event_type": "display_kind"}}) == "bought"  # not "played"
    assert verb_from_source({"filters": {"keep_event_types": ["page_views"]}}) == "viewed"
    assert verb_from_source({"columns": {"session": "InvoiceNo"}}) == "bought"
