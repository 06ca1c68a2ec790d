"""Refresh every user's GitHub organisation and team memberships now."""
from django.core.management.base import BaseCommand

from marketplace.teams import refresh_identities


class Command(BaseCommand):
    help = __doc__

    def handle(self, **options):
        self.stdout.write(f"{refresh_identities()} identities changed.")
