"""Served neighbors: the approximate-nearest-neighbor index a version is served from — built (:mod:`.index`),
measured against exact search (:mod:`.recall`), kept with the version and registered (:mod:`.served`), exported for
the serving program (:mod:`.export`). The sign-off check that judges it is :mod:`behemb_core.checks.served`."""

from .export import export_faiss
from .index import AnnIndex, AnnParams, build_index, load_index
from .recall import AnnMeasurement, measure_recall
from .served import build_version_index, index_for_version, open_index, served_neighbors

__all__ = ["AnnIndex", "AnnMeasurement", "AnnParams", "build_index", "build_version_index", "export_faiss",
           "index_for_version", "load_index", "measure_recall", "open_index", "served_neighbors"]
