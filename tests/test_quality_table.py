"""The README's "Quality on real data" tables say what benchmarks/results/quality.json says, figure by figure.

Nothing is trained here: the table is parsed and every number is compared with the file, rounded as the README
shows it, so a re-run of ``python -m benchmarks.quality`` that is not carried into the README fails this test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.quality import (
    BASELINES,
    DIRECTIONAL_ROWS,
    LABELS,
    METHODS,
    METRICS,
    NEXT_MODE_COLUMNS,
    RANDOM_SPLIT_COLUMNS,
    RANDOM_SPLIT_SEEDS,
    VALIDATED_ROW,
    dataset_names,
    methods_run_on,
    readme_table,
    shuffle_within_sessions,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "quality.json"
SECTION = "## Quality on real data"


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


def _tables() -> list[list[list[str]]]:
    """The section's tables, each as rows of cells (header first, the |---| line dropped)."""
    text = (REPO / "README.md").read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]  # its own text, not subsections
    tables: list[list[list[str]]] = []
    previous_was_row = False
    for line in section.splitlines():
        is_row = line.strip().startswith("|")
        if is_row:
            if not previous_was_row:
                tables.append([])
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                tables[-1].append(cells)
        previous_was_row = is_row
    assert len(tables) == 3, ("the section should hold the quality table, the next-mode table and the random-split "
                              f"table, found {len(tables)}")
    return tables


@pytest.fixture(scope="module")
def table() -> list[list[str]]:
    """The quality table: a row per model, three columns per dataset."""
    return _tables()[0]


@pytest.fixture(scope="module")
def next_table() -> list[list[str]]:
    """The next-mode table: a row per dataset."""
    return _tables()[1]


@pytest.fixture(scope="module")
def random_table() -> list[list[str]]:
    """The random-split table: a row per dataset."""
    return _tables()[2]


def _check(cell: str, value: float | None, what: str) -> None:
    """``cell`` is ``value`` rounded to the decimals the cell shows (``—`` for a missing value)."""
    if value is None:
        assert cell == "—", f"{what}: README shows {cell!r}, quality.json has no value"
        return
    number = cell.removesuffix("×")
    if re.fullmatch(r"\d+", number):  # a whole number shown without decimals (α 1, say)
        assert float(number) == value, f"{what}: README {cell!r}, quality.json {value!r}"
        return
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


def test_readme_next_mode_table_matches_quality_json(next_table, results):
    """The next-mode table: α, next ÷ symmetric, next ÷ sequential rules and the two fits' seconds per dataset."""
    header, body = next_table[0], next_table[1:]
    assert header == ["data", *NEXT_MODE_COLUMNS], header
    datasets = {d["title"]: d for d in results["datasets"].values()}
    assert sorted(row[0] for row in body) == sorted(t for t, d in datasets.items() if "next_mode" in d)
    for row in body:
        nm = datasets[row[0]]["next_mode"]
        for cell, (column, (get, _)) in zip(row[1:], NEXT_MODE_COLUMNS.items(), strict=True):
            _check(cell, get(nm), f"{column} on {row[0]}")
        assert row[header.index("validated α")] != "—", f"{row[0]}: no validated α in the README"


def test_readme_random_split_table_matches_quality_json(random_table, results):
    """The random-split table: split seeds, mean HR@10 of both modes and of sequential rules, and the ratios."""
    header, body = random_table[0], random_table[1:]
    assert header == ["data", *RANDOM_SPLIT_COLUMNS], header
    datasets = {d["title"]: d for d in results["datasets"].values()}
    assert sorted(row[0] for row in body) == sorted(datasets)
    for row in body:
        rs = datasets[row[0]]["random_split"]
        assert row[1] == ", ".join(str(s) for s in rs["seeds"]), row
        for cell, (column, (get, _)) in list(zip(row[1:], RANDOM_SPLIT_COLUMNS.items(), strict=True))[1:]:
            _check(cell, get(rs), f"{column} on {row[0]}")


