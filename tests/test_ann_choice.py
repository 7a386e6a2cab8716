"""The recorded ANN-library measurement (``benchmarks/results/ann-choice.json``) is complete and its
recommendation follows from its own figures. Nothing is timed here and no ANN library is imported: the test reads
the results file only, so it runs (and fails when the record is incomplete) whether or not the libraries are
installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ann_choice import BANDS, EF_SEARCH, LIBRARIES, TARGET, hits, meets_target, neighbors_without_self

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.fixture(scope="module")
def result() -> dict:
    return json.loads((RESULTS / "ann-choice.json").read_text())


def test_main_dataset_is_our_vectors_at_100k_items(result: dict) -> None:
    main = result["datasets"][result["main_dataset"]]
    v = main["vectors"]
    assert 90_000 <= v["n_vectors"] <= 100_000 and v["dim"] == 128
    assert v["method"] and v["version"]  # trained by behemb, not random vectors
    assert main["exact_search_qps"] > 0
    assert result["settings"]["threads"] == 2


def test_every_library_has_every_figure(result: dict) -> None:
    for name, d in result["datasets"].items():
        assert set(d["libraries"]) == set(LIBRARIES), name
        for lib, s in d["libraries"].items():
            where = f"{name}/{lib}"
            assert s["build_seconds"] > 0 and s["build_peak_added_mib"] > 0, where
            assert s["file_bytes"] > 0 and s["load_without_pickle"] in (True, False), where
            assert [e["ef"] for e in s["by_ef"]] == list(EF_SEARCH), where
            for e in s["by_ef"]:
                assert 0.0 <= e["recall_at_10"] <= 1.0 and e["qps"] > 0, where
                assert set(e["recall_by_band"]) == set(BANDS), where
                assert sum(b["queries"] for b in e["recall_by_band"].values()) == result["settings"]["queries"] or \
                    d["vectors"]["n_vectors"] < result["settings"]["queries"], where
            # the ef recorded as reaching the target is the smallest measured one that does
            reaching = [e["ef"] for e in s["by_ef"] if e["recall_at_10"] >= TARGET["recall_at_10"]]
            assert s["ef_at_target"] == (reaching[0] if reaching else None), where
            assert s["api"]["delete"] in (True, False) and s["api"]["filter"] in (True, False), where
    main = result["datasets"][result["main_dataset"]]["libraries"]
    for lib in LIBRARIES:
        det = main[lib]["determinism"]
        assert det["identical_single_thread"] in (True, False) and det["identical_two_threads"] in (True, False)
    for lib in LIBRARIES:
        assert result["packages"][lib], lib  # install size and wheel tags recorded


def test_recommendation_names_a_library_and_meets_or_explicitly_misses_the_target(result: dict) -> None:
    rec = result["recommendation"]
    main = result["datasets"][result["main_dataset"]]["libraries"]
    assert rec["library"] in LIBRARIES
    chosen = main[rec["library"]]
    verdict = meets_target(chosen)
    assert rec["meets_target"] == verdict["all"]
    if rec["meets_target"]:
        assert chosen["recall_at_target_ef"] >= TARGET["recall_at_10"]
        assert chosen["qps_at_target_ef"] >= TARGET["queries_per_second"]
        assert chosen["build_seconds"] <= TARGET["build_seconds"]
    else:
        assert not all(verdict[k] for k in ("recall", "qps", "build"))
    assert chosen["load_without_pickle"]  # never a format we would have to unpickle
    assert rec["reasons"] and rec["library"] in rec["reasons"][0]
    md = (RESULTS / "ann-choice.md").read_text()
    heading = f"## Recommendation: **{rec['library']}** — " + ("meets" if rec["meets_target"] else "does NOT meet")
    assert heading in md


def test_neighbors_without_self_drops_the_query_and_keeps_order() -> None:
    labels = np.array([[7, 3, 5], [3, 9, 8], [1, 2, 4]])
    out = neighbors_without_self(labels, np.array([3, 3, 9]), k=2)
    np.testing.assert_array_equal(out, [[7, 5], [9, 8], [1, 2]])


def test_hits_count_ties_and_ignore_missing_and_repeated_labels() -> None:
    v = np.array([[1, 0], [1, 0], [1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)  # rows 1, 2 tie for query 0
    exact_sims = np.array([[1.0] * 10], dtype=np.float32)
    exact_sims[0, -1] = 0.8  # the 10th exact similarity
    found = np.array([[2, 1, 3, 4, -1, 2, -1, -1, -1, -1]])
    # 2 and 1 (ties, either counts), 3 at the threshold; 4 is below it, -1 is missing, the second 2 a repeat
    assert hits(v, np.array([0]), found, exact_sims).tolist() == [3]
