"""Store-level settings: one JSON file, ``<store>/settings.json``, next to (never inside) the version folders.

Today it holds one setting, ``interaction``: the verb the app and the CLI use for what people did with items
("People who **viewed** this also viewed"). Unset, the verb follows the version's training data
(:func:`interaction_verb`). The file is validated on read and on write (a bad value is a :class:`ConfigError`
naming the file and the field) and replaced atomically (temp file + rename), so a reader sees the old or the
new settings, never a mix. Published versions are never touched: the wording is presentation only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigError
from ..identity import Actor, as_actor
from ..interaction import guess_interaction
from . import _lifecycle_io as lio
from .filestore import Store
from .policy import access

SETTINGS_FILE = "settings.json"
Interaction = Literal["viewed", "bought", "played"]
INTERACTIONS: tuple[str, ...] = get_args(Interaction)
DEFAULT_INTERACTION: Interaction = "bought"

class StoreSettings(BaseModel):
    """The settings of one store. ``interaction`` None means: from the version's training data."""

    model_config = ConfigDict(extra="forbid")

    interaction: Interaction | None = None


def _path(st: Store) -> str:
    return st.join(SETTINGS_FILE)


def _validated(values: Any, where: str) -> StoreSettings:
    try:
        return StoreSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(map(str, e['loc'])) or '(root)'!r}: {e['msg']}"
            + (f" (got {e['input']!r}; one of {', '.join(INTERACTIONS)} or null)" if e["loc"] == ("interaction",)
               else "")
            for e in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def read_settings(store: Store | str) -> StoreSettings:
    """The store's settings (all unset when the file does not exist). An unreadable or invalid file raises
    :class:`IntegrityError` / :class:`ConfigError` naming the file and the field."""
    st = lio.store_of(store)
    data = lio.read_json(st, _path(st), "store settings")
    return StoreSettings() if data is None else _validated(data, f"store settings {_path(st)}")


def write_settings(store: Store | str, *, by: Actor | str | None = None, **changes: Any) -> StoreSettings:
    """Validate ``changes`` (e.g. ``interaction="viewed"``, or ``interaction=None`` for automatic) against the
    current settings and replace the settings file atomically; returns the new settings. Under a store policy
    only an admin (``by``) may change them."""
    st = lio.store_of(store)
    access(st, None if by is None else as_actor(by)).require("settings")
    merged = {**read_settings(st).model_dump(), **changes}
    settings = _validated(merged, f"store settings {_path(st)}")
    with lio.locked(st):
        lio.write_atomic(st, _path(st), lio.json_bytes(settings.model_dump(mode="json")))
    return settings


def verb_from_source(source: Mapping[str, Any] | None) -> Interaction:
    """The verb a version's training data suggests (``manifest["dataset"]["source"]``): the one guess of
    :func:`behemb_core.interaction.guess_interaction` — kept event types, the most frequent event type, the event-type
    column, the file names (``train-item-views.csv`` → viewed), the session and weight columns, the kind of input;
    nothing recognised → bought."""
    verb = guess_interaction(source).verb
    return verb if verb in INTERACTIONS else DEFAULT_INTERACTION  # type: ignore[return-value]


def interaction_verb(store: Store | str, manifest: Mapping[str, Any] | None) -> str:
    """The verb to show for a version: the store's ``interaction`` setting when set, else the one its training
    data suggests (:func:`verb_from_source` on ``manifest["dataset"]["source"]``), else ``"bought"``."""
    chosen = read_settings(store).interaction
    if chosen is not None:
        return chosen
    return verb_from_source(((manifest or {}).get("dataset") or {}).get("source"))
