"""Print an access token for USERNAME, bound to this server's /mcp, for operators and tests."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit import record
from audit.models import Action, Surface
from connector.tokens import mint


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--scope", default="skills:read", help="Space-separated scopes (default: skills:read).")
        parser.add_argument("--ttl", type=int, default=None, help="Lifetime in seconds (default: the access token lifetime).")

    def handle(self, username, scope, ttl, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user called {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username!r} is disabled.")
        if ttl is not None and ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds.")
        token = mint(user, scope=scope, ttl=ttl)
        record(Action.TOKEN_ISSUED, actor=user, surface=Surface.CLI, extra={"minted": True, "scope": scope, "ttl": ttl})
        self.stdout.write(token)
