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
