"""The report types (:mod:`behemb_core.reports`): mypy catches a misspelled field, and the typed readers accept
what a real store holds — the JSON read back exactly as written, the very same objects."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from behemb_core.checks.golden import check_golden
from behemb_core.compare import compare_stored
from behemb_core.demo import load_demo_dataset
from behemb_core.errors import IntegrityError
from behemb_core.evaluation import evaluate_stored
from behemb_core.reports import (
    CompareReport,
    EvaluationReport,
    GoldenCheck,
    NoiseFloor,
    interval,
    metric,
    read_manifest,
    stored_evaluation,
    stored_noise_floor,
)
from behemb_core.store import Store, golden_pairs, mark_pair
from behemb_core.train import train_version

REPO = Path(__file__).resolve().parents[1]

GOOD = """
from behemb_core.reports import EvaluationReport, StoredComparison, metric

def read(report: EvaluationReport, cmp: StoredComparison) -> float | None:
    knn = report["baselines"].get("item_knn")
    median = cmp["overall"]["jaccard"]["median"]
    return (metric(knn, "hr", 10) or 0.0) + report["method"]["hr@10"] + (median or 0.0)
"""

BAD = """
from behemb_core.reports import EvaluationReport, StoredComparison, metric

def read(report: EvaluationReport, cmp: StoredComparison) -> float | None:
    hr = report["method"]["hr_at_10"]
    knn = report["baseline"]
    verdict = cmp["verdit"]
    return metric(report["method"], "recall", 10)
"""


def test_mypy_sees_a_misspelled_report_field(tmp_path: Path) -> None:
    (tmp_path / "good_reader.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad_reader.py").write_text(textwrap.dedent(BAD))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(tmp_path / "good_reader.py"),
         str(tmp_path / "bad_reader.py")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "good_reader.py" not in out, out
    assert 'TypedDict "MethodBlock" has no key "hr_at_10"' in out, out
    assert 'TypedDict "EvaluationReport" has no key "baseline"' in out, out
    assert 'TypedDict "StoredComparison" has no key "verdit"' in out, out
    assert "Literal['recall']" in out, out  # only hr, ndcg, mrr are metrics
    assert out.count("error:") == 4, out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Two ppmi_svd versions of the demo: ``ref`` evaluated with a noise floor, ``cand`` with neither."""
    st = Store(str(tmp_path_factory.mktemp("reports") / "store"))
    dataset = load_demo_dataset()
    train_version(st, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=0, evaluate=True, noise_floor=True, name="ref")
    train_version(st, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=1, name="cand")
    return st


def _on_disk(store: Store, version: str) -> dict:
    return json.loads((Path(store.url) / "versions" / version / "manifest.json").read_text())


def test_typed_readers_accept_a_real_store_and_return_it_unchanged(store: Store) -> None:
    raw = store.manifest("ref")
    before = copy.deepcopy(raw)
    manifest = read_manifest(raw, where="version ref")
    assert manifest is raw and raw == before
    evaluation, noise = stored_evaluation(raw), stored_noise_floor(raw)
    assert evaluation is raw["evaluation"] and noise is raw["noise_floor"]
    assert evaluation is not None and noise is not None
    assert _on_disk(store, "ref")["evaluation"] == evaluation  # what the store holds, as it holds it
    hr = metric(evaluation["method"], "hr", 10)
    assert hr == evaluation["method"]["hr@10"] and 0 < hr <= 1
    knn = evaluation["baselines"].get("item_knn")
    assert knn is not None and metric(knn, "hr", 10) == raw["evaluation"]["baselines"]["item_knn"]["hr@10"]
    lo_hi = interval(evaluation["method"], "hr", 10)
    assert lo_hi is not None and lo_hi[0] <= hr <= lo_hi[1]
    assert metric(evaluation["method"], "hr", 5) is None  # stored at K = 10 only
    assert noise["k"] == 10 and noise["overall"]["jaccard"]["n"] == noise["n_items"]
    cand = store.manifest("cand")
    assert stored_evaluation(cand) is None and stored_noise_floor(cand) is None
    assert read_manifest(cand) is cand


def test_producers_match_their_types(store: Store) -> None:
    """What the producing functions return validates against the types they are annotated with (pydantic, the
    same check the readers make), so the TypedDicts describe the JSON, not a wish."""
    ref, cand = store.load_version("ref"), store.load_version("cand")
    cmp = compare_stored(ref, cand, k=10)
    TypeAdapter(CompareReport).validate_python(cmp)
    assert cmp["evaluations"]["ref"] is ref.manifest["evaluation"] and cmp["evaluations"]["cand"] is None
    assert cmp["quality"]["ref"] is ref.manifest["evaluation"]["method"]
    assert cmp["noise"] is not None and cmp["noise_floor_from"] == "ref"
    TypeAdapter(NoiseFloor).validate_python(cmp["noise"] and ref.manifest["noise_floor"])
    report = evaluate_stored(cand, load_demo_dataset().sessions, ks=(5, 10), n_boot=20)
    TypeAdapter(EvaluationReport).validate_python(report)
    assert metric(report["method"], "hr", 5) == report["method"]["hr@5"]  # type: ignore[typeddict-item]


def test_golden_check_has_the_fields_of_its_type(store: Store) -> None:
    ref = store.load_version("ref")
    a, b = ref.embeddings.vocab.ids[:2].tolist()
    mark_pair(store, a, b, label="good", by="Ana")
    result = check_golden(ref.embeddings, golden_pairs(store), k=10)
    assert set(result) == GoldenCheck.__required_keys__


def test_a_malformed_stored_evaluation_is_refused_with_the_field(store: Store) -> None:
    raw = copy.deepcopy(store.manifest("ref"))
    del raw["evaluation"]["method"]["queries_without_vector"]
    with pytest.raises(IntegrityError, match=r"version ref: the stored evaluation .* method\.queries_without_vector"):
        stored_evaluation(raw, where="version ref")
    raw = copy.deepcopy(store.manifest("ref"))
    raw["noise_floor"]["overall"]["jaccard"]["median"] = "high"
    with pytest.raises(IntegrityError, match=r"noise floor .* overall\.jaccard\.median"):
        read_manifest(raw)
