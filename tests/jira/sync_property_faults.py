"""The sync-back state machine's fault rules (tests/jira/test_sync_property.py mixes them in):

- registrations refused at Atlassian's 5-webhook limit, or registered while the answer was lost, then
  healed by the periodic jobs (webhook-heal, webhook-refresh); the Integrations page's warning shows
  exactly while a connection's registration does not match its rules (checked after every step);
- a worker killed at a step of applying deliveries, or of a reconciliation run, then resumed by the
  periodic sweep or the next run: the outcome must be what the same run without the crash gives
  (no status change lost, none invented, each delivery's outcome and sync-log line once);
- forged and replayed deliveries: refused (or taken as a duplicate), a sync-log line with the reason
  code and never the token, and nothing else changes.
"""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import jwt
from django.conf import settings
from django.db import transaction
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from allyproof.integrations.jira import periodic
from allyproof.integrations.jira.connection import webhooks
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.inbound import apply as inbound_apply
from allyproof.integrations.jira.inbound.status_sync import HANDLERS
from allyproof.integrations.jira.inbound.sync_status import webhook_status
from allyproof.integrations.jira.models import InboundEvent, JiraLink, JiraSyncLog, OutboundWrite
from allyproof.monitoring.models import Violation

OTHERS_URL = "http://testserver/integrations/jira/webhook/another-integration-{}/"  # same app, same account
FORGERIES = ["wrong_secret", "alg_none", "expired", "no_token", "unknown_url", "bad_body",
             "replay_same_identifier", "replay_new_identifier"]
# What intake must answer each one: (HTTP status, the sync-log line's reason code).
EXPECTED = {"wrong_secret": (401, "unauthenticated"), "alg_none": (401, "unauthenticated"),
            "expired": (401, "unauthenticated"), "no_token": (401, "unauthenticated"),
            "unknown_url": (404, "unknown_url"), "bad_body": (400, "bad_payload"),
            "replay_same_identifier": (200, "duplicate"), "replay_new_identifier": (200, "duplicate")}


class Killed(BaseException):
    """The worker process dies here (SIGKILL, OOM): no `except Exception` of ours sees it."""


