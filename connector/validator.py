"""django-oauth-toolkit's request validator with Skillport's rules for registered clients and single-use codes."""
from contextlib import contextmanager

from django.db import transaction
from oauth2_provider.models import get_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from .clients import REGISTERED_CLIENT_SCOPES, is_registered, redirect_refusal
from .models import RedeemedCode


class Validator(OAuth2Validator):
    """Checked on every authorization and token request, so rows registered before a rule tightened
    (or for a host an admin has since stopped trusting) obey today's rules too."""

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs) and (
            not is_registered(request.client) or redirect_refusal(redirect_uri) is None
        )

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        uri = super().get_default_redirect_uri(client_id, request, *args, **kwargs)
        return uri if not is_registered(request.client) or redirect_refusal(uri) is None else None

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        """A registered client asking for more than REGISTERED_CLIENT_SCOPES is refused (invalid_scope),
        not quietly given less: it learns at once that it cannot have what it asked for."""
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs) and (
            not is_registered(client) or set(scopes) <= REGISTERED_CLIENT_SCOPES
        )

    # Two exchanges of one code can both pass validate_code; once the winner has spent the grant, the
    # loser's next read of it must fail as invalid_grant (and so revoke the winner's tokens, as a replay
    # does), not raise DoesNotExist into a 500.
    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        with _spent_grant_is_invalid(request):
            return super().confirm_redirect_uri(client_id, code, redirect_uri, client, request, *args, **kwargs)

    def get_code_challenge(self, code, request):
        with _spent_grant_is_invalid(request):
            return super().get_code_challenge(code, request)

    def get_code_challenge_method(self, code, request):
        with _spent_grant_is_invalid(request):
            return super().get_code_challenge_method(code, request)

    def save_bearer_token(self, token, request, *args, **kwargs):
        """A code's tokens are saved with the record of its exchange, or not at all: connector.views.Token
        then revokes what the exchange that won was given."""
        if request.grant_type != "authorization_code":
            return super().save_bearer_token(token, request, *args, **kwargs)
        with transaction.atomic():
            super().save_bearer_token(token, request, *args, **kwargs)
            if not RedeemedCode.objects.record(request.code, request, token):
                raise errors.InvalidGrantError(description="The authorization code was already used.", request=request)


@contextmanager
def _spent_grant_is_invalid(request):
    try:
        yield
    except get_grant_model().DoesNotExist:
        raise errors.InvalidGrantError(description="The authorization code was already used.", request=request) from None
