"""Pushing from the pages: the violation's button, the site's bulk push and picker.

Views stay thin: check access, call one service, render a fragment (for our htmx-style requests)
or redirect with a message (without JavaScript).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from allyproof.accounts.decorators import member_required
from allyproof.monitoring.selectors import site_get, violation_get

from allyproof.integrations.jira.outbound import job_control, jobs
from allyproof.integrations.jira.tasks import run_push_job
from allyproof.integrations.jira.ui import selectors
from allyproof.integrations.jira.outbound import single_push
from allyproof.integrations.jira.models import JiraLink, PushJob, PushJobItem


def _button(request, violation, status=200):
    return render(request, "jira/_push_button.html", selectors.violation_button(violation=violation), status=status)


@require_POST
@member_required
def violation_push(request, site_id: int, violation_id: int):
    """Queues the push and waits for the worker up to JIRA_PUSH_WAIT_MS (see single_push for why)."""
    violation = violation_get(organization=request.membership.organization, violation_id=violation_id, site_id=site_id)
    state = selectors.violation_button(violation=violation)
    link = state["link"]
    if link is not None and link.status == JiraLink.Status.LINKED:
        messages.success(request, f"Already in Jira as {link.issue_key}.")
    elif state["reason"]:
        return _refused(request, violation, state["reason"])
    else:
        job = single_push.single_push_start(violation=violation, enqueue=run_push_job, by=request.user)
        item = single_push.single_push_wait(job=job, violation=violation, budget=single_push.wait_budget())
        if item is None:
            if not request.htmx:  # with htmx the button says "Pushing…" and swaps to the key by itself
                messages.info(request, "Jira is slow to answer right now; the push continues in the background.")
        else:
            said = single_push.outcome(item)
            if said.refused:
                return _refused(request, violation, said.text)
            messages.add_message(request, messages.SUCCESS, said.text)
    if request.htmx:
        return _button(request, violation)
    return redirect("violation_detail", site_id=site_id, violation_id=violation.pk)


def _refused(request, violation, reason):
    messages.error(request, reason)
    if request.htmx:  # our app.js swaps 4xx fragments too, so the reason shows in place
        return _button(request, violation, status=409)
    return redirect("violation_detail", site_id=violation.site_id, violation_id=violation.pk)


@member_required
def violation_button(request, site_id: int, violation_id: int):
    """The button's fragment; `?watch=<job>` (the "Pushing…" poll) also says how that push ended."""
    violation = violation_get(organization=request.membership.organization, violation_id=violation_id, site_id=site_id)
    watched = request.GET.get("watch", "")
    if watched.isdigit():
        job = PushJob.objects.filter(pk=int(watched), site_id=site_id).first()
        item = single_push.job_item(job=job, violation=violation) if job else None
        if item is not None and item.status != PushJobItem.Status.PENDING:
            said = single_push.outcome(item)
            messages.add_message(request, messages.ERROR if said.refused else messages.SUCCESS, said.text)
    return _button(request, violation)


@require_POST
@member_required
def site_push(request, site_id: int):
    site = site_get(organization=request.membership.organization, site_id=site_id)
    block = selectors.site_block(site=site)
    if block["reason"]:
        messages.error(request, block["reason"])
    elif block.get("job"):
        messages.info(request, "A push for this site is already running.")
    else:
        # The checklist's marker, not the button pressed, says "picked": a form that carried the
        # checklist pushes only the ticked rows, even if the collapsed "Push N" sent it.
        picked_mode = request.POST.get("mode") == "picked" or "picker" in request.POST
        if picked_mode:
            picked = _ids(request.POST.getlist("violation"))
            # Re-checked against today's rules: a stale tab or a forged id cannot get past them.
            chosen = list(block["ready"].filter(pk__in=picked))
            skipped = len(set(picked)) - len(chosen)
        else:
            chosen, skipped = list(block["ready"]), 0
        if chosen:
            kind = PushJob.Kind.PICKED if picked_mode else PushJob.Kind.BULK
            jobs.push_job_create(site=site, violations=chosen, kind=kind, project_key=block["project_key"],
                                 enqueue=run_push_job, by=request.user)
            if not request.htmx:  # with htmx the block shows live progress instead
                messages.success(request, f"Pushing {len(chosen)} violation{'s' if len(chosen) != 1 else ''} to "
                                 f"{block['project_key']} in the background.")
        if skipped:
            messages.warning(request, f"Skipped {skipped} chosen violation{'s' if skipped != 1 else ''}: already linked, "
                             "no longer matching this site's sync rules, or not this site's.")
        if not chosen and not skipped:
            messages.info(request, "Nothing to push.")
    if request.htmx:
        return render(request, "jira/_site_block.html", selectors.site_block(site=site))
    return redirect("site_detail", site_id=site.pk)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@member_required
def site_picker(request, site_id: int):
    site = site_get(organization=request.membership.organization, site_id=site_id)
    template = "jira/_picker.html" if request.htmx else "jira/picker_page.html"
    return render(request, template, selectors.site_picker(site=site))


@member_required
def site_block(request, site_id: int):
    site = site_get(organization=request.membership.organization, site_id=site_id)
    watched = request.GET.get("watch", "")
    if watched.isdigit():
        job = PushJob.objects.filter(pk=int(watched), site=site).first()
        if job is not None and job.status not in (PushJob.Status.QUEUED, PushJob.Status.RUNNING):
            # Said in the block's live region, where the person clicked; the table reloads in place.
            context = {**selectors.site_block(site=site), "finished": selectors.job_outcome(job=job)}
            return render(request, "jira/_site_block.html", context)
    return render(request, "jira/_site_block.html", selectors.site_block(site=site))


@require_POST
@member_required
def job_retry(request, site_id: int, job_id: int):
    site = site_get(organization=request.membership.organization, site_id=site_id)
    job = PushJob.objects.filter(pk=job_id, site=site).first()
    if job is None:
        raise Http404("No such job.")
    count = job_control.push_job_retry_failed(job=job, enqueue=run_push_job)
    messages.success(request, f"Retrying {count} failed push{'es' if count != 1 else ''}.")
    return redirect("site_detail", site_id=site.pk)
