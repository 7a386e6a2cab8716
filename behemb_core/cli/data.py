"""Input options (files, format, columns, filters, sessionization, names) → one :class:`DatasetSpec` → the
library's :func:`~behemb_core.ingest.load`; and the ``summarize`` command."""

from __future__ import annotations

import argparse
from typing import Any

from ..boundary import doing
from ..errors import ConfigError
from ..ingest import DatasetSpec, guess_header
from ._common import StderrProgress, emit


def add_input_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    g = p.add_argument_group("input data")
    g.add_argument("--input", nargs="+", required=required, metavar="PATH",
                   help="Session JSONL file(s), or event-log files/folders (CSV, TSV, Parquet, .gz).")
    g.add_argument("--format", choices=["auto", "sessions", "events", "baskets"], default="auto",
                   help="auto: .jsonl/.ndjson are sessions, everything else an event log; baskets: one session "
                        "per line, items separated by the delimiter, no header (the 'groceries' layout).")
    g.add_argument("--delimiter", help="Text files: field delimiter (default: sniffed from the first lines; "
                                       "'\\t' or 'tab' for TAB).")
    hdr = g.add_mutually_exclusive_group()
    hdr.add_argument("--no-header", action="store_true",
                     help="Event logs: the first line is data; columns are named column_1, column_2, … (default: "
                          "detected — a first line with a number or a date is data, e.g. MovieLens u.data).")
    hdr.add_argument("--header", action="store_true", help="Event logs: the first line is a header line.")
    g.add_argument("--user-col", help="Event logs: user column (default: auto-detected).")
    g.add_argument("--item-col", help="Event logs: item column (default: auto-detected).")
    g.add_argument("--time-col", help="Event logs: timestamp column (default: auto-detected).")
    g.add_argument("--session-col", help="Event logs: session/basket id column (optional).")
    g.add_argument("--weight-col", help="Event logs: quantity/weight column (optional).")
    g.add_argument("--event-type-col", help="Event logs: event type column (optional).")
    g.add_argument("--name-col", help="Event logs: a column with item names (e.g. Description).")
    g.add_argument("--timestamp-unit", choices=["s", "ms", "us", "ns"], default=None,
                   help="Unit of numeric timestamps (default s).")
    g.add_argument("--no-auto-columns", action="store_true",
                   help="Do not auto-detect columns; only use the ones given.")
    j = p.add_argument_group("session JSON Lines fields (flat: session_id + items; nested: a session field and a "
                             "list of event objects, e.g. OTTO's {\"session\": 12, \"events\": [{\"aid\": 3, "
                             "\"ts\": …, \"type\": \"clicks\"}]}; detected from the first lines)")
    j.add_argument("--jsonl-layout", choices=["auto", "flat", "nested"], default="auto",
                   help="Layout of session JSON Lines (default: detected).")
    j.add_argument("--session-field", help="Nested sessions: the session id field (default: detected).")
    j.add_argument("--events-field", help="Nested sessions: the list of event objects (default: detected).")
    j.add_argument("--event-item-field", help="Nested sessions: the item id field of an event (OTTO: aid).")
    j.add_argument("--event-time-field", help="Nested sessions: the time field of an event (OTTO: ts; '' = none). "
                                              "Numbers are unix time in --timestamp-unit or inferred.")
    j.add_argument("--event-type-field", help="Nested sessions: the event type field (OTTO: type; '' = none); "
                                              "--keep-event-types filters on it.")
    f = p.add_argument_group("row filters (every dropped row is counted by reason)")
    f.add_argument("--keep-event-types", help="Comma-separated event types to keep.")
    f.add_argument("--exclude-items", action="append", default=[], metavar="ID[,ID…]",
                   help="Item ids to drop (e.g. POST,M,DOT). Repeatable.")
    f.add_argument("--exclude-session-prefix", help="Drop rows whose session id starts with this (e.g. C).")
    f.add_argument("--keep-nonpositive-weight", action="store_true",
                   help="Keep rows with weight <= 0 (returns); dropped by default.")
    s = p.add_argument_group("sessionization")
    s.add_argument("--gap-minutes", type=float, help="Inactivity gap that starts a new session (default 30).")
    s.add_argument("--no-session-column", action="store_true",
                   help="Ignore the session column and sessionize by the gap.")
    s.add_argument("--keep-repeats", action="store_true", help="Do not collapse consecutive repeats.")
    s.add_argument("--min-count", type=int, help="Drop items seen fewer times (default 1).")
    s.add_argument("--min-length", type=int, help="Drop sessions shorter than this (default 2).")
    s.add_argument("--max-length", type=int, help="Split sessions longer than this (default 1000).")
    m = p.add_argument_group("item metadata")
    m.add_argument("--item-meta", metavar="PATH", help="Table of item id → name (CSV/TSV/Parquet).")
    m.add_argument("--meta-id-col", help="Id column of --item-meta (default item_id, auto-detected).")
    m.add_argument("--meta-name-col", help="Name column of --item-meta (default name, auto-detected; without a "
                                           "header column_2).")
    m.add_argument("--meta-delimiter", help="Delimiter of --item-meta (default: sniffed; 'tab' for TAB; MovieLens "
                                            "u.item: '|').")
    mh = m.add_mutually_exclusive_group()
    mh.add_argument("--meta-no-header", action="store_true",
                    help="--item-meta has no header line: columns are column_1, column_2, … and the id and name "
                         "default to the first two (default: detected).")
    mh.add_argument("--meta-header", action="store_true", help="--item-meta starts with a header line.")
    m.add_argument("--meta-encoding", help="Text encoding of --item-meta: utf-8, cp1252, latin-1, … (default: "
                                           "detected — UTF-8, else cp1252, else Latin-1; the summary says which).")
    p.add_argument("--quiet", action="store_true", help="No progress on stderr.")


