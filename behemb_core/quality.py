"""Deprecated path: evaluation reports live in :mod:`behemb_core.evaluation` (:mod:`behemb_core.evaluation.report`).

A thin re-export kept while ``train.py`` and ``cli.py`` still import from here; it goes once they import
:mod:`behemb_core.evaluation`.
"""

from __future__ import annotations

from .evaluation import evaluate_method, evaluate_version  # noqa: F401
