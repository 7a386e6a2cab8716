"""Sign-off: ``approve`` (the checks, acknowledgements by name), ``publish`` and ``rollback``."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ._common import BY_HELP, StderrProgress, acting, emit, store_option


def _unless_said(reason: str | None, detail: str) -> str:
    """" — could not judge: <reason>", unless the check's detail already gives that reason."""
    return f" — could not judge: {reason}" if reason and reason not in (detail or "") else ""


def cmd_approve(args: argparse.Namespace) -> int:
    from ..checks.wording import format_value
    from ..signoff import approve
    from ..store import Store
    from ..store.lifecycle import ApprovalRefused

    store = Store(args.store)
    try:
        record = approve(store, args.version, by=acting(args, store), note=args.note, acknowledge=args.acknowledge,
                         override=args.override, progress=StderrProgress(args.quiet))
    except ApprovalRefused as exc:
        for c in exc.checks:
            why = _unless_said(c.could_not_judge, c.detail)
            print(f"[{c.state}] {c.name}: {format_value(c.value)} ({c.threshold}) {c.detail}{why}", file=sys.stderr)
        acks = [f"--acknowledge \"{f['name']}\"" for f in exc.failed if f.get("acknowledgeable")]
        hint = (f"to approve anyway, add {' '.join(acks)}" if acks else "")
        if len(acks) < len(exc.failed):
            hint += (" and " if hint else "to approve anyway, add ") + "--override (recorded)"
        raise ConfigError(f"{exc} ({hint})") from None
    acknowledged = list(record["acknowledged"])
    for c in record["checks"]:
        why = _unless_said(c.get("could_not_judge"), c["detail"])
        state = "acknowledged" if c["name"] in acknowledged else c["state"]
        print(f"[{state}] {c['name']}: {c['value']} ({c['threshold']}) {c['detail']}{why}", file=sys.stderr)
    # "failed": the failed checks not lifted by an acknowledgement (approved despite them only with --override);
    # the acknowledged warnings are listed under "acknowledged" alone
    failed = [name for name in record["failed"] if name not in acknowledged]
    emit({"version": args.version, "status": "approved", "by": record["by"], "actor": record["actor"],
          "override": record["override"], "failed": failed, "acknowledged": acknowledged})
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from ..errors import StoreError
    from ..store import Store, published_version
    from ..store.lifecycle import publish

    store = Store(args.store)
    if published_version(store) == args.version:
        return _already_published(args.version)
    try:
        record = publish(store, args.version, by=acting(args, store))
    except StoreError:
        if store.exists(args.version) and published_version(store) == args.version:  # published meanwhile
            return _already_published(args.version)
        raise
    emit(record)
    return 0


def _already_published(version: str) -> int:
    """Publishing the published version is a no-op, and a success (a scheduler re-running a publish is fine):
    nothing is written, no audit entry."""
    print(f"{version} is already published, nothing to do", file=sys.stderr)
    emit({"version": version, "status": "published", "changed": False,
          "note": "already published, nothing to do"})
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.lifecycle import rollback

    store = Store(args.store)
    emit(rollback(store, by=acting(args, store), to=args.to))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    p = sub.add_parser("approve", help="Run the sign-off checks and record an approval.")
    store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--by", help=BY_HELP)
    p.add_argument("--note", help="Why (recorded).")
    p.add_argument("--acknowledge", action="append", default=[], metavar="CHECK",
                   help="Accept a warning by name (repeatable): a failed judgement call or a check that could "
                        "not judge, e.g. 'quality vs item-kNN', 'same catalogue as published'.")
    p.add_argument("--override", action="store_true", help="Approve despite failed checks (recorded).")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_approve)
    p = sub.add_parser("publish", help="Publish an approved version (moves the published pointer).")
    store_option(p)
    p.add_argument("--version", required=True)
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("rollback", help="Re-publish an earlier approved version (default: the previous one).")
    store_option(p)
    p.add_argument("--to", help="The approved version to publish again.")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_rollback)
