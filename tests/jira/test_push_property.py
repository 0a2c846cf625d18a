"""A stateful property test of the push path (Hypothesis RuleBasedStateMachine) against the sandbox.

Random schedules of pushes (button, bulk, picker, auto), several workers (runners interleaved by
crashing one mid-step and letting another go on), a worker crash at every step of the protocol (before
a call leaves, after Jira committed it), lost responses, late commits, unreadable 2xx, 5xx, 429 with
every reason, search lag from 0 to well past the window, rule changes, disconnect and reconnect; one
shared clock. Once the system settles:
  - exactly one (unrepaired) Jira issue per pushed violation, and any extra one repaired (closed, recorded);
  - none for an excluded site or a below-threshold violation;
  - every link points at the oldest issue carrying its label;
  - no call to a paused site before its pause ended (checked over the whole request log).
Profiles: "ci" (derandomized, small) by default; ALLYPROOF_HYPOTHESIS_PROFILE=long for a bench run.
It only uses the push path's public entry points, so it also runs against older code.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from allyproof.core import clock
from allyproof.integrations.jira.outbound import converge
from allyproof.integrations.jira.outbound import job_control, jobs
from allyproof.integrations.jira.connection import pacing
from allyproof.integrations.jira.outbound import push
from allyproof.integrations.jira.outbound import rules
from allyproof.integrations.jira.connection.lifecycle import connection_current, connection_disconnect
from allyproof.integrations.jira.connection.gateway import client_for
from allyproof.integrations.jira.models import JiraConnection, JiraLink, PushJob
from tests import factories
from tests.jira.conftest import connect

settings.register_profile("ci", max_examples=12, stateful_step_count=18, derandomize=True, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=300, stateful_step_count=40, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("explore", max_examples=12, stateful_step_count=18, deadline=None,
                          suppress_health_check=list(HealthCheck))  # like ci, with --hypothesis-seed=N
PROFILE = os.environ.get("ALLYPROOF_HYPOTHESIS_PROFILE", "ci")
ISSUE = r"/rest/api/3/issue$"
REASONS = ("jira-quota-global-based", "jira-quota-tenant-based", "jira-burst-based", "jira-per-issue-on-write")
CREATE_FAULTS = st.one_of(
    st.just({"kind": "drop_response_after_commit"}),
    st.builds(lambda s: {"kind": "late_commit", "commit_after": s}, st.sampled_from([0, 20, 250, 1200])),
    st.just({"kind": "commit_then_unreadable"}),
    st.just({"kind": "commit_then_error", "status": 500}),
    st.just({"kind": "error", "status": 503}),
    st.just({"kind": "timeout"}),
    st.just({"kind": "reset"}),
    st.builds(lambda r, s: {"kind": "rate_limit", "reason": r, "retry_after": s}, st.sampled_from(REASONS),
              st.sampled_from([1, 5, 30])),
)
ONLY = os.environ.get("ALLYPROOF_PROPERTY_FAULTS")  # e.g. "late_commit": look for one case at a time
if ONLY:
    CREATE_FAULTS = CREATE_FAULTS.filter(lambda fault: fault["kind"] in ONLY.split(","))
SEVERITIES = ("critical", "serious", "moderate")  # never "minor": minor violations must never reach Jira
PushChecking = push.PushChecking


class WorkerCrash(BaseException):
    """The worker process died: nothing of ours runs after it (no except Exception sees it)."""


class CrashingClient:
    """A worker's client that dies at its Nth call, before the call leaves or right after Jira answered."""

    def __init__(self, client, crash_at: int | None, after: bool):
        self._client, self._left, self._after = client, crash_at, after

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if not callable(real) or name.startswith("_"):
            return real

        def call(*args, **kwargs):
            if self._left is not None:
                self._left -= 1
                if self._left < 0 and not self._after:
                    raise WorkerCrash
            result = real(*args, **kwargs)
            if self._left is not None and self._left < 0 and self._after:
                raise WorkerCrash
            return result
        return call


