"""Sync one marketplace, or all enabled ones, now, in this process."""
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from marketplace.models import Marketplace, Status, SyncRun
from marketplace.problems import describe, in_order
from marketplace.tasks import queue_scan


class Command(BaseCommand):
    help = "Sync a marketplace now. Exits 1 when a sync failed."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--all", action="store_true", help="Sync every enabled marketplace")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object (a list with --all)")

    def handle(self, slug, all, as_json, **options):
        if bool(slug) == bool(all):
            raise CommandError("Give a marketplace slug or --all.")
        if all:
            marketplaces = list(Marketplace.objects.filter(enabled=True))
        else:
            try:
                marketplaces = [Marketplace.objects.get(slug=slug)]
            except Marketplace.DoesNotExist:
                slugs = ", ".join(Marketplace.objects.order_by("slug").values_list("slug", flat=True))
                known = f" Marketplaces: {slugs}." if slugs else " There are none yet: add one with add_marketplace."
                raise CommandError(f"No marketplace '{slug}'.{known}") from None
        runs = [self._sync(m, as_json=as_json) for m in marketplaces]
        if as_json:
            payload = [r.as_json() for r in runs] if all else runs[0].as_json()
            self.stdout.write(json.dumps(payload, indent=2))
        if any(r.status == Status.FAILED for r in runs):
            sys.exit(1)

    def _sync(self, marketplace, as_json):
        from marketplace.sync import sync_marketplace  # the engine is heavy to import: not for --help

        bar = None
        if not as_json and sys.stderr.isatty():
            bar = tqdm(desc=marketplace.slug, unit="item", leave=False)

            def progress(phase, done, total):
                bar.set_description(f"{marketplace.slug}: {phase}")
                bar.total = total
                bar.n = done
                bar.refresh()
        else:
            progress = None
        run = sync_marketplace(marketplace.pk, SyncRun.Trigger.CLI, progress=progress)
        if run.status in (Status.OK, Status.PARTIAL):
            queue_scan(marketplace)  # for a worker: the scan never slows the sync
        if bar is not None:
            bar.close()
        if not as_json:
            self._report(run)
        return run

    def _report(self, run):
        style = {Status.FAILED: self.style.ERROR, Status.PARTIAL: self.style.WARNING}.get(run.status, self.style.SUCCESS)
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in run.counts.items())
        self.stdout.write(style(f"{run.marketplace.slug}: {run.status} at {run.commit[:12] or '-'} ({counts})"))
        if run.error:
            self.stdout.write(self.style.ERROR(f"  {run.error}"))
        for p in in_order(run.problems):
            self.stdout.write(f"  {describe(p)}")
