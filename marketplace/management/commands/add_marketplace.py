"""Register a marketplace repository (or local folder) so it can be synced."""
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from audit import record
from audit.models import Action, Surface
from marketplace.gitrepo import GitError, is_local, ls_remote, plain_folder, redact
from marketplace.models import Marketplace
from marketplace.snapshot import DEFAULT_CATALOG_PATH

# How each field is set on the command line, for error messages.
OPTIONS = {"slug": "--slug", "git_url": "URL_OR_PATH", "ref": "--ref", "catalog_path": "--catalog-path",
           "sync_interval": "--interval"}


class Command(BaseCommand):
    help = ("Register a marketplace by git URL or local path, after checking that it can be fetched. "
            "Adding the same URL under the same slug again updates it; another URL needs --update.")

    def add_arguments(self, parser):
        parser.add_argument("url_or_path")
        parser.add_argument("--slug", help="Identifier used in URLs (default: from the URL)")
        parser.add_argument("--ref", default="", help="Branch or tag (default: the default branch)")
        parser.add_argument("--catalog-path", default=DEFAULT_CATALOG_PATH)
        parser.add_argument("--interval", type=int, help="Sync interval in minutes (0: no schedule)")
        parser.add_argument("--update", action="store_true",
                            help="Point the marketplace already registered under this slug at this URL")
        parser.add_argument("--no-check", action="store_true",
                            help="Register without checking that the repository can be fetched (git ls-remote)")

    def handle(self, url_or_path, slug, ref, catalog_path, interval, update, no_check, **options):
        url = url_or_path
        if is_local(url) and not url.startswith("file://"):
            url = str(Path(url).expanduser().resolve())
        slug = slug if slug is not None else slugify(Path(url.rstrip("/")).name.removesuffix(".git"))
        if not slug:
            raise CommandError("Could not derive a slug from the URL; pass --slug.")
        marketplace = Marketplace.objects.filter(slug=slug).first()
        created = marketplace is None
        if not created and marketplace.git_url != url and not update:
            raise CommandError(
                f"Marketplace '{slug}' already exists for {redact(marketplace.git_url)}. Pass --update to point "
                f"it at {redact(url)}, or choose another --slug."
            )
        marketplace = marketplace or Marketplace(slug=slug)
        marketplace.git_url, marketplace.ref, marketplace.catalog_path = url, ref, catalog_path
        if interval is not None:
            marketplace.sync_interval = interval
        try:
            marketplace.full_clean()
        except ValidationError as exc:
            raise CommandError("\n".join(
                f"{OPTIONS.get(field, field)}: {message}" for field, messages in exc.message_dict.items()
                for message in messages
            )) from None
        if not no_check:
            self._check(marketplace)
        marketplace.save()
        action = Action.MARKETPLACE_ADDED if created else Action.MARKETPLACE_CHANGED
        record(action, target=marketplace, surface=Surface.CLI, extra={"git_url": redact(url)})
        verb = "Added" if created else "Updated"
        self.stdout.write(f"{verb} marketplace '{marketplace.slug}' ({redact(url)}). "
                          f"Sync it with: manage.py sync_marketplace {marketplace.slug}")

    def _check(self, marketplace):
        """The repository answers and has the ref; a plain folder (synced as a snapshot) exists already."""
        url = marketplace.git_url
        if plain_folder(url) is not None:
            return
        try:
            commit = ls_remote(url, marketplace.ref or "HEAD", token=marketplace.access_token or None)
        except GitError as exc:
            # For the operator's eyes: git's own words say what went wrong.
            raise CommandError(f"Cannot fetch {redact(url)}: {exc.detail or exc}. "
                               "Pass --no-check to register it anyway.") from None
        if marketplace.ref and not commit:
            raise CommandError(f"{redact(url)} has no branch or tag '{marketplace.ref}'.")
