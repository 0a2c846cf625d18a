"""Random schedules over the inbound side (Hypothesis RuleBasedStateMachine): pushes, transitions in
Jira (To Do, In Progress, Done, Closed — a second Done-category status — and back out), comments by us
and by people, deletions, scans that reopen, resolve and reopen by a person, deliveries dropped,
doubled, reordered, delayed, redelivered late and two changes in one millisecond, reconciliation,
webhook expiry, a second organization on the same site and account, disconnect and reconnect.

Once settled (every delivery made, registrations healed, reconciliation run), the promises hold:
- a linked violation is resolved by Jira iff its issue is now in a Done-category status and entered
  it after the violation's last reopen (by a scan or a person); a Done after the reopen resolves it;
- every live link's issue exists (whoever resolved the violation: its page says "In Jira: KEY");
- no change is lost or doubled: every delivery that reached us left a record, and of all the deliveries
  of one change (doubled, or redelivered late under a new identifier) exactly one was taken as new, the
  others as duplicates, so two changes in one millisecond are both taken;
- no loop on our own edits: the echo of our comment or of our move back to To Do changes nothing, and
  once settled, another round of deliveries and reconciliation writes nothing to Jira;
- no scan comments twice on one issue;
- every connection's registration matches its rules, and touches no other connection's.

NAMED_SCHEDULES (at the end) run one short schedule per promise through the same machine and checks, in
every profile: a few random schedules do not reliably build any one of them.

Profiles (ALLYPROOF_HYPOTHESIS_PROFILE): "ci" (the default: derandomized, 6 schedules of 20 steps) and
"long" (random, ALLYPROOF_PROPERTY_EXAMPLES schedules, 2,000 unless told), run by bench/sync_property.sh;
"explore" is ci with a random seed (--hypothesis-seed=N).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import httpx
import pytest
from django.db import transaction
from django.test import Client, TestCase
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from allyproof.core import clock
from allyproof.core import impact as impacts
from allyproof.integrations.jira.connection import client as jira_client
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.inbound import reconcile
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.outbound import scan_followup
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.errors import JiraError
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import (
    InboundEvent,
    JiraConnection,
    JiraLink,
    JiraSyncLog,
    OutboundWrite,
    ScanFollowUp,
    SiteSyncRule,
)
from allyproof.monitoring.models import Violation
from allyproof.monitoring.services import violation_reopen, violation_resolve
from jira_sandbox import Sandbox, SandboxConfig
from jira_sandbox.world import DEFAULT_WORLD
from tests import factories
from tests.jira.conftest import NoGate, consent, start_connect
from tests.jira.sync_property_faults import FORGERIES, FaultRules, KillSwitch

_COMMON = {"deadline": None, "print_blob": True, "database": None,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much]}
# Prefixed names: profiles are global to Hypothesis, and the push property test has its own "ci".
settings.register_profile("sync-ci", max_examples=6, stateful_step_count=20, derandomize=True, **_COMMON)
settings.register_profile("sync-long", max_examples=int(os.environ.get("ALLYPROOF_PROPERTY_EXAMPLES", "2000")),
                          stateful_step_count=20, **_COMMON)
settings.register_profile("sync-explore", max_examples=6, stateful_step_count=20, **_COMMON)
# ci without shrinking, for scripts/sync_property_breaks.py: a broken build fails in the first schedule
# that shows it, instead of spending minutes shrinking it.
settings.register_profile("sync-breaks", max_examples=6, stateful_step_count=20, derandomize=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_COMMON)
PROFILE = "sync-" + os.environ.get("ALLYPROOF_HYPOTHESIS_PROFILE", "ci")
STATUSES = ["To Do", "In Progress", "Done", "Closed"]
DELIVERY_FAULTS = ["drop", "duplicate", "reorder", "delay", "redeliver"]
DETECTED_AGAIN = "detected this violation again"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # where the shared clock stands at the start


# The three places where the original rules meet the code under test's own API (kept together, so the same
# schedules can be replayed against an older version of the code by rewriting only these). The fault rules
# (tests/jira/sync_property_faults.py: registration at the limit, crashes, forgeries) meet it in more.
def callback_url(connection: JiraConnection) -> str:
    return webhooks.webhook_url(connection)


def run_scan_followup(scan, reopened_ids: set[int], times: int) -> None:
    row = ScanFollowUp.objects.get(scan_id=scan.pk)
    for _ in range(times):
        scan_followup.scan_followup_run(followup_id=row.pk, enqueue=None,
                                           client_for=lambda c: client_for(c, gate=NoGate()))


def recorded_identifiers() -> set[str]:
    return set(JiraSyncLog.objects.filter(direction="inbound").values_list("identifier", flat=True))


def sandbox_config() -> SandboxConfig:
    """The default world plus a second Done-category status, "Closed". Rate limits off: the clock stands
    still between steps, so Jira's burst window would never pass (pacing is not this test's subject)."""
    return SandboxConfig.from_dict({
        "rate_limits": {"enabled": False},
        "statuses": [*DEFAULT_WORLD["statuses"], {"id": "6", "name": "Closed", "category": "done"}],
        "transitions": [*DEFAULT_WORLD["transitions"], {"id": "41", "name": "Close", "to": "Closed"}],
    })


def connect_org(web: Client, sb: Sandbox, org) -> JiraConnection:
    assert web.get(consent(sb, start_connect(web, sb))).status_code == 302
    connection = JiraConnection.objects.get(organization=org, status__in=["choosing_site", "active"])
    if connection.status == JiraConnection.Status.CHOOSING_SITE:
        web.post("/settings/integrations/jira/site/", {"cloud_id": connection.available_sites[0]["id"]})
        connection.refresh_from_db()
    return connection


class Tenant:
    """One organization: its admin's browser, its site, its Jira project and its violations."""

    def __init__(self, name: str, key: str, host: str, sb: Sandbox):
        self.org = factories.organization(name)
        self.owner = self.org.memberships.get(role="owner").user
        self.web = Client()
        self.web.force_login(self.owner)
        self.key, self.sb = key, sb
        self.site = factories.site(self.org, name, f"https://{host}/")
        factories.ingest(self.site, factories.axe_fixture("multi_page__site.json").replace(
            b"www.acme-dental.example", host.encode()), scanned_at=clock.now())
        self.violations = list(self.site.violations.order_by("rule_id")[:3])
        self.policy = SiteSyncRule.Regression.COMMENT
        self.connection = connect_org(self.web, sb, self.org)
        self.enable()

    def refresh(self) -> JiraConnection | None:
        self.connection = JiraConnection.objects.exclude(status="disconnected").filter(organization=self.org).first()
        return self.connection

    def enable(self, on: bool = True) -> None:
        connection = self.refresh()
        result = rules.rules_save(connection=connection, by=None, client=client_for(connection), inputs=[
            rules.RuleInput(site_id=self.site.pk, enabled=on, project_key=self.key,
                            severities=frozenset(impacts.VALUES), issue_type="", auto_push=False,
                            regression_policy=self.policy)])
        assert result.ok, result.errors
        try:
            webhooks.webhook_sync(connection=self.refresh(), client=client_for(self.connection))
        except JiraError:
            pass  # kept on the connection; healed when settling


