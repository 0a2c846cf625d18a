from __future__ import annotations

from django.conf import settings
from django.db import models

from allyproof.accounts.models import Organization
from allyproof.core.impact import Impact




class Site(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=120)
    base_url = models.URLField(max_length=500)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "base_url"], name="site_url_unique_in_org")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scan(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        API = "api", "API"
        UPLOAD = "upload", "Upload"
        COMMAND = "command", "Command line"
        DEMO = "demo", "Demo data"
        MANUAL = "manual", "Manual"
        SCHEDULED = "scheduled", "Scheduled"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="scans")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    source = models.CharField(max_length=10, choices=Source.choices)
    pages_scanned = models.PositiveIntegerField(default=0)
    violations_found = models.PositiveIntegerField(default=0)
    new_violations = models.PositiveIntegerField(default=0)
    reopened_violations = models.PositiveIntegerField(default=0)
    axe_version = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Coverage (issue 10): the normalised URLs this scan loaded and tested. A violation is "fixed" only
    # when every page it was last seen on is here and the rule is absent.
    covered_pages = models.JSONField(default=list, blank=True)
    pages_failed = models.PositiveIntegerField(default=0)
    fixed_violations = models.PositiveIntegerField(default=0)
    # axe's "incomplete" results: shown for a person to review, never turned into violations or pushed.
    needs_review = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["site", "-started_at"])]

    def __str__(self) -> str:
        return f"Scan {self.pk} of {self.site}"

    @property
    def duration_label(self) -> str:
        if not self.completed_at:
            return ""
        seconds = max(0, round((self.completed_at - self.started_at).total_seconds()))
        if seconds < 120:
            return f"{seconds} s"
        if seconds < 7200:
            return f"{seconds // 60} min {seconds % 60} s"
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Violation(models.Model):
    """One axe rule failing on one site, aggregated over every page of the latest scan that saw it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="violations")
    rule_id = models.CharField(max_length=120)
    impact = models.CharField(max_length=10, choices=Impact.choices)
    description = models.TextField()
    help = models.CharField(max_length=500)
    help_url = models.URLField(max_length=500, blank=True)
    wcag_tags = models.JSONField(default=list)
    tags = models.JSONField(default=list)
    page_count = models.PositiveIntegerField(default=0)
    element_count = models.PositiveIntegerField(default=0)
    pages = models.JSONField(default=list)
    samples = models.JSONField(default=list)
    first_detected_at = models.DateTimeField()
    last_detected_at = models.DateTimeField()
    first_scan = models.ForeignKey(Scan, null=True, on_delete=models.SET_NULL, related_name="+")
    last_scan = models.ForeignKey(Scan, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What resolved it when no person did, e.g. "jira:ACME-12"; blank when a person did.
    resolved_source = models.CharField(max_length=120, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "rule_id"], name="violation_identity")]
        indexes = [models.Index(fields=["site", "status", "impact"])]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.site}"

    @property
    def fixed_by_scan(self) -> bool:
        return self.resolved_source.startswith("scan:")

    @property
    def fixed_text(self) -> str:
        return f"not detected in scan of {self.resolved_at:%-d %b %Y}" if self.resolved_at else ""

    @property
    def resolved_by_label(self) -> str:
        """A person, or what resolved it: "Jira (ACME-12)" for a source of "jira:ACME-12"."""
        if self.resolved_by_id:
            return str(self.resolved_by)
        system, _, detail = self.resolved_source.partition(":")
        if system == "scan" and self.resolved_at:
            return f"Fixed — {self.fixed_text}"
        return f"{system.capitalize()} ({detail})" if detail else self.resolved_source


class ScanChange(models.Model):
    """What one scan did to one violation: the rows of the scan's diff page and of the trend chart."""

    class Change(models.TextChoices):
        NEW = "new", "New"
        REOPENED = "reopened", "Reopened"
        STILL_OPEN = "still_open", "Still open"
        FIXED = "fixed", "Fixed"
        # Open, not found, but the scan missed some of its pages: coverage too partial to call it fixed.
        NOT_COVERED = "not_covered", "Open, not all its pages scanned"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="changes")
    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="scan_changes")
    change = models.CharField(max_length=12, choices=Change.choices)
    impact = models.CharField(max_length=10, choices=Impact.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scan", "violation"], name="one_change_per_scan")]
        indexes = [models.Index(fields=["scan", "change"])]
