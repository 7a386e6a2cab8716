"""Train a method on a dataset and save the result as a draft version: the one call front ends make.

This module orchestrates a job: it resolves the method once, checks the job's sources against the method's
capabilities, trains the base method first for a method that builds on behavior vectors and got no base
version, and hands every fit ready inputs.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from .content import ContentVectors
from .cooccurrence import PairCounts
from .embeddings import FitResult, ItemEmbeddings
from .errors import ConfigError, VersionExistsError
from .identity import Actor, as_actor
from .ingest.dataset import Dataset
from .metadata import ItemMetadata
from .methods.base import MethodConfig, MethodSpec, TrainingInputs
from .methods.registry import METHODS, get_method
from .prepared import PreparedDataset
from .progress import ProgressCallback, Reporter, as_reporter
from .sessions import Sessions
from .store import Store
from .store._manifest import EMBEDDINGS_FILE
from .store.policy import access

_BASE_SHARE = 0.7  # of a fit's progress bar, when the base method is trained first


def fit_method(
    method: str | MethodSpec,
    config: MethodConfig | dict[str, Any] | None = None,
    *,
    sessions: Sessions | None = None,
    item_meta: ItemMetadata | None = None,
    seed: int = 0,
    content: ContentVectors | None = None,
    base: ItemEmbeddings | None = None,
    base_version: str | None = None,
    pairs: PairCounts | None = None,
    warm_start: ItemEmbeddings | None = None,
    progress: ProgressCallback | Reporter | None = None,
) -> tuple[MethodConfig, FitResult, float]:
    """Validate the config, fit, and return ``(config, result, seconds)``. Nothing is written.

    A method that builds on behavior vectors (``spec.builds_on``) and gets no ``base`` has its base method
    trained first on ``sessions`` with the same seed; the seconds include that. ``warm_start`` (vectors to start
    from: a warm-started retrain) is refused for a method that cannot use it (``spec.warm_start``)."""
    spec = get_method(method)
    cfg = spec.parse_config(config)
    if warm_start is not None and spec.warm_start_refusal() is not None:
        raise ConfigError(str(spec.warm_start_refusal()))
    inputs = TrainingInputs(
        sessions=sessions,
        content=content,
        item_meta=item_meta,
        base=base,
        base_version=base_version,
        pairs=pairs,
        warm_start=warm_start,
    )
    t0 = time.perf_counter()
    result = _fit(spec, cfg, inputs, seed=seed, progress=progress)
    return cfg, result, time.perf_counter() - t0


def _fit(
    spec: MethodSpec, cfg: MethodConfig, inputs: TrainingInputs, *, seed: int,
    progress: ProgressCallback | Reporter | None,
) -> FitResult:
    """``spec.fit`` on ready inputs: behavior vectors a method builds on are trained here when none were given."""
    if spec.builds_on is None or inputs.base is not None:
        return spec.fit(inputs, cfg, seed=seed, progress=progress)
    if inputs.sessions is None:
        raise ConfigError(
            f"{spec.name} needs behavior vectors: a base version, or sessions to train its base method on"
        )
    rep = as_reporter(progress)
    plan = spec.builds_on(cfg)
    base_spec = get_method(plan.method)
    base = _fit(base_spec, base_spec.parse_config(plan.config), TrainingInputs(sessions=inputs.sessions), seed=seed,
                progress=rep.sub(0.0, _BASE_SHARE))
    ready = replace(inputs, base=base.embeddings, base_report=base.report)
    return spec.fit(ready, cfg, seed=seed, progress=rep.sub(_BASE_SHARE, 1.0))


def base_version_choices(store: Store) -> list[str]:
    """The stored versions a method that builds on behavior vectors may use as its base: those of methods that
    learn from sessions (and of methods this registry does not know), oldest first as the store lists them."""
    out = []
    for info in store.list_versions():
        spec = METHODS.get(info.method) if info.method is not None else None
        if spec is None or spec.learns_from_sessions:
            out.append(info.name)
    return out


def train_version(
    store: Store,
    method: str | MethodSpec,
    config: MethodConfig | dict[str, Any] | None = None,
    *,
    dataset: Dataset | PreparedDataset | None = None,
    seed: int = 0,
    name: str | None = None,
    content: ContentVectors | None = None,
    base_version: str | None = None,
    item_meta: ItemMetadata | None = None,
    evaluate: bool = False,
    noise_floor: bool = False,
    progress: ProgressCallback | Reporter | None = None,
    extra_manifest: dict[str, Any] | None = None,
    by: Actor | str | None = None,
    warm_start: str | None = None,
) -> dict[str, Any]:
    """Fit ``method`` and save a draft version to ``store``; returns a short summary dict.

    ``by`` is who trains: recorded in the manifest as ``trained_by`` (sealed with the version), so that nobody
    approves their own version (four eyes). Under a store policy only a trainer may train (checked before the
    fit and again before the save: :class:`~behemb_core.errors.PermissionDenied`).

    For a method that builds on behavior vectors (fusion), ``base_version`` names a stored behavior version
    (verified on load); its item metadata travels on to the new version unless ``item_meta`` or the dataset
    brings its own. Sources the method cannot use (a base version, content vectors) are refused first.

    With ``evaluate`` the method is also trained on a time split of the sessions and scored against the
    most-popular and item-kNN baselines; the report is stored in the manifest (``evaluation``), where sign-off
    reads it. That costs a second training run. ``evaluate`` and ``noise_floor`` apply to methods that learn
    from sessions alone (they are retrained on a split / with another seed) and are skipped for the others.

    ``dataset`` may be a :class:`~behemb_core.prepared.PreparedDataset` (a work dir the Spark engine wrote): a
    method that can start from pair counts (``spec.pair_table``) then trains from the prepared pair table and the
    sessions are not read, unless evaluation or the noise floor need them.

    ``extra_manifest`` adds sections to the manifest (e.g. ``"tuning"``: the search that chose the config); it
    may not replace one this function writes.

    ``warm_start`` names a stored version to start from (a warm-started retrain, for a method whose entry says
    ``warm_start``; refused with the reason for the others, before anything is read): it is verified on load,
    items it has start from its vectors and new ones from scratch, and the manifest records it (``warm_start``:
    version, the sha256 of its embeddings, items reused and new). The evaluation and noise-floor fits start cold:
    they measure the method, not the retrain.
    """
    actor = None if by is None else as_actor(by)
    access(store, actor).require("train")
    rep = as_reporter(progress)
    spec = get_method(method)
    spec.check_sources(sessions=dataset is not None, base_version=base_version is not None, content=content is not None,
                       warm_start=warm_start is not None)
    if name is not None and store.exists(name):  # validates the name too; fail before hours of training
        raise VersionExistsError(f"version {name!r} already exists in {store.url}; versions are immutable")
    warm = None
    if warm_start is not None:
        check_warm_start(store, spec, config, warm_start)
        warm = store.load_version(warm_start).embeddings  # verified against its manifest's sha256
    base = None
    base_stats = None
    if base_version is not None:
        stored = store.load_version(base_version)
        base = ItemEmbeddings(
            stored.embeddings.vocab, stored.embeddings.vectors, stored.embeddings.source,
            behavior_version=base_version,
        )
        if item_meta is None and (dataset is None or dataset.item_meta is None):
            item_meta = stored.item_meta
        base_stats = stored.item_stats
    if item_meta is None and dataset is not None:
        item_meta = dataset.item_meta
    pairs = None
    if isinstance(dataset, PreparedDataset) and spec.pair_table is not None:
        pairs = dataset.pairs(*spec.pair_table(spec.parse_config(config)))
    need_sessions = dataset is not None and (pairs is None or evaluate or noise_floor)
    sessions = dataset.sessions if dataset is not None and need_sessions else None
    job_start = time.perf_counter()
    evaluate = evaluate and sessions is not None and spec.learns_from_sessions
    noise_floor = noise_floor and (sessions is not None or pairs is not None) and spec.learns_from_sessions
    passes = [("the version", True), ("evaluation split", evaluate), ("noise floor", noise_floor)]
    labels = {what: f"fit {i + 1} of {sum(on for _, on in passes)}: {what}"
              for i, what in enumerate(what for what, on in passes if on)}
    if len(labels) == 1:
        labels = {}
    extra = int(evaluate) + int(noise_floor)
    fit_end = 0.95 / (1 + extra)
    cfg, result, seconds = fit_method(
        spec, config, sessions=sessions, item_meta=item_meta, seed=seed, content=content, base=base,
        base_version=base_version, pairs=pairs, warm_start=warm,
        progress=rep.sub(0.0, fit_end, labels.get("the version")),
    )
    manifest: dict[str, Any] = {
        "method": spec.name,
        "config": cfg.model_dump(mode="json"),
        "seed": seed,
        "training_seconds": round(seconds, 3),
        "fit_report": result.report,
        "base_version": base_version,
    }
    if warm_start is not None:
        manifest["warm_start"] = {
            "version": warm_start,
            "embeddings_sha256": store.manifest(warm_start)["files"][EMBEDDINGS_FILE]["sha256"],
            **result.report.get("warm_start", {}),
        }
    if evaluate and sessions is not None:
        from .evaluation import evaluate_method

        ev = rep.sub(fit_end, 2 * fit_end, labels.get("evaluation split"))
        ev("evaluate", 0.0, "evaluating on a time split against the baselines")
        manifest["evaluation"] = evaluate_method(sessions, spec.name, cfg, seeds=[seed], ks=[10], progress=ev)
    if evaluate and sessions is not None:  # the collapse gate's reference: item-kNN on the same sessions
        from .evaluation.collapse import knn_reference

        rep("evaluate", 2 * fit_end, "popularity diagnostics of item-kNN on the training sessions")
        manifest["collapse_reference"] = knn_reference(sessions, fingerprint=dataset.fingerprint() if dataset else None)
    if noise_floor:
        from .compare import neighbor_overlap, noise_floor_from_pair

        nf = rep.sub(0.95 - fit_end, 0.95, labels.get("noise floor"))
        nf("noise_floor", 0.0, f"retraining with seed {seed + 1} to measure retraining noise")
        _, again, _ = fit_method(spec, cfg, sessions=sessions, pairs=pairs, seed=seed + 1, progress=nf)
        manifest["noise_floor"] = noise_floor_from_pair(
            neighbor_overlap(result.embeddings, again.embeddings, k=10), sessions, method=spec.name,
            seeds=(seed, seed + 1),
        )
    if dataset is not None:
        manifest["dataset"] = dataset.manifest_section()
        from .evaluation.collapse import collapse_diagnosis

        rep("diagnose", 0.96, "popularity diagnostics of the version's neighbor lists")
        manifest["popularity_diagnosis"] = collapse_diagnosis(
            result.embeddings, dataset.item_stats(), reference=manifest.get("collapse_reference"), method=spec.name)
    clash = sorted(set(extra_manifest or {}) & set(manifest))
    if clash:
        raise ValueError(f"extra_manifest may not replace {clash}")
    manifest.update(extra_manifest or {})
    if actor is not None:
        manifest["trained_by"] = actor.record()
    access(store, actor).require("train")  # the policy may have changed during the fit
    rep("save", 0.97, "writing the version to the store")
    info = store.save_version(
        result.embeddings, manifest=manifest, name=name, prefix=spec.version_prefix, item_meta=item_meta,
        item_stats=dataset.item_stats() if dataset is not None else base_stats, directional=result.directional,
    )
    rep("done", 1.0, f"saved version {info.name}")
    return {
        "version": info.name,
        "method": spec.name,
        "items": len(result.embeddings),
        "dim": result.embeddings.dim,
        "seconds": round(seconds, 3),
        "job_seconds": round(time.perf_counter() - job_start, 3),
        "path": info.path,
        **({"diagnosis": manifest["popularity_diagnosis"]} if "popularity_diagnosis" in manifest else {}),
    }


def check_warm_start(store: Store, method: str | MethodSpec, config: MethodConfig | dict[str, Any] | None,
                     version: str) -> None:
    """Refuse, from the manifests alone (before any data is read), a warm start ``method`` cannot make from stored
    ``version``: a method without warm start, a version that does not exist, or one of another dimension. (That
    the catalogues share items is checked when the fit lines them up.)"""
    spec = get_method(method)
    refusal = spec.warm_start_refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    cfg = spec.parse_config(config)
    if not store.exists(version):
        raise store.missing_error(version)
    dim = store.manifest(version).get("dim")
    if dim != cfg.dim:
        raise ConfigError(
            f"cannot warm-start {spec.name} from version {version!r}: it has {dim} dimensions, this config "
            f"dim={cfg.dim}; set dim={dim} or train without a warm start"
        )


def warm_start_choice(store: Store, method: str | MethodSpec) -> tuple[str | None, str | None]:
    """The published version a warm-started retrain of ``method`` would start from, and why none can (a
    sentence for a disabled control): the method cannot warm-start, or nothing is published."""
    from .store.lifecycle import published_version

    refusal = get_method(method).warm_start_refusal()
    if refusal is not None:
        return None, refusal
    published = published_version(store)
    if published is None:
        return None, "nothing is published yet: a warm start starts from the published version"
    return published, None


def find_same_training(
    store: Store,
    method: str | MethodSpec,
    config: MethodConfig | dict[str, Any] | None,
    *,
    dataset: Dataset | PreparedDataset,
    seed: int,
    base_version: str | None = None,
    evaluate: bool = False,
    noise_floor: bool = False,
    warm_start: str | None = None,
) -> str | None:
    """The oldest stored version trained on the same sessions (fingerprint) with the same method, config, seed
    and base version (and warm start) — training again would give the same vectors, so a front end can offer that
    version instead. With ``evaluate`` / ``noise_floor`` the version must also hold that report. ``None`` when there
    is none. Like :func:`train_version`, ``evaluate`` and ``noise_floor`` count only for methods that learn from
    sessions alone."""
    spec = get_method(method)
    cfg = spec.parse_config(config).model_dump(mode="json")
    evaluate = evaluate and spec.learns_from_sessions
    noise_floor = noise_floor and spec.learns_from_sessions
    fingerprint = dataset.fingerprint()
    for info in sorted(store.list_versions(), key=lambda v: v.created_at):
        if info.method != spec.name:
            continue
        manifest = store.manifest(info.name)
        if (manifest.get("config") == cfg and manifest.get("seed") == seed
                and manifest.get("base_version") == base_version
                and (manifest.get("warm_start") or {}).get("version") == warm_start
                and (manifest.get("dataset") or {}).get("fingerprint") == fingerprint
                and (not evaluate or "evaluation" in manifest)
                and (not noise_floor or "noise_floor" in manifest)):
            return info.name
    return None