def _check_random_split(ds: dict, name: str) -> None:
    """The random hold-outs: one run per split seed, each holding out other sessions than the time split, the
    means and ratios computed from the runs."""
    rs = ds["random_split"]
    assert rs["seeds"] == list(RANDOM_SPLIT_SEEDS) == [r["split_seed"] for r in rs["runs"]], name
    assert rs["alpha"] == ds["next_mode"]["alpha"], name
    for key in ("symmetric", "next", "sequential_rules"):
        assert rs[key] == pytest.approx(sum(r[key] for r in rs["runs"]) / len(rs["runs"])), (name, key)
        assert all(0 < r[key] < 1 for r in rs["runs"]), (name, key)
    assert rs["next_over_symmetric"] == pytest.approx(rs["next"] / rs["symmetric"])
    assert rs["next_over_sequential_rules"] == pytest.approx(rs["next"] / rs["sequential_rules"])
    # two seeds draw two hold-outs: their pair counts (or scores) differ
    first, second = rs["runs"][:2]
    assert (first["pairs"], first["symmetric"]) != (second["pairs"], second["symmetric"]), name


def test_quality_json_is_complete(results):
    """The committed run covers every behavior method at its defaults, the default method's directional fit in
    both modes, its next mode at the validated α and the four references on the two real datasets; on the
    order-shuffled copy the default method (both modes, both α) and the references."""
    assert list(results["datasets"]) == dataset_names() == ["online-retail", "movielens-small",
                                                            "online-retail-shuffled"]
    hr = METRICS[0]
    for name, ds in results["datasets"].items():
        expected = set(methods_run_on(name)) | set(DIRECTIONAL_ROWS) | {VALIDATED_ROW}
        assert set(ds["methods"]) == expected and set(ds["baselines"]) == set(BASELINES), name
        assert ds["pairs"] > 0 and ds["sessions"] > ds["test_sessions"] > 0 and ds["items"] > 0
        knn = ds["baselines"]["item_knn"]
        assert knn["ratio_to_item_knn"][hr] == pytest.approx(1.0)
        for block in (*ds["methods"].values(), *ds["baselines"].values()):
            for m in METRICS:
                lo, hi = block["ci95"][m]
                assert lo <= block[m] <= hi
        assert all(block["train_seconds"] > 0 for block in ds["methods"].values())
        # The directional rows: the default method with directional=true, α recorded, ratios from the rows.
        sym, nxt, plain = (ds["methods"][k] for k in (*DIRECTIONAL_ROWS, METHODS[0]))
        assert sym["config"]["directional"] is True and plain["config"]["directional"] is False
        nm = ds["next_mode"]
        assert nm["alpha"] == nxt["alpha"] == sym["config"]["alpha"]
        assert nm["next_over_symmetric"] == pytest.approx(nxt[hr] / plain[hr])
        assert nm["next_over_directional_symmetric"] == pytest.approx(nxt[hr] / sym[hr])
        assert nm["next_over_sequential_rules"] == pytest.approx(nxt[hr] / ds["baselines"]["sequential_rules"][hr])
        assert nm["directional_symmetric_equals_symmetric"] == (sym[hr] == plain[hr])
        fit = nm["fit"]
        for part in ("symmetric_fit", "directional_fit"):
            assert fit[part]["seconds"] > 0 and fit[part]["epochs_run"] >= 1
        assert fit["directional_over_symmetric"] == pytest.approx(
            fit["directional_fit"]["seconds"] / fit["symmetric_fit"]["seconds"])
        assert fit["symmetric_fit"]["seconds"] + fit["directional_fit"]["seconds"] <= sym["train_seconds"]
        _check_validated(ds, name)
        _check_random_split(ds, name)
    # The shuffled copy holds the same sessions, items and events as Online Retail, on the same split.
    real, shuffled = results["datasets"]["online-retail"], results["datasets"]["online-retail-shuffled"]
    for key in ("sessions", "items", "events", "train_sessions", "test_sessions"):
        assert real[key] == shuffled[key], key
    assert results["command"].startswith("python -m benchmarks.quality")
    assert results["machine"]["versions"]["numpy"]


