"""What the store keeps of a sign-off check: :class:`CheckResult`, the record an approval stores for each check
(name, whether it passed, value, threshold, detail, whether a person may acknowledge it, why it could not judge),
its three states, and the checks every approval must record.

The checks themselves, and how they are worded for people, are the sign-off side's
(:mod:`behemb_core.signoff`, :mod:`behemb_core.checks`); the store only needs the record to decide whether an
approval is refused (a failed check neither acknowledged by name nor overridden) and to read approvals back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StoreError
from ._manifest import json_safe

__all__ = ["CHECK_STATES", "SIGNOFF_CHECK_NAMES", "CheckResult", "blocking_sentence"]

#: The checks every approval records: the built-in checklist of :data:`behemb_core.signoff.SIGNOFF_CHECKS`, in
#: its order. Under a policy ``verify`` reports an approval that lacks one of them — a caller that chose its
#: checks. A check added to the sign-off tuple is recorded too and needs no entry here. When ``vectors valid``
#: fails nothing else can be judged, so such an approval records the first two only.
SIGNOFF_CHECK_NAMES = ("files intact", "vectors valid", "unique ids", "quality vs item-kNN", "no popularity collapse",
                       "same catalogue as published", "stability vs published", "golden pairs")

CHECK_STATES = ("pass", "warning", "fail")


@dataclass(frozen=True)
class CheckResult:
    """One release check. A failed ``acknowledgeable`` check (a judgement call such as "beats item-kNN within
    tolerance") counts as passed when the approver acknowledges it by name; any other failure blocks approval
    unless overridden. ``value`` must be JSON-able (non-finite floats are recorded as strings).

    ``could_not_judge`` is the reason, in plain words, when the check had nothing to judge (no shared items, no
    golden pair in the version, no evaluation stored). Such a check is never a pass: it must have
    ``passed=False`` and is a warning the approver acknowledges by name. :attr:`state` is ``"pass"``,
    ``"warning"`` (failed or could not judge, acknowledgeable) or ``"fail"`` (override only). How a check reads
    for people (rounded values, the refusal sentence) is :mod:`behemb_core.checks.wording`.
    """

    name: str
    passed: bool
    value: Any
    threshold: str
    detail: str
    acknowledgeable: bool = False
    could_not_judge: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StoreError(f"a check needs a non-empty name, got {self.name!r}")
        for key in ("passed", "acknowledgeable"):
            if not isinstance(getattr(self, key), bool):
                object.__setattr__(self, key, _as_bool(getattr(self, key), f"check {self.name!r}: {key}"))
        for key in ("threshold", "detail"):
            if not isinstance(getattr(self, key), str):
                raise StoreError(f"check {self.name!r}: {key} must be a string, got {getattr(self, key)!r}")
        if self.could_not_judge is not None:
            if not isinstance(self.could_not_judge, str) or not self.could_not_judge.strip():
                raise StoreError(f"check {self.name!r}: could_not_judge must be a reason in words or None, "
                                 f"got {self.could_not_judge!r}")
            if self.passed:
                raise StoreError(f"check {self.name!r} could not judge ({self.could_not_judge}), so it cannot pass")

    @property
    def state(self) -> str:
        """``"pass"``, ``"warning"`` (acknowledge by name) or ``"fail"`` (override only)."""
        return "pass" if self.passed else "warning" if self.acknowledgeable else "fail"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (as stored in approval records)."""
        value = self.value
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            value = str(float(value))  # a NaN metric must still be recordable (and refusable)
        return {"name": self.name, "passed": self.passed, "value": json_safe(value, f"check {self.name!r} value"),
                "threshold": self.threshold, "detail": self.detail, "acknowledgeable": self.acknowledgeable,
                "state": self.state, "could_not_judge": self.could_not_judge}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict` (``state`` is derived, not read); missing keys raise StoreError naming
        them."""
        missing = [k for k in _RECORD_KEYS if k not in data]
        if missing:
            raise StoreError(f"check record {dict(data)!r} lacks {missing}")
        return cls(name=data["name"], passed=data["passed"], value=data["value"], threshold=data["threshold"],
                   detail=data["detail"], acknowledgeable=data["acknowledgeable"],
                   could_not_judge=data["could_not_judge"])


#: The keys of a check record (:meth:`CheckResult.to_dict` writes them all; ``state`` is derived).
_RECORD_KEYS = ("name", "passed", "value", "threshold", "detail", "acknowledgeable", "could_not_judge")


def blocking_sentence(checks: Iterable[CheckResult]) -> str:
    """The checks that block an approval — name, state, value as recorded and threshold (or why it could not
    judge) — and what lifts each: the store's plain refusal. The sign-off side words it for people, values
    rounded (:func:`behemb_core.checks.wording.describe_blocking`)."""
    parts = []
    for c in checks:
        why = f"could not judge: {c.could_not_judge}" if c.could_not_judge else f"value {c.value}, needs {c.threshold}"
        todo = ("acknowledge it by name to approve" if c.acknowledgeable else
                "it cannot be acknowledged, only overridden (recorded)")
        parts.append(f"“{c.name}” is a {c.state} ({why}); {todo}")
    return "; ".join(parts)


def _as_bool(value: object, where: str) -> bool:
    if hasattr(value, "dtype") and value.dtype.kind == "b":  # numpy bool
        return bool(value)
    raise StoreError(f"{where} must be True or False, got {value!r}")
