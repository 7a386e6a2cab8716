"""Drift: how well does a stored (by default the published) version still fit new interaction data?

Behaviour embeddings assume the catalogue and its co-occurrences stand still; they don't. :func:`drift_report`
reads new sessions (read exactly as training reads them) against a version and reports four parts:

* **coverage** — the cold-start holes: share of the new events, sessions (with at least one such event) and
  distinct items the version has no vector for, with the most frequent missing items by name;
* **decay** — next-item HR@K of the version on every consecutive pair of the new data (:mod:`.evaluation`, with a
  bootstrap interval), beside the HR@K stored at training time (the manifest's evaluation, ``train --evaluate``)
  and beside item-kNN *fitted on the new data itself* (its first part by time; both scored on the pairs of the last
  ``holdout`` share);
* **neighbor support** — for the new data's most popular items the version knows: the share of the version's
  top-K neighbors that still co-occur with them in the new data (the version's own window);
* **popularity shift** — with the version's stored training popularity (``item_stats``): overlap of the head
  (top ``head`` items) then and now, Spearman rank correlation over the items in both, and the share of new
  events on items that were head at training time (beside their share then).

A **verdict** — ``fresh``, ``aging``, ``stale`` or ``could not judge`` — comes from :class:`DriftThresholds`
(the store policy's ``drift`` section, else the defaults), with the reason in words. Without overlap, without
pairs, or without any judged decay rule the verdict is ``could not judge``, never ``fresh``. The command line
exits :data:`EXIT_STALE` (4) for *stale* — retrain recommended — and :data:`EXIT_COULD_NOT_JUDGE` (3) when it
could not judge. Everything is vectorised over arrays and sparse matrices; the library never prints.
"""


from __future__ import annotations

from ..store.drift_policy import DriftThresholds
from ..store.drift_reports import drift_reports, latest_drift_report, save_drift_report
from .parts import coverage_part, decay_part, popularity_part, support_part
from .report import check_drift, drift_report
from .types import EXIT_COULD_NOT_JUDGE, EXIT_STALE, DriftReport, Verdict
from .verdict import drift_thresholds, exit_code, judge

__all__ = ["EXIT_COULD_NOT_JUDGE", "EXIT_STALE", "DriftReport", "DriftThresholds", "Verdict", "check_drift",
           "coverage_part", "decay_part", "drift_report", "drift_reports", "drift_thresholds", "exit_code", "judge",
           "latest_drift_report", "popularity_part", "save_drift_report", "support_part"]
