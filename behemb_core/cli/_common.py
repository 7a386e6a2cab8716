"""What every command shares: progress on stderr, JSON and table output, the ``--store`` option, small parsers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..errors import ConfigError
from ..progress import ProgressEvent


class StderrProgress:
    """Render progress events as short stderr lines, at most one per percent step or stage change."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.last: tuple[str, int] | None = None
        self.t0 = time.perf_counter()

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        pct = -1 if event.fraction is None else int(event.fraction * 100)
        key = (event.stage, pct)
        if key == self.last and event.stage not in ("epoch", "trial"):
            return
        self.last = key
        head = f"{pct:3d}%" if pct >= 0 else "    "
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {head} {event.stage}: {event.message}", file=sys.stderr)


def emit(obj: Any) -> None:
    """One JSON document on stdout (the machine-readable result of a command)."""
    print(json.dumps(obj, default=str, ensure_ascii=False))


def emit_rows(rows: list[dict], columns: list[str], *, as_json: bool) -> None:
    if as_json:
        emit(rows)
    else:
        print_table(rows, columns)


def print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def store_option(p: argparse.ArgumentParser, *, help: str | None = None) -> None:
    """``--store``, defaulting to the app's store (:func:`~behemb_core.store.location.default_store`:
    ``$BEHEMB_STORE``, else ``data/store``)."""
    from ..store.location import DEFAULT_STORE, STORE_ENV, default_store

    p.add_argument("--store", default=default_store(),
                   help=help or f"Store folder or fsspec URL (default: ${STORE_ENV}, else {DEFAULT_STORE}; the same "
                   "store as the app's).")


def acting(args: argparse.Namespace, store: Any) -> Any:
    """Who runs this command (an :class:`~behemb_core.identity.Actor`): the ID token in the environment
    (``BEHEMB_ID_TOKEN`` / ``BEHEMB_ID_TOKEN_FILE``), verified against the store policy's trusted issuers, else
    the operating-system user and host, unverified. ``--by`` is only a label kept beside it."""
    from ..id_token import actor_from_token, token_from_env
    from ..identity import Actor, check_name
    from ..store.policy import read_policy

    label = getattr(args, "by", None)
    if label is not None:
        check_name(label, "--by")
    token = token_from_env()
    if token is None:
        return Actor.os_user(label=label)
    policy = read_policy(store)
    return actor_from_token(token, list(policy.token_issuers) if policy else [],
                            groups_claim=policy.groups_claim if policy else "groups", label=label)


BY_HELP = ("A label recorded beside who acts (e.g. a ticket); never the identity, which is the ID token's "
           "(BEHEMB_ID_TOKEN) or else the OS user and host, unverified.")


def int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} expects comma-separated integers, got {text!r}") from None


def typed_id(emb, text: str):
    from ..vocab import parse_id_like

    return parse_id_like(text, emb.vocab.kind)


def parse_sets(method: str, sets: list[str]) -> dict[str, Any]:
    from ..methods.registry import coerce_setting

    values: dict[str, Any] = {}
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        values[key.strip()] = coerce_setting(method, key.strip(), text)
    return values
