from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from allyproof.accounts.models import Organization
from allyproof.core.impact import Impact
from allyproof.monitoring.models import Site

def new_webhook_token() -> str:
    """The unguessable path segment of a connection's own callback URL."""
    return secrets.token_urlsafe(24)


SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access")


class JiraConnectionQuerySet(models.QuerySet):
    def active(self) -> JiraConnectionQuerySet:
        return self.filter(status=JiraConnection.Status.ACTIVE)


class JiraConnection(models.Model):
    """An organization's link to one Jira Cloud site. Soft-deleted on disconnect, kept for audit."""

    class Status(models.TextChoices):
        CHOOSING_SITE = "choosing_site", "Choosing a site"
        ACTIVE = "active", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        DISCONNECTED = "disconnected", "Disconnected"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jira_connections")
    status = models.CharField(max_length=20, choices=Status.choices)
    objects = JiraConnectionQuerySet.as_manager()
    cloud_id = models.CharField(max_length=64, blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    site_url = models.URLField(max_length=300, blank=True)
    # Jira sites the grant covers, kept while the admin picks one: [{"id", "name", "url"}].
    available_sites = models.JSONField(default=list, blank=True)
    scopes = models.CharField(max_length=500, blank=True)
    # Vault values (allyproof.core.crypto): never plaintext, wiped on disconnect.
    access_token = models.TextField(blank=True)
    refresh_token = models.TextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    tokens_refreshed_at = models.DateTimeField(null=True, blank=True)
    reconnect_reason = models.CharField(max_length=300, blank=True)
    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    connected_at = models.DateTimeField()
    disconnected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    disconnected_at = models.DateTimeField(null=True, blank=True)
    # The one dynamic webhook registration (Atlassian allows 5 per app per user per site).
    webhook_ids = models.JSONField(default=list, blank=True)
    webhook_jql = models.CharField(max_length=2000, blank=True)
    webhook_expires_at = models.DateTimeField(null=True, blank=True)
    webhook_error = models.CharField(max_length=500, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    # Duplicates Jira produced anyway and we repaired (RepairedDuplicate rows): an operator's counter.
    duplicates_repaired = models.PositiveIntegerField(default=0)
    # Each connection has its own callback URL (two organizations can share a Jira site and account).
    webhook_token = models.CharField(max_length=64, default=new_webhook_token, unique=True)
    # A failed or partial registration is retried with backoff until it matches the rules.
    webhook_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=~Q(status="disconnected"),
                name="one_jira_site_per_organization",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.site_name or 'Jira'} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def webhooks_silent(self) -> bool:
        """Registered for an hour and nothing ever arrived: worth a warning (often the app's owner)."""
        from allyproof.core import clock

        if not self.webhook_ids or self.last_webhook_at or not self.webhook_expires_at:
            return False
        registered_at = self.webhook_expires_at - dt.timedelta(days=30)
        return clock.now() - registered_at > dt.timedelta(hours=1)


class OAuthState(models.Model):
    """A pending consent: bound to the browser session and organization, single use, short-lived."""

    state_hash = models.CharField(max_length=64, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


def default_severities() -> list[str]:
    """What most teams gate on: remediation work that matters, not every minor nit."""
    return [Impact.CRITICAL.value, Impact.SERIOUS.value]


class SiteSyncRule(models.Model):
    """Where one site's violations go in Jira, and which ones. Off by default (opted out)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="jira_rule")
    enabled = models.BooleanField(default=False)
    project_key = models.CharField(max_length=20, blank=True)
    severities = models.JSONField(default=default_severities, blank=True)
    issue_type_id = models.CharField(max_length=30, blank=True)
    issue_type_name = models.CharField(max_length=100, blank=True)
    auto_push = models.BooleanField(default=False)

    class Regression(models.TextChoices):
        COMMENT = "comment", "Comment “detected again”"
        REOPEN = "reopen", "Comment and reopen the Jira issue"

    regression_policy = models.CharField(max_length=10, choices=Regression.choices, default=Regression.COMMENT)
    auto_push_since = models.DateTimeField(null=True, blank=True)
    # Problems found when the rule was last checked against Jira (missing required fields...).
    problems = models.JSONField(default=list, blank=True)
    # What happens to the Jira issue when a scan no longer finds its violation (issue 10).
    FIXED_COMMENT, FIXED_COMMENT_AND_DONE = "comment", "comment_and_done"
    fixed_action = models.CharField(max_length=20, default=FIXED_COMMENT, choices=[
        (FIXED_COMMENT, "Add a comment"), (FIXED_COMMENT_AND_DONE, "Add a comment and move it to Done")])
    # Triage (issue 12): Jira priority name per impact ({"critical": "Highest"}), extra labels and
    # component names, all chosen from what the project's createmeta offers and checked at save.
    priorities = models.JSONField(default=dict, blank=True)
    extra_labels = models.JSONField(default=list, blank=True)
    components = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.site} → {self.project_key or '(no project)'}"


class PacingGate(models.Model):
    """The shared pacing clock per Jira site (database default; Redis replaces it in production)."""

    key = models.CharField(max_length=100, primary_key=True)
    next_slot = models.FloatField(default=0.0)
    paused_until = models.FloatField(default=0.0)
    pause_reason = models.CharField(max_length=60, blank=True)
    # Bulk work's next slot under its fair share of the points budget (budget.py): interactive calls
    # only wait for next_slot, so a person's push is not queued behind a backlog's spacing.
    bulk_next = models.FloatField(default=0.0)
    # When the last call to this site really went (stamped right before the send): the next slot is never
    # closer to it than the interval, whatever slot that call had (pacing.may_send).
    last_sent = models.FloatField(default=0.0)


class PointsPool(models.Model):
    """One of Jira's hourly points pools ("global", or a site's cloud id) as we account for it."""

    key = models.CharField(max_length=100, primary_key=True)
    hour = models.BigIntegerField(default=0)  # epoch hour the count belongs to
    used = models.IntegerField(default=0)
    quota = models.IntegerField(null=True, blank=True)  # None: no per-site quota seen


class InboundEvent(models.Model):
    """Every webhook delivery that passed authentication, kept so a person can see what happened."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        DUPLICATE = "duplicate", "Duplicate"
        ECHO = "echo", "Our own change"
        UNMATCHED = "unmatched", "No matching connection"
        RECEIVED = "received", "Being handled"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(JiraConnection, null=True, on_delete=models.SET_NULL, related_name="events")
    identifier = models.CharField(max_length=200, blank=True)
    event = models.CharField(max_length=60)
    issue_id = models.CharField(max_length=30, blank=True)
    issue_key = models.CharField(max_length=40, blank=True)
    timestamp = models.BigIntegerField(null=True)
    # Scoped to the connection and its site: (event, issue, timestamp) plus what changed (changelog or
    # comment id). A replay under a new identifier is the same event; two changes in one ms are not.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    # The delivery's JSON while it waits for the worker (outcome "received"); emptied once applied.
    body = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["identifier"]),
                   # The worker's queue: received deliveries in arrival order, a small partial index.
                   models.Index(fields=["connection", "id"], condition=Q(outcome="received"), name="inbound_pending")]
        constraints = [
            # A redelivery under the same identifier is refused by the INSERT itself (one statement at intake).
            models.UniqueConstraint(fields=["connection", "identifier"], condition=Q(dedupe_key__isnull=False)
                                    & ~Q(identifier=""), name="one_delivery_per_identifier"),
        ]


