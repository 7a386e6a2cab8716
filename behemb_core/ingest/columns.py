"""Which columns of an event log mean what (:class:`EventColumns`), how they are detected, and row filters.

Detection is a convenience for common public data sets (MovieLens, Online Retail, RetailRocket, e-commerce
event logs); explicit column names always win, and a required column that is neither given nor found is an
:class:`~behemb_core.errors.InputError` listing the columns that *are* present.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError

ROLES = ("user", "item", "timestamp", "session", "weight", "event_type")

# Candidate names per role, in priority order; compared case-insensitively, ignoring "_", "-" and spaces.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "user": ("user_id", "userId", "user", "CustomerID", "customer_id", "customer", "visitorid", "visitor_id",
             "client_id", "member_id", "uid"),
    "item": ("item_id", "itemId", "movieId", "StockCode", "product_id", "productId", "sku", "item", "product",
             "article_id", "asin", "track_id"),
    "timestamp": ("timestamp", "ts", "time", "InvoiceDate", "event_time", "datetime", "date", "created_at"),
    "session": ("session_id", "sessionId", "session", "InvoiceNo", "invoice", "invoice_no", "order_id",
                "basket_id", "transaction_id"),
    "weight": ("quantity", "weight", "rating", "qty"),
    "event_type": ("event_type", "event", "type", "action"),
}


#: The command-line option that names each role's column.
_OPTION = {"user": "user-col", "item": "item-col", "timestamp": "time-col", "session": "session-col",
           "weight": "weight-col", "event_type": "event-type-col"}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


class EventColumns(BaseModel):
    """Column names of an event log. ``None`` = auto-detect; ``""`` = this role is absent (no detection).

    ``timestamp_unit`` applies to numeric timestamps (unix time; ``None`` = inferred from the magnitude);
    ``timestamp_format`` (strptime syntax, e.g.
    ``"%m/%d/%Y %H:%M"``) to text timestamps that are not ISO 8601.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str | None = Field(None, description="User / customer / visitor id column.")
    item: str | None = Field(None, description="Item / product id column.")
    timestamp: str | None = Field(None, description="Event time column (unix time or date-time text).")
    session: str | None = Field(None, description="Optional session / basket / invoice id column.")
    weight: str | None = Field(None, description="Optional quantity / rating column (used by filters).")
    event_type: str | None = Field(None, description="Optional event type column (view, cart, buy...).")
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        None, description="Unit of numeric timestamps (default: inferred from their magnitude and reported)."
    )
    timestamp_format: str | None = Field(None, description="strptime format of text timestamps (default ISO).")
    delimiter: str | None = Field(None, description="Delimiter of text files (default: sniffed per file).")
    header: bool | None = Field(True, description="Text files start with a header line (else columns are column_1…; "
                                "None = detected: a first line with a number or a date is data).")


