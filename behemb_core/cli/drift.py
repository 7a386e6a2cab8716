"""``drift``: is the published version (or ``--version``) still fit for new data? Reads ``--input`` as ``train``
does, prints the report as JSON on stdout and the verdict in one line on stderr, keeps the report in the store
(``drift/<version>/<stamp>.json``; ``--no-save`` keeps nothing), and exits 0 fresh or aging, 4 stale (retrain
recommended), 3 could not judge, 1 an error, 2 a usage error."""

from __future__ import annotations

import argparse
import sys

from ..errors import PermissionDenied
from ._common import BY_HELP, StderrProgress, acting, emit, store_option
from .data import add_input_options, load_dataset


def cmd_drift(args: argparse.Namespace) -> int:
    from ..drift import check_drift, exit_code, save_drift_report
    from ..store import Store
    from ..store.policy import access

    store = Store(args.store)
    actor = acting(args, store)
    a = access(store, actor)
    if not a.may_view:  # reading the store needs view; keeping the report needs the trainer role
        raise PermissionDenied(a.view_refusal or "you may not view this store")
    if not args.no_save:
        a.require("drift")
    if args.version is not None:
        store.manifest(args.version)  # a missing version is one line before any data is read
    progress = StderrProgress(args.quiet)
    dataset = load_dataset(args, progress)
    report = check_drift(store, dataset, version=args.version, k=args.k, holdout=args.holdout,
                         n_boot=args.bootstrap, head=args.head, progress=progress)
    out = dict(report)
    if not args.no_save and report["version"] is not None:
        out["saved"] = save_drift_report(store, report, by=actor)
    emit(out)
    print(f"{report['verdict']}: {report['version'] or '(no version)'}: {report['reason']}", file=sys.stderr)
    return exit_code(report)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    p = sub.add_parser("drift", help="Drift of the published version on new data: coverage, decay, neighbor "
                       "support, popularity shift and a verdict (exit 4: stale, retrain; 3: could not judge).")
    add_input_options(p, required=True)
    store_option(p)
    p.add_argument("--version", help="The version to judge (default: the published one).")
    p.add_argument("-k", type=int, default=10, help="Cut-off of HR@K and of the neighbor lists (default 10).")
    p.add_argument("--holdout", type=float, default=0.1, help="Share of the new sessions (the latest) item-kNN, "
                   "fitted on the rest, is scored on beside the version (default 0.1).")
    p.add_argument("--bootstrap", type=int, default=200, help="Bootstrap resamples for intervals (0 = none).")
    p.add_argument("--head", type=int, default=100, help="How many most popular items are the head (default 100).")
    p.add_argument("--no-save", action="store_true", help="Do not keep the report in the store (no role needed "
                   "beyond viewing).")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_drift)
