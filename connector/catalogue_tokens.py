"""/connect/tokens/: members create and revoke the personal tokens Claude Code sends to read their curated catalogues.

Claude Code's `/plugin marketplace add` sends no headers, so a curated catalogue, which answers only a
request carrying a token, is declared in the member's ~/.claude/settings.json with an Authorization
header instead (marketplace.install.claude_code_settings). The token for it is an access token like
the connector's (connector.tokens, stored hashed), but with scope catalogue:read and bound to the
catalogues alone: /mcp and the REST API refuse it, and it expires after SKILLPORT_CATALOGUE_TOKEN_DAYS.
Its value is shown once, in the answer to the request that creates it, and never stored.
"""
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit import record
from audit.models import Action
from marketplace import install

from .models import CatalogueToken
from .tokens import CATALOGUE_CLIENT_NAME, CATALOGUE_SCOPE, catalogue_resource, issue

# Enough for every machine a person uses; a cap, so one account cannot fill the token table.
MAX_LIVE_TOKENS = 20


class NewToken(forms.Form):
    name = forms.CharField(max_length=100, strip=True, help_text="Where it will be used, such as “work laptop”.")


def _page(request, form, created=None, status=200):
    tokens = list(request.user.catalogue_tokens.select_related("access_token"))
    marketplaces = install.curated_marketplaces(request.user)
    response = render(request, "connector/catalogue_tokens.html", {
        "form": form, "tokens": tokens, "created": created, "days": settings.SKILLPORT_CATALOGUE_TOKEN_DAYS,
        "marketplaces": marketplaces,
        "snippet": install.claude_code_settings(marketplaces, created[1]) if created and marketplaces else "",
    }, status=status)
    response["Cache-Control"] = "no-store"  # the page that shows a new token's value must not be kept
    return response


@login_required
def tokens(request):
    """The member's catalogue tokens; a POST creates one and shows its value, this once."""
    if request.method != "POST":
        return _page(request, NewToken())
    form = NewToken(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    live = [t for t in request.user.catalogue_tokens.select_related("access_token") if not t.expired]
    if len(live) >= MAX_LIVE_TOKENS:
        form.add_error(None, f"You have {MAX_LIVE_TOKENS} live tokens: revoke one you no longer use first.")
        return _page(request, form, status=400)
    with transaction.atomic():
        access, raw = issue(request.user, scope=CATALOGUE_SCOPE, ttl=settings.SKILLPORT_CATALOGUE_TOKEN_DAYS * 86400,
                            resource=[catalogue_resource()], client_name=CATALOGUE_CLIENT_NAME)
        token = CatalogueToken.objects.create(user=request.user, name=form.cleaned_data["name"],
                                              access_token=access, prefix=raw[:8])
        record(Action.TOKEN_ISSUED, request=request, extra={
            "kind": "catalogue", "name": token.name, "prefix": token.prefix, "scope": CATALOGUE_SCOPE,
            "expires": access.expires.isoformat()})
    return _page(request, NewToken(), created=(token, raw))


@login_required
@require_POST
def revoke(request, token):
    """Revoke one of the member's own catalogue tokens (anyone else's is a 404)."""
    token = get_object_or_404(request.user.catalogue_tokens.select_related("access_token"), pk=token)
    with transaction.atomic():
        record(Action.TOKEN_REVOKED, request=request, extra={
            "kind": "catalogue", "name": token.name, "prefix": token.prefix})
        token.access_token.delete()  # the catalogue token goes with it
    return redirect("connector:catalogue-tokens")
