"""Command line: ``python -m behemb_core <command> …`` for offline batch jobs.

Thin by design: each command parses its options, makes one library call and prints the result — results to
stdout (JSON or a table), progress to stderr. One module per command group (``data``, ``training``,
``analysis``, ``signoff``, ``storage``, ``access``), each with a ``register(sub)`` that adds its commands. Every
error goes through the one boundary of :mod:`behemb_core.boundary`: one line ``error: …`` on stderr and exit code 1 (a
library error with its message, an OS error as ``<what> (<path>): <reason>``, anything unexpected as one line
naming its type; ``--debug`` adds the traceback). Usage errors exit with 2 (argparse), success with 0.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..boundary import doing
from . import access, analysis, data, drift, signoff, storage, training
from ._run import run_cli

GROUPS = (training, data, storage, analysis, signoff, access, drift)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m behemb_core",
        description="Item embeddings from behavior: read sessions or event logs, train, inspect, sign off and "
        "publish immutable versions. One line 'error: …' and exit 1 on any error; --debug for the traceback.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    debug_help = "On an error, print the traceback too (normally one line 'error: …')."
    parser.add_argument("--debug", action="store_true", help=debug_help)
    for p in sub.choices.values():  # also accepted after the command
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit codes: 0 success, 1 any error (one line ``error: …`` on stderr), 2 usage
    (argparse), 130 interrupted. ``verify`` also exits 1 when the store fails its checks and 3 when nothing was
    found wrong but a check could not judge (no audit key); ``drift`` exits 4 when the version is stale (retrain
    recommended) and 3 when it could not judge."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_cli(lambda: _dispatch(args), debug=args.debug)


def _dispatch(args: argparse.Namespace) -> int:
    """The command, with the ``--store`` location checked first (a file, a path under a file, an unknown
    protocol or a missing backend package is one clear sentence, before anything is read or written)."""
    from ..store import check_store_location

    location = getattr(args, "store", None)
    if location:
        check_store_location(location)
    with doing(path=location):
        return args.func(args)