class JiraLink(models.Model):
    """A violation's Jira issue. The row is reserved before the create, so a unique constraint decides
    races; it is keyed by (organization, Jira site, violation) so a reconnect finds it again."""

    class Status(models.TextChoices):
        CREATING = "creating", "Creating"
        LINKED = "linked", "Linked"
        DELETED = "deleted", "Deleted in Jira"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jira_links")
    violation = models.ForeignKey(
        "monitoring.Violation", on_delete=models.CASCADE, related_name="jira_links"
    )
    cloud_id = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    project_key = models.CharField(max_length=20)
    issue_key = models.CharField(max_length=40, blank=True)
    issue_id = models.CharField(max_length=30, blank=True)
    issue_url = models.URLField(max_length=400, blank=True)
    # Set when a create's outcome is unknown: the next attempt searches by label before creating.
    outcome_unknown = models.BooleanField(default=False)
    # The unknown-outcome protocol (outcome.py): when the last create was sent (stored before it
    # leaves, so a crash at any step still counts it), when we last searched by label since, whether
    # an unknown outcome ever happened, and when to look for duplicates after a create that followed one.
    sent_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    after_unknown = models.BooleanField(default=False)
    verify_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    linked_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The issue's status category as last seen from Jira and when it entered it (statuscategorychangedate):
    # an older observation arriving late never overrides a newer one.
    jira_category = models.CharField(max_length=20, blank=True)
    jira_category_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], condition=~Q(status="deleted"), name="one_live_link"),
        ]
        indexes = [models.Index(fields=["cloud_id", "issue_key"]), models.Index(fields=["violation", "status"]),
                   # Deliveries name the issue by id: without this the id-or-key lookup scans the site's links.
                   models.Index(fields=["cloud_id", "issue_id"], name="jira_link_cloud_issue_id")]

    @property
    def fingerprint(self) -> str:
        return self.dedupe_key[:16]

    @property
    def state(self) -> str:
        """What a person sees: checking (an unknown outcome is being waited out), creating, linked, deleted."""
        if self.status == self.Status.CREATING and self.outcome_unknown and self.after_unknown:
            return "checking"
        return str(self.status)

    @property
    def state_label(self) -> str:
        return {"checking": "Checking Jira…", "creating": "Pushing to Jira…"}.get(self.state, self.get_status_display())

    @property
    def label(self) -> str:
        return f"allyproof-{self.fingerprint}"


