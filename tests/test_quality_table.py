"""The README's "Quality on real data" table says what benchmarks/results/quality.json says, figure by figure.

Nothing is trained here: the table is parsed and every number is compared with the file, rounded as the README
shows it, so a re-run of ``python -m benchmarks.quality`` that is not carried into the README fails this test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.quality import BASELINES, LABELS, METHODS, METRICS, readme_table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "quality.json"
SECTION = "## Quality on real data"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


@pytest.fixture(scope="module")
def table() -> list[list[str]]:
    """The section's table as rows of cells (header first, the |---| line dropped)."""
    text = (REPO / "README.md").read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    assert lines, "no table in the section"
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return [r for r in rows if not all(re.fullmatch(r":?-+:?", c) for c in r)]


def _check(cell: str, value: float | None, what: str) -> None:
    """``cell`` is ``value`` rounded to the decimals the cell shows (``—`` for a missing value)."""
    if value is None:
        assert cell == "—", f"{what}: README shows {cell!r}, quality.json has no value"
        return
    number = cell.removesuffix("×")
    assert re.fullmatch(r"\d+\.\d+", number), f"{what}: {cell!r} is not a number"
    digits = len(number.split(".")[1])
    assert number == f"{value:.{digits}f}", f"{what}: README {cell!r}, quality.json {value!r}"


def test_readme_table_matches_quality_json(table, results):
    header, body = table[0], table[1:]
    datasets = {d["title"]: d for d in results["datasets"].values()}
    # Header: model, then (<dataset> HR@10, NDCG@10, HR ÷ item-kNN) per dataset.
    hr, ndcg = METRICS
    titles = [h.removesuffix(f" {hr.upper()}") for h in header[1::3]]
    assert sorted(titles) == sorted(datasets), (titles, list(datasets))
    assert header[2::3] == [ndcg.upper()] * len(titles) and header[3::3] == ["HR ÷ item-kNN"] * len(titles)
    by_label = {label: key for key, label in LABELS.items()}
    seen = set()
    for row in body:
        key = by_label[row[0]]
        seen.add(key)
        for i, title in enumerate(titles):
            ds = datasets[title]
            block = ds["methods"].get(key) or ds["baselines"].get(key)
            cells = row[1 + 3 * i: 4 + 3 * i]
            if block is None:
                assert cells == ["—"] * 3, f"{row[0]} on {title}: no figures in quality.json"
                continue
            _check(cells[0], block[hr], f"{row[0]} {hr} on {title}")
            _check(cells[1], block[ndcg], f"{row[0]} {ndcg} on {title}")
            _check(cells[2], block["ratio_to_item_knn"][hr], f"{row[0]} HR ratio to item-kNN on {title}")
    # Every method and reference measured is in the README.
    measured = {k for d in datasets.values() for k in (*d["methods"], *d["baselines"])}
    assert measured <= seen, measured - seen


def test_quality_json_is_complete(results):
    """The committed run covers every behavior method at its defaults and the three references, per dataset."""
    assert set(results["datasets"]) == {"online-retail", "movielens-small"}
    for ds in results["datasets"].values():
        assert set(ds["methods"]) == set(METHODS) and set(ds["baselines"]) == set(BASELINES)
        assert ds["pairs"] > 0 and ds["sessions"] > ds["test_sessions"] > 0 and ds["items"] > 0
        knn = ds["baselines"]["item_knn"]
        assert knn["ratio_to_item_knn"][METRICS[0]] == pytest.approx(1.0)
        for block in (*ds["methods"].values(), *ds["baselines"].values()):
            for m in METRICS:
                lo, hi = block["ci95"][m]
                assert lo <= block[m] <= hi
        assert all(block["train_seconds"] > 0 for block in ds["methods"].values())
    assert results["command"].startswith("python -m benchmarks.quality")
    assert results["machine"]["versions"]["numpy"]


def test_readme_table_is_what_the_script_prints(results):
    """``python -m benchmarks.quality --readme`` regenerates exactly the README's table."""
    text = (REPO / "README.md").read_text()
    assert readme_table(results) in text
