"""``repair``: bring a store back to a consistent state after a crash or a hand edit — every fix
:func:`~behemb_core.store.recovery.inspect_store` finds, as a dry run or applied and recorded in the audit log;
then what :func:`~behemb_core.store.verify.verify_store` still reports is left for a person. Never deletes a
version, never removes or invents an audit entry (see :mod:`behemb_core.store.recovery`)."""

from __future__ import annotations

from typing import Any

from ..errors import IntegrityError
from ..identity import Actor, as_actor
from . import _lifecycle_io as lio
from .audit_key import load_audit_key
from .filestore import Store
from .policy import PolicyState, access, read_policy_state
from .recovery import inspect_store, record_fixes
from .verify import verify_store

__all__ = ["repair"]


def repair(store: Store | str, *, apply: bool = False, by: Actor | str = "repair") -> dict[str, Any]:
    """Plan (and with ``apply`` make) every fix :func:`inspect_store` finds; never deletes a version or an audit
    entry. Applied fixes are recorded in one audit entry ``repair``. Returns ``{"applied", "findings" (as
    dicts), "done", "needs_a_person"}``; ``needs_a_person`` lists what ``verify`` still reports afterwards (or,
    for a dry run, findings without a fix)."""
    st = lio.store_of(store)
    if not apply:
        findings = inspect_store(st)
        return {"applied": False, "findings": [f.as_dict() for f in findings], "done": [],
                "needs_a_person": [f.message for f in findings if f.fix is None]}
    actor = as_actor(by)
    with lio.locked(st):
        access(st, actor, state=_policy_state_for_repair(st)).require("repair")
        findings = inspect_store(st)
        done = [f.fix() for f in findings if f.fix is not None]
        if done:
            record_fixes(st, "repair", actor, done, key=load_audit_key())
    report = verify_store(st)
    return {"applied": True, "findings": [f.as_dict() for f in findings], "done": done,
            "needs_a_person": report["problems"]}


def _policy_state_for_repair(st: Store) -> PolicyState:
    """The policy in force, read from the log alone when ``policy.json`` disagrees with it (that is one of the
    things repair fixes, so it must not block repair itself)."""
    try:
        return read_policy_state(st, key=load_audit_key())
    except IntegrityError:
        entries = [e for e in lio.audit_journal(st).strict_entries() if e.get("action") == "policy"]
        if not entries:
            return PolicyState(None, None)
        from .policy import parse_policy

        return PolicyState(parse_policy(entries[-1].get("policy"), "the log's last policy entry"), entries[-1])
