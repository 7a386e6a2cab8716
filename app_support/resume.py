"""Browser-session state that survives a reload of the page.

Streamlit ties ``st.session_state`` to one websocket connection: a browser reload opens a new session, which used to
come back on the bundled demo, with the store in the sidebar reset and no sign of a training job that was still
running (and saving its version) in the background. Here every browser session gets an unguessable key, kept in the
address as ``?s=<key>`` (Streamlit 1.67 keeps query parameters across a reload, and the app sets it again on every
run, so page switches keep it too). The session's *handles* — store path, dataset spec and label, uploaded file
paths, last version, typed name — are written to a process-wide, bounded shelf under that key at the start and end
of every run; a new session that arrives with the key takes them back, and finds the key's training job again
(:func:`app_support.jobs.resumable`), so its progress and Cancel button are back.

Only the person who made the key gets it back. A record is bound to who and where it was made: the signed-in
identity when sign-in is configured, and the browser (a hash of Streamlit's per-browser XSRF cookie). A key copied
into another browser, or used by another signed-in person, is refused: that session starts afresh with a key of its
own and is told why. Nothing heavy is kept here — datasets stay in :mod:`app_support.loaders`' caches, keyed by the
spec — and the shelf holds at most :data:`MAX_RECORDS` keys, each forgotten after :data:`MAX_IDLE_S` unused.

When a key cannot be honoured (the server restarted, the key expired, the uploaded files are gone, a foreign key),
the session is on the bundled demo and :func:`show_notice` says so loudly on every page until dismissed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from behemb_core.demo import DEMO_LABEL

from . import jobs

PARAM = "s"  # the query parameter carrying the key: /Train?s=<key>
TOKEN = "_resume_token"  # session-state key of this browser session's key
NOTICE = "_resume_notice"  # session-state key of the message saying what a reload could not bring back
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
MAX_RECORDS = 1000
MAX_IDLE_S = 24 * 3600  # as long as uploaded files are kept (data_io.UPLOAD_MAX_AGE_S)
XSRF_COOKIE = "_streamlit_xsrf"

# The session-state keys a reload brings back (handles only: strings, lists of paths). Spelled here rather than
# imported from keys.py, which imports this module.
STORE_PATH = "store_path"
DATASET_SPEC = "dataset_spec"
DATASET_LABEL = "dataset_label"
UPLOADED_PATHS = "uploaded_paths"
UPLOADED_META_PATH = "uploaded_meta_path"
LAST_VERSION = "last_version"
TYPED_NAME = "actor_name"
TRAIN_JOB = "train_job"
KEPT = (STORE_PATH, DATASET_SPEC, DATASET_LABEL, UPLOADED_PATHS, UPLOADED_META_PATH, LAST_VERSION, TYPED_NAME)
#: A value longer than this (as text) is not kept: the shelf outlives the session for a day, so what one session
#: can make it hold must stay small (1,000 records × these few values). The record says which were left out.
MAX_VALUE_CHARS = 65_536
TOO_LARGE = "_too_large"


@dataclass
class Record:
    binding: str
    values: dict[str, Any] = field(default_factory=dict)
    touched: float = field(default_factory=time.time)


class Shelf:
    """Records by key, most recently used last; at most ``max_records``, none idle longer than ``max_idle_s``."""

    def __init__(self, max_records: int = MAX_RECORDS, max_idle_s: float = MAX_IDLE_S) -> None:
        self.max_records, self.max_idle_s = max_records, max_idle_s
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def _expire(self, now: float) -> None:
        while self._records:
            key, oldest = next(iter(self._records.items()))
            if now - oldest.touched <= self.max_idle_s and len(self._records) <= self.max_records:
                break
            del self._records[key]

    def put(self, token: str, binding: str, values: Mapping[str, Any]) -> None:
        """Keep ``values`` under ``token`` for ``binding`` (a record of another binding is never overwritten)."""
        now = time.time()
        with self._lock:
            rec = self._records.get(token)
            if rec is not None and rec.binding != binding:
                return
            self._records[token] = Record(binding, dict(values), now)
            self._records.move_to_end(token)
            self._expire(now)

    def take(self, token: str, binding: str) -> Record | None:
        """The record under ``token`` when ``binding`` made it; ``None`` when there is none. Raises
        :class:`ForeignKey` when another person or browser made it."""
        now = time.time()
        with self._lock:
            self._expire(now)
            rec = self._records.get(token)
            if rec is not None and now - rec.touched > self.max_idle_s:
                del self._records[token]
                rec = None
            if rec is None:
                return None
            if rec.binding != binding:
                raise ForeignKey(token)
            rec.touched = now
            self._records.move_to_end(token)
            return rec


class ForeignKey(Exception):
    """A session key made by another person or in another browser."""


@st.cache_resource
def shelf() -> Shelf:
    """The server process's shelf (shared by all sessions)."""
    return Shelf()


def browser_secret(cookies: Mapping[str, str]) -> str:
    """This browser's XSRF token (Tornado's ``2|mask|masked token|time`` cookie, unmasked: the mask changes with
    every response, the token stays for the browser's life), or ``""`` without the cookie."""
    raw = cookies.get(XSRF_COOKIE) or ""
    parts = raw.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return ""
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return ""
    if len(mask) != 4:
        return ""
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked)).hex()


def binding_of(actor_id: str | None, browser: str) -> str:
    """What a record is bound to: the signed-in identity (or none) and the browser, hashed."""
    return hashlib.sha256(f"{actor_id or ''}\0{browser}".encode()).hexdigest()


