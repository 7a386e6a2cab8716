"""The sign-off check "quality vs item-kNN" judges the mode the version is meant to serve (issue 24).

A version whose config has ``serves == "next"`` is judged by the evaluation's ``next`` block (HR@10 of ``Q·K``)
against item-kNN, with the sequential-rules baseline's HR given for reference; without a ``next`` block (or any
evaluation) the check could not judge — a warning, never a pass. A version without ``serves`` (every version made
before the mode existed) or serving ``"also"`` is judged by the symmetric HR exactly as before, even when its
evaluation has a ``next`` block.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from behemb_core.checks.cache import clear_caches
from behemb_core.checks.context import CheckContext, SignoffPolicy
from behemb_core.checks.quality import check_quality_vs_knn
from behemb_core.demo import load_demo_dataset
from behemb_core.embeddings import make_embeddings
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.signoff import signoff_checks
from behemb_core.store import CheckResult, Store
from behemb_core.train import train_version
from behemb_core.vocab import Vocabulary

NAME = "quality vs item-kNN"
TOL = SignoffPolicy().knn_tolerance


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, Any]]:
    """A version serving the next mode, trained and evaluated on the demo data (both modes, all baselines)."""
    store = Store(str(tmp_path_factory.mktemp("signoff-next") / "store"))
    train_version(store, DEFAULT_METHOD, {"directional": True, "serves": "next", "dim": 16},
                  dataset=load_demo_dataset(), seed=0, name="nx", evaluate=True)
    return store, store.manifest("nx")


def quality(store: Store, version: str, evaluation: dict[str, Any] | None = None) -> CheckResult:
    clear_caches()
    return check_quality_vs_knn(CheckContext(store, version, SignoffPolicy(), evaluation_given=evaluation))  # type: ignore[arg-type]


def with_hr(evaluation: dict[str, Any], *, ours: float, knn: float, nxt: float | None) -> dict[str, Any]:
    """A copy of a real evaluation with the symmetric HR@10, item-kNN's and the next block's set (None: no next
    block at all)."""
    out = copy.deepcopy(evaluation)
    out["method"]["hr@10"] = ours
    out["baselines"]["item_knn"]["hr@10"] = knn
    if nxt is None:
        out.pop("next", None)
    else:
        out["next"]["method"]["hr@10"] = nxt
    return out


def test_a_version_serving_next_is_judged_by_its_next_block(trained) -> None:
    store, manifest = trained
    ev = manifest["evaluation"]
    assert manifest["config"]["serves"] == "next" and "next" in ev
    nxt, knn = ev["next"]["method"]["hr@10"], ev["baselines"]["item_knn"]["hr@10"]
    rules, sym = ev["baselines"]["sequential_rules"]["hr@10"], ev["method"]["hr@10"]
    # The two modes differ on this data at the check's rounding, so judging the wrong one would show.
    assert round(nxt - knn, 3) != round(sym - knn, 3)
    res = quality(store, "nx")
    assert res.value == round(nxt - knn, 3) and res.passed == (nxt >= knn - TOL)
    assert res.could_not_judge is None and res.acknowledgeable
    assert res.detail.startswith("judged the 'next item' mode (Q·K), the mode this version serves")
    assert f"next-item HR@10 {nxt:.3f} vs item-kNN {knn:.3f}" in res.detail
    assert f"sequential rules {rules:.3f}" in res.detail and f"symmetric mode {sym:.3f}" in res.detail
    assert res.threshold == f"next-item HR@10 − item-kNN HR@10 ≥ −{TOL}"
    # The whole checklist shows the same judgement.
    checks, details = signoff_checks(store, "nx")
    (listed,) = [c for c in checks if c.name == NAME]
    assert listed.detail == res.detail and listed.value == res.value
    assert details["evaluation"]["next"]["method"]["hr@10"] == nxt


def test_next_mode_passes_and_warns_on_the_next_hr_not_the_symmetric_one(trained) -> None:
    store, manifest = trained
    ev = manifest["evaluation"]
    # Next above item-kNN, symmetric far below: a pass (the symmetric HR is not what this version serves).
    good = quality(store, "nx", with_hr(ev, ours=0.10, knn=0.30, nxt=0.35))
    assert good.passed and good.state == "pass" and good.value == 0.05
    # Within the tolerance below item-kNN: still a pass.
    assert quality(store, "nx", with_hr(ev, ours=0.10, knn=0.30, nxt=0.30 - TOL / 2)).passed
    # Next below item-kNN beyond the tolerance, symmetric far above: a warning, never a pass.
    bad = quality(store, "nx", with_hr(ev, ours=0.50, knn=0.30, nxt=0.20))
    assert not bad.passed and bad.state == "warning" and bad.could_not_judge is None and bad.value == -0.1
    assert "next-item HR@10 0.200 vs item-kNN 0.300" in bad.detail


def test_next_mode_without_a_next_block_could_not_judge(trained, tmp_path: Path) -> None:
    store, manifest = trained
    given = quality(store, "nx", with_hr(manifest["evaluation"], ours=0.50, knn=0.30, nxt=None))
    assert not given.passed and given.state == "warning" and given.value is None
    assert given.could_not_judge is not None and "no 'next' block" in given.could_not_judge
    assert "symmetric HR is not judged" in given.detail
    # The same from the store: a version serving next whose stored evaluation lacks the block, and one with none.
    own = Store(str(tmp_path / "own"))
    emb = make_embeddings(Vocabulary(list(range(6))), np.random.default_rng(0).normal(size=(6, 4)))
    config = {**manifest["config"]}
    own.save_version(emb, manifest={"method": "hand", "seed": 0, "config": config, "evaluation": with_hr(
        manifest["evaluation"], ours=0.5, knn=0.3, nxt=None)}, name="noblock")
    own.save_version(emb, manifest={"method": "hand", "seed": 0, "config": config}, name="noeval")
    stored = quality(own, "noblock")
    assert not stored.passed and stored.could_not_judge is not None and "no 'next' block" in stored.could_not_judge
    none = quality(own, "noeval")
    assert not none.passed and none.could_not_judge == "no evaluation is stored with this version"
    # next block present but without item-kNN's HR: could not judge either.
    no_knn = copy.deepcopy(manifest["evaluation"])
    del no_knn["baselines"]["item_knn"]
    res = quality(store, "nx", no_knn)
    assert not res.passed and res.could_not_judge is not None


@pytest.mark.parametrize("serves", [None, "also"])
def test_versions_not_serving_next_are_judged_as_before(trained, tmp_path: Path, serves: str | None) -> None:
    """Judged by the symmetric HR with today's wording, whatever the next block says."""
    _, manifest = trained
    own = Store(str(tmp_path / "own"))
    emb = make_embeddings(Vocabulary(list(range(6))), np.random.default_rng(0).normal(size=(6, 4)))
    config = {k: v for k, v in manifest["config"].items() if k != "serves"}
    if serves is not None:
        config["serves"] = serves
    ev = with_hr(manifest["evaluation"], ours=0.30, knn=0.25, nxt=0.05)  # next far below item-kNN
    ev["baselines"]["most_popular"]["hr@10"] = 0.1
    own.save_version(emb, manifest={"method": "hand", "seed": 0, "config": config, "evaluation": ev}, name="v")
    res = quality(own, "v")
    assert res.passed and res.value == 0.05 and res.could_not_judge is None
    assert res.threshold == f"HR@10 − item-kNN HR@10 ≥ −{TOL}"
    assert res.detail == "HR@10 0.300 vs item-kNN 0.250, most-popular 0.100"
    worse = quality(own, "v", with_hr(ev, ours=0.20, knn=0.25, nxt=0.90))  # next far above: still a warning
    assert not worse.passed and worse.state == "warning" and worse.detail.startswith("HR@10 0.200 vs item-kNN")


def test_an_unknown_serving_mode_could_not_judge(trained, tmp_path: Path) -> None:
    _, manifest = trained
    own = Store(str(tmp_path / "own"))
    emb = make_embeddings(Vocabulary(list(range(6))), np.random.default_rng(0).normal(size=(6, 4)))
    own.save_version(emb, manifest={"method": "hand", "seed": 0, "config": {"serves": "sideways"},
                                    "evaluation": manifest["evaluation"]}, name="odd")
    res = quality(own, "odd")
    assert not res.passed and res.could_not_judge is not None and "'sideways'" in res.could_not_judge
