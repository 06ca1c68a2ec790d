"""Prepare a local demo: the example marketplace registered and synced, and a way to sign in."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from marketplace.models import Marketplace, SyncRun
from marketplace.sync import sync_marketplace

EXAMPLE = settings.BASE_DIR / "examples" / "marketplace"


class Command(BaseCommand):
    help = "Register and sync the bundled example marketplace; create a local admin when GitHub is not set up."

    def handle(self, **options):
        call_command("add_marketplace", str(EXAMPLE), slug="example", stdout=self.stdout)
        run = sync_marketplace(Marketplace.objects.get(slug="example").pk, SyncRun.Trigger.CLI)
        self.stdout.write(f"Example marketplace: {run.status}, {run.skills} skills.")
        base = settings.SKILLPORT_BASE_URL
        if not settings.SKILLPORT_GITHUB_CLIENT_ID:
            password = self._demo_password()
            user, _ = get_user_model().objects.get_or_create(username="admin", defaults={"email": "admin@localhost"})
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            self.stdout.write(
                "No GitHub app is configured (SKILLPORT_GITHUB_CLIENT_ID), so a local account exists:\n"
                f"  username: admin\n  password: {password}"
            )
        self.stdout.write(self.style.SUCCESS(f"Skillport is starting at {base}/  (admin: {base}/admin/)"))

    def _demo_password(self):
        """Kept in the data directory, so the printed password stays the same across restarts."""
        path = settings.SKILLPORT_DATA_DIR / "demo-password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
