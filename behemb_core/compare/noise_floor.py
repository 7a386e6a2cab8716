"""The noise floor: how much neighbor lists move when nothing but the seed changes.

Whether a change between two versions matters is judged against it (:mod:`.report`): the same method and config
retrained with another seed. Measuring it is the one place the comparison reaches up into the method registry
(to retrain); reading a stored floor (:func:`pick_noise_floor`) needs only the versions' manifests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..diagnostics import align_popularity
from ..errors import ConfigError
from ..reports import NoiseFloor, stored_noise_floor
from ..sessions import Sessions
from .stability import BAND_DEFINITION, OverlapResult, band_summaries, neighbor_overlap

if TYPE_CHECKING:
    from ..ingest.dataset import Dataset
    from ..methods.base import MethodConfig, TrainingInputs
    from ..store.filestore import StoredVersion


def noise_floor(
    data: Sessions | Dataset | TrainingInputs, method: str, config: MethodConfig | dict[str, Any] | None = None, *,
    seeds: tuple[int, int] = (0, 1), k: int = 10, rbo_p: float = 0.9,
) -> NoiseFloor:
    """Retrain ``method`` with ``config`` under two different seeds and measure their overlap: pure noise.

    The result (JSON-able) holds the overall and per-band (:data:`~.stability.BAND_DEFINITION`, by training
    events) summaries of Jaccard@k and RBO; pass it to :func:`~.report.compare_versions`. The seeds must differ:
    every method is deterministic for a seed (item2vec/graph only with ``workers=1``), so equal seeds give a floor
    of exactly 1.0. Even where the seed drives little (for ``ppmi_svd`` only the randomized SVD), lists still move
    wherever neighbors are nearly tied, and more so in the tail; typical floors per method and dataset are in
    ``benchmarks/results/library-measurements.md``. Measure the floor with the config of the versions you compare.
    """
    from ..methods.base import TrainingInputs
    from ..methods.registry import get_method, parse_config

    if len(seeds) != 2 or seeds[0] == seeds[1]:
        raise ConfigError(f"noise_floor needs two different seeds, got seeds={tuple(seeds)!r}")
    if isinstance(data, TrainingInputs):
        inputs = data
    else:
        inputs = TrainingInputs(sessions=data if isinstance(data, Sessions) else data.sessions)
    spec, cfg = get_method(method), parse_config(method, config)
    fits = [spec.fit(inputs, cfg, seed=int(s)).embeddings for s in seeds]
    result = neighbor_overlap(fits[0], fits[1], k=k, rbo_p=rbo_p)
    floor = noise_floor_from_pair(result, inputs.sessions, method=method, seeds=seeds)
    floor["config"] = cfg.model_dump(mode="json")
    return floor


def noise_floor_from_pair(
    result: OverlapResult, sessions: Sessions | None, *, method: str, seeds: tuple[int, int]
) -> NoiseFloor:
    """The noise-floor report from the overlap of two runs that differ only by seed (see :func:`noise_floor`);
    training code that already has the first run retrains once and calls this."""
    pop = None
    if sessions is not None:
        pop = align_popularity(result.universe, sessions.item_stats())
    return {
        "method": method, "seeds": [int(s) for s in seeds],
        "k": result.k, "rbo_p": result.rbo_p, "n_items": int(len(result.ids)), "overall": result.summary(),
        "bands": band_summaries(result, pop), "band_definition": BAND_DEFINITION,
    }


def pick_noise_floor(a: StoredVersion, b: StoredVersion, k: int) -> tuple[NoiseFloor | None, str | None]:
    """The noise floor to judge A → B by: the candidate's (B), else the reference's (A), measured at ``k``."""
    for v in (b, a):
        noise = stored_noise_floor(getattr(v, "manifest", None), where=f"version {getattr(v, 'name', '?')}")
        if noise is not None and noise["k"] == k:
            return noise, getattr(v, "name", None)
    return None, None
