"""Settings the connector refuses to start with."""
from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError

from .models import TRUSTED_HOST


@checks.register(checks.Tags.security)
def trusted_hosts_are_host_names(app_configs, **kwargs):
    """SKILLPORT_OAUTH_TRUSTED_HOSTS obeys the rule an admin's trusted host does: "*" or a URL there
    would trust every host, or none, without anyone seeing why."""
    errors = []
    for host in settings.SKILLPORT_OAUTH_TRUSTED_HOSTS:
        try:
            TRUSTED_HOST(host)
        except ValidationError as refusal:
            errors.append(checks.Error(
                f"SKILLPORT_OAUTH_TRUSTED_HOSTS lists {host!r}: {refusal.messages[0]}",
                hint="Fix the environment variable, a comma-separated list of host names.",
                id="connector.E001",
            ))
    return errors