def _current_binding() -> str | None:
    """The binding of this session, or ``None`` while sign-in is configured but nobody is signed in yet."""
    from .identity import current_actor, sign_in_configured

    actor_id = None
    if sign_in_configured():
        if not st.user.is_logged_in:
            return None
        actor = current_actor()
        # the issuer and subject, not the email: the same address at another configured provider is someone else
        actor_id = None if actor is None else f"{actor.issuer}\0{actor.subject}" if actor.verified else actor.id
    try:
        cookies: Mapping[str, str] = st.context.cookies
    except Exception:  # noqa: BLE001 - no request context (bare script run): no browser to bind to
        cookies = {}
    return binding_of(actor_id, browser_secret(cookies))


def _files_missing(spec_json: str) -> list[str]:
    """Files of a restored dataset spec that are no longer there (uploads are pruned after a day)."""
    from .data_io import DatasetSpec

    try:
        spec = DatasetSpec.from_json(spec_json)
    except Exception:  # noqa: BLE001 - an unreadable spec is as good as missing
        return ["(the dataset description)"]
    paths = [str(p) for p in spec.paths] + ([str(spec.meta_path)] if getattr(spec, "meta_path", None) else [])
    return [p for p in paths if not Path(p).exists()]


def restore(state: MutableMapping[Any, Any]) -> None:
    """Give this browser session its key, taking back what a reload lost; called first on every run."""
    binding = _current_binding()
    if binding is None:
        return
    token = state.get(TOKEN)
    if token is None:
        token = _take_back(state, binding)
        state[TOKEN] = token
    if st.query_params.get(PARAM) != token:
        st.query_params[PARAM] = token


def _take_back(state: MutableMapping[Any, Any], binding: str) -> str:
    """The key of a new session: the one in the address, with its record, when this person made it; else a new
    one (and a notice when the address carried a key that could not be honoured)."""
    asked = st.query_params.get(PARAM)
    if not asked:
        return secrets.token_urlsafe(18)
    if not TOKEN_PATTERN.fullmatch(asked):
        state[NOTICE] = "The address carried a malformed session key, so nothing was restored: you are on the " \
            "bundled demo dataset and the default store."
        return secrets.token_urlsafe(18)
    try:
        rec = shelf().take(asked, binding)
    except ForeignKey:
        state[NOTICE] = "This address carried the session key of another person or browser, so it was not used: " \
            "you are on the bundled demo dataset and the default store, with a session of your own."
        return secrets.token_urlsafe(18)
    if rec is None:
        state[NOTICE] = "The server no longer knows this browser session (the app was restarted, or the session " \
            "was idle for over a day): you are back on the bundled demo dataset and the default store. A training " \
            "job started before a restart is not running any more; the versions it saved are in the store."
        return secrets.token_urlsafe(18)  # never adopt a key nobody can vouch for: it may be someone else's
    values = dict(rec.values)
    if DATASET_SPEC in values.pop(TOO_LARGE, []):
        state[NOTICE] = "The dataset in use before the reload was described by too much text to keep on the " \
            "server, so it was not restored: you are back on the bundled demo dataset. Read it again on the Data page."
        for k in (DATASET_LABEL, UPLOADED_PATHS, UPLOADED_META_PATH):
            values.pop(k, None)
    spec_json = values.get(DATASET_SPEC)
    gone = _files_missing(spec_json) if isinstance(spec_json, str) else []
    if gone:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in gone[:3]) + (" …" if len(gone) > 3 else "")
        state[NOTICE] = f"The dataset in use before the reload ({values.get(DATASET_LABEL) or 'uploaded files'}) " \
            f"cannot be read again — its files are gone from the server ({names}): you are back on the bundled " \
            "demo dataset. Upload the files again on the Data page."
        for k in (DATASET_SPEC, DATASET_LABEL, UPLOADED_PATHS, UPLOADED_META_PATH):
            values.pop(k, None)
    for k, v in values.items():
        if k not in state:  # a value a test (or a callback) set before the first run wins
            state[k] = v
    job = jobs.resumable(asked)
    if job is not None and TRAIN_JOB not in state:
        state[TRAIN_JOB] = job.id
    return asked


def remember(state: Mapping[Any, Any]) -> None:
    """Write this session's handles to the shelf under its key (at the start and the end of every run)."""
    token = state.get(TOKEN)
    binding = _current_binding() if token else None
    if token is None or binding is None:
        return
    kept = {k: state[k] for k in KEPT if k in state and len(str(state[k])) <= MAX_VALUE_CHARS}
    too_large = [k for k in KEPT if k in state and k not in kept]
    shelf().put(token, binding, {**kept, **({TOO_LARGE: too_large} if too_large else {})})


def token(state: Mapping[Any, Any]) -> str | None:
    """This browser session's key (the owner of its training jobs), or ``None`` before one was given."""
    value = state.get(TOKEN)
    return value if isinstance(value, str) else None


def show_notice() -> None:
    """The loud message of a reload that could not bring everything back, on every page until dismissed (or
    until another dataset is read)."""
    ss = st.session_state
    text = ss.get(NOTICE)
    if not text:
        return
    if ss.get(DATASET_LABEL) not in (None, DEMO_LABEL):  # another dataset was read since: nothing to warn about
        ss.pop(NOTICE, None)
        return
    st.warning(text, icon=":material/restart_alt:")
    if st.button("Understood — use the demo", key="resume_notice_ok"):
        ss.pop(NOTICE, None)
        st.rerun()
