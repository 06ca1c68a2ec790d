"""Remove OAuth clients that never obtained a token, expired tokens, spent codes' records, and old install links."""
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import clear_expired, get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings

from connector.models import InstallLink, RedeemedCode



def prune_unused_clients(older_than: timedelta) -> int:
    """Delete self-registered clients older than `older_than` that never got an access token.

    Claude registers a new client for every fresh connection, so these pile up otherwise. The
    token registration hands each client for managing itself does not count.
    """
    Application = get_application_model()
    used = get_access_token_model().objects.filter(application=OuterRef("pk")).exclude(
        scope=oauth2_settings.DCR_REGISTRATION_SCOPE
    )
    unused = Application.objects.filter(
        registration_source__in=[Application.RegistrationSource.DCR, Application.RegistrationSource.CIMD],
        created__lt=timezone.now() - older_than,
    ).exclude(Exists(used)).exclude(refreshtoken__isnull=False)
    count, _ = unused.delete()
    return count


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        clients = prune_unused_clients(timedelta(hours=settings.SKILLPORT_UNUSED_CLIENT_HOURS))
        clear_expired()
        codes, _ = RedeemedCode.objects.spent().delete()  # after clear_expired: it empties their families
        links, _ = InstallLink.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
        self.stdout.write(f"Removed {clients} unused client(s), {codes} spent code record(s) and {links} old "
                          "install link(s); expired tokens cleared.")
