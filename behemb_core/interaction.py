"""What people did with items — viewed, bought or played — guessed from the names in the data (event types,
columns, file names, the kind of input), with what the guess was read from. The store's wording setting
(:mod:`behemb_core.store.settings`) is what makes it certain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["FALLBACK_VERB", "VERB_WORDS", "InteractionGuess", "guess_interaction", "verb_of_word"]

#: Words in an event type, a column or a file name and the verb they mean; the first match decides.
VERB_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("viewed", ("view", "click", "pageview")),
    ("bought", ("purchase", "buy", "bought", "transaction", "order", "basket", "invoice", "cart")),
    ("played", ("play", "listen", "stream", "watch", "rating")),
)
#: The verb when nothing in the data names an interaction.
FALLBACK_VERB = "bought"


@dataclass(frozen=True)
class InteractionGuess:
    """The verb for what people did with items, and what it was read from: ``basis`` is ``None`` when nothing in
    the data named an interaction and ``verb`` is the fallback. Always a guess from names: the store's wording
    setting is what makes it certain."""

    verb: str
    basis: str | None

    def reason(self) -> str:
        """Why this verb, for people: ``guessed from the file name 'train-item-views.csv'``."""
        if self.basis is None:
            return "a default guess: nothing in the data names an interaction"
        return f"guessed from {self.basis}"

    def describe(self) -> str:
        """One line for people: ``"viewed" — guessed from the file name 'train-item-views.csv'``."""
        return f'"{self.verb}" — {self.reason()}'


def verb_of_word(word: str) -> str | None:
    """The verb a name suggests, by whole words (``InvoiceNo`` → invoice, no; ``page_views`` → page, views;
    ``train-item-views.csv`` → views): a word matches a keyword it starts with, so "views" and "played" count
    but "review" and "display" do not."""
    tokens = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", word).lower())
    for verb, words in VERB_WORDS:
        if any(t.startswith(w) for t in tokens for w in words):
            return verb
    return None


def guess_interaction(source: Mapping[str, Any] | None) -> InteractionGuess:
    """The verb a dataset's ``source`` (``Dataset.source``, a manifest's ``dataset.source``) suggests.

    Looked at in order: the kept event types (``filters.keep_event_types``), the event types read, most frequent
    first (``event_types``), the event-type column's name, the names of the files (Diginetica's
    ``train-item-views.csv``, YOOCHOOSE's ``yoochoose-clicks.dat``), the session and weight columns' names (a
    session column ``InvoiceNo`` means baskets, a weight ``rating`` ratings), then the kind of input (``baskets``).
    view/click → viewed; purchase/buy/order/basket/invoice/cart → bought; play/listen/stream/watch/rating →
    played; nothing recognised → bought, said as such (``basis`` None)."""
    source = source or {}
    filters = source.get("filters") or {}
    columns = source.get("columns") or {}
    candidates: list[tuple[str, str]] = [
        (str(t), f"the kept event type {str(t)!r}") for t in (filters.get("keep_event_types") or [])]
    candidates += [(str(t), f"the most frequent event type {str(t)!r}") for t in (source.get("event_types") or {})]
    if columns.get("event_type"):
        candidates.append((str(columns["event_type"]), f"the event-type column {columns['event_type']!r}"))
    candidates += [(PurePath(str(p)).name, f"the file name {PurePath(str(p)).name!r}")
                   for p in (source.get("paths") or [])[:20]]
    candidates += [(str(columns[role]), f"the {role} column {columns[role]!r}")
                   for role in ("session", "weight") if columns.get(role)]
    if source.get("kind"):
        candidates.append((str(source["kind"]), f"the kind of input ({source['kind']})"))
    for word, basis in candidates:
        verb = verb_of_word(word)
        if verb is not None:
            return InteractionGuess(verb, basis)
    return InteractionGuess(FALLBACK_VERB, None)