#: Options that say how to read ``--input`` (item metadata aside): meaningless for data prepared elsewhere.
READING_OPTIONS = (
    "format", "delimiter", "no_header", "header", "jsonl_layout", "session_field", "events_field",
    "event_item_field", "event_time_field", "event_type_field", "user_col", "item_col", "time_col", "session_col",
    "weight_col",
    "event_type_col", "name_col", "timestamp_unit", "no_auto_columns", "keep_event_types", "exclude_items",
    "exclude_session_prefix", "keep_nonpositive_weight", "gap_minutes", "no_session_column", "keep_repeats",
    "min_count", "min_length", "max_length",
)


def reading_options_given(args: argparse.Namespace) -> list[str]:
    """The reading options set on the command line (``--min-count`` …), by their option names."""
    unset: tuple[object, ...] = (None, False, [], "auto")
    return ["--" + d.replace("_", "-") for d in READING_OPTIONS if getattr(args, d, None) not in unset]


def dataset_spec(args: argparse.Namespace) -> DatasetSpec:
    """The :class:`DatasetSpec` the input options describe (validated: a bad value is one ConfigError naming
    the field, e.g. ``dataset: options.min_length=0: …``)."""
    delimiter = delimiter_option(args.delimiter)
    columns: dict[str, Any] = {
        "user": args.user_col, "item": args.item_col, "timestamp": args.time_col, "session": args.session_col,
        "weight": args.weight_col, "event_type": args.event_type_col,
    }
    if args.no_auto_columns:  # "" marks a role as absent, so nothing is detected for it
        columns = {k: ("" if v is None else v) for k, v in columns.items()}
    columns = {k: v for k, v in columns.items() if v is not None}
    header: bool | None = False if args.no_header else (True if args.header else None)
    if header is None and args.format in ("auto", "events"):
        header = guess_header(list(args.input), delimiter)  # concrete in the spec: the Spark engine reads it too
    columns.update({"timestamp_unit": args.timestamp_unit, "header": True if header is None else header,
                    "delimiter": delimiter if args.format != "baskets" else None})
    fields = {"layout": args.jsonl_layout, "session": args.session_field, "events": args.events_field,
              "item": args.event_item_field, "time": args.event_time_field, "type": args.event_type_field,
              "time_unit": args.timestamp_unit}
    options = {"gap_minutes": args.gap_minutes, "min_count": args.min_count, "min_length": args.min_length,
               "max_length": args.max_length}
    options = {k: v for k, v in options.items() if v is not None}
    if args.no_session_column:
        options["use_session_column"] = False
    if args.keep_repeats:
        options["collapse_repeats"] = False
    excluded = [x.strip() for chunk in args.exclude_items for x in chunk.split(",") if x.strip()]
    filters = {
        "drop_nonpositive_weight": not args.keep_nonpositive_weight, "exclude_items": excluded,
        "exclude_session_prefix": args.exclude_session_prefix,
        "keep_event_types": args.keep_event_types.split(",") if args.keep_event_types else None,
    }
    return DatasetSpec.create(
        paths=list(args.input), format=args.format, columns=columns, filters=filters, options=options,
        delimiter=delimiter if args.format == "baskets" else None, name_column=args.name_col,
        fields={k: v for k, v in fields.items() if v is not None},
        meta_path=args.item_meta, meta_id_column=args.meta_id_col, meta_name_column=args.meta_name_col,
        meta_delimiter=delimiter_option(args.meta_delimiter),
        meta_header=False if args.meta_no_header else (True if args.meta_header else None),
        meta_encoding=args.meta_encoding or None,
    )