class PushMachine(RuleBasedStateMachine):
    world: dict = {}

    @initialize(lag=st.sampled_from([0, 5, 120, 700, 1500]), first_look=st.sampled_from([0, 5, 400]))
    def fresh(self, lag, first_look):
        w = self.world
        # When the first label search is due after an unknown outcome: at once, the default, or past the
        # commit window (capped there). Only a search after both windows may allow a create, whichever.
        if "django_settings" in w:
            w["django_settings"].CONFIG = w["django_settings"].CONFIG.replace(jira_first_look_seconds=first_look)
        self.sb, self.site, self.excluded = w["sandbox"], w["site"], w["excluded"]
        self.sb.faults.clear()
        self.sb.jira.search_lag.clear()
        self.sb.issue_links.clear()
        self.sb._late.clear()
        for site in self.sb.state.sites.values():
            site.issues.clear()
            site.key_counters.clear()
        self.sb.requests.clear()
        PushJob.objects.all().delete()
        JiraLink.objects.all().delete()
        from allyproof.integrations.jira.models import OutboundWrite, PacingGate
        OutboundWrite.objects.all().delete()
        PacingGate.objects.all().delete()
        from allyproof.integrations.jira.models import RepairedDuplicate
        RepairedDuplicate.objects.all().delete()
        if connection_current(organization=self.site.organization) is None:
            self._reconnect()
        self._save(enabled=True, severities=SEVERITIES, auto_push=False)
        self.sb.set_search_lag(None, lag)  # Jira's index trails writes from the start, 0 s to past the window
        # While Jira stays within the protocol's windows no duplicate may ever exist, repaired or not;
        # beyond them (a later commit, a longer lag) a duplicate may appear and must be repaired.
        self.within_windows = lag <= 600
        self.gate = pacing.DatabaseGate(interval=0.0, clock=self.sb.clock.now, sleep=self.sb.clock.advance)

    # --- helpers --------------------------------------------------------------------------------------
    def _connection(self):
        return connection_current(organization=self.site.organization)

    def _reconnect(self):
        self.world["client"].force_login(self.world["admin"])
        connect(self.world["client"], self.sb)

    def _save(self, *, enabled, severities, auto_push):
        connection = self._connection()
        result = rules.rules_save(
            connection=connection, by=None, client=client_for(connection, gate=self.gate if hasattr(self, "gate") else None),
            inputs=[rules.RuleInput(site_id=self.site.pk, enabled=enabled, project_key="ACME",
                                    severities=frozenset(severities), issue_type="", auto_push=auto_push)])
        assert result.ok, result.errors

    def _client(self, connection, crash_at=None, after=False):
        return CrashingClient(client_for(connection, gate=self.gate), crash_at, after)

    def _run_jobs(self, crash_at=None, after=False):
        ids = list(PushJob.objects.filter(status__in=["queued", "running"]).values_list("pk", flat=True))
        job_control.push_jobs_sweep(enqueue=lambda job_id: None)  # what the periodic sweeper does; the rule runs them
        for job_id in ids:
            kwargs = {"job_id": job_id, "client_for": lambda c: self._client(c, crash_at, after),
                      "violation_url": push.absolute_violation_url, "gate": self.gate, "rand": lambda: 0.5,
                      "sleep": self._sleep_bounded()}
            try:
                jobs.push_job_run(**kwargs)
            except WorkerCrash:
                pass
            except StopRunner:
                pass
            crash_at = None  # one crash per turn: the next worker goes on

    def _sleep_bounded(self):
        budget = [0.0]

        def sleep(seconds):  # a runner that would wait long gives its thread back (the next turn resumes)
            budget[0] += seconds
            if budget[0] > 3600:
                raise StopRunner
            self.sb.clock.advance(seconds)
        return sleep

    def _push_kwargs(self):
        params = inspect.signature(push.violation_push).parameters
        return {"sleep": self.sb.clock.advance} if "sleep" in params else {}

    # --- operations ------------------------------------------------------------------------------------
    @rule(index=st.integers(0, 20), crash_at=st.none() | st.integers(0, 3), after=st.booleans())
    def button(self, index, crash_at, after):
        violations = list(self.site.violations.order_by("rule_id"))
        violation = violations[index % len(violations)]
        connection = self._connection()
        if connection is None:
            return
        try:
            push.violation_push(violation=violation, connection=connection,
                                client=self._client(connection, crash_at, after),
                                violation_url=push.absolute_violation_url(violation), **self._push_kwargs())
        except WorkerCrash:
            pass
        except (push.PushRefused, push.PushInProgress):
            pass
        except Exception as error:  # noqa: BLE001 - what the view does: hand over to a job
            if isinstance(error, PushChecking) or error.__class__.__name__.startswith("Jira"):
                jobs.push_job_create(site=self.site, violations=[violation], kind=PushJob.Kind.SINGLE,
                                     project_key="ACME", enqueue=None)
            else:
                raise

    @rule(excluded=st.booleans())
    def bulk(self, excluded):
        site = self.excluded if excluded else self.site
        jobs.push_job_create(site=site, violations=site.violations.order_by("rule_id"), kind=PushJob.Kind.BULK,
                             project_key="ACME", enqueue=None)

    @rule(picked=st.sets(st.integers(0, 20), min_size=1, max_size=4))
    def picker(self, picked):
        violations = list(self.site.violations.order_by("rule_id"))
        chosen = {violations[i % len(violations)].pk: violations[i % len(violations)] for i in picked}
        jobs.push_job_create(site=self.site, violations=list(chosen.values()), kind=PushJob.Kind.PICKED,
                             project_key="ACME", enqueue=None)

    @rule()
    def auto(self):
        from allyproof.integrations.jira.models import SiteSyncRule
        SiteSyncRule.objects.filter(site=self.site).update(auto_push=True, auto_push_since=clock.now() - dt.timedelta(days=9999))
        jobs.push_job_create(site=self.site, violations=self.site.violations.order_by("rule_id"), kind=PushJob.Kind.AUTO,
                             project_key="ACME", enqueue=None)

    @rule(crash_at=st.none() | st.integers(0, 6), after=st.booleans())
    def workers(self, crash_at, after):
        self._run_jobs(crash_at, after)

    @rule(fault=CREATE_FAULTS, count=st.integers(1, 3))
    def create_fault(self, fault, count):
        if fault.get("commit_after", 0) > 300:
            self.within_windows = False
        self.sb.faults.add(method="POST", path=ISSUE, count=count, **fault)

    @rule(fault=st.sampled_from([{"kind": "error", "status": 500}, {"kind": "timeout"}]) | st.builds(
        lambda r: {"kind": "rate_limit", "reason": r, "retry_after": 5}, st.sampled_from(REASONS)))
    def search_fault(self, fault):
        self.sb.faults.add(path="/search/jql", **fault)

    @rule(seconds=st.sampled_from([0, 5, 120, 700, 1500]))
    def search_lag(self, seconds):
        if seconds > 600:
            self.within_windows = False
        self.sb.set_search_lag(None, seconds)

    @rule(seconds=st.sampled_from([1, 30, 200, 700]))
    def time_passes(self, seconds):
        self.sb.clock.advance(seconds)

    @rule(severities=st.sets(st.sampled_from(SEVERITIES), min_size=1), enabled=st.booleans(), auto_push=st.booleans())
    @precondition(lambda self: self._connection() is not None)
    def change_rules(self, severities, enabled, auto_push):
        self._save(enabled=enabled, severities=severities, auto_push=auto_push)

    @rule()
    @precondition(lambda self: self._connection() is not None)
    def disconnect(self):
        connection_disconnect(connection=self._connection(), by=self.world["admin"], delete_webhook=lambda c: None)

    @rule()
    @precondition(lambda self: self._connection() is None)
    def reconnect(self):
        self._reconnect()

    # --- invariants ------------------------------------------------------------------------------------
    @invariant()
    def no_call_to_a_paused_site(self):
        paused_until = {"global": 0.0}
        for r in self.sb.requests:
            if not r.path.startswith("/ex/jira/"):
                continue
            assert r.time >= max(paused_until.get(r.cloud_id, 0.0), paused_until["global"]) - 1e-6, (
                f"{r.method} {r.path} at {r.time} while paused until {paused_until}")
            if r.status == 429 and r.headers:
                retry = float(r.headers.get("Retry-After", 0))
                scope = "global" if r.headers.get("RateLimit-Reason") == "jira-quota-global-based" else r.cloud_id
                paused_until[scope] = max(paused_until.get(scope, 0.0), r.time + retry)

    def teardown(self):
        self.settle()

    def settle(self):
        """No more faults; reconnect; every queued job and every unsure reservation runs to its end."""
        self.sb.faults.clear()
        self.sb.jira.search_lag.clear()
        if self._connection() is None:
            self._reconnect()
        self._save(enabled=True, severities=SEVERITIES, auto_push=False)
        for _ in range(40):
            self.sb.clock.advance(1000)
            self.sb.commit_due()
            self._run_jobs()
            for link in JiraLink.objects.filter(status=JiraLink.Status.CREATING).select_related("violation"):
                try:
                    connection = self._connection()
                    push.violation_push(violation=link.violation, connection=connection,
                                        client=self._client(connection),
                                        violation_url=push.absolute_violation_url(link.violation), **self._push_kwargs())
                except Exception:  # noqa: BLE001 - tried again on the next turn
                    pass
            converge.converge_due(client_for=lambda c: client_for(c, gate=self.gate))
            busy = PushJob.objects.filter(status__in=["queued", "running"]).exists() or JiraLink.objects.filter(
                status=JiraLink.Status.CREATING).exists() or self.sb.late_pending or (
                JiraLink.objects.filter(verify_at__isnull=False).exists())
            if not busy:
                break
        self.check_settled()

    def check_settled(self):
        issues = self.sb.issues(None)
        by_label: dict[str, list[dict]] = {}
        for issue in issues:
            for label in issue["fields"]["labels"]:
                if label.startswith("allyproof-"):
                    by_label.setdefault(label, []).append(issue)
        repaired = set()
        from allyproof.integrations.jira.models import RepairedDuplicate
        repaired = set(RepairedDuplicate.objects.values_list("duplicate_key", flat=True))
        links = {link.label: link for link in JiraLink.objects.filter(status=JiraLink.Status.LINKED)}
        for label, group in by_label.items():
            if self.within_windows:
                assert len(group) == 1, f"{len(group)} Jira issues for {label} within the windows: {[i['key'] for i in group]}"
            unrepaired = [i for i in group if i["key"] not in repaired]
            assert len(unrepaired) == 1, f"{len(unrepaired)} Jira issues for {label}: {[i['key'] for i in group]}"
            oldest = min(group, key=lambda i: int(i["id"]))
            assert label in links, f"{oldest['key']} carries {label} but no link points at it"
            assert links[label].issue_key == oldest["key"] == unrepaired[0]["key"]
            for issue in group:
                if issue["key"] in repaired:
                    assert self.sb.get_issue(None, issue["key"])["fields"]["status"]["statusCategory"]["key"] == "done"
        for label, link in links.items():
            assert label in by_label, f"link {link.issue_key} has no issue with its label"
            assert link.violation.impact != "minor" and link.violation.site_id == self.site.pk
        excluded_labels = {l.label for l in JiraLink.objects.filter(violation__site=self.excluded)}
        assert not excluded_labels, "the excluded site reached Jira"