class OutboundWrite(models.Model):
    """Every write we make to Jira, with what Jira returned: lets the inbound side drop our echoes."""

    cloud_id = models.CharField(max_length=64)
    issue_key = models.CharField(max_length=40)
    kind = models.CharField(max_length=20)  # create, comment, property
    jira_id = models.CharField(max_length=40, blank=True)  # the comment id for a comment
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["cloud_id", "issue_key", "created_at"])]


class PushJob(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single push"
        BULK = "bulk", "Bulk push"
        PICKED = "picked", "Chosen violations"
        AUTO = "auto", "Auto-push"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="jira_jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    project_key = models.CharField(max_length=20)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # Parked: every remaining item waits (Checking Jira…); the queue wakes the job then, no thread waits.
    wake_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["site", "-created_at"])]


class PushJobItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        PUSHED = "pushed", "Pushed"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(PushJob, on_delete=models.CASCADE, related_name="items")
    violation = models.ForeignKey("monitoring.Violation", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    issue_key = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "violation"], name="one_item_per_violation")]


class RepairedDuplicate(models.Model):
    """An issue Jira ended up with twice for one violation, and what we did about it (DESIGN §8)."""

    connection = models.ForeignKey(JiraConnection, on_delete=models.CASCADE, related_name="repaired_duplicates")
    link = models.ForeignKey(JiraLink, null=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=40)
    kept_key = models.CharField(max_length=40)
    duplicate_key = models.CharField(max_length=40, unique=True)
    issue_linked = models.BooleanField(default=False)  # a "Duplicate" issue link (when the site has the type)
    commented = models.BooleanField(default=False)
    closed = models.BooleanField(default=False)  # moved to a Done-category status
    detail = models.CharField(max_length=300, blank=True)
    repaired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.duplicate_key} duplicates {self.kept_key}"


class JiraSyncLog(models.Model):
    """One line per exchange with Jira a person may want to read: every inbound delivery (accepted,
    ignored or refused, with a reason code; never a token), every write we make, every reconciliation
    decision. Kept JIRA_SYNC_LOG_DAYS (90) days."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "From Jira"
        OUTBOUND = "outbound", "To Jira"
        RECONCILE = "reconcile", "Reconciliation"
        REGISTRATION = "registration", "Webhook registration"

    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(JiraConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    violation = models.ForeignKey("monitoring.Violation", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="jira_sync_log")
    direction = models.CharField(max_length=12, choices=Direction.choices)
    outcome = models.CharField(max_length=12)  # applied, ignored, refused, duplicate, echo, failed, written
    code = models.CharField(max_length=40)  # a stable reason code, e.g. done_before_reopen
    message = models.CharField(max_length=300, blank=True)
    event = models.CharField(max_length=60, blank=True)
    issue_key = models.CharField(max_length=40, blank=True)
    identifier = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["violation", "-created_at"]), models.Index(fields=["connection", "-created_at"])]


class ScanFollowUp(models.Model):
    """The Jira work a completed scan causes ("detected again" comments, then auto-push), as a row the
    sweeper resumes after a crash instead of a bare queued task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    scan_id = models.PositiveBigIntegerField(unique=True)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    new_violation_ids = models.JSONField(default=list)
    reopened_violation_ids = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"])]


class DetectedAgainComment(models.Model):
    """At most one "detected again" comment per (link, scan): reserved before the comment is posted."""

    link = models.ForeignKey(JiraLink, on_delete=models.CASCADE, related_name="+")
    scan_id = models.PositiveBigIntegerField()
    comment_id = models.CharField(max_length=40, blank=True)  # blank: posted or not, unknown until checked
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "scan_id"], name="one_detected_again_per_scan")]
