from __future__ import annotations

from django.conf import settings
from django.db import models

from allyproof.accounts.models import Organization


class Impact(models.TextChoices):
    CRITICAL = "critical", "Critical"
    SERIOUS = "serious", "Serious"
    MODERATE = "moderate", "Moderate"
    MINOR = "minor", "Minor"


# Most severe first; the order badges, sorting and "highest impact across pages" use.
IMPACT_ORDER = (Impact.CRITICAL, Impact.SERIOUS, Impact.MODERATE, Impact.MINOR)
IMPACT_RANK = {impact.value: len(IMPACT_ORDER) - i for i, impact in enumerate(IMPACT_ORDER)}


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

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["site", "-started_at"])]

    def __str__(self) -> str:
        return f"Scan {self.pk} of {self.site}"


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
    def resolved_by_label(self) -> str:
        """A person, or what resolved it: "Jira (ACME-12)" for a source of "jira:ACME-12"."""
        if self.resolved_by_id:
            return str(self.resolved_by)
        system, _, detail = self.resolved_source.partition(":")
        return f"{system.capitalize()} ({detail})" if detail else self.resolved_source
