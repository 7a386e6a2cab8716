"""The one registry of embedding methods: canonical name → config class, fit function, description and
capabilities (:class:`~.base.MethodSpec`).

Front ends build their forms and ``--set key=value`` parsing from this table, and decide what a method can
use (sessions, a base version, content vectors) from its capabilities, never from its name. Adding a method
means one module (a config class and a ``fit_xxx`` function) plus one entry here; the shared contract tests
(``tests/method_contract.py``) then apply to it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import MethodConfig, MethodSpec
from .cooc_softmax import CoocSoftmaxConfig, fit_cooc_softmax
from .fusion import FusionConfig, fit_fusion, fusion_base_training
from .graph import GraphConfig, fit_graph
from .item2vec import Item2VecConfig, fit_item2vec
from .ppmi_svd import PpmiSvdConfig, fit_ppmi_svd

METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            name="cooc_softmax", title="Co-occurrence cosine softmax", config_class=CoocSoftmaxConfig,
            fit=fit_cooc_softmax,
            description="Unit vectors whose cosine softmax reproduces popularity-damped, distance-weighted "
            "co-occurrence. Pick it first: the most accurate neighbors on real data, and the only method "
            "that beats item-kNN there.",
            version_prefix="cs",
        ),
        MethodSpec(
            name="ppmi_svd", title="PPMI + SVD", config_class=PpmiSvdConfig, fit=fit_ppmi_svd,
            description="Windowed co-occurrence → PPMI → randomized SVD. Pick it for the fastest iterations "
            "on very large catalogues, or for vectors that are identical for a seed on any machine.",
            version_prefix="ppmi", pair_table=lambda cfg: (cfg.window, cfg.weighting),
        ),
        MethodSpec(
            name="item2vec", title="Item2Vec (SGNS)", config_class=Item2VecConfig, fit=fit_item2vec,
            description="Skip-gram with negative sampling over sessions (gensim Word2Vec, sg=1). Pick it when "
            "the order inside long sessions matters more than plain co-occurrence.",
            version_prefix="i2v",
        ),
        MethodSpec(
            name="graph", title="Graph walks (DeepWalk / node2vec)", config_class=GraphConfig, fit=fit_graph,
            description="Random walks over the top-k co-occurrence graph, then skip-gram on the walks. Pick it "
            "for sparse data where related items are several hops apart.",
            version_prefix="graph",
        ),
        MethodSpec(
            name="fusion", title="Behavior + content fusion", config_class=FusionConfig, fit=fit_fusion,
            description="Blend behavior vectors with content vectors mapped into the same space. Pick it when "
            "new items without behavior need a vector (cold start) from their text or content vectors.",
            version_prefix="fus",
            learns_from_sessions=False, builds_on=fusion_base_training, accepts_content=True,
        ),
    )
}


def get_method(method: str | MethodSpec) -> MethodSpec:
    """The registry entry for ``method`` (a spec is returned as it is, so a caller resolves a name once and
    passes the spec on); the error lists the known methods."""
    if isinstance(method, MethodSpec):
        return method
    try:
        return METHODS[method]
    except KeyError:
        raise ConfigError(f"unknown method {method!r}; choose one of {sorted(METHODS)}") from None


def parse_config(method: str | MethodSpec, values: dict[str, Any] | MethodConfig | None = None) -> MethodConfig:
    """Validate ``values`` into the method's config; errors name every bad parameter and its value."""
    return get_method(method).parse_config(values)


def coerce_setting(method: str | MethodSpec, key: str, text: str) -> Any:
    """Turn a ``--set key=value`` string into the type the config field expects (validated later)."""
    import json

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
