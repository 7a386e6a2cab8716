"""Small render helpers of the app: what a person reads."""

from __future__ import annotations

from types import SimpleNamespace

from app_support.views import audit_table, human_time, versions_table


def test_timestamps_are_shown_to_the_second_in_utc():
    assert human_time("2026-11-30T07:06:25.871664+00:00") == "2026-11-30 07:06:25 UTC"
    assert human_time("2026-11-30T08:06:25.5+01:00") == "2026-11-30 07:06:25 UTC"
    assert human_time("2026-11-30T07:06:25") == "2026-11-30 07:06:25 UTC"
    assert human_time("") == "" and human_time(None) == ""
    assert human_time("not a time") == "not a time"


def test_tables_use_readable_times():
    info = SimpleNamespace(name="v1", status="draft", method="ppmi_svd", n_items=3, dim=8,
                           created_at="2026-11-30T07:06:25.871664+00:00")
    assert versions_table([info])["created"].tolist() == ["2026-11-30 07:06:25 UTC"]
    log = audit_table([{"seq": 1, "at": "2026-11-30T07:06:25.1+00:00", "action": "approve", "version": "v1"}])
    assert log["at"].tolist() == ["2026-11-30 07:06:25 UTC"]


def test_static_table_cells_are_text_for_people():
    import numpy as np

    from app_support.widgets import display_cell

    assert display_cell(None) == "—" and display_cell(float("nan")) == "—"
    assert display_cell(True) == "yes" and display_cell(np.bool_(False)) == ""
    assert display_cell(np.int64(7)) == "7" and display_cell(0.3333333333333333) == "0.333"
    assert display_cell(2.0, decimals=0) == "2"  # a rank that went through a float column
    assert display_cell(0.5, decimals=2) == "0.50"
    # st.table renders markdown: an item name can never become a link, emphasis or a badge
    assert display_cell("[click](http://x) *bold* :red[x]") == r"\[click\]\(http\://x\) \*bold\* \:red\[x\]"


def test_popularity_diagnostics_read_as_words_with_the_metric_name_in_the_explanation():
    from app_support.views import diagnostics_table

    report = {"verdict": "warning", "metrics": {"k_occurrence_gini": 0.61, "hub_share": 0.03, "coverage": 0.5},
              "tripped": [{"rule": "hubs"}, {"rule": "coverage"}]}
    table = diagnostics_table({"metric": report}).set_index("metric")  # a version called "metric" keeps its column
    assert list(table.columns) == ["what it measures", "metric (version)"]
    assert table.loc["rules over their limit", "metric (version)"] == "share of hub items, items in some list"
    assert table.loc["unevenness of neighbor slots", "metric (version)"] == "0.610"
    assert "(k_occurrence_gini)" in table.loc["unevenness of neighbor slots", "what it measures"]
    assert table.loc["popular items' slots vs their count", "metric (version)"] == "—"  # not in the report
    assert not any("_" in label for label in table.index)
