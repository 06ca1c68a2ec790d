"""Prepare a local demo: the example marketplace registered and synced, and a way to sign in."""
import io
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from marketplace.models import Marketplace, Skill, Status, SyncRun
from marketplace.sync import sync_marketplace
from marketplace.tasks import queue_scan

EXAMPLE = settings.BASE_DIR / "examples" / "marketplace"


class Command(BaseCommand):
    help = ("Register and sync the bundled example marketplace; without a GitHub app, keep a local admin "
            "account and say how to sign in.")

    def handle(self, **options):
        self._example()
        base = settings.SKILLPORT_BASE_URL
        if settings.SKILLPORT_GITHUB_CLIENT_ID:
            self.stdout.write(f"Sign in with GitHub at {base}/login/.")
            return
        self.stdout.write(f"Sign in at {base}/login/ with the local account (no GitHub app is set up: "
                          "SKILLPORT_GITHUB_CLIENT_ID):")
        self.stdout.write(self._local_admin())

    def _example(self):
        # add_marketplace's own "Sync it with ..." is for people adding one; this one is synced next.
        call_command("add_marketplace", str(EXAMPLE), slug="example", stdout=io.StringIO())
        marketplace = Marketplace.objects.get(slug="example")
        run = sync_marketplace(marketplace.pk, SyncRun.Trigger.CLI)
        if run.status in (Status.OK, Status.PARTIAL):
            queue_scan(marketplace)  # for `make run`'s worker, as sync_marketplace's command does
        skills = Skill.objects.filter(marketplace=marketplace, removed_at=None).count()
        self.stdout.write(f"Example marketplace ({EXAMPLE.relative_to(settings.BASE_DIR)}) synced: {run.status}, "
                          f"{skills} skills.")

    def _local_admin(self) -> str:
        """The account `admin`, created once with the password kept in the data directory, and never reset:
        an admin who changed it keeps theirs. Says how to sign in."""
        path = settings.SKILLPORT_DATA_DIR / "demo-password"
        user, created = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@localhost", "is_staff": True, "is_superuser": True})
        if created or not user.has_usable_password():
            user.set_password(_kept_password(path))
            user.save(update_fields=["password"])
        if path.exists() and user.check_password(path.read_text().strip()):
            return (f"  username: admin\n  password: {path.read_text().strip()}\n"
                    f"  (kept in {path}, readable only by you)")
        return "  username: admin\n  password: the one you set for it"


def _kept_password(path) -> str:
    """The password in `path`, or a new one written there, readable only by this user from the start."""
    if path.exists() and (kept := path.read_text().strip()):
        return kept
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(password)
    return password
