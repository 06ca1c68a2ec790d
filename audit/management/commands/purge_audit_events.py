"""Delete audit events older than SKILLPORT_AUDIT_RETENTION_DAYS (and record that it did)."""
from django.conf import settings
from django.core.management.base import BaseCommand

from audit.models import Surface
from audit.retention import purge_expired


class Command(BaseCommand):
    help = __doc__

    def handle(self, **options):
        deleted = purge_expired(surface=Surface.CLI)
        self.stdout.write(f"Deleted {deleted} audit events older than {settings.SKILLPORT_AUDIT_RETENTION_DAYS} days.")