def delimiter_option(text: str | None) -> str | None:
    """A delimiter option as the library takes it: ``tab`` or ``\\t`` → TAB, empty → None (sniffed)."""
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text or "", text) or None


def load_dataset(args: argparse.Namespace, progress: Any) -> Any:
    """Read ``--input`` (and ``--item-meta``) as the options describe."""
    from ..ingest import load

    spec = dataset_spec(args)
    with doing("read the input", " ".join(map(str, args.input))):
        return load(spec, progress=progress)


#: ``dataset.source.kind`` in a manifest → the :class:`DatasetSpec` format that reads it again.
_FORMAT_OF_KIND = {"sessions_jsonl": "sessions", "event_log": "events", "baskets": "baskets"}


def recorded_spec(manifest: dict[str, Any], version: str) -> DatasetSpec:
    """The :class:`DatasetSpec` that reads a version's training data again, from what its manifest records
    (``dataset.source``: files, format, the resolved columns, filters and delimiter; ``dataset.session_options``).
    A version without recorded files, or whose files are gone or moved, is one ConfigError naming them and
    saying to pass ``--input``."""
    import fsspec

    recorded = manifest.get("dataset") or {}
    source = recorded.get("source") or {}
    paths = [str(p) for p in source.get("paths") or []]
    fmt = _FORMAT_OF_KIND.get(str(source.get("kind")))
    if not paths or fmt is None:
        raise ConfigError(f"version {version!r} records no training data files to read again: pass --input "
                          "(and its reading options)")
    missing = []
    for path in paths:
        try:
            fs, root = fsspec.core.url_to_fs(path)
            found = fs.exists(root)
        except (OSError, ValueError, ImportError):
            found = False
        if not found:
            missing.append(path)
    if missing:
        shown = ", ".join(missing[:5]) + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
        raise ConfigError(f"the training data of version {version!r} is gone or moved ({shown}): pass --input "
                          "(and its reading options)")
    values: dict[str, Any] = {"paths": paths, "format": fmt, "options": recorded.get("session_options") or {}}
    if fmt == "events":
        values.update(columns=source.get("columns") or {}, filters=source.get("filters") or {})
    elif fmt == "sessions" and source.get("layout") == "nested":  # its fields and event-type filter
        values.update(fields=source.get("fields") or {}, filters=source.get("filters") or {})
    elif fmt == "baskets" and isinstance(source.get("delimiter"), str):
        values["delimiter"] = source["delimiter"]
    return DatasetSpec.create(**values)


def recorded_dataset(args: argparse.Namespace, manifest: dict[str, Any], progress: Any) -> Any:
    """A version's training data, read again as its manifest records (no ``--input``); reading options on the
    command line are refused (they apply to ``--input``). A warning on stderr when the files changed since."""
    import sys

    from ..ingest import load

    version = str(manifest.get("name") or args.version)
    given = reading_options_given(args)
    if given:
        raise ConfigError(f"{', '.join(given)}: without --input the version's training data is read with the options "
                          "recorded in its manifest; these options apply to --input")
    spec = recorded_spec(manifest, args.version)
    with doing("read the version's training data", " ".join(spec.paths)):
        dataset = load(spec, progress=progress)
    print(f"# evaluating on the training data recorded by {version}: {spec.label()}", file=sys.stderr)
    fingerprint = (manifest.get("dataset") or {}).get("fingerprint")
    if fingerprint and dataset.fingerprint() != fingerprint:
        print(f"warning: the files of {version}'s training data changed since it was trained (the fingerprint "
              "differs); the evaluation reads them as they are now", file=sys.stderr)
    return dataset


def cmd_summarize(args: argparse.Namespace) -> int:
    from ..ingest import summarize

    dataset = load_dataset(args, StderrProgress(args.quiet))
    emit(summarize(dataset))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    p = sub.add_parser("summarize", help="Print the dataset summary as JSON.")
    add_input_options(p, required=True)
    p.set_defaults(func=cmd_summarize)
