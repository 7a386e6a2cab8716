"""Publish: the sign-off checklist of a version, approval (with acknowledgements or a recorded override),
publishing an approved version, rollback, the drift of the published version on the dataset in use
(``app_support.drift_view``), and the append-only audit log. Every action is one library call
(``behemb_core.signoff.approve``, which runs the checks itself, ``behemb_core.store.lifecycle``, and
``behemb_core.ann.served.build_version_index`` for the ANN index, ``app_support.ann_view``), which also
enforces the store's policy; the page only disables what the policy refuses, with the library's reason. Who acts
is the signed-in identity, or the sidebar's typed name (unverified). Nothing here edits or deletes a version."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app_support import keys, loaders
from app_support.ann_view import ann_section
from app_support.drift_view import drift_section, why_trained_line
from app_support.errors import user_errors
from app_support.identity import current_access
from app_support.views import approvals_table, approved_by, audit_table, checks_table, md, versions_table
from app_support.widgets import STATE_BADGES, static_table
from behemb_core.signoff import approve, signoff_checks
from behemb_core.store import (
    ApprovalRefused,
    approval_state,
    approvals,
    publish,
    published_version,
    read_audit_log,
    rollback,
    rollback_target,
    rollback_targets,
    trained_by,
)

keys.init_state()
st.title("Sign-off and publish")
FLASH = "pub_flash"  # success message of the last action, shown once after the page refreshed
# Durable copies of widget values: Streamlit drops a widget's state when its page is left, and may reset a
# selectbox whose labels change (a status in the label); the page re-seeds the widgets from these every run.
SELECTED = "pub_selected"  # the version being worked on
CLEAR_NOTE = "pub_clear_note"  # the note box to empty on this run (after its approval was recorded)
ROLLBACK_FOR = "pub_rollback_for"  # the store state (published version, audit entries) the rollback choice is for
SEEN_TRAINED = "pub_seen_trained"  # the Train page's last version when the selection was last made
if CLEAR_NOTE in st.session_state:  # set before the text area exists, so the browser's box is emptied too
    st.session_state[st.session_state.pop(CLEAR_NOTE)] = ""


def ack_key(version: str, check: str) -> str:
    return f"pub_ack::{version}::{check}"


def override_key(version: str) -> str:
    return f"pub_override::{version}"


def note_key(version: str) -> str:
    return f"pub_note::{version}"


def done(message: str) -> None:
    """Remember the message and rerun, so every status on the page is read again after the action. The checklist
    shown was the one of the store before the action: it is emptied now, not left standing while the next run
    checks the new state."""
    st.session_state[FLASH] = message
    if checklist is not None:
        checklist.empty()
    st.rerun()


checklist: DeltaGenerator | None = None  # the sign-off checklist's slot (below)


store = None
infos = []
published = None
log: list[dict] = []
with user_errors("The store could not be read"):
    store = loaders.current_store()
    infos = store.list_versions()
    published = published_version(store)
    log = read_audit_log(store)
if store is None:
    st.stop()

if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")

c = st.columns(3)
c[0].metric("Published version", published or "none yet", border=True)
c[1].metric("Approved versions", sum(v.status == "approved" for v in infos), border=True,
             help="Approved and not published now (the store's status, read again after every action).")
c[2].metric("Audit log entries", len(log), border=True)
if not infos:
    st.info("The store has no versions yet: train one on the Train page.")
    st.page_link("pages/2_Train.py", label="Train a version →", icon=":material/model_training:")
    st.stop()

status = {v.name: v.status for v in infos}
names = list(status)
st.dataframe(versions_table(infos), hide_index=True, key="pub_versions")

ss = st.session_state
acc = current_access(store)
actor = acc.actor
by = actor  # the library records the identity; None: nobody named (no sign-in and no name in the sidebar)
if actor is None:
    st.info("Enter your name in the sidebar: every approval, publish and rollback records who did it.",
            icon=":material/person:")

st.subheader("Sign-off checklist")
if ss.get("pub_version") in names and ss.get("pub_version") != ss.get(SELECTED):
    ss[SELECTED] = ss["pub_version"]  # the person picked another version
trained = ss.get(keys.LAST_VERSION)
if trained in names and trained != ss.get(SEEN_TRAINED):
    ss[SELECTED] = trained  # trained since the last visit: the version to sign off now, not the one left selected
ss[SEEN_TRAINED] = trained
if ss.get(SELECTED) not in names:
    ss[SELECTED] = names[-1]
ss["pub_version"] = ss[SELECTED]
version = st.selectbox("Version", names, key="pub_version", format_func=lambda v: f"{v} ({status[v]})")
ss[SELECTED] = version
st.caption(f"Status: **{md(status[version])}**" + (f" · published now: {md(published)}" if published else ""))

# The checklist lives in one slot. Its first write (the container, then the spinner) replaces whatever the browser
# still shows there from the previous run, so after an approval, a publish or a rollback the previous state's
# checklist is gone at once instead of standing for the seconds the new checks take; ``done`` empties the slot too.
checklist = st.empty()
checks = None
with checklist.container():
    with user_errors("The checks could not be run"):
        with st.spinner("Running the checks…"):
            checks, _details = signoff_checks(store, version)
    if checks is not None:
        summary = _details.get("summary")
        if summary:
            with st.container(border=True):
                st.markdown(f"**What changes if you publish this** — {md(summary['sentence'])}")
        with user_errors("The drift reports could not be read"):
            why = why_trained_line(store, published, version)  # the published version's latest drift report
            if why:
                st.markdown(why)
        static_table(checks_table(checks), alt=f"Sign-off checklist of {version}", badges={"state": STATE_BADGES})
        st.caption(f"State: {STATE_BADGES['pass']} · {STATE_BADGES['warning']} — a judgement call, or a check that "
                   f"could not judge; acknowledge it by name · {STATE_BADGES['fail']} — blocks approval unless "
                   "overridden. A check that could not judge is never a pass. Acknowledgements and overrides are "
                   "recorded with the approval.")
if checks is None:
    st.stop()

records: list[dict] = []
with user_errors("The approval records could not be read"):
    records = approvals(store, version)
    if records:
        with st.expander(f"Approval records of {md(version)} ({len(records)})"):
            st.dataframe(approvals_table(records), hide_index=True, key="pub_approvals")

failed_ack = [ch for ch in checks if not ch.passed and ch.acknowledgeable]
failed_hard = [ch for ch in checks if not ch.passed and not ch.acknowledgeable]

if status[version] == "published":
    st.info("This version is the published one; it cannot be changed. Approve and publish another version, or "
            "roll back below.")
else:
    approved_now = status[version] == "approved"
    counted = approval_state(store, version, policy=acc.policy or False)
    if approved_now and counted["count"]:
        # Approved already: say by whom and when, and offer publishing; approving again only when the policy
        # needs more approvals, as a secondary action.
        with st.container(border=True):
            st.markdown(f":material/verified: **{md(version)}** is approved by "
                        f"{md(approved_by(records, counted['approvers']))}"
                        + ("; publish it." if counted["enough"] else
                           f"; this store's policy needs {md(counted['sentence'])} before it can be published."))
    form = None
    if not approved_now or not counted["count"]:
        form = st.container(border=True)
    elif not counted["enough"]:
        form = st.expander(f"Add another approval of {version} (the policy needs more)")
    if form is not None:
        with form:
            st.markdown(f"**Approve {md(version)}**")
            acknowledged = []
            for ch in failed_ack:
                why = f"could not judge — {ch.could_not_judge}" if ch.could_not_judge else ch.detail
                if st.checkbox(f"I acknowledge the warning “{md(ch.name)}”: {md(why)}", key=ack_key(version, ch.name)):
                    acknowledged.append(ch.name)
            override = st.checkbox(
                "Override the failed checks that cannot be acknowledged", key=override_key(version),
                disabled=not failed_hard,
                help="Only when a check failed that cannot be acknowledged (" + ", ".join(c.name for c in failed_hard)
                + "). The override is recorded with the approval." if failed_hard else
                "Nothing to override: no check failed that cannot be acknowledged.",
            ) and bool(failed_hard)
            if override:
                st.warning(f"Override: {md(', '.join(c.name for c in failed_hard))} failed. The override is recorded "
                           "with your name in the approval and the audit log.", icon=":material/warning:")
            note = st.text_area("Note (optional)", key=note_key(version), height=68,
                                help="Why this version, what you looked at — kept with the approval.").strip() or None
            may_approve = acc.refusal("approve")
            trainer = trained_by(store, version)
            if may_approve is None and acc.policy is not None and actor is not None and trainer is not None \
                    and trainer.same_person(actor):
                may_approve = (f"you trained {version} and may not approve it too (four eyes); approvers: "
                               f"{', '.join(acc.policy.holders('approver')) or 'nobody yet'}")
            if may_approve is not None:
                st.caption(f":material/lock: {md(may_approve)}.")
            if st.button("Approve", type="primary", key="pub_approve", disabled=may_approve is not None,
                         help=may_approve or "Runs the checks again and records them with your approval."):
                if by is None:
                    st.error("Enter your name in the sidebar: every approval records who signed off.",
                             icon=":material/block:")
                else:
                    record = None
                    with user_errors("Not approved"):
                        try:
                            record = approve(store, version, by=by, note=note, acknowledge=acknowledged,
                                             override=override)
                        except ApprovalRefused as exc:  # it says "version … not approved: why": no prefix again
                            said = str(exc)
                            st.error(said[:1].upper() + said[1:], icon=":material/block:")
                    if record is not None:
                        extra = []
                        if record["acknowledged"]:
                            extra.append(f"acknowledged: {', '.join(record['acknowledged'])}")
                        if record["override"]:
                            extra.append("with override")
                        ss[CLEAR_NOTE] = note_key(version)  # the note belongs to this approval, not the next
                        done(f"Approved {md(version)} by {md(by.shown)}"
                             + (f" ({md('; '.join(extra))})" if extra else "") + ".")

    may_publish = acc.refusal("publish") or (
        None if counted["enough"] else f"this store's policy needs {counted['sentence']}")
    if approved_now:
        st.caption(f"Approvals that count for publishing: {md(counted['sentence'])}.")
    if approved_now and may_publish is not None:
        st.caption(f":material/lock: {md(may_publish)}.")
    if st.button(f"Publish {version}", key="pub_publish", type="primary" if approved_now else "secondary",
                 disabled=not approved_now or may_publish is not None,
                 help=(may_publish or "Points the published pointer at this version (atomic; logged).")
                 if approved_now else "Only an approved version can be published: approve it first."):
        if by is None:
            st.error("Enter your name in the sidebar: every publish records who did it.", icon=":material/block:")
        else:
            with user_errors("Not published"):
                entry = publish(store, version, by=by)
                done(f"Published {md(version)} by {md(by.shown)} (previously "
                     f"{md(entry.get('previous') or 'nothing')}).")

# The index customers are served from, judged by the checklist's "served neighbors match"; a build reruns the
# page through ``done``, so the checklist above is run again on the new index.
ann_section(store, version, published, acc, by, done)

st.subheader("Roll back")
targets: list[str] = []
default_target = None
with user_errors("The audit log could not be read"):
    targets = rollback_targets(store)  # published before, approved, not published now; most recent first
    default_target = rollback_target(store)  # the library's default (the command line's): published just before
if published is None:
    st.caption("Nothing is published yet, so there is nothing to roll back.")
elif not targets:
    st.caption("No earlier published version to roll back to (an approved version that was never published is "
               "published with the button above, not rolled back to).")
else:
    cols = st.columns([3, 1], vertical_alignment="bottom")
    may_roll_back = acc.refusal("rollback")
    # Preselect the library's default whenever the store moved on (a publish, an approval or a rollback since the
    # choice was made), so a choice made for an earlier state is never what the button re-publishes by default.
    state_now = (published, len(log))
    if ss.get(ROLLBACK_FOR) != state_now or ss.get("pub_rollback_to") not in targets:
        ss["pub_rollback_to"] = default_target if default_target in targets else targets[0]
        ss[ROLLBACK_FOR] = state_now
    target = cols[0].selectbox(f"Re-publish instead of {published}", targets, key="pub_rollback_to",
                               help=f"Preselected: {default_target}, the version published just before "
                               f"{published}, as `rollback` picks by default." if default_target in targets else None)
    if cols[1].button("Roll back", key="pub_rollback", disabled=may_roll_back is not None, help=may_roll_back):
        if by is None:
            st.error("Enter your name in the sidebar: every rollback records who did it.", icon=":material/block:")
        else:
            with user_errors("Not rolled back"):
                rollback(store, by=by, to=target)
                done(f"Rolled back: {md(target)} is published again (instead of {md(published)}), by "
                     f"{md(by.shown)}.")
    if may_roll_back is not None:
        st.caption(f":material/lock: {md(may_roll_back)}.")

drift_section(store, published, acc, by)

st.subheader("Audit log")
if log:
    st.dataframe(audit_table(log), hide_index=True, key="pub_audit")
else:
    st.caption("No approvals or publishes yet.")