@pytest.fixture
def world(client, admin_user, org, sandbox, site, settings):
    client.force_login(admin_user)
    connect(client, sandbox)
    factories.ingest(site, factories.axe_fixture("multi_page__site.json"))
    excluded = factories.site(org, "Excluded Co", "https://excluded.example/")
    factories.ingest(excluded, factories.axe_fixture("multi_page__site.json").replace(
        b"www.acme-dental.example", b"excluded.example"))
    assert site.violations.filter(impact="minor").exists()  # the below-threshold case is really exercised
    sandbox.clock.freeze()
    with clock.follow(lambda: dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)):
        yield {"sandbox": sandbox, "site": site, "excluded": excluded, "client": client, "admin": admin_user,
               "django_settings": settings}


class StopRunner(BaseException):
    """A runner that would wait long gives its thread back."""


@pytest.mark.django_db
def test_push_path_keeps_its_promises_under_random_faults(world):
    PushMachine.world = world
    run_state_machine_as_test(PushMachine, settings=settings.get_profile(PROFILE))


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [{"kind": "drop_response_after_commit"}, {"kind": "late_commit", "commit_after": 20},
                                   {"kind": "commit_then_unreadable"}, {"kind": "commit_then_error", "status": 500}])
def test_a_fixed_schedule_jira_committed_and_search_trails_by_minutes(world, fault):
    """One schedule the `ci` profile's random ones may miss, run through the same machine and checks:
    Jira committed the create but we did not see it, and search trails by two minutes, so the early first
    look finds nothing. Only a search after both windows may allow another create (a break that creates
    after the early look fails here; the 12 `ci` schedules passed it)."""
    PushMachine.world = world
    machine = PushMachine()
    machine.fresh(lag=120, first_look=5)
    machine.create_fault(fault, 1)
    for index in range(6):  # the first that passes the gates meets the fault
        machine.button(index, None, False)
    machine.workers(None, False)
    machine.no_call_to_a_paused_site()
    machine.settle()
