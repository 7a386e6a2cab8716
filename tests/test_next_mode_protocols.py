"""The next-mode protocol benchmark's arithmetic and report: ratios of the means over split seeds, the per-seed
range of each ratio (a seed whose baseline scored nothing has no ratio), the Markdown it writes, and the README
carrying the measured tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.next_mode_protocols import markdown, summarize_seeds

REPO = Path(__file__).resolve().parents[1]


def test_ratios_are_of_the_means_and_the_range_is_per_seed() -> None:
    runs = [{"split_seed": 0, "symmetric": 0.10, "next": 0.11, "sequential_rules": 0.12},
            {"split_seed": 1, "symmetric": 0.20, "next": 0.18, "sequential_rules": 0.0}]
    s = summarize_seeds(runs)
    assert s["seeds"] == [0, 1]
    assert s["symmetric"] == pytest.approx(0.15) and s["next"] == pytest.approx(0.145)
    assert s["next_over_symmetric"] == pytest.approx(0.145 / 0.15)  # not the mean of the per-seed ratios
    assert s["next_over_symmetric_range"] == pytest.approx([0.9, 1.1])
    assert s["next_over_sequential_rules"] == pytest.approx(0.145 / 0.06)
    assert s["next_over_sequential_rules_range"] == pytest.approx([0.11 / 0.12, 0.11 / 0.12])  # seed 1: no ratio
    with pytest.raises(ValueError, match="no runs"):
        summarize_seeds([])


def test_the_report_shows_both_protocols_and_a_dash_for_a_ratio_it_could_not_form() -> None:
    runs = [{"split_seed": 0, "symmetric": 0.10, "next": 0.11, "sequential_rules": 0.12}]
    tuned: dict[str, object] = {
        serves: {"config": {"window": 10, "weighting": "harmonic", "gamma": 0.1, "tau": 0.1, "alpha": a},
                 "symmetric": 0.06, "next": n, "sequential_rules": 0.0, "seconds": 50.0}
        for serves, a, n in (("also", 0.25, 0.064), ("next", 0.5, 0.063))}
    tuned.update(next_over_symmetric=0.063 / 0.06, next_over_sequential_rules=None)
    text = markdown({"command": "python -m benchmarks.next_mode_protocols", "git": {"commit": "abc"},
                     "started_at": "now", "text": "protocol",
                     "datasets": {"ml": {"title": "MovieLens-small", "random": {"runs": runs, **summarize_seeds(runs)},
                                         "tuned": tuned}}})
    assert "| MovieLens-small | 1 | 0.1000 | 0.1100 | 0.1200 | 1.100× (1.100–1.100) | 0.917× (0.917–0.917) |" in text
    assert "| MovieLens-small | next | 10, harmonic, 0.1, 0.1, 0.5 | 0.0600 | 0.0630 | 0.0000 | 50 |" in text
    assert "tuned next ÷ tuned symmetric 1.050×, ÷ sequential rules —" in text


def test_the_readme_carries_the_measured_tables_row_for_row() -> None:
    """Every table row the benchmark's record renders is in the README, so a re-run that is not carried over
    fails here; and the record measured what the README says it did (eight seeds, both datasets, both tunings)."""
    results = json.loads((REPO / "benchmarks" / "results" / "next-mode-protocols.json").read_text())
    readme = (REPO / "README.md").read_text()
    rows = [line for line in markdown(results).splitlines() if line.startswith("| ")]
    assert len(rows) == 2 * (1 + len(results["datasets"])) + len(results["datasets"])  # headers + data rows
    missing = [row for row in rows if row not in readme]
    assert not missing, missing
    assert set(results["datasets"]) == {"online-retail", "movielens-small"}
    for block in results["datasets"].values():
        assert block["random"]["seeds"] == list(range(8))
        assert {"also", "next"} <= set(block["tuned"])
