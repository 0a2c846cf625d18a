"""Reads for the Jira integration's pages: connection state, sync rows, the site block, the button."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, QuerySet

from allyproof.accounts.models import Organization
from allyproof.core import clock
from allyproof.core import impact as impacts
from allyproof.monitoring import wcag
from allyproof.monitoring.models import Site, Violation

from allyproof.integrations.jira.connection import budget
from allyproof.integrations.jira.ui import budget_status
from allyproof.integrations.jira.outbound import gates
from allyproof.integrations.jira.connection.lifecycle import connection_current
from allyproof.integrations.jira.models import JiraConnection, JiraLink, PushJob, PushJobItem, SiteSyncRule
from allyproof.integrations.jira.outbound.situation import LIVE, claim_fresh, situation

__all__ = ["connection_current", "connection_banner", "sync_rows", "site_block", "violation_button"]


def connection_banner(*, organization: Organization) -> JiraConnection | None:
    """The connection when it needs an admin's attention (shown as a banner on every page)."""
    connection = connection_current(organization=organization)
    if connection is not None and connection.status == JiraConnection.Status.NEEDS_RECONNECT:
        return connection
    return None


def _rank():
    return impacts.rank_expression()


def pushable_violations(*, site: Site, connection: JiraConnection, rule: SiteSyncRule) -> QuerySet[Violation]:
    """Open violations of the site whose impact the rule lets through and that have no live link."""
    live = JiraLink.objects.filter(violation=OuterRef("pk"), cloud_id=connection.cloud_id, status__in=LIVE)
    return (
        Violation.objects.filter(site=site, status=Violation.Status.OPEN, impact__in=rule.severities)
        .exclude(Exists(live))
        .defer("pages", "samples")
        .annotate(impact_rank=_rank())
        .order_by("-impact_rank", "rule_id")
    )


def site_rule_reason(*, site: Site, connection: JiraConnection | None, rule: SiteSyncRule | None) -> str | None:
    """Why nothing on this site can be pushed, if a site-level gate fails (impact aside)."""
    probe = gates.Situation(
        connection_status=connection.status if connection else None, rule_enabled=bool(rule and rule.enabled),
        project_key=rule.project_key if rule else "", severities=frozenset(impacts.VALUES), impact="critical",
        violation_status="open", linked_key=None,
    )
    return gates.block_reason(probe)


@dataclass
class SyncRow:
    site: Site
    rule: SiteSyncRule
    pushable: int | None
    errors: list[str] = field(default_factory=list)


def sync_rows(*, organization: Organization, connection: JiraConnection) -> list[SyncRow]:
    rules = {r.site_id: r for r in SiteSyncRule.objects.filter(site__organization=organization)}
    rows = []
    for site in Site.objects.filter(organization=organization, active=True).order_by("name"):
        rule = rules.get(site.pk) or SiteSyncRule(site=site)
        count = None
        if rule.enabled and rule.project_key:
            count = pushable_violations(site=site, connection=connection, rule=rule).count()
        rows.append(SyncRow(site=site, rule=rule, pushable=count))
    return rows


def _jobs(site: Site) -> tuple[PushJob | None, PushJob | None]:
    jobs = PushJob.objects.filter(site=site).exclude(kind=PushJob.Kind.SINGLE).order_by("-created_at")
    active = jobs.filter(status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING]).first()
    latest = jobs.exclude(status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING]).first()
    return active, latest


def site_block(*, site: Site) -> dict:
    connection = connection_current(organization=site.organization)
    rule = SiteSyncRule.objects.filter(site=site).first()
    context: dict = {"site": site, "connection": connection, "rule": rule,
                     "scanned": site.scans.exists()}
    context["reason"] = site_rule_reason(site=site, connection=connection, rule=rule)
    if context["reason"]:
        return context
    active, latest = _jobs(site)
    context.update(
        ready=pushable_violations(site=site, connection=connection, rule=rule),
        project_key=rule.project_key, job=active,
        linked_count=JiraLink.objects.filter(violation__site=site, cloud_id=connection.cloud_id,
                                             status=JiraLink.Status.LINKED).count(),
        latest_job=latest,
        latest_failed=list(latest.items.filter(status=PushJobItem.Status.FAILED).select_related("violation"))
        if latest else [],
    )
    context["ready_count"] = context["ready"].count()
    context["auto_pending"] = _auto_push_pending(site, rule) if active is None else None
    if active is not None:
        context["progress"] = job_progress(active)
        context["paused_until"] = budget_status.bulk_paused_until(cloud_id=connection.cloud_id)
        context["expected_finish"] = budget_status.expected_finish(job=active)
    return context


