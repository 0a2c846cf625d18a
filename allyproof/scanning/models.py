"""The scanner's own rows: per-site crawl settings and schedule, and each scan run's job state.

Huey deletes a task before running it, so a crash loses it: the run row (status, heartbeat,
attempts) is the truth, and a periodic sweeper resumes or fails runs whose heartbeat went stale.
Pages already done are kept per run, so a resumed scan does not load them again.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from allyproof.monitoring.models import Scan, Site


class ScanSettings(models.Model):
    class Schedule(models.TextChoices):
        OFF = "off", "Off"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Query(models.TextChoices):
        SORT = "sort", "Keep, in a fixed order"
        KEEP = "keep", "Keep as written"
        DROP = "drop", "Ignore (one page per path)"

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="scan_settings")
    include_patterns = models.TextField(blank=True)  # one glob per line, on the path: /blog/*
    exclude_patterns = models.TextField(blank=True)
    page_cap = models.PositiveIntegerField(default=200)
    depth_cap = models.PositiveSmallIntegerField(default=5)
    respect_robots = models.BooleanField(default=True)
    query_handling = models.CharField(max_length=4, choices=Query.choices, default=Query.SORT)
    best_practices = models.BooleanField(default=False)
    requests_per_second = models.FloatField(default=5.0)
    schedule = models.CharField(max_length=6, choices=Schedule.choices, default=Schedule.OFF)
    schedule_time = models.TimeField(default=dt.time(2, 0))  # UTC
    schedule_weekday = models.PositiveSmallIntegerField(default=0)  # Monday = 0
    # Slots before this are never fired: turning a schedule on does not start a scan for the past.
    schedule_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def patterns(self, field: str) -> tuple[str, ...]:
        return tuple(line.strip() for line in getattr(self, field).splitlines() if line.strip())


class ScanRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="scan_runs")
    scan = models.OneToOneField(Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="run")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    source = models.CharField(max_length=10, choices=Scan.Source.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    pages_found = models.PositiveIntegerField(default=0)
    pages_scanned = models.PositiveIntegerField(default=0)
    pages_failed = models.PositiveIntegerField(default=0)
    pages_skipped = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "scheduled_for"], name="one_run_per_schedule_slot"),
            models.UniqueConstraint(fields=["site"], condition=models.Q(status__in=["queued", "running"]),
                                    name="one_active_run_per_site"),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["site", "-created_at"])]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def pages_done(self) -> int:
        return self.pages_scanned + self.pages_failed + self.pages_skipped


class ScanPage(models.Model):
    class Status(models.TextChoices):
        SCANNED = "scanned", "Scanned"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="pages")
    url = models.CharField(max_length=2000)
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    result = models.JSONField(null=True, blank=True)  # axe's trimmed result for a scanned page
    links = models.JSONField(default=list, blank=True)  # same-site links found on it: a resumed scan follows them
    scanned_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "url"], name="one_row_per_page")]
        ordering = ["pk"]
