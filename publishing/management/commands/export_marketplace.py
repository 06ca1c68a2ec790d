"""Write the vendored marketplace a target would publish, without pushing it anywhere."""
import json
import shutil
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from marketplace.models import Marketplace
from marketplace.problems import describe, in_order

from publishing import archive, runs, vendor
from publishing.models import PublishTarget


class Command(BaseCommand):
    help = ("Write the vendored marketplace (marketplace.json and plugins/<name>/) into OUT_DIR: what TARGET "
            "publishes, or with no target everything approved in every marketplace, for every member.")

    def add_arguments(self, parser):
        parser.add_argument("out_dir", help="An empty or missing folder, or one an earlier export wrote.")
        parser.add_argument("--target", help="The publish target whose audience, marketplaces and name to use.")
        parser.add_argument("--zip", dest="zip_file", help="Also write the marketplace as a ZIP for Claude.ai's upload.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, out_dir, target=None, zip_file=None, **options):
        if target:
            found = PublishTarget.objects.filter(name=target).first()
            if found is None:
                raise CommandError(f"No publish target named {target!r}.")
            marketplaces, audience = found.marketplaces.all(), found.audience
            name, owner = found.marketplace_name, runs.owner(found)  # as its publishes write it
        else:
            marketplaces, audience, name, owner = Marketplace.objects.all(), [], "skillport", {"name": "Skillport"}
        out = Path(out_dir)
        if out.exists() and any(out.iterdir()) and not (out / vendor.CATALOG).is_file():
            raise CommandError(f"{out} holds files that are not an export; choose an empty folder.")
        build = vendor.build(marketplaces=marketplaces, audience=audience, name=name, owner=owner)
        data = archive.zip_files(build.files) if zip_file else None
        scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent if out.parent.exists() else None))
        try:
            build.write(scratch / "marketplace")
            # Replace an earlier export whole, so plugins no longer published do not linger.
            shutil.rmtree(out, ignore_errors=True)
            (scratch / "marketplace").rename(out)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        limits = []
        if data is not None:
            Path(zip_file).write_bytes(data)
            limits = archive.over_limits(len(data), len(build.plugins))
        problems = in_order([p.as_dict() for p in build.problems])
        if options["json"]:
            self.stdout.write(json.dumps({
                "out_dir": str(out), "zip": zip_file or None, "plugins": build.summary(),
                "counts": {"plugins": len(build.plugins), "skills": len(build.skills), "bytes": build.size},
                "upload_limits": limits, "problems": problems,
            }, indent=2))
            return
        for problem in problems:
            self.stdout.write(describe(problem))
        for limit in limits:
            self.stderr.write(f"Claude.ai would refuse the ZIP: {limit}")
        self.stdout.write(f"Wrote {len(build.plugins)} plugins ({len(build.skills)} skills) to {out}"
                          + (f" and {zip_file}" if zip_file else ""))
