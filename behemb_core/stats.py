"""Small statistics shared by the data summary and the diagnostics."""

from __future__ import annotations

import numpy as np


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative ``values``: 0 when all are equal (or all zero), towards 1 when one holds
    everything (exactly ``(n - 1) / n`` then)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), float(x.sum())
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * total))
