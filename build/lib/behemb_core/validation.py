"""One way to turn a pydantic ``ValidationError`` into a message for people: every bad field with the value given
and what was wrong, prefixed by what was being configured. The CLI, the app and the library's own parsers (method
configs, dataset specs, store settings) all report invalid options through :func:`validated`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def problems(exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """``field=value: what is wrong`` for each error; an unknown field of ``model`` (or of a model nested in it)
    lists the known ones."""
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(value)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and model is not None:
            owner = _nested(model, err["loc"][:-1])
            if owner is not None:
                msg = f"unknown parameter (known: {', '.join(sorted(owner.model_fields))})"
        out.append(f"{key}={err.get('input')!r}: {msg}")
    return out


def _nested(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class at ``path`` of field names inside ``model`` (None when the path leaves the models)."""
    for name in path:
        field = model.model_fields.get(str(name))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def validated(model: type[M], values: Mapping[str, Any] | M | None, what: str) -> M:
    """``values`` as a ``model``, or a :class:`~behemb_core.errors.ConfigError` ``"<what>: field=value: why; …"``
    naming every bad field (unknown fields list the known ones). A ``model`` instance is returned as it is."""
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(dict(values or {}))
    except ValidationError as exc:
        raise ConfigError(f"{what}: " + "; ".join(problems(exc, model))) from None
