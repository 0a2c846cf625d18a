"""`./dev manage allyproof_scan --site ID`: one scan in the foreground, then its summary."""

from django.core.management.base import BaseCommand, CommandError

from allyproof.monitoring.models import Site
from allyproof.scanning import runner, services
from allyproof.scanning.models import ScanPage, ScanRun


class Command(BaseCommand):
    help = "Scan one site now, in this process, and print what was found."

    def add_arguments(self, parser):
        parser.add_argument("--site", type=int, required=True, help="the site's id (see the site page's address)")

    def handle(self, *args, site: int, **options):
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"No site with id {site}.")
        try:
            run = services.scan_request(site=target, source="command")
        except services.ScanAlreadyRunning as busy:
            raise CommandError(f"A scan of {target.name} is already running (run {busy.run.pk}).") from None
        self.stdout.write(f"Scanning {target.name} ({target.base_url}) ...")
        run = runner.scan_run_execute(run_id=run.pk)
        self.stdout.write(summary(run))
        if run.status != ScanRun.Status.COMPLETED:
            raise CommandError(run.error or f"The scan ended {run.get_status_display().lower()}.")


def summary(run: ScanRun) -> str:
    lines = [f"Scan {run.get_status_display().lower()}: {run.pages_scanned} pages scanned, "
             f"{run.pages_failed} failed, {run.pages_skipped} skipped (of {run.pages_found} found)."]
    if run.scan is not None and run.status == ScanRun.Status.COMPLETED:
        scan = run.scan
        lines.append(f"{scan.violations_found} failing rules: {scan.new_violations} new, "
                     f"{scan.reopened_violations} reopened, {scan.fixed_violations} fixed (axe-core {scan.axe_version}).")
    for page in ScanPage.objects.filter(run=run).exclude(status=ScanPage.Status.SCANNED)[:50]:
        lines.append(f"  {page.get_status_display().lower()}: {page.url} — {page.reason}")
    return "\n".join(lines)
