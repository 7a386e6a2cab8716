"""Where a benchmark's results go: the JSON record and its Markdown report beside it (``.md``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_results(result: dict[str, Any], out: Path, markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write ``result`` to ``out`` (JSON, numpy scalars as floats) and ``markdown(result)`` beside it as ``.md``,
    creating the folder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