def _check_validated(ds: dict, name: str) -> None:
    """The validated-α row: α chosen by the tuner's next-mode HR@10 on a validation split of the training part
    only, every α of the grid tried, the winner the best validation score, trained with that α."""
    hr, ndcg = METRICS
    va, row, plain = ds["next_mode"]["validated"], ds["methods"][VALIDATED_ROW], ds["methods"][METHODS[0]]
    tuning = va["tuning"]
    assert va["alpha"] == row["alpha"] == row["config"]["alpha"] == tuning["alpha"], name
    assert row["config"]["directional"] is True and tuning["mode"] == "next", name
    # only α differs from the defaults the α .75 run used (serves says which mode the tuner scored)
    default_config = ds["methods"]["directional_next"]["config"]
    assert {k for k in default_config if default_config[k] != row["config"][k]} <= {"alpha", "serves"}, name
    # the tuner never read the evaluation hold-out: it dropped exactly the held-out sessions, and its validation
    # sessions come out of the training part
    assert tuning["evaluation_holdout_sessions"] == ds["test_sessions"], name
    validation = tuning["validation"]
    assert validation["kind"] == "time"
    assert validation["train_sessions"] + validation["sessions"] == ds["train_sessions"], name
    # every α of the grid was fitted and scored; the winner has the best validation HR@10 (ties: NDCG, then the
    # earlier trial — the default α is trial 1)
    fitted = [t for t in tuning["trials"] if t["status"] == "ok"]
    assert sorted(t["alpha"] for t in fitted) == [0.0, 0.25, 0.5, 0.75, 1.0], name
    assert fitted[0]["alpha"] == 0.75 and fitted[0]["trial"] == 1
    best = max(fitted, key=lambda t: (t[hr], t[ndcg], -t["trial"]))
    assert best["alpha"] == va["alpha"] and tuning["best_trial"] == best["trial"], name
    assert tuning["validation_score"][hr] == best[hr]
    # the ratios come from the rows; α leaves the symmetric vectors as they are
    assert va["next_over_symmetric"] == pytest.approx(row[hr] / plain[hr])
    assert va["next_over_sequential_rules"] == pytest.approx(row[hr] / ds["baselines"]["sequential_rules"][hr])
    assert va["symmetric_mode_equals_symmetric"] is True, name
    if va["alpha"] == ds["next_mode"]["alpha"]:  # the same config as the α .75 run: the same figures (seeded)
        assert row[hr] == ds["methods"]["directional_next"][hr], name


def test_shuffle_keeps_every_session_and_changes_order():
    """Each session keeps its items (as a multiset), ids and start time; the order moves; a seed repeats."""
    from behemb_core.synthetic import sessions_from_lists

    lists = [[f"i{j}" for j in range(n)] for n in (1, 2, 9, 30, 30)]
    sessions = sessions_from_lists(lists, start_times=[5, 4, 3, 2, 1])
    shuffled = shuffle_within_sessions(sessions, seed=3)
    assert [sorted(x) for x in shuffled.to_lists()] == [sorted(x) for x in lists]
    assert shuffled.to_lists()[0] == ["i0"]
    assert shuffled.to_lists()[3] != lists[3] and shuffled.to_lists()[4] != lists[4]
    assert shuffled.to_lists()[3] != shuffled.to_lists()[4]  # each session gets its own order
    assert list(shuffled.start_times) == [5, 4, 3, 2, 1] and list(shuffled.session_ids) == list(sessions.session_ids)
    assert shuffle_within_sessions(sessions, seed=3).to_lists() == shuffled.to_lists()
    assert shuffle_within_sessions(sessions, seed=4).to_lists() != shuffled.to_lists()


def test_readme_table_is_what_the_script_prints(results):
    """``python -m benchmarks.quality --readme`` regenerates exactly the README's tables."""
    text = (REPO / "README.md").read_text()
    assert readme_table(results) in text
