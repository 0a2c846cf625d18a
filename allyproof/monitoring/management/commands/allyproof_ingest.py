import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allyproof.monitoring.axe import AxeResultsError
from allyproof.monitoring.models import Scan, Site
from allyproof.monitoring.services import scan_ingest


class Command(BaseCommand):
    help = "Import axe-core results for a site as one scan (a file, or - for standard input)."

    def add_arguments(self, parser):
        parser.add_argument("--site", type=int, required=True, help="the site's id (see the admin or the API)")
        parser.add_argument("file", help="axe.run() output, a list of them, or an @axe-core/cli --save file")

    def handle(self, *args, site, file, **options):
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"no site with id {site}")
        if file != "-" and not Path(file).is_file():
            raise CommandError(f"no such file: {file}")
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")
        try:
            scan = scan_ingest(site=target, stream=stream, source=Scan.Source.COMMAND)
        except AxeResultsError as problem:
            raise CommandError(f"nothing was imported: {problem}") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        self.stdout.write(
            f"scan {scan.pk} of {target.name}: {scan.pages_scanned} pages, {scan.violations_found} failing rules, "
            f"{scan.new_violations} new, {scan.reopened_violations} reopened"
        )
