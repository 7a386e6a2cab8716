"""Tune, then train the winner on all sessions and save it as a draft version with the whole search recorded."""

from __future__ import annotations

from typing import Any

from ..content import ContentVectors
from ..errors import ConfigError, VersionExistsError
from ..evaluation import evaluate_builder
from ..identity import Actor, as_actor
from ..ingest.dataset import Dataset
from ..methods.base import MethodConfig, MethodSpec
from ..methods.registry import get_method
from ..progress import ProgressCallback, as_reporter
from ..store import Store
from ..store.policy import access
from ..train import train_version
from .protocol import EVALUATION_HOLDOUT, K
from .search import HR, tune_method

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
    content: ContentVectors | None = None,
    base_version: str | None = None,
    pass_gate: bool = False,
) -> dict[str, Any]:
    """:func:`~.search.tune_method` on ``dataset``'s sessions, then :func:`~behemb_core.train.train_version`
    with the winning config on all of them; the search (every trial, scores, protocol) goes into the version's
    manifest under ``"tuning"``.

    Returns ``train_version``'s summary plus ``best_config``, ``best_trial``, ``best_validation``,
    ``default_validation``, ``trials``, ``stopped_early``, ``tuning_seconds``, ``protocol`` (one sentence) and
    ``scored_mode`` (the ranking the trials were scored by: ``"also"``, or ``"next"`` for a config that serves the
    "next item" tables).
    With ``evaluate`` the evaluation report is made on the very hold-out the tuner never read, so it stays an
    honest estimate of the tuned config.

    A method that builds on behavior vectors (fusion) is searched on top of its base method fitted once on the
    validation-train sessions, with the dataset's item metadata (or ``content``) as content; the final version
    trains the base on all sessions and fuses with the learned weights. With ``evaluate`` its manifest gets
    ``"builder_evaluation"`` (:func:`~behemb_core.evaluation.evaluate_builder` on the same hold-out: the
    behavior-only base, the starting config and the tuned one, by popularity band of the query), and the summary
    its HR@10 as ``holdout``. With ``base_version`` (a stored behavior version) the search fits that version's
    method and config on the validation-train sessions — the stored vectors saw the validation and hold-out
    sessions, so scoring with them would not be honest — and the final version fuses the stored vectors.

    With ``pass_gate`` the search chooses the best setting whose vectors pass the sign-off collapse gate (see
    :func:`~.search.tune_method`); the summary's ``gate`` says whether one did.
    """
    spec = get_method(method)  # resolved once for the search and the final training
    if name is not None and store.exists(name):  # validates the name too; fail before the search
        raise VersionExistsError(f"version {name!r} already exists in {store.url}; versions are immutable")
    if dataset is None or dataset.sessions is None or dataset.sessions.n_events == 0:
        raise ConfigError(f"tuning {spec.name} needs sessions, but the dataset has none (or none survived cleaning)")
    access(store, None if by is None else as_actor(by)).require("train")  # before the search, not after it
    item_meta = dataset.item_meta
    if base_version is not None:
        spec.check_sources(sessions=True, base_version=True)
        stored = store.manifest(base_version)
        base_config = {**spec.parse_config(base_config).model_dump(), spec.base_method_field: stored.get("method"),
                       "base_config": stored.get("config") or {}}
        spec.parse_config(base_config)  # a base version of a method this registry cannot retrain is refused here
        if item_meta is None:
            item_meta = store.load_version(base_version).item_meta
    rep = as_reporter(progress)
    builder = spec.builds_on is not None
    tune_share = _TUNE_SHARE - (0.1 if builder and evaluate else 0.0)
    result = tune_method(
        dataset.sessions, spec, budget_seconds=budget_seconds, seed=seed, base_config=base_config,
        progress=rep.sub(0.0, tune_share), item_meta=item_meta, content=content, pass_gate=pass_gate,
    )
    extra: dict[str, Any] = {"tuning": result.to_json()}
    holdout = None
    if builder and evaluate:
        report = evaluate_builder(
            dataset.sessions, spec, {"default": spec.parse_config(base_config), "tuned": result.best_config},
            item_meta=item_meta, content=content, holdout=EVALUATION_HOLDOUT, k=K, seed=seed,
            progress=rep.sub(tune_share, _TUNE_SHARE),
        )
        extra["builder_evaluation"] = report
        holdout = {"base": report["base"][HR], **{n: b[HR] for n, b in report["built"].items()}}
    summary = train_version(
        store, spec, result.best_config, dataset=dataset, seed=seed, name=name, evaluate=evaluate,
        noise_floor=noise_floor, progress=rep.sub(_TUNE_SHARE, 1.0), extra_manifest=extra, content=content,
        base_version=base_version, item_meta=item_meta if base_version is not None else None, by=by,
    )
    if holdout is not None:
        summary["holdout"] = {"hr@10": holdout, "note": "the evaluation hold-out the tuner never read; base = the "
                              "behavior-only vectors, default = the starting config, tuned = the chosen one"}
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
        "scored_mode": result.mode,
        **({"gate": result.gate} if result.gate is not None else {}),
    }