class KillSwitch(httpx.BaseTransport):
    """Jira's transport, which kills the process at the n-th request from arming, once Jira has run it
    and before its answer is read (a crash mid-run; a write Jira made is then unknown to us)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.countdown = inner, None

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        if self.countdown is not None:
            self.countdown -= 1
            if self.countdown < 0:
                self.countdown = None
                raise Killed(f"killed at {request.method} {request.url.path}")
        return response


def crashing_handlers(after: int, inside: bool) -> dict:
    """The real handlers, but the (after+1)-th call crashes once its writes are made (they roll back with
    the delivery's own savepoint): inside, an exception of the handler, which the worker catches and goes
    on; otherwise the worker is killed, so the deliveries applied before it in the batch must roll
    back with the batch."""
    calls = {"n": 0}

    def wrap(handler):
        def run(connection, event, link):
            handled = handler(connection, event, link)
            calls["n"] += 1
            if calls["n"] == after + 1:
                if inside:
                    raise RuntimeError("the handler failed after its writes")
                raise Killed("killed between the handler's writes and the batch's commit")
            return handled
        return run

    return {name: wrap(handler) for name, handler in HANDLERS.items()}


def _token(claims: dict, secret: str, algorithm: str = "HS256") -> str:
    if algorithm == "none":
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return jwt.encode(claims, secret, algorithm=algorithm)


class _Undo(Exception):
    """Raised inside the clean run's transaction to roll every row it wrote back."""


def rolled_back(run) -> tuple:
    """inbound_state() after `run`, with every row `run` wrote rolled back (the clean run to compare with)."""
    try:
        with transaction.atomic():
            run()
            seen = inbound_state()
            raise _Undo
    except _Undo:
        return seen


def inbound_state() -> tuple:
    """What applying deliveries may change, for comparing a crashed-and-resumed run with a clean one.
    A handler's "failed" line is left out: it is the crash's own trace, not a decision."""
    violations = sorted(Violation.objects.values_list("pk", "status", "resolved_source", "resolved_by_id",
                                                      "resolved_at", "reopened_at"))
    links = sorted(JiraLink.objects.values_list("pk", "status", "jira_category", "jira_category_changed_at", "deleted_at"))
    events = sorted(InboundEvent.objects.values_list("pk", "outcome"))
    lines = sorted(JiraSyncLog.objects.filter(direction__in=["inbound", "reconcile"], outcome="applied")
                   .exclude(code="run").values_list("direction", "identifier", "code", "violation_id", "issue_key"))
    decided = sorted(JiraSyncLog.objects.filter(direction="inbound").exclude(outcome="failed")
                     .values_list("identifier", "outcome", "code"))
    return violations, links, events, lines, decided


class FaultRules:
    """Rules and checks mixed into SyncBack; they use its sandbox, tenants, clock and receiver."""

    worker_down = False
    others: list[int]
    happened: list[str]  # what the fault rules made happen, for the named schedules to check they got there

    # (a) registrations refused at the limit, healed by the periodic jobs -----------------------
    @rule(n=st.integers(1, 4))
    def others_take_webhook_slots(self, n):
        """Another connection of ours on the same Atlassian account registers webhooks of its own."""
        site = self.sb.cfg.sites[0]
        for _ in range(n):
            url = OTHERS_URL.format(secrets.token_hex(4))
            results = self.sb.webhook_registry.register(site.cloud_id, self.sb.cfg.accounts[0].account_id, url,
                                                        [{"events": ["jira:issue_updated"], "jqlFilter": "project = OPS"}])
            self.others.extend(r["createdWebhookId"] for r in results if "createdWebhookId" in r)

    @rule()
    def others_free_their_slots(self):
        site = self.sb.cfg.sites[0]
        self.sb.webhook_registry.delete(site.cloud_id, self.sb.cfg.accounts[0].account_id, self.others)
        self.others = []

    @rule(kind=st.sampled_from(["commit_then_error", "drop_response_after_commit", "error"]))
    def registration_answer_lost(self, kind):
        """The next registration: Jira creates it but the answer is lost, or refuses it with a 500."""
        self.sb.faults.add(kind=kind, method="POST", path=r"/rest/api/3/webhook$")

    @rule(call=st.integers(0, 5), on=st.booleans())
    def registration_killed(self, call, on):
        """The first organization saves its rules, and the process dies at the (call+1)-th request to Jira:
        checking the project (0-2), listing webhooks (3), or once Jira created the new one and before we
        kept its id (4), when turning the site on."""
        if self.a.refresh() is None or not self.a.connection.is_active:
            return
        self.kill_switch.countdown = call
        try:
            self.a.enable(on)
        except Killed as killed:
            self.happened.append(f"registration {killed}")
        self.kill_switch.countdown = None

    @rule()
    def periodic_webhook_jobs(self):
        """The schedule's webhook-heal (every 5 minutes) and webhook-refresh (every 6 hours) runs."""
        periodic.webhook_heal_all()
        periodic.webhook_refresh_all()

    def registration_matches(self, connection) -> bool:
        wanted = webhooks.desired_jql(connection)
        mine = [h for h in self.sb.state.webhooks.values() if h.url == webhooks.webhook_url(connection)
                and h.expires > self.sb.clock.now()]
        return ([h.jql_filter for h in mine] == ([wanted] if wanted else [])
                and sorted(h.id for h in mine) == sorted(connection.webhook_ids) and connection.webhook_jql == wanted)

    @invariant()
    def check_warning_only_while_mismatched(self):
        if not hasattr(self, "a"):
            return
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is None or not connection.is_active:
                continue
            problem = webhook_status(connection=connection).problem
            matches = self.registration_matches(connection)
            if "limited to 5" in problem:
                self.happened.append("refused at the limit")
            assert matches == (problem == ""), (
                f"{tenant.key}: registration {'matches' if matches else 'does not match'} its rules "
                f"({connection.webhook_jql!r}, ids {connection.webhook_ids}) but the page says {problem!r}")

    def heal_by_the_periodic_jobs(self) -> None:
        """Settling: the other connections free their slots; time passes to each retry (its backoff) and
        the periodic jobs run, as the schedule would run them."""
        self.others_free_their_slots()
        for _ in range(3):
            due = [t.connection.webhook_retry_at for t in (self.a, self.b)
                   if t.refresh() is not None and t.connection.is_active and t.connection.webhook_retry_at]
            wait = max([(d.timestamp() - self.sb.clock.now()) for d in due], default=0)
            self.tick(min(max(wait, 0), webhooks.BACKOFF_MAX.total_seconds()) + 300)  # the job runs every 5 min
            self.periodic_webhook_jobs()

    def check_the_warning_went(self):
        for tenant in (self.a, self.b):
            connection = tenant.refresh()
            if connection is not None and connection.is_active:
                assert webhook_status(connection=connection).problem == "", webhook_status(connection=connection)

    # (b) a worker killed mid-apply or mid-reconciliation ----------------------------------------
    @rule()
    def worker_stops(self):
        """The consumer is down: deliveries wait as "received"."""
        self.worker_down = True

    @precondition(lambda self: InboundEvent.objects.filter(outcome=InboundEvent.Outcome.RECEIVED).exists())
    @rule(after=st.integers(0, 3), inside=st.booleans())
    def worker_killed_while_applying(self, after, inside):
        """The consumer comes back and dies at the (after+1)-th delivery; the periodic sweep resumes.
        Compared with the same run without the crash, at the same instant."""
        self.tick(inbound_apply.STALE.total_seconds() + 1)  # the sweep re-queues what waited this long
        waiting = InboundEvent.objects.filter(outcome=InboundEvent.Outcome.RECEIVED).count()
        expected = rolled_back(inbound_apply.pending_apply)
        try:
            inbound_apply.pending_apply(handlers=crashing_handlers(min(after, waiting - 1), inside))
        except Killed:
            self.happened.append("worker killed")
        left = InboundEvent.objects.filter(outcome=InboundEvent.Outcome.RECEIVED).count()
        if inside and left:
            self.happened.append("handler failed")
        self.worker_down = False
        inbound_apply.resume(enqueue=inbound_apply.pending_apply)
        assert inbound_state() == expected, "a crash while applying changed what the deliveries did"

    @rule(call=st.integers(0, 2))
    def reconciliation_killed(self, call):
        """A reconciliation run dies at its (call+1)-th request to Jira; the next run must end where an
        uninterrupted run ends."""
        self.tick()
        for tenant in (self.a, self.b):  # tokens refreshed first: rolling back must not undo a rotation
            connection = tenant.refresh()
            if connection is not None and connection.is_active:
                client_for(connection).list_webhooks()
        expected = rolled_back(self.reconcile_now)
        self.kill_switch.countdown = call
        try:
            self.reconcile_now()
        except Killed as killed:
            self.happened.append(f"reconciliation {killed}")
        self.kill_switch.countdown = None
        self.reconcile_now()
        assert inbound_state() == expected, "a crash during reconciliation changed what it decided"

    def resume_waiting_deliveries(self) -> None:
        """Settling: the consumer is back, and the periodic sweep gives waiting deliveries a run."""
        self.worker_down = False
        if inbound_apply.resume(enqueue=inbound_apply.pending_apply):
            self.happened.append("resumed by the sweep")

    def check_nothing_left_waiting(self):
        waiting = list(InboundEvent.objects.filter(outcome=InboundEvent.Outcome.RECEIVED)
                       .values_list("identifier", "detail"))
        assert not waiting, f"deliveries never applied (a lost change): {waiting[:3]}"

    # (c) forged and replayed deliveries ---------------------------------------------------------
    @rule(kind=st.sampled_from(FORGERIES), pick=st.integers(0, 50))
    def forged_or_replayed_delivery(self, kind, pick):
        live = [(url, body) for url, body in self.accepted if self._active_url(url)]
        active = [t.connection for t in (self.a, self.b) if t.refresh() is not None and t.connection.is_active]
        if not active or (kind.startswith("replay") and not live):
            return
        url, body = live[pick % len(live)] if live else (webhooks.webhook_url(active[0]), b"{}")
        identifier = f"forged-{secrets.token_hex(6)}"
        if kind == "replay_same_identifier":
            identifier = self.accepted_ids[(url, body)]
        now = int(self.sb.clock.now())
        good = {"iss": self.sb.cfg.client_id, "iat": now, "exp": now + 60}
        token = {"wrong_secret": _token(good, "not-the-client-secret"), "alg_none": _token(good, "", "none"),
                 "expired": _token({**good, "iat": now - 3600, "exp": now - 600}, settings.CONFIG.atlassian_client_secret),
                 "no_token": ""}.get(kind, _token(good, settings.CONFIG.atlassian_client_secret))
        if kind == "unknown_url":
            url = url.rsplit("/", 2)[0] + f"/{secrets.token_urlsafe(16)}/"
        if kind == "bad_body":
            body = b"<html>not a webhook</html>"
        before, lines = self.footprint_of_deliveries(), JiraSyncLog.objects.filter(identifier=identifier).count()
        response = self.receiver.post(url.removeprefix("http://testserver"), body, content_type="application/json",
                                      headers={"X-Atlassian-Webhook-Identifier": identifier,
                                               **({"Authorization": f"Bearer {token}"} if token else {})})
        if not self.worker_down:
            inbound_apply.pending_apply()
        status, code = EXPECTED[kind]
        new = list(JiraSyncLog.objects.filter(identifier=identifier).order_by("pk")
                   .values_list("direction", "code", "message"))[lines:]
        assert response.status_code == status, (kind, response.status_code, response.content[:200])
        assert [(d, c) for d, c, _ in new] == [("inbound", code)], (kind, new)
        assert not token or token not in new[0][2], "the sync log holds the token"
        assert self.footprint_of_deliveries() == before, f"a {kind} delivery changed something"
        self.happened.append(f"{kind} refused")

    def _active_url(self, url: str) -> bool:
        return any(t.refresh() is not None and t.connection.is_active and webhooks.webhook_url(t.connection) == url
                   for t in (self.a, self.b))

    def footprint_of_deliveries(self) -> tuple:
        issues = [i for site in self.sb.state.sites.values() for i in site.issues.values()]
        return (inbound_state()[:3], OutboundWrite.objects.count(), sum(len(i.comments) for i in issues),
                sum(len(i.histories) for i in issues))
