"""The whole drift report of a version on new data, kept in the store (:func:`check_drift`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..ingest import Dataset
from ..progress import ProgressCallback, Reporter, as_reporter
from ..sessions import Sessions
from ..store import Store, StoredVersion, published_version
from ..store import _lifecycle_io as lio
from ..store.drift_policy import DriftThresholds
from .parts import coverage_part, decay_part, popularity_part, support_part
from .types import Coverage, DriftReport
from .verdict import drift_thresholds, judge


def _unjudgeable(version: str | None, data: dict[str, Any], t: DriftThresholds, reason: str,
                 coverage: Coverage | None = None) -> DriftReport:
    return {"kind": "drift", "version": version, "at": lio.utc_now(), "data": data, "coverage": coverage,
            "decay": None, "neighbor_support": None, "popularity": None, "thresholds": t.model_dump(mode="json"),
            "rules": [], "verdict": "could not judge", "reason": reason,
            "could_not_judge": [reason]}


def _data_section(sessions: Sessions, dataset: Dataset | None) -> dict[str, Any]:
    out: dict[str, Any] = {"fingerprint": sessions.fingerprint(), "sessions": sessions.n_sessions,
                           "events": sessions.n_events, "items": sessions.n_items}
    if sessions.start_times is not None and sessions.n_sessions:
        first, last = int(sessions.start_times.min()), int(sessions.start_times.max())
        out["first_session"] = pd.Timestamp(first, unit="ns", tz="UTC").isoformat()
        out["last_session"] = pd.Timestamp(last, unit="ns", tz="UTC").isoformat()
    if dataset is not None:
        out["paths"] = [str(p) for p in (dataset.source.get("paths") or [])][:50]
    return out


def drift_report(
    stored: StoredVersion,
    data: Dataset | Sessions,
    *,
    thresholds: DriftThresholds | None = None,
    k: int = 10,
    holdout: float = 0.1,
    n_boot: int = 200,
    head: int = 100,
    support_items: int = 100,
    top: int = 10,
    progress: ProgressCallback | Reporter | None = None,
) -> DriftReport:
    """The drift report of ``stored`` on the new data (a :class:`Dataset` — its names are used — or bare
    :class:`Sessions`), judged by ``thresholds`` (default :class:`DriftThresholds`). See the module docstring."""
    if not 1 <= k <= 1000:
        raise ConfigError(f"-k must be between 1 and 1000, got {k}")
    if not 0 < holdout < 1:
        raise ConfigError(f"holdout must be between 0 and 1, got {holdout}")
    t = thresholds or DriftThresholds()
    rep = as_reporter(progress)
    dataset = data if isinstance(data, Dataset) else None
    sessions = data.sessions if isinstance(data, Dataset) else data
    meta = dataset.item_meta if dataset is not None else None
    section = _data_section(sessions, dataset)
    trained_on = (stored.manifest.get("dataset") or {}).get("fingerprint")
    section["same_as_training_data"] = bool(trained_on) and trained_on == section["fingerprint"]
    rep("coverage", 0.05, f"items of the new data {stored.name} lacks")
    coverage = coverage_part(stored, sessions, top=top, item_meta=meta)
    if sessions.n_events == 0:
        return _unjudgeable(stored.name, section, t, "the new data has no events", coverage)
    if coverage["missing_items"] == coverage["items"]:
        return _unjudgeable(stored.name, section, t, f"{stored.name} has a vector for none of the "
                            f"{coverage['items']} items of the new data (no overlap at all: another catalogue?)",
                            coverage)
    rep("decay", 0.15, f"HR@{k} of {stored.name} on the new pairs")
    decay = decay_part(stored, sessions, k=k, holdout=holdout, n_boot=n_boot, progress=rep.sub(0.15, 0.7))
    if decay["pairs"] == 0:
        return _unjudgeable(stored.name, section, t, "the new data has no consecutive pairs of different items",
                            coverage)
    rep("support", 0.7, "neighbor support in the new co-occurrences")
    support = support_part(stored, sessions, k=k, items=support_items, top=top, item_meta=meta)
    rep("popularity", 0.9, "popularity then and now")
    popularity = popularity_part(stored, sessions, head=head, top=top, item_meta=meta)
    rules, verdict, reason, unjudged = judge(coverage, decay, support, t, stored.name)
    if section["same_as_training_data"]:
        decay["notes"].append(f"the new data is {stored.name}'s own training data: its numbers are optimistic")
    rep("done", 1.0, f"{verdict}: {reason}")
    return {"kind": "drift", "version": stored.name, "at": lio.utc_now(), "data": section, "coverage": coverage,
            "decay": decay, "neighbor_support": support, "popularity": popularity,
            "thresholds": t.model_dump(mode="json"), "rules": rules, "verdict": verdict, "reason": reason,
            "could_not_judge": unjudged}


def check_drift(
    store: Store | str,
    data: Dataset | Sessions,
    *,
    version: str | None = None,
    k: int = 10,
    holdout: float = 0.1,
    n_boot: int = 200,
    head: int = 100,
    support_items: int = 100,
    progress: ProgressCallback | Reporter | None = None,
) -> DriftReport:
    """:func:`drift_report` of ``version`` (default: the published one) in ``store``, judged by the store policy's
    thresholds. Nothing published: a report that could not judge (``version`` None). Keeping it is
    :func:`save_drift_report`'s (the caller decides; the CLI does unless ``--no-save``)."""
    st = lio.store_of(store)
    t = drift_thresholds(st)
    name = version if version is not None else published_version(st)
    if name is None:
        sessions = data.sessions if isinstance(data, Dataset) else data
        return _unjudgeable(None, _data_section(sessions, data if isinstance(data, Dataset) else None), t,
                            f"nothing is published in {st.url} (give a version to judge)")
    stored = st.load_version(name)
    return drift_report(stored, data, thresholds=t, k=k, holdout=holdout, n_boot=n_boot, head=head,
                        support_items=support_items, progress=progress)
