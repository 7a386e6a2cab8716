"""Item metadata: a table item id → name (and any other columns), kept with the data and every version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ItemMetadata:
    """``table`` has a normalised ``item_id`` column (unique), a ``name`` column (str) and any other columns."""

    table: pd.DataFrame

    def names_for(self, ids: np.ndarray) -> np.ndarray:
        """Names for the given ids (``""`` where unknown), as an object array."""
        s = self.table.set_index("item_id")["name"]
        idx = pd.Index(s.index).get_indexer(ids)
        out = np.full(len(ids), "", dtype=object)
        ok = idx >= 0
        out[ok] = s.to_numpy(dtype=object)[idx[ok]]
        return out

    def text_series(self, columns: list[str] | None = None) -> pd.Series:
        """Item text for content vectors: the name plus the given extra columns, joined by spaces."""
        cols = ["name", *(columns or [])]
        text = self.table[cols[0]].fillna("").astype(str)
        for col in cols[1:]:  # vectorised string concatenation; "|"-separated lists become words
            text = text + " " + self.table[col].fillna("").astype(str).str.replace("|", " ", regex=False)
        return pd.Series(text.to_numpy(), index=self.table["item_id"].to_numpy())


# ---------------------------------------------------------------- the interaction verb a dataset suggests
