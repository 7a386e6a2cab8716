"""Widgets generated from a pydantic config class: the Train page's method form and the Data page's options.

Per field: ``int``/``float`` → number input with min/max from ``ge``/``gt``/``le``/``lt``; ``Literal`` → selectbox;
``bool`` → checkbox; ``str`` → text input; ``list[str]`` → comma-separated text; ``dict`` → JSON text area;
``X | None`` → the same widget, empty = None. The field's ``description`` is the help text. Values are returned
raw; the library validates them (its ConfigError names the parameter and the value).
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any

import annotated_types as at
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from behemb_core.errors import ConfigError


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def bounds(field: FieldInfo) -> tuple[float | None, float | None]:
    """Inclusive (min, max) for a number input; exclusive float bounds are left to the library's validation."""
    lo: float | None = None
    hi: float | None = None
    for m in field.metadata:
        if isinstance(m, at.Ge):
            lo = _number(m.ge)
        elif isinstance(m, at.Gt):
            gt = _number(m.gt)
            lo = gt + 1 if isinstance(gt, int) and field.annotation is int else gt
        elif isinstance(m, at.Le):
            hi = _number(m.le)
        elif isinstance(m, at.Lt):
            lt = _number(m.lt)
            hi = lt - 1 if isinstance(lt, int) and field.annotation is int else lt
    return lo, hi


def _number(bound: object) -> float | None:
    """A bound as a number input takes it (an int stays an int); a bound that is no number (a date, …) is none."""
    if isinstance(bound, bool) or not isinstance(bound, (int, float)):
        return None
    return bound


def field_default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _float_step(default: Any) -> float:
    if isinstance(default, (int, float)) and default:
        return min(0.1, 10.0 ** math.floor(math.log10(abs(float(default)))))
    return 0.01


def field_label(name: str, field: FieldInfo) -> str:
    """What a person reads: the field's ``title``, else its name in words (``gap_minutes`` → "Gap minutes");
    the name itself stays in the help text, for the CLI's ``--set``."""
    if field.title:
        return field.title
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def unless_kept(key: str, **initial: Any) -> dict[str, Any]:
    """``initial`` (a widget's ``value=`` / ``index=``) unless session state already holds the widget's value.

    Kept form values are re-assigned through session state on every run (:mod:`.persist`); a widget that also
    got a default would make Streamlit log "created with a default value but also had its value set via the
    Session State API" on every visit. Pass ``**unless_kept(key, value=default)`` instead of ``value=default``."""
    return {} if key in st.session_state else initial


def field_widget(
    name: str, field: FieldInfo, *, key: str, default: Any = None, label: str | None = None,
    choices: list[Any] | None = None,
) -> Any:
    """Render one field's widget and return its raw value (lists/dicts parsed; ConfigError for bad JSON).
    ``choices`` makes it a selectbox whatever the field's type (choices that come from elsewhere, e.g. the
    registry's behavior methods for fusion's ``base_method``)."""
    annotation, optional = _unwrap_optional(field.annotation)
    value = field_default(field) if default is None else default
    label = label or field_label(name, field)
    help_text = f"{field.description or ''} (parameter `{name}`)".strip()
    origin = typing.get_origin(annotation)
    if choices is None and origin is typing.Literal:
        choices = list(typing.get_args(annotation))
    if choices is not None:
        return st.selectbox(label, choices, key=key, help=help_text,
                            **unless_kept(key, index=choices.index(value) if value in choices else 0))
    if annotation is bool:
        return st.checkbox(label, key=key, help=help_text, **unless_kept(key, value=bool(value)))
    if annotation in (int, float):
        lo, hi = bounds(field)
        if annotation is int:
            return st.number_input(
                label, min_value=None if lo is None else int(lo), max_value=None if hi is None else int(hi),
                step=1, key=key, help=help_text, placeholder="empty = automatic" if optional else None,
                **unless_kept(key, value=None if value is None else int(value)),
            )
        return st.number_input(
            label, min_value=None if lo is None else float(lo), max_value=None if hi is None else float(hi),
            step=_float_step(value), format="%g", key=key, help=help_text,
            placeholder="empty = automatic" if optional else None,
            **unless_kept(key, value=None if value is None else float(value)),
        )
    if origin is list:
        text = st.text_input(label, key=key, help=(help_text or "") + " (comma-separated)",
                             **unless_kept(key, value=", ".join(map(str, value or []))))
        items = [t.strip() for t in text.split(",") if t.strip()]
        return None if optional and not items and value is None else items
    if origin is dict or annotation is dict:
        text = st.text_area(label, key=key, help=(help_text or "") + " (JSON)", height=68,
                            **unless_kept(key, value=json.dumps(value or {})))
        try:
            parsed = json.loads(text or "{}")
        except ValueError as exc:
            raise ConfigError(f"{name}: not valid JSON ({exc})") from None
        return parsed
    text = st.text_input(label, key=key, help=help_text, **unless_kept(key, value="" if value is None else str(value)))
    return (text or None) if optional else text


def model_form(
    model: type[BaseModel], *, key_prefix: str, defaults: dict[str, Any] | None = None,
    exclude: tuple[str, ...] = (), columns: int = 2, choices: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    """Widgets for every field of ``model`` (in declaration order) in a grid; returns ``{field: value}``.
    ``choices`` gives fields a selectbox of these values (see :func:`field_widget`).

    Keys are ``f"{key_prefix}_{field}"``, stable across reruns, so tests can drive them.
    """
    values: dict[str, Any] = {}
    fields = [(n, f) for n, f in model.model_fields.items() if n not in exclude]
    cols = st.columns(columns)
    for i, (name, field) in enumerate(fields):
        with cols[i % columns]:
            values[name] = field_widget(name, field, key=f"{key_prefix}_{name}",
                                        default=(defaults or {}).get(name), choices=(choices or {}).get(name))
    return values
