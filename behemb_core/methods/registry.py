"""The one registry of embedding methods: canonical name → :class:`~.base.MethodSpec` (config class, fit function,
description, capabilities, and the facts other modules ask of a method: search space, warm-up configs, collapse
hints, co-occurrence window, target similarity).

Each method module ends with its ``SPEC``; this module lists them. Front ends build their forms and
``--set key=value`` parsing from this table, and decide what a method can use (sessions, a base version, content
vectors) from its entry, never from its name. Adding a method means one module (a config class, a ``fit_xxx``
function and its ``SPEC``) plus one line in :data:`_BUILT_IN`; the shared contract tests
(``tests/method_contract.py``) then apply to it. :func:`register_method` adds one at run time (a plugin, a test).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..errors import ConfigError
from . import cooc_softmax, fusion, graph, item2vec, ppmi_svd
from .base import MethodConfig, MethodSpec

METHODS: dict[str, MethodSpec] = {}

#: The method a front end preselects; it is a registered name (checked below).
DEFAULT_METHOD = cooc_softmax.SPEC.name


def register_method(spec: MethodSpec, *, replace: bool = False) -> MethodSpec:
    """Add ``spec`` to the registry (and return the entry as registered). A method that builds on behavior
    vectors chooses its base method from this registry. A name already taken is refused unless ``replace``."""
    if spec.name in METHODS and not replace:
        raise ConfigError(f"a method named {spec.name!r} is already registered")
    if not spec.name.isidentifier():
        raise ConfigError(f"method name {spec.name!r} must be an identifier (it is used in --set and file names)")
    if spec.builds_on is not None:
        spec = dataclasses.replace(spec, base_methods=METHODS)
    METHODS[spec.name] = spec
    return spec


def unregister_method(name: str) -> None:
    """Remove a method registered at run time (a built-in stays)."""
    if name in _BUILT_IN_NAMES:
        raise ConfigError(f"{name!r} is a built-in method and cannot be removed")
    METHODS.pop(name, None)


_BUILT_IN = (cooc_softmax.SPEC, ppmi_svd.SPEC, item2vec.SPEC, graph.SPEC, fusion.SPEC)
_BUILT_IN_NAMES = frozenset(spec.name for spec in _BUILT_IN)
for _spec in _BUILT_IN:
    register_method(_spec)


def get_method(method: str | MethodSpec) -> MethodSpec:
    """The registry entry for ``method`` (a spec is returned as it is, so a caller resolves a name once and
    passes the spec on); the error lists the known methods."""
    if isinstance(method, MethodSpec):
        return method
    try:
        return METHODS[method]
    except KeyError:
        raise ConfigError(f"unknown method {method!r}; choose one of {sorted(METHODS)}") from None


def spec_for_config(config: MethodConfig) -> MethodSpec:
    """The registry entry whose config class ``config`` is (exactly: a subclass is another method's config)."""
    for spec in METHODS.values():
        if type(config) is spec.config_class:
            return spec
    raise ConfigError(f"no registered method has the config class {type(config).__name__}")


def parse_config(method: str | MethodSpec, values: dict[str, Any] | MethodConfig | None = None) -> MethodConfig:
    """Validate ``values`` into the method's config; errors name every bad parameter and its value."""
    return get_method(method).parse_config(values)


def coerce_setting(method: str | MethodSpec, key: str, text: str) -> Any:
    """Turn a ``--set key=value`` string into the type the config field expects (validated later)."""
    spec = get_method(method)
    if key not in spec.config_class.model_fields:
        raise ConfigError(f"{spec.name}: unknown parameter {key!r} (known: {spec.known_parameters()})")
    lowered = text.strip()
    if lowered.lower() in ("none", "null"):
        return None
    if lowered.lower() in ("true", "false"):
        return lowered.lower() == "true"
    try:
        return json.loads(lowered)
    except ValueError:
        return text


def methods_with_next_tables() -> list[str]:
    """Registered methods that can also fit the directional "next item" tables (a ``directional`` config switch)."""
    return [name for name, spec in METHODS.items() if "directional" in spec.config_class.model_fields]
