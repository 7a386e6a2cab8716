"""A sign-off check as people read it: values rounded, and the sentence that says why an approval is refused."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..store.checklist import CheckResult

__all__ = ["describe_blocking", "format_value", "shown_value"]


def format_value(value: Any) -> str:
    """A check value as people read it: ``—`` for None, floats to three decimals (``0.333``; small values to
    three significant digits), everything else as text."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}" if v != 0 and abs(v) < 0.01 else f"{round(v, 3):g}"
    return str(value)


def shown_value(check: CheckResult) -> str:
    """The value of ``check`` for people (:func:`format_value`)."""
    return format_value(check.value)


def describe_blocking(checks: Iterable[CheckResult]) -> str:
    """One sentence per check that blocks approval, in the words of the Publish page."""
    parts = []
    for c in checks:
        why = (f"could not judge: {c.could_not_judge}" if c.could_not_judge else
               f"value {shown_value(c)}, needs {c.threshold}")
        todo = ("acknowledge it by name to approve" if c.acknowledgeable else
                "it cannot be acknowledged, only overridden (recorded)")
        parts.append(f"“{c.name}” is a {c.state} ({why}); {todo}")
    return "; ".join(parts)
