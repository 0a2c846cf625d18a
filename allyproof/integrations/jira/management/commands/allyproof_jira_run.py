from django.core.management.base import BaseCommand, CommandError

from allyproof.accounts.models import Organization
from allyproof.integrations.jira import periodic, tasks


class Command(BaseCommand):
    help = (
        "Run one of the Jira integration's periodic jobs now, exactly as the schedule runs it "
        "(`list` shows them). --org limits a job to one organization."
    )

    def add_arguments(self, parser):
        parser.add_argument("job", help="the job's name, or `list`")
        parser.add_argument("--org", metavar="SLUG", help="only this organization (jobs about organizations only)")

    def handle(self, *args, job, org, **options):
        if job == "list":
            for row in periodic.JOBS:
                scope = "" if row.scoped else " (every organization; no --org)"
                self.stdout.write(f"{row.name:<16} {row.cron:<14} {row.about}{scope}")
            return
        row = periodic.job_named(job)
        if row is None:
            raise CommandError(f"No periodic job {job!r}. Jobs: {', '.join(j.name for j in periodic.JOBS)} (or `list`).")
        organization = None
        if org:
            if not row.scoped:
                raise CommandError(f"{row.name} runs for every organization at once; run it without --org.")
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organization with the slug {org!r}.")
        count = row.start(organization=organization, queue=tasks.QUEUE)
        where = f" for {organization.slug}" if organization else ""
        self.stdout.write(f"{row.name}{where}: {row.done.format(n=count)}")
