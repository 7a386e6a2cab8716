"""Basket-per-line files (the classic "groceries" layout) → sessions.

Each non-blank line is one session: its fields, separated by the delimiter, are the items in the order given;
there is no header. Lines with no item (blank, or only separators such as ``,,,``) are skipped and counted under
``notes`` with the file and line of the first ones in ``source["empty_lines"]``; empty fields inside a line
(``a,,b``) are counted in ``drops``. ``source["events_read"] == sessions.n_events + sum(drops.values())``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..progress import as_reporter
from ..sessions import DropLog, RawSessions, SessionOptions, build_sessions
from ._files import DELIMITERS, READ_ERRORS, PathsLike, first_lines, list_files, open_text, unreadable
from ._values import normalize_strings
from .dataset import Dataset

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".basket", ".csv.gz", ".tsv.gz", ".txt.gz")

#: How many skipped lines are listed by file and line in ``source["empty_lines"]``.
MAX_LISTED = 20


def sniff_basket_delimiter(path: Path) -> str:
    """The most frequent of ``, ; TAB |`` in the first lines (baskets of one item have none); ``,`` if none."""
    text = "\n".join(first_lines(path))
    counts = {d: text.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_baskets(
    paths: PathsLike,
    *,
    delimiter: str | None = None,
    options: SessionOptions = SessionOptions(),
    progress=None,
) -> Dataset:
    """Read basket-per-line text files (plain or ``.gz``; a folder = its text files by name) into sessions.

    ``delimiter`` defaults to the one sniffed from each file's first lines (``,`` when a file has single-item
    lines only). Session ids are the line numbers (``"7"``; ``"file.csv:7"`` for several files); item ids are
    normalised like event-log ids (all integers → ``int64``, else strings as written, trimmed). A file with no
    items at all is an :class:`InputError` naming it. The cleaning rules of :func:`build_sessions` apply last.
    """
    rep = as_reporter(progress)
    files = list_files(paths, TEXT_SUFFIXES, "basket")
    items: list[str] = []
    lengths: list[int] = []
    sids: list[str] = []
    empty_lines: list[dict] = []
    n_empty_lines = n_empty_fields = n_lines = 0
    delims = []
    for i, f in enumerate(files):
        delim = delimiter or sniff_basket_delimiter(f)
        delims.append(delim)
        before = len(lengths)
        try:
            with open_text(f) as fh:
                for lineno, line in enumerate(fh, start=1):
                    n_lines += 1
                    fields = [x.strip() for x in next(csv.reader([line.rstrip("\r\n")], delimiter=delim), [])]
                    kept = [x for x in fields if x]
                    if not kept:
                        n_empty_lines += 1
                        if len(empty_lines) < MAX_LISTED:
                            empty_lines.append({"path": str(f), "line": lineno})
                        continue
                    n_empty_fields += len(fields) - len(kept)
                    items.extend(kept)
                    lengths.append(len(kept))
                    sids.append(str(lineno) if len(files) == 1 else f"{f.name}:{lineno}")
        except csv.Error as exc:
            raise InputError(f"cannot read basket file: {exc}", path=str(f), line=lineno) from None
        except READ_ERRORS as exc:
            raise unreadable(f, exc) from None
        if len(lengths) == before:
            raise InputError("no baskets: every line is empty (expected one basket of items per line)",
                             path=str(f))
        rep("read", 0.8 * (i + 1) / len(files), f"read {f.name} ({len(lengths) - before:,} baskets)")
    codes, uniq = pd.factorize(np.asarray(items, dtype=object))
    norm = normalize_strings(np.asarray(uniq, dtype=object))
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    raw = RawSessions(indptr=indptr, item_ids=norm[codes], session_ids=np.asarray(sids, dtype=object))
    drops = DropLog()
    drops.add("empty item field in a basket line", n_empty_fields)
    drops.note("lines without items (skipped; see source['empty_lines'])", n_empty_lines)
    rep("clean", 0.9, "cleaning sessions")
    sessions = build_sessions(raw, options, drops)
    source = {
        "kind": "baskets",
        "paths": [str(f) for f in files],
        "files": len(files),
        "delimiter": delims[0] if len(set(delims)) == 1 else delims,
        "rows_read": n_lines,
        "events_read": int(indptr[-1]) + n_empty_fields,
        "empty_lines": empty_lines,
    }
    rep("clean", 1.0, f"{sessions.n_sessions:,} sessions, {sessions.n_events:,} events")
    return Dataset.from_log(sessions, drops, source, options)
