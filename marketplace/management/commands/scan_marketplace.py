"""Run the security scan of a marketplace now, in this process, and apply its gate."""
import json

from django.core.management.base import BaseCommand, CommandError

from marketplace import scanners, scans
from marketplace.models import Marketplace, ScanGate


class Command(BaseCommand):
    help = ("Scan what SLUG (or every marketplace) serves and has waiting that the current scanners have not "
            "judged, then hold, block or release waiting changes under its gate.")

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--all", action="store_true", help="Every enabled marketplace that scans.")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, slug, all, as_json, **options):
        if bool(slug) == bool(all):
            raise CommandError("Give a marketplace slug or --all.")
        if not scanners.available():
            raise CommandError("No scanner is installed: `make test` or `make run` installs the default one "
                               "(.data/tools/scanner), or set SKILLPORT_SCANNERS.")
        found = Marketplace.objects.filter(enabled=True).exclude(scan_gate=ScanGate.OFF) if all else \
            Marketplace.objects.filter(slug=slug)
        if not all and not found.exists():
            raise CommandError(f"No marketplace {slug!r}.")
        results = {marketplace.slug: scans.scan_marketplace(marketplace.pk) for marketplace in found}
        if as_json:
            self.stdout.write(json.dumps(results, indent=2))
        else:
            for name, counts in results.items():
                self.stdout.write(f"{name}: scanned {counts['scanned']}, failed {counts['failed']}")
        if any(counts["failed"] for counts in results.values()):
            raise SystemExit(1)
