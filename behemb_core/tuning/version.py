"""Tune, then train the winner on all sessions and save it as a draft version with the whole search recorded."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, VersionExistsError
from ..identity import Actor, as_actor
from ..ingest.dataset import Dataset
from ..methods.base import MethodConfig, MethodSpec
from ..methods.registry import get_method
from ..progress import ProgressCallback, as_reporter
from ..store import Store
from ..store.policy import access
from ..train import train_version
from .search import tune_method

_TUNE_SHARE = 0.8  # of the progress bar; the final training (and evaluation) take the rest


def tune_and_train(
    store: Store,
    method: str | MethodSpec,
    *,
    dataset: Dataset,
    budget_seconds: float = 600,
    seed: int = 0,
    name: str | None = None,
    evaluate: bool = False,
    noise_floor: bool = False,
    base_config: MethodConfig | dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    by: Actor | str | None = None,
) -> dict[str, Any]:
    """:func:`~.search.tune_method` on ``dataset``'s sessions, then :func:`~behemb_core.train.train_version`
    with the winning config on all of them; the search (every trial, scores, protocol) goes into the version's
    manifest under ``"tuning"``.

    Returns ``train_version``'s summary plus ``best_config``, ``best_trial``, ``best_validation``,
    ``default_validation``, ``trials``, ``stopped_early``, ``tuning_seconds`` and ``protocol`` (one sentence).
    With ``evaluate`` the evaluation report is made on the very hold-out the tuner never read, so it stays an
    honest estimate of the tuned config.
    """
    spec = get_method(method)  # resolved once for the search and the final training
    if name is not None and store.exists(name):  # validates the name too; fail before the search
        raise VersionExistsError(f"version {name!r} already exists in {store.url}; versions are immutable")
    if dataset is None or dataset.sessions is None or dataset.sessions.n_events == 0:
        raise ConfigError(f"tuning {spec.name} needs sessions, but the dataset has none (or none survived cleaning)")
    access(store, None if by is None else as_actor(by)).require("train")  # before the search, not after it
    rep = as_reporter(progress)
    result = tune_method(
        dataset.sessions, spec, budget_seconds=budget_seconds, seed=seed, base_config=base_config,
        progress=rep.sub(0.0, _TUNE_SHARE),
    )
    summary = train_version(
        store, spec, result.best_config, dataset=dataset, seed=seed, name=name, evaluate=evaluate,
        noise_floor=noise_floor, progress=rep.sub(_TUNE_SHARE, 1.0), extra_manifest={"tuning": result.to_json()},
        by=by,
    )
    return {
        **summary,
        "best_config": result.best_config.model_dump(mode="json"),
        "best_trial": result.best_trial,
        "best_validation": result.best_score,
        "default_validation": result.default_score,
        "trials": result.trials,
        "stopped_early": result.stopped_early,
        "tuning_seconds": round(result.seconds, 3),
        "protocol": result.protocol["summary"],
    }
