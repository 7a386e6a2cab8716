"""Who may do what: ``policy show|set`` (roles and four eyes, recorded in the audit log), ``whoami`` (the identity
this shell acts as and its roles), ``audit-key new|id`` (the secret that authenticates the audit log)."""

from __future__ import annotations

import argparse
import json
import sys

from ..boundary import doing
from ..errors import ConfigError
from ._common import BY_HELP, acting, emit, store_option


def cmd_policy(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.lifecycle import set_policy
    from ..store.policy import read_policy_state

    store = Store(args.store)
    if args.action == "show":
        state = read_policy_state(store)
        if state.policy is None:
            print(f"{store.url} has no policy: everyone may do everything (set one with `policy set`)",
                  file=sys.stderr)
        emit(None if state.policy is None else {"policy": state.policy.model_dump(mode="json"),
                                                "set_by": state.entry and state.entry.get("by"),
                                                "seq": state.entry and state.entry.get("seq")})
        return 0
    if not args.file:
        raise ConfigError("policy set needs --file POLICY.json (see the README's example)")
    with doing("read the policy", args.file):
        with open(args.file, encoding="utf-8") as fh:
            try:
                data = json.load(fh)
            except ValueError as exc:
                raise ConfigError(f"{args.file} is not valid JSON: {exc}") from None
    entry = set_policy(store, data, by=acting(args, store))
    emit({"seq": entry["seq"], "by": entry["by"], "policy": entry["policy"]})
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    from ..store import Store
    from ..store.policy import ACTIONS, access

    store = Store(args.store)
    actor = acting(args, store)
    a = access(store, actor)
    emit({"actor": actor.record(), "policy": a.policy is not None, "roles": sorted(a.roles),
          "refused": {action: a.refusal(action) for action in ACTIONS if a.refusal(action)}})
    return 0


def cmd_audit_key(args: argparse.Namespace) -> int:
    from ..store.audit_key import KEY_ENV, KEY_FILE_ENV, load_audit_key, new_key_file

    if args.action == "new":
        if not args.out:
            raise ConfigError("audit-key new needs --out FILE (a file outside the store, e.g. the server's secrets)")
        with doing("write the audit key", args.out):
            key = new_key_file(args.out)
        emit({"file": args.out, "key_id": key.key_id})
        print(f"set {KEY_FILE_ENV}={args.out} for the app's server and the jobs that approve or publish; keep the "
              "file out of the store", file=sys.stderr)
        return 0
    found = load_audit_key()
    if found is None:
        raise ConfigError(f"no audit key: set {KEY_FILE_ENV} (or {KEY_ENV})")
    emit({"key_id": found.key_id, "source": found.source})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the subparsers."""
    p = sub.add_parser("policy", help="Show or set the store's policy: roles, approvals required, sign-in.")
    p.add_argument("action", choices=["show", "set"])
    store_option(p)
    p.add_argument("--file", help="With set: the policy as JSON (members, approvals_required, …).")
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_policy)
    p = sub.add_parser("whoami", help="The identity this shell acts as, and what the store's policy lets it do.")
    store_option(p)
    p.add_argument("--by", help=BY_HELP)
    p.set_defaults(func=cmd_whoami)
    p = sub.add_parser("audit-key", help="Make an audit key file (new) or show the id of the key in use (id).")
    p.add_argument("action", choices=["new", "id"])
    p.add_argument("--out", help="With new: the file to create (never replaced; mode 0600).")
    p.set_defaults(func=cmd_audit_key)