class EventFilters(BaseModel):
    """Row filters applied while reading an event log; every removed row is counted under its reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop_nonpositive_weight: bool = Field(
        True, description="Drop rows whose weight is missing or <= 0 (returns); only if a weight column exists."
    )
    keep_event_types: list[str] | None = Field(
        None, description="Keep only these event types (requires an event_type column)."
    )
    exclude_items: list[str] = Field(
        default_factory=list, description="Item ids to drop, compared as strings (e.g. POST, M, DOT)."
    )
    exclude_session_prefix: str | None = Field(
        None, description="Drop rows whose session id starts with this (e.g. 'C' for cancelled invoices)."
    )


def detect_columns(header: list[str]) -> EventColumns:
    """Guess the role of each column from its name; roles not found are ``None``.

    Matching ignores case, ``_``, ``-`` and spaces (``userId`` = ``user_id`` = ``UserID``). Candidates are tried
    in a fixed priority order per role and no column gets two roles, so the result is deterministic.
    """
    by_key: dict[str, str] = {}
    for h in header:
        by_key.setdefault(_key(h), h)
    used: set[str] = set()
    found: dict[str, str] = {}
    for role in ROLES:
        for cand in CANDIDATES[role]:
            col = by_key.get(_key(cand))
            if col is not None and col not in used:
                found[role] = col
                used.add(col)
                break
    return EventColumns(**found)


_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_INT_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_TIME_WORDS = ("time", "date", "day", "frame", "epoch")


def detect_timestamp(header: list[str], rows: list[list[str]], used: AbstractSet[str] = frozenset()) -> str | None:
    """A timestamp column found by *content* among the columns not in ``used``, or ``None``.

    Tried in this order (first column wins): ISO date-times (``YYYY-MM-DDTHH:MM…``); numbers in a plausible
    unix-time range (1973–2286 in s, ms, us or ns); ISO dates (``YYYY-MM-DD``); numbers in a column whose name
    mentions time/date/day/frame/epoch (day offsets, ``timeframe``). ``rows`` are sample rows as text.
    """
    def values(j: int) -> list[str]:
        return [r[j].strip() for r in rows if j < len(r) and r[j].strip()]

    candidates = [(j, h) for j, h in enumerate(header) if h not in used]
    cols = {h: values(j) for j, h in candidates}
    numeric = {h: v for h, v in cols.items() if v and all(_INT_TEXT.match(x) for x in v)}

    def epoch_like(v: list[str]) -> bool:
        x = [abs(float(s)) for s in v]
        return any(all(1e8 * k <= y < 1e10 * k for y in x) for k in (1, 1e3, 1e6, 1e9))

    dates = [h for h, v in cols.items() if v and all(_DATE_TEXT.match(x) for x in v)]
    for h in dates:  # date-times first: ids of 9-10 digits (YOOCHOOSE's items) look like unix seconds too
        if any(len(x) > 10 for x in cols[h]):
            return h
    for h, v in numeric.items():
        if epoch_like(v):
            return h
    for h in dates:
        return h
    for h in numeric:
        if any(w in h.lower() for w in _TIME_WORDS):
            return h
    return None


def resolve_columns(
    header: list[str], explicit: EventColumns | None, path: str, filters: EventFilters, *, use_session: bool,
    sample: list[list[str]] | None = None, found_by: dict[str, str] | None = None,
) -> EventColumns:
    """Detected columns overridden by explicit ones, checked against ``header``.

    A timestamp column neither given nor found by name is looked for by content in ``sample`` rows
    (:func:`detect_timestamp`); ``found_by`` (if given) receives ``"given"``, ``"name"`` or ``"content"``
    for the timestamp column. Required: item and timestamp always; user unless a session column is used;
    session when filtering by session prefix; event_type when filtering by event type. Errors name the file,
    the missing role and the columns present.
    """
    detected = detect_columns(header)
    merged = detected.model_dump()
    how = "name" if merged["timestamp"] else None
    if explicit is not None:
        for key, value in explicit.model_dump().items():
            if key in ROLES:
                if value is not None:
                    merged[key] = value or None
                    if key == "timestamp":
                        how = "given" if value else None
            else:
                merged[key] = value
    timestamp_given_absent = explicit is not None and explicit.timestamp == ""
    if merged["timestamp"] is None and sample and not timestamp_given_absent:
        used = {v for k, v in merged.items() if k in ROLES and v}
        merged["timestamp"] = detect_timestamp(header, sample, used)
        how = "content" if merged["timestamp"] else None
    if found_by is not None and how is not None:
        found_by["timestamp"] = how
    present = ", ".join(repr(h) for h in header)
    for role in ROLES:
        col = merged[role]
        if col is not None and col not in header:
            raise InputError(
                f"{role} column {col!r} is not in the file; columns present: {present}", path=path, field=role
            )
    required = ["item", "timestamp"]
    if not (use_session and merged["session"]):
        required.append("user")
    if filters.exclude_session_prefix is not None:
        required.append("session")
    if filters.keep_event_types is not None:
        required.append("event_type")
    for role in required:
        if merged[role] is None:
            looked = ", ".join(CANDIDATES[role])
            raise InputError(
                f"no {role} column found (looked for {looked}; name it: --{_OPTION[role]} on the command line, "
                f"the '{role.replace('_', ' ')}' select on the Data page); "
                f"columns present: {present}",
                path=path,
                field=role,
            )
    return EventColumns(**merged)
