"""2-D maps of a version's item vectors (UMAP), cached in the store, and Procrustes alignment of two maps.

:func:`project_version` lays out every item of a stored version in the plane with UMAP (cosine metric). A
catalogue larger than ``max_fit_items`` is fitted on a *popularity-stratified* sample (:mod:`.sample`) and the
other items are *placed* onto the fitted map (:mod:`.fit`); the result says which items were fitted. Maps are
cached in the store beside the versions (:mod:`.cache`), keyed by the parameters (:class:`ProjectionParams`,
one validated config passed whole) and the version's embeddings sha256. :func:`align_projections` lines up a
second version's map with the first on the items both share (:mod:`.align`).

Guarantees: the same version, parameters and seed give the same coordinates on the same machine and library
versions; the version folder is never written; a cached map is returned only when it matches the vectors and
parameters it was computed for. Timings and placement quality are measured in
``benchmarks/results/library-measurements.md``.
"""

from __future__ import annotations

from .align import Alignment, align_projections, fit_alignment
from .cache import load_cached_projection, projection_cache_paths, projection_info
from .fit import project_embeddings, warm_up
from .params import ProjectionParams, as_params
from .sample import stratified_sample
from .version import project_version

__all__ = [
    "Alignment",
    "ProjectionParams",
    "align_projections",
    "as_params",
    "fit_alignment",
    "load_cached_projection",
    "project_embeddings",
    "project_version",
    "projection_cache_paths",
    "projection_info",
    "stratified_sample",
    "warm_up",
]
