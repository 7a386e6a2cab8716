"""An approximate-nearest-neighbor index over a version's vectors: what customers are served.

The library is faiss-cpu's ``IndexHNSWFlat`` on inner product, chosen by measuring hnswlib, faiss-cpu and usearch on
behemb's own vectors (``python -m benchmarks.ann_choice``; the README's "Choosing the ANN library"): all three reach
the target recall, and faiss ships prebuilt manylinux wheels, builds byte-identical files on two threads, filters in
C++ and reads and writes a plain binary format (no pickle). Vectors are unit-norm, so inner product is cosine — the
similarity of the exact neighbor lists on the Neighbors page — and row ``i`` of the index is row ``i`` of the
version (its item code).

Reproducible: HNSW draws each node's level from faiss's own fixed-seed generator, and rows are added in the
version's order, so the same vectors and parameters give the same index file (measured on 2 threads, see the
benchmark); nothing here takes a seed because nothing here is random beyond that.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigError, IntegrityError

__all__ = ["FAISS_PIN", "AnnIndex", "AnnParams", "build_index", "faiss_version", "load_index"]

#: The faiss-cpu release behemb is pinned to (requirements.txt).
FAISS_PIN = "1.15.1"
_FAISS_LOCK = threading.Lock()  # faiss's thread count is process-wide: set it and use it under one lock


class AnnParams(BaseModel):
    """How an HNSW index is built and searched (recorded with every index built)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["faiss-hnsw"] = Field("faiss-hnsw", description="faiss IndexHNSWFlat, inner product.")
    m: int = Field(16, ge=4, le=128, description="Links per node (2·m on the bottom layer): more links, higher "
                   "recall, a larger index and a slower build.")
    ef_construction: int = Field(200, ge=8, le=4096, description="Candidates kept while linking a node: a higher "
                                 "value builds a better graph, more slowly.")
    ef_search: int = Field(64, ge=1, le=4096, description="Candidates kept while searching: the served index's "
                           "recall/speed setting (at least k is used).")
    threads: int = Field(2, ge=1, le=256, description="Threads to build and search with.")

    @model_validator(mode="after")
    def _links_fit(self) -> AnnParams:
        if self.ef_construction < self.m:
            raise ValueError(f"ef_construction ({self.ef_construction}) must be at least m ({self.m})")
        return self

    @property
    def build_id(self) -> str:
        """A folder name that says how the index was built (``hnsw-m16-efc200``); search settings are not part of
        the file."""
        return f"hnsw-m{self.m}-efc{self.ef_construction}"


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is in requirements.txt
        raise ConfigError(f"building or reading an ANN index needs faiss-cpu (pip install faiss-cpu=={FAISS_PIN}, "
                          "listed in requirements.txt)") from None
    return faiss


def _threads(params: AnnParams) -> int:
    """The threads faiss uses: the parameter, at most the machine's cores (a record cannot oversubscribe the
    process-wide OpenMP pool)."""
    return max(1, min(params.threads, os.cpu_count() or 1))


def faiss_version() -> str:
    """The faiss library's version (recorded with every index)."""
    return str(_faiss().__version__)


@dataclass
class AnnIndex:
    """A built or loaded index: ``n`` rows of ``dim`` dimensions, searched with ``params.ef_search``."""

    params: AnnParams
    n: int
    dim: int
    raw: Any

    def search(self, queries: np.ndarray, k: int, *, ef: int | None = None,
               skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` rows with the largest inner product with each query row, best first: ``(codes int64,
        scores float32)``, ``-1``/NaN where the index returned fewer. ``skip[i]`` is a row query ``i`` must not
        return (its own item), or ``-1``. ``ef`` defaults to ``params.ef_search`` and is raised to ``k`` + 1."""
        faiss = _faiss()
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ConfigError(f"queries must be an array of shape (n, {self.dim}), got {q.shape}")
        extra = 0 if skip is None else 1
        want = min(k + extra, self.n)
        sp = faiss.SearchParametersHNSW()
        sp.efSearch = max(int(ef or self.params.ef_search), want)
        with _FAISS_LOCK:
            faiss.omp_set_num_threads(_threads(self.params))
            scores, labels = self.raw.search(q, want, params=sp)
        labels = labels.astype(np.int64, copy=False)
        codes = np.full((len(q), k), -1, dtype=np.int64)
        out = np.full((len(q), k), np.nan, dtype=np.float32)
        if skip is not None:
            drop = labels == np.asarray(skip, dtype=np.int64)[:, None]
            # the query's own row last (stable), then keep k: its other results stay in their order
            order = np.argsort(drop | (labels < 0), axis=1, kind="stable")
            labels = np.take_along_axis(labels, order, axis=1)
            scores = np.take_along_axis(scores, order, axis=1)
            labels = np.where(np.take_along_axis(drop, order, axis=1), -1, labels)
        kk = min(k, labels.shape[1])
        codes[:, :kk] = labels[:, :kk]
        out[:, :kk] = np.where(codes[:, :kk] >= 0, scores[:, :kk], np.nan)
        return codes, out

    def to_bytes(self) -> bytes:
        """The index file (faiss's binary format: no pickle)."""
        return bytes(_faiss().serialize_index(self.raw))


def build_index(vectors: np.ndarray, params: AnnParams | None = None) -> AnnIndex:
    """An HNSW index over the rows of ``vectors`` (unit-norm float32; row ``i`` is returned as ``i``)."""
    params = params or AnnParams()
    faiss = _faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ConfigError(f"an ANN index needs a non-empty (n, dim) array of vectors, got shape {x.shape}")
    raw = faiss.IndexHNSWFlat(x.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    raw.hnsw.efConstruction = params.ef_construction
    with _FAISS_LOCK:
        faiss.omp_set_num_threads(_threads(params))
        raw.add(x)
    return AnnIndex(params, len(x), x.shape[1], raw)


def load_index(data: bytes, params: AnnParams, *, n: int, dim: int, where: str) -> AnnIndex:
    """The index in ``data`` (an index file's bytes), which must hold ``n`` rows of ``dim`` dimensions on inner
    product (IntegrityError naming ``where`` otherwise)."""
    faiss = _faiss()
    try:
        raw = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        raise IntegrityError(f"{where} is not a faiss index file ({str(exc).splitlines()[0][:200]})") from None
    if raw.ntotal != n or raw.d != dim or raw.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IntegrityError(f"{where} holds {raw.ntotal} vectors of {raw.d} dimensions (metric {raw.metric_type}); "
                             f"its version has {n} of {dim} on inner product: it was built from other vectors")
    if not hasattr(raw, "hnsw"):
        raise IntegrityError(f"{where} is a faiss index but not an HNSW one ({type(raw).__name__})")
    return AnnIndex(params, n, dim, raw)