class SyncBack(FaultRules, RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.sb = Sandbox(sandbox_config())
        self.sb.auto_approve = True
        # A fixed instant in whole seconds (Jira's resolution is a millisecond): the same seed then builds the
        # same schedules on every run, whatever the wall clock says.
        self.sb.clock.freeze(START)
        self.sb.sleep = self.sb.clock.advance
        self.kill_switch = KillSwitch(httpx.WSGITransport(app=self.sb))
        self._transport = jira_client.transport(self.kill_switch)
        self._transport.__enter__()
        self._clock = clock.follow(lambda: dt.datetime.fromtimestamp(self.sb.clock.now(), dt.UTC))
        self._clock.__enter__()
        self.receiver = Client()
        self.sb.webhook_sender = self._send
        self.reopened: dict[int, dt.datetime] = {}  # violation -> last reopen by a scan or a person
        self.reopen_scans: dict[int, int] = {}  # violation -> how many scans reopened it
        self.delivered: list[str] = []
        self.taken: dict[str, list[str]] = {}  # one change (URL + body) -> our answer to each delivery of it
        self.echo_outcomes: list[tuple[str, object]] = []  # (what, outcome) for deliveries of our own writes
        self.others: list[int] = []  # webhooks other connections on the same account registered
        self.accepted: list[tuple[str, bytes]] = []  # (URL, body) of deliveries taken in, to replay
        self.accepted_ids: dict[tuple[str, bytes], str] = {}
        self.happened: list[str] = []

    def _send(self, url, headers, body):
        response = self.receiver.post(url.removeprefix("http://testserver"), body, content_type="application/json",
                                      headers=headers)
        if response.status_code in (200, 202):
            self.delivered.append(headers["X-Atlassian-Webhook-Identifier"])
        if not self.worker_down:
            inbound_apply.pending_apply()  # the worker's run, right after intake
        if response.status_code in (200, 202):
            # Every delivery of one change carries the same body (a duplicate, or a late redelivery under
            # a new identifier); two changes never do (their changelog, comment or time differ).
            change = hashlib.sha256(url.encode() + b"\0" + body).hexdigest()
            outcome = response.json()["outcome"]
            if outcome == InboundEvent.Outcome.RECEIVED:  # intake kept it: the worker decides (read when checking)
                outcome = ("received", headers["X-Atlassian-Webhook-Identifier"])
            if outcome != InboundEvent.Outcome.UNMATCHED:
                self.accepted.append((url, body))
                self.accepted_ids.setdefault((url, body), headers["X-Atlassian-Webhook-Identifier"])
            self.taken.setdefault(change, []).append(outcome)
            ours = self._our_write(json.loads(body))
            if ours:
                self.echo_outcomes.append((ours, outcome))
        return response.status_code

    def _our_write(self, payload: dict) -> str:
        """What our own write this delivery reports, if any: a "detected again" comment, or our move of the
        issue back to To Do (the regression policy "reopen"), told by its issue and its instant."""
        if DETECTED_AGAIN in json.dumps((payload.get("comment") or {}).get("body", "")):
            return "our comment"
        items = (payload.get("changelog") or {}).get("items") or []
        if any(i.get("field") == "status" for i in items):
            at = dt.datetime.fromtimestamp(payload["timestamp"] / 1000, dt.UTC)
            if OutboundWrite.objects.filter(kind="transition", issue_key=payload["issue"]["key"],
                                            created_at__gte=at - dt.timedelta(milliseconds=500),
                                            created_at__lte=at + dt.timedelta(milliseconds=500)).exists():
                return "our move to To Do"
        return ""

    @initialize()
    def tenants(self):
        self.a = Tenant("Demo Agency", "ACME", "www.acme-dental.example", self.sb)
        self.b = Tenant("Other Agency", "WEB", "web.example", self.sb)  # same Jira site, same account
        for violation in self.a.violations + self.b.violations:
            self.reopened[violation.pk] = violation.first_detected_at
        for index in range(6):  # every violation starts linked: the schedules are about what follows
            self.push(index)

    def teardown(self):
        try:
            if hasattr(self, "a"):
                self.settle_and_check()
                progress = os.environ.get("ALLYPROOF_PROPERTY_PROGRESS")
                if progress:  # one line per schedule checked, so a long run stopped early still tells
                    with open(progress, "a") as out:
                        faults = sorted({h.split(" at ")[0] for h in self.happened})
                        out.write(f"checked {len(self.delivered)} deliveries; faults: {', '.join(faults) or '-'}\n")
        finally:
            self.close()

    def close(self) -> None:
        """Undo what __init__ set up: the clock, the transport and every row the schedule wrote."""
        self._clock.__exit__(None, None, None)
        self._transport.__exit__(None, None, None)
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # helpers ------------------------------------------------------------------------------------
    def tick(self, seconds: float = 1.0) -> None:
        self.sb.clock.advance(seconds)

    def violation(self, index: int) -> tuple[Tenant, Violation]:
        tenants = [(self.a, v) for v in self.a.violations] + [(self.b, v) for v in self.b.violations]
        tenant, violation = tenants[index % len(tenants)]
        violation.refresh_from_db()
        return tenant, violation

    def live_issue(self, violation: Violation) -> str | None:
        link = JiraLink.objects.filter(violation=violation, status=JiraLink.Status.LINKED).first()
        if link is None or self.sb.jira.site_state(link.cloud_id).issue(link.issue_key) is None:
            return None
        return link.issue_key

    # operations ---------------------------------------------------------------------------------
    @rule(index=st.integers(0, 5))
    def push_again(self, index):
        self.push(index)

    def push(self, index):
        tenant, violation = self.violation(index)
        connection = tenant.refresh()
        if connection is None or not connection.is_active:
            return
        self.tick()
        try:
            push.violation_push(violation=violation, connection=connection, client=client_for(connection, gate=NoGate()),
                                violation_url=push.absolute_violation_url(violation))
        except (push.PushRefused, JiraError):
            pass

    @rule(index=st.integers(0, 5), status=st.sampled_from(STATUSES))
    def transition(self, index, status):
        _, violation = self.violation(index)
        key = self.live_issue(violation)
        if key:
            self.tick()
            self.sb.transition_issue(None, key, status)

    @rule(index=st.integers(0, 5), status=st.sampled_from(["Done", "To Do", "Closed"]))
    def edit_and_transition_in_one_millisecond(self, index, status):
        _, violation = self.violation(index)
        key = self.live_issue(violation)
        if key:
            self.tick()
            with self.sb.same_millisecond():
                self.sb.edit_issue(None, key, summary=f"edited at {self.sb.clock.now()}")
                self.sb.transition_issue(None, key, status)

    @rule(index=st.integers(0, 5))
    def person_comments_in_jira(self, index):
        _, violation = self.violation(index)
        key = self.live_issue(violation)
        if key:
            self.tick()
            self.sb.add_comment(None, key, "Looked at it again.")

    @rule(index=st.integers(0, 5))
    def delete_in_jira(self, index):
        _, violation = self.violation(index)
        key = self.live_issue(violation)
        if key:
            self.tick()
            self.sb.delete_issue(None, key)

    @rule(tenant=st.sampled_from(["a", "b"]), twice=st.booleans())
    def scan_finds_everything_again(self, tenant, twice):
        t = getattr(self, tenant)
        self.tick()
        before = {v.pk for v in t.site.violations.filter(status=Violation.Status.RESOLVED)}
        with TestCase.captureOnCommitCallbacks(execute=True):
            scan = factories.ingest(t.site, factories.axe_fixture("multi_page__site.json").replace(
                b"www.acme-dental.example", t.site.base_url.split("/")[2].encode()), scanned_at=clock.now())
        reopened = before & set(t.site.violations.filter(status=Violation.Status.OPEN).values_list("pk", flat=True))
        for pk in reopened:
            self.reopened[pk] = scan.started_at
            self.reopen_scans[pk] = self.reopen_scans.get(pk, 0) + 1
        self.tick()  # the follow-up runs after the scan, so our comment's echo is newer than the reopen
        run_scan_followup(scan, reopened, 2 if twice else 1)

    @rule(index=st.integers(0, 5))
    def person_resolves(self, index):
        tenant, violation = self.violation(index)
        self.tick()
        violation_resolve(violation=violation, by=tenant.owner)

    @rule(index=st.integers(0, 5))
    def person_reopens(self, index):
        _, violation = self.violation(index)
        self.tick()
        if violation.status == Violation.Status.RESOLVED:
            violation_reopen(violation=violation)
            self.reopened[violation.pk] = clock.now()

    @rule(kind=st.sampled_from(DELIVERY_FAULTS), seconds=st.sampled_from([30, 600, 1200]))
    def delivery_fault(self, kind, seconds):
        self.sb.faults.add_delivery(kind=kind, seconds=seconds)

    @rule(on=st.booleans())
    def jira_sends_older_bodies(self, on):
        """Webhook bodies without statuscategorychangedate: only the changelog tells a status change."""
        self.sb.cfg.sites[0].webhooks_omit_status_change_date = on

    @rule(on=st.booleans())
    def jira_search_leaves_missing_keys_out(self, on):
        """Search answers without a deleted key instead of refusing the query (Jira has done both)."""
        self.sb.cfg.sites[0].search_omits_missing_keys = on

    @rule()
    def deliver(self):
        self.sb.deliver_pending()

    @rule(seconds=st.sampled_from([1, 60, 900]))
    def time_passes(self, seconds):
        self.tick(seconds)
        self.sb.deliver_pending()

    @rule()
    def reconcile_now(self):
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is not None and connection.is_active:
                reconcile.reconcile(connection=connection, client=client_for(connection, gate=NoGate()))

    @rule()
    def webhooks_expire(self):
        """A month passes and the refresh job never ran: every registration expires. The tokens were used
        meanwhile (an idle refresh token dies after 90 days, which is not this test's point)."""
        self.tick(31 * 86400)
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is not None and connection.is_active:
                client_for(connection).list_webhooks()
        self.reconcile_now()

    @rule(on=st.booleans())
    def first_org_saves_rules(self, on):
        if self.a.refresh() is not None and self.a.connection.is_active:
            self.a.enable(on)

    @rule(tenant=st.sampled_from(["a", "b"]), reopen=st.booleans())
    def regression_policy_saved(self, tenant, reopen):
        """"Reopen the Jira issue" or only comment: our move back to To Do must not loop or resolve."""
        t = getattr(self, tenant)
        t.policy = SiteSyncRule.Regression.REOPEN if reopen else SiteSyncRule.Regression.COMMENT
        if t.refresh() is not None and t.connection.is_active:
            t.enable()

    @precondition(lambda self: hasattr(self, "a") and self.a.refresh() is not None)
    @rule()
    def first_org_disconnects(self):
        self.tick()
        self.a.web.post("/settings/integrations/jira/disconnect/")

    @precondition(lambda self: hasattr(self, "a") and self.a.refresh() is None)
    @rule()
    def first_org_reconnects(self):
        self.tick()
        self.a.connection = connect_org(self.a.web, self.sb, self.a.org)
        self.a.enable()  # new connections start opted out; the admin turns the site back on

    # settling and the promises ------------------------------------------------------------------
    def settle(self) -> None:
        self.sb.faults.clear()
        for _ in range(12):  # past every retry, delay and late redelivery
            self.tick(600)
            self.resume_waiting_deliveries()
            self.sb.deliver_pending()
        self.heal_by_the_periodic_jobs()
        for _ in range(2):
            self.reconcile_now()
            self.sb.deliver_pending()
        self.reconcile_history()

    def reconcile_history(self):
        """The daily run over links whose violation a person or a scan resolved (part of settling: a day)."""
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is not None and connection.is_active:
                reconcile.reconcile_history(connection=connection, client=client_for(connection, gate=NoGate()))

    def settle_and_check(self) -> None:
        self.settle()
        self.check_resolved_iff_done_after_reopen()
        self.check_deleted_issues_free_their_violations()
        self.check_every_delivery_recorded()
        self.check_each_change_taken_once()
        self.check_our_echoes_change_nothing()
        self.check_no_scan_commented_twice()
        self.check_registrations_match_rules()
        self.check_warning_only_while_mismatched()
        self.check_the_warning_went()
        self.check_nothing_left_waiting()
        self.check_quiet_once_settled()

    @rule()
    def settled(self):
        self.settle_and_check()

    def active_links(self):
        active = JiraConnection.objects.active().values_list("organization_id")
        return JiraLink.objects.filter(status=JiraLink.Status.LINKED, organization_id__in=active)

    def check_resolved_iff_done_after_reopen(self):
        for link in self.active_links().select_related("violation"):
            issue = self.sb.jira.site_state(link.cloud_id).issue(link.issue_key)
            if issue is None:
                continue
            violation = link.violation
            category = self.sb.cfg.status_by_id(issue.status_id).category
            entered = dt.datetime.fromtimestamp(issue.status_changed, dt.UTC)
            done_after_reopen = category == "done" and entered > self.reopened[violation.pk]
            by_jira = violation.status == Violation.Status.RESOLVED and violation.resolved_by_id is None
            assert by_jira == (done_after_reopen and not self._resolved_by_person_since(violation)), (
                f"{link.issue_key}: category={category} entered={entered} last reopen="
                f"{self.reopened[violation.pk]} violation={violation.status}/{violation.resolved_source}")
            if done_after_reopen:
                assert violation.status == Violation.Status.RESOLVED, link.issue_key

    def _resolved_by_person_since(self, violation: Violation) -> bool:
        return violation.status == Violation.Status.RESOLVED and violation.resolved_by_id is not None

    def check_deleted_issues_free_their_violations(self):
        # Every live link, whoever resolved its violation: each one says "In Jira: KEY" on its page. The
        # half-hourly run asks about open and Jira-resolved ones, the daily run about the rest.
        for link in self.active_links():
            assert self.sb.jira.site_state(link.cloud_id).issue(link.issue_key) is not None, (
                    f"{link.issue_key} was deleted in Jira but its link is still live")

    def check_every_delivery_recorded(self):
        logged = recorded_identifiers()
        missing = [i for i in self.delivered if i not in logged]
        assert not missing, f"deliveries that reached us without a trace: {missing[:3]}"

    @staticmethod
    def final(outcome) -> str:
        """Intake's answer, or for a delivery it kept for the worker, the outcome the worker gave it."""
        if isinstance(outcome, tuple):
            return (InboundEvent.objects.filter(identifier=outcome[1]).order_by("-pk")
                    .values_list("outcome", flat=True).first())
        return outcome

    def check_each_change_taken_once(self):
        for change, answers in self.taken.items():
            outcomes = [self.final(o) for o in answers]
            taken = [o for o in outcomes if o != "duplicate"]
            assert len(taken) == 1, f"one change delivered {len(outcomes)} times was taken {len(taken)} times: {outcomes}"

    def check_our_echoes_change_nothing(self):
        applied = [what for what, outcome in self.echo_outcomes if self.final(outcome) == "applied"]
        assert not applied, f"the echo of our own write changed a violation: {applied}"

    def _footprint(self):
        """What AllyProof has written to Jira and what it holds about each violation."""
        issues = [i for site in self.sb.state.sites.values() for i in site.issues.values()]
        statuses = dict(Violation.objects.values_list("pk", "status"))
        return (OutboundWrite.objects.count(), sum(len(i.comments) for i in issues),
                sum(len(i.histories) for i in issues), statuses, len(self.sb.deliveries))

    def check_quiet_once_settled(self):
        before = self._footprint()
        for _ in range(2):
            self.tick(600)
            self.sb.deliver_pending()
            self.reconcile_now()
        assert self._footprint() == before, f"still moving after settling: {before} -> {self._footprint()}"

    def check_no_scan_commented_twice(self):
        for link in JiraLink.objects.exclude(issue_id=""):
            issue = self.sb.jira.site_state(link.cloud_id).issues.get(link.issue_id)
            said = sum(DETECTED_AGAIN in str(c.body) for c in issue.comments) if issue else 0
            assert said <= self.reopen_scans.get(link.violation_id, 0), (
                f"{link.issue_key}: {said} 'detected again' comments for {self.reopen_scans.get(link.violation_id, 0)}"
                " reopening scans")

    def check_registrations_match_rules(self):
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is None or not connection.is_active:
                continue
            wanted = webhooks.desired_jql(connection)
            mine = [h for h in self.sb.state.webhooks.values() if h.url == callback_url(connection)
                    and h.expires > self.sb.clock.now()]
            assert connection.webhook_jql == wanted, (connection.webhook_jql, wanted)
            assert [h.jql_filter for h in mine] == ([wanted] if wanted else []), [h.jql_filter for h in mine]
            assert sorted(h.id for h in mine) == sorted(connection.webhook_ids)


@pytest.mark.django_db
def test_sync_back_holds_its_promises_under_random_schedules():
    run_state_machine_as_test(SyncBack, settings=settings.get_profile(PROFILE))


# Schedules run through the same machine, settling and checks, one for each promise: six random schedules
# of 20 steps do not reliably build any one of them (with a promise broken on purpose, the random
# schedules passed several times; scripts/sync_property_breaks.py, docs/mutation-testing.md).
NAMED_SCHEDULES = {
    # Jira resolved it, then a person reopened it while the issue stays Done: the old Done must not count
    # again (reconciliation sees it on every run), and nothing must loop on the open violation.
    "a person reopens what Jira resolved": [
        ("transition", {"index": 0, "status": "Done"}),
        ("deliver", {}),
        ("person_reopens", {"index": 0})],
    # An edit and the move to Done in one millisecond: two changes, both taken.
    "two changes in one millisecond": [
        ("edit_and_transition_in_one_millisecond", {"index": 1, "status": "Done"}),
        ("deliver", {})],
    # A Done, and Atlassian's late retry of it under a new identifier, both reach a live connection.
    "a late redelivery under a new identifier": [
        ("delivery_fault", {"kind": "redeliver", "seconds": 600}),
        ("transition", {"index": 0, "status": "Done"}),
        ("time_passes", {"seconds": 900})],
    # Jira resolved the violation; a scan reopens it while the issue stays Done, and the echo of our
    # "detected again" comment (newer than the reopen) comes back in the older body shape, where only
    # the echo check stands between it and a second resolution.
    "our comment's echo on an issue still Done": [
        ("jira_sends_older_bodies", {"on": True}),
        ("transition", {"index": 0, "status": "Done"}),
        ("deliver", {}),
        ("scan_finds_everything_again", {"tenant": "a", "twice": False}),
        ("deliver", {})],
    # The same with "Reopen the Jira issue": the echo of our move back to To Do changes nothing either.
    "our move back to To Do": [
        ("regression_policy_saved", {"tenant": "b", "reopen": True}),
        ("transition", {"index": 4, "status": "Done"}),
        ("deliver", {}),
        ("scan_finds_everything_again", {"tenant": "b", "twice": False}),
        ("deliver", {})],
    # A scan's follow-up run a second time (a retry, or the sweeper resuming it).
    "a scan's follow-up run twice": [
        ("transition", {"index": 3, "status": "Closed"}),
        ("deliver", {}),
        ("scan_finds_everything_again", {"tenant": "b", "twice": True}),
        ("deliver", {})],
    # An issue deleted while its deletion delivery is lost.
    "a deletion whose delivery is lost": [
        ("jira_search_leaves_missing_keys_out", {"on": True}),
        ("delivery_fault", {"kind": "drop", "seconds": 30}),
        ("delete_in_jira", {"index": 2}),
        ("deliver", {})],
    # The same after a person resolved the violation: the half-hourly run no longer asks about it.
    "a deletion behind a person's resolution, its delivery lost": [
        ("person_resolves", {"index": 5}),
        ("jira_search_leaves_missing_keys_out", {"on": True}),
        ("delivery_fault", {"kind": "drop", "seconds": 30}),
        ("delete_in_jira", {"index": 5}),
        ("deliver", {})],
    # Issue 9, case 5: the five slots are full, so the first organization's registration is refused; the
    # warning stays while the periodic job retries it in vain, and goes once a slot is free and it heals.
    "registration refused at the five-webhook limit, healed by the periodic job": [
        ("others_take_webhook_slots", {"n": 3}),
        ("first_org_saves_rules", {"on": False}),
        ("others_take_webhook_slots", {"n": 1}),
        ("first_org_saves_rules", {"on": True}),
        ("time_passes", {"seconds": 900}),
        ("periodic_webhook_jobs", {}),
        ("others_free_their_slots", {}),
        ("time_passes", {"seconds": 900}),
        ("periodic_webhook_jobs", {}),
        ("transition", {"index": 0, "status": "Done"}),
        ("deliver", {})],
    # Registrations expire while the slots are full: the refresh job's new registration is refused.
    "registrations expire while the slots are full": [
        ("others_take_webhook_slots", {"n": 3}),
        ("webhooks_expire", {}),
        ("periodic_webhook_jobs", {}),
        ("time_passes", {"seconds": 900}),
        ("periodic_webhook_jobs", {})],
    # Jira registers the webhook but its answer is lost: the registration is adopted, not doubled.
    "a registration whose answer is lost": [
        ("registration_answer_lost", {"kind": "commit_then_error"}),
        ("first_org_saves_rules", {"on": False}),
        ("first_org_saves_rules", {"on": True}),
        ("registration_answer_lost", {"kind": "drop_response_after_commit"}),
        ("regression_policy_saved", {"tenant": "b", "reopen": True}),
        ("periodic_webhook_jobs", {})],
    # The consumer is down while changes arrive, then dies in the second delivery of a batch, after the
    # first one (a Done that resolves) was applied but before the batch commits; and again with a
    # handler failing: the sweep resumes, and nothing is lost or made up.
    "the worker killed while applying": [
        ("worker_stops", {}),
        ("transition", {"index": 3, "status": "Done"}),
        ("transition", {"index": 4, "status": "Closed"}),
        ("deliver", {}),
        ("worker_killed_while_applying", {"after": 1, "inside": False}),
        ("worker_stops", {}),
        ("edit_and_transition_in_one_millisecond", {"index": 5, "status": "Done"}),
        ("transition", {"index": 0, "status": "To Do"}),
        ("deliver", {}),
        ("worker_killed_while_applying", {"after": 0, "inside": True})],
    # Deliveries wait for a consumer that never comes back in time: only the periodic sweep applies them.
    "deliveries waiting for the sweep": [
        ("worker_stops", {}),
        ("transition", {"index": 1, "status": "Done"}),
        ("deliver", {})],
    # Reconciliation dies at its first request (the first search), and at its third: the second
    # organization's one-by-one fetch of a key its search left out (the deleted WEB-3).
    "reconciliation killed mid-run": [
        ("delivery_fault", {"kind": "drop", "seconds": 30}),
        ("transition", {"index": 2, "status": "Done"}),
        ("deliver", {}),
        ("reconciliation_killed", {"call": 0}),
        ("jira_search_leaves_missing_keys_out", {"on": True}),
        ("delivery_fault", {"kind": "drop", "seconds": 30}),
        ("delete_in_jira", {"index": 5}),
        ("deliver", {}),
        ("reconciliation_killed", {"call": 2})],
    # The process dies while registering: after Jira created the webhook, before we kept its id.
    "a registration killed between Jira's answer and our save": [
        ("first_org_saves_rules", {"on": False}),
        ("registration_killed", {"call": 4, "on": True}),
        ("time_passes", {"seconds": 900}),
        ("periodic_webhook_jobs", {})],
    # Every kind of forged or replayed delivery, after real ones.
    "forged and replayed deliveries": [
        ("transition", {"index": 0, "status": "Done"}),
        ("deliver", {}),
        *[("forged_or_replayed_delivery", {"kind": kind, "pick": 0}) for kind in FORGERIES]],
}


# What each fault schedule must have made happen (so a schedule that no longer reaches its fault fails).
NAMED_FAULTS = {
    "registration refused at the five-webhook limit, healed by the periodic job": ["refused at the limit"],
    "registrations expire while the slots are full": ["refused at the limit"],
    "the worker killed while applying": ["worker killed", "handler failed"],
    "deliveries waiting for the sweep": ["resumed by the sweep"],
    "reconciliation killed mid-run": ["reconciliation killed at GET /ex/jira/", "reconciliation killed at POST"],
    "a registration killed between Jira's answer and our save": ["registration killed at POST"],
    "forged and replayed deliveries": [f"{kind} refused" for kind in FORGERIES],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", NAMED_SCHEDULES)
def test_sync_back_holds_its_promises_in_named_schedules(name):
    machine = SyncBack()
    try:
        machine.tenants()
        for step, arguments in NAMED_SCHEDULES[name]:
            getattr(machine, step)(**arguments)
            machine.check_warning_only_while_mismatched()  # Hypothesis runs invariants after every step
        machine.settle_and_check()
        for fault in NAMED_FAULTS.get(name, []):
            assert any(h.startswith(fault) for h in machine.happened), (fault, machine.happened)
    finally:
        machine.close()
