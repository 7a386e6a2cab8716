"""Procrustes alignment of two maps, so two versions' projections can be shown side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..vocab import Vocabulary, normalize_ids


@dataclass(frozen=True)
class Alignment:
    """A similarity transform ``z ↦ scale · (z − source_center) · rotation + target_center`` and its fit.

    ``rmse`` is the root-mean-square distance between aligned and reference points over the ``n_shared`` items
    used in the fit; ``relative_residual`` is ``‖aligned − ref‖ / ‖ref − mean(ref)‖`` (0 = identical layouts
    up to rotation, reflection, scale and shift; near 1 = no better than collapsing onto the centroid).
    """

    rotation: np.ndarray
    scale: float
    source_center: np.ndarray
    target_center: np.ndarray
    n_shared: int
    rmse: float
    relative_residual: float

    @property
    def reflection(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)

    def apply(self, xy: np.ndarray) -> np.ndarray:
        z = np.asarray(xy, dtype=np.float64)
        return self.scale * (z - self.source_center) @ self.rotation + self.target_center

    def to_dict(self) -> dict[str, Any]:
        return {"n_shared": self.n_shared, "rmse": self.rmse, "relative_residual": self.relative_residual,
                "scale": self.scale, "reflection": self.reflection,
                "rotation_degrees": float(np.degrees(np.arctan2(self.rotation[0, 1], self.rotation[0, 0])))}


def _xy_table(df: pd.DataFrame, what: str) -> pd.DataFrame:
    missing = {"item_id", "x", "y"} - set(df.columns)
    if missing:
        raise InputError(f"{what} projection lacks columns {sorted(missing)}")
    if df["item_id"].duplicated().any():
        dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
        raise InputError(f"{what} projection lists item {dup!r} more than once")
    return df


def _rows_by_code(df: pd.DataFrame) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary of a map's (unique) item ids and, for each of its codes, the table row holding it."""
    vocab, codes = Vocabulary.from_codes(normalize_ids(df["item_id"]))
    rows = np.empty(len(vocab), dtype=np.int64)
    rows[codes] = np.arange(len(codes))
    return vocab, rows


def shared_rows(ref: pd.DataFrame, other: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``ref`` and of ``other`` holding the same items (matched by id, as :meth:`Vocabulary.align`
    matches them: an integer and a string id match by their text), in ``other``'s row order."""
    ref_vocab, ref_rows = _rows_by_code(ref)
    other_vocab, other_rows = _rows_by_code(other)
    in_other, in_ref = other_vocab.align(ref_vocab).shared()
    rows_other, rows_ref = other_rows[in_other], ref_rows[in_ref]
    order = np.argsort(rows_other, kind="stable")
    return rows_ref[order], rows_other[order]


def fit_alignment(ref: pd.DataFrame, other: pd.DataFrame) -> Alignment:
    """The least-squares similarity transform (rotation/reflection, scale, shift) taking ``other`` onto ``ref``
    over the items both contain (``scipy.linalg.orthogonal_procrustes`` on centred coordinates).

    Raises InputError when fewer than 3 items are shared or ``other``'s shared points all coincide.
    """
    from scipy.linalg import orthogonal_procrustes

    _xy_table(ref, "reference")
    _xy_table(other, "other")
    rows_ref, rows_other = shared_rows(ref, other)
    if len(rows_ref) < 3:
        raise InputError(f"the two projections share {len(rows_ref)} items; aligning them needs at least 3")
    a = ref[["x", "y"]].to_numpy(np.float64)[rows_ref]
    b = other[["x", "y"]].to_numpy(np.float64)[rows_other]
    a0, b0 = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - a0, b - b0
    norm_b = float((bc ** 2).sum())
    if norm_b <= 1e-24:
        raise InputError("the shared items of the projection to align all sit at one point")
    rotation, sv_sum = orthogonal_procrustes(bc, ac)
    scale = float(sv_sum) / norm_b
    aligned = scale * bc @ rotation + a0
    resid = float(((aligned - a) ** 2).sum())
    norm_a = float((ac ** 2).sum())
    return Alignment(rotation=rotation, scale=scale, source_center=b0, target_center=a0, n_shared=len(rows_ref),
                     rmse=float(np.sqrt(resid / len(rows_ref))),
                     relative_residual=float(np.sqrt(resid / norm_a)) if norm_a > 0 else float("inf"))


def align_projections(ref: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """``other`` with its ``x``/``y`` mapped onto ``ref``'s frame by Procrustes (rotation/reflection + scale +
    translation), so two versions' maps can be shown side by side with comparable layouts.

    The transform is fitted by least squares on the items both tables share; items only in ``other`` are
    transformed too (they just do not enter the fit), items only in ``ref`` are ignored. All other columns of
    ``other`` are kept; ``x``/``y`` become float64. The fit is reported in ``result.attrs["alignment"]``
    (``n_shared``, ``rmse``, ``relative_residual``, ``scale``, ``reflection``, ``rotation_degrees``); use
    :func:`fit_alignment` for the transform itself.
    """
    alignment = fit_alignment(ref, other)
    out = other.copy()
    xy = alignment.apply(other[["x", "y"]].to_numpy(np.float64))
    out["x"], out["y"] = xy[:, 0], xy[:, 1]
    out.attrs["alignment"] = alignment.to_dict()
    return out

