"""Register a marketplace repository (or local folder) so it can be synced."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from audit import record
from audit.models import Action, Surface
from marketplace.gitrepo import is_local, redact
from marketplace.models import Marketplace
from marketplace.reader import DEFAULT_CATALOG_PATH


class Command(BaseCommand):
    help = "Register a marketplace by git URL or local path. Idempotent: an existing slug is updated."

    def add_arguments(self, parser):
        parser.add_argument("url_or_path")
        parser.add_argument("--slug", help="Identifier used in URLs (default: from the URL)")
        parser.add_argument("--ref", default="", help="Branch or tag (default: the default branch)")
        parser.add_argument("--catalog-path", default=DEFAULT_CATALOG_PATH)
        parser.add_argument("--interval", type=int, help="Sync interval in minutes (0: no schedule)")

    def handle(self, url_or_path, slug, ref, catalog_path, interval, **options):
        url = url_or_path
        if "@" in url.split("://", 1)[-1].split("/", 1)[0] and "://" in url:
            raise CommandError("Put credentials in the marketplace's access token, not in the URL.")
        if is_local(url) and not url.startswith("file://"):
            path = Path(url).expanduser()
            if not path.exists():
                raise CommandError(f"No such folder: {url}")
            url = str(path.resolve())
        slug = slug or slugify(Path(url.rstrip("/")).name.removesuffix(".git"))
        if not slug:
            raise CommandError("Could not derive a slug from the URL; pass --slug.")
        defaults = {"git_url": url, "ref": ref, "catalog_path": catalog_path}
        if interval is not None:
            defaults["sync_interval"] = interval
        marketplace, created = Marketplace.objects.update_or_create(slug=slug, defaults=defaults)
        action = Action.MARKETPLACE_ADDED if created else Action.MARKETPLACE_CHANGED
        record(action, target=marketplace, surface=Surface.CLI, extra={"git_url": redact(url)})
        verb = "Added" if created else "Updated"
        self.stdout.write(f"{verb} marketplace '{marketplace.slug}' ({redact(url)}). "
                          f"Sync it with: manage.py sync_marketplace {marketplace.slug}")