def _auto_push_pending(site: Site, rule: SiteSyncRule):
    """The latest scan of an auto-push site brought new violations and its auto-push has not started
    yet (the worker checks the project in Jira first): say so, instead of a silent "N ready"."""
    if not (rule.auto_push and rule.auto_push_since):
        return None
    scan = site.scans.filter(status="completed", completed_at__isnull=False).order_by("-completed_at").first()
    if scan is None or not scan.new_violations or scan.completed_at < rule.auto_push_since:
        return None
    if (clock.now() - scan.completed_at).total_seconds() > settings.CONFIG.jira_job_stale_seconds:
        return None  # the check is long over: whatever it decided shows as a job or as a problem
    if PushJob.objects.filter(site=site, kind=PushJob.Kind.AUTO, created_at__gte=scan.completed_at).exists():
        return None
    return scan


def job_outcome(*, job: PushJob) -> str:
    """One sentence for the end of a push job: "Pushed 12 to ACME, 1 failed." """
    progress = job_progress(job)
    pushed, failed, skipped = (progress[PushJobItem.Status.PUSHED], progress[PushJobItem.Status.FAILED],
                               progress[PushJobItem.Status.SKIPPED])
    if job.status == PushJob.Status.CANCELLED:
        text = f"Push to {job.project_key} stopped: {job.cancel_reason or 'cancelled'}. {pushed} pushed"
    else:
        text = f"Pushed {pushed} to {job.project_key}"
    parts = [text] + ([f"{failed} failed"] if failed else []) + ([f"{skipped} skipped"] if skipped else [])
    return ", ".join(parts) + "."


def site_picker(*, site: Site) -> dict:
    """The picker's checklist: every pushable violation with its badge, text, pages and WCAG tags."""
    context = site_block(site=site)
    if not context["reason"]:
        context["ready"] = list(context["ready"])
        for violation in context["ready"]:
            violation.wcag_labels = wcag.labels(violation.tags)
    return context


def violation_button(*, violation: Violation) -> dict:
    connection = connection_current(organization=violation.site.organization)
    link = None
    if connection is not None and connection.cloud_id:
        link = JiraLink.objects.filter(violation=violation, cloud_id=connection.cloud_id, status__in=LIVE).first()
    history = JiraLink.objects.filter(violation=violation, status=JiraLink.Status.LINKED).first() if link is None else None
    rule = SiteSyncRule.objects.filter(site_id=violation.site_id).first()
    pending_job = PushJob.objects.filter(  # a job that has yet to push this violation
        items__violation=violation, items__status=PushJobItem.Status.PENDING,
        status__in=[PushJob.Status.QUEUED, PushJob.Status.RUNNING],
    ).order_by("created_at").first()
    if link is not None and link.status == JiraLink.Status.CREATING and not pending_job and not _in_flight(link):
        link = None  # an attempt that died: pushing again searches by label before it creates
    reason = gates.block_reason(situation(violation=violation, connection=connection, rule=rule, link=link))
    paused_until = None
    if pending_job is not None and connection is not None:
        # A single push spends the headroom: it waits only at zero.
        lane = budget.INTERACTIVE if pending_job.kind == PushJob.Kind.SINGLE else budget.BULK
        paused_until = budget_status.bulk_paused_until(cloud_id=connection.cloud_id, lane=lane)
    return {"violation": violation, "link": link, "history": history, "reason": reason, "pending_job": pending_job,
            "paused_until": paused_until}


def _in_flight(link: JiraLink) -> bool:
    return claim_fresh(link, now=clock.now())


def job_progress(job: PushJob) -> dict[str, int]:
    counts = dict(job.items.values_list("status").annotate(n=Count("id")))
    total = sum(counts.values())
    done = total - counts.get(PushJobItem.Status.PENDING, 0)
    return {"total": total, "done": done, **{s: counts.get(s, 0) for s in PushJobItem.Status.values}}
