"""Publish one target now, in this process."""
import json

from django.core.management.base import BaseCommand, CommandError

from marketplace.problems import describe, in_order

from publishing import runs
from publishing.models import PublishTarget, Status, Trigger


class Command(BaseCommand):
    help = "Publish TARGET now: build what its audience may see, as approved, and send it to the channel."

    def add_arguments(self, parser):
        parser.add_argument("target", help="The publish target's name.")
        parser.add_argument("--json", action="store_true", help="Print the run as JSON.")
        parser.add_argument("--replace-edits", action="store_true",
                            help="Push the approved content on top of changes a person made to the published files.")

    def handle(self, target, replace_edits=False, **options):
        found = PublishTarget.objects.filter(name=target).first()
        if found is None:
            raise CommandError(f"No publish target named {target!r}.")
        run = runs.publish(found, Trigger.CLI, replace_edits=replace_edits)
        if options["json"]:
            self.stdout.write(json.dumps(run.as_json(), indent=2))
        else:
            for problem in in_order(run.problems):
                self.stdout.write(describe(problem))
            where = run.pull_request_url or run.commit or run.artifact
            self.stdout.write(f"{found.name}: {run.get_status_display()}" + (f" ({where})" if where else "")
                              + (f": {run.error}" if run.error else ""))
        if run.status == Status.FAILED:
            raise SystemExit(1)
