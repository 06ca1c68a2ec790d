"""The authorization server's views, as Skillport needs them, and the one-time package download.

django-oauth-toolkit does the OAuth work; these subclasses add what Claude's connectors and
our security model need: tokens always bound to /mcp, remembered consent per (user, client,
redirect URI, scopes), registration limited to allow-listed redirect URIs and the code grant,
codes that revoke their tokens when replayed, and audit events. (connector.validator holds the
rules the toolkit checks on every request.)
"""
import json
import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_GET
from oauth2_provider import views as oauth
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from audit import record
from audit.models import Action, Outcome
from marketplace import packaging
from marketplace.models import Policy, Skill

from .clients import name_refusal, redirect_refusal
from .models import Consent, InstallLink, RedeemedCode
from .tokens import checksum, is_mcp_resource


@method_decorator(xframe_options_deny, name="dispatch")
class Authorize(oauth.AuthorizationView):
    """The consent page: names the client, its redirect host and the scopes; asked once per combination."""

    template_name = "connector/consent.html"

    def get(self, request, *args, **kwargs):
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        if unfit := _unfit(credentials, request.GET):
            return self.error_response(OAuthToolkitError(
                error=CustomOAuth2Error(error="invalid_request", description=unfit, state=credentials.get("state")),
                redirect_uri=credentials["redirect_uri"],
            ), application)
        if foreign := [r for r in request.GET.getlist("resource") if not is_mcp_resource(r)]:
            return self.error_response(OAuthToolkitError(
                error=_wrong_target(foreign[0], state=credentials.get("state")),
                redirect_uri=credentials["redirect_uri"],
            ), application)
        # Every token is bound to /mcp, also for clients that name no resource.
        query = request.GET.copy()
        query.setlist("resource", [settings.SKILLPORT_MCP_URL])
        request.GET = query
        remembered = Consent.objects.filter(
            user=request.user, application=application, redirect_uri=credentials["redirect_uri"],
            scope=Consent.normalise_scope(scopes),
        ).exists()
        if remembered and "consent" not in request.GET.get("prompt", "").split():
            credentials["resource"] = [settings.SKILLPORT_MCP_URL]
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
            return self.redirect(uri, application)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        redirect = context.get("redirect_uri") or ""
        context["redirect_host"] = redirect.split("://", 1)[-1].split("/", 1)[0]
        context["loopback"] = context["redirect_host"].split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
        return context

    def form_valid(self, form):
        if not is_mcp_resource(form.cleaned_data.get("resource") or settings.SKILLPORT_MCP_URL):
            return JsonResponse({"error": "invalid_target", "error_description": "Wrong resource."}, status=400)
        # The form's hidden fields come back as the browser sends them: the toolkit reads the client without a guard.
        if not get_application_model().objects.filter(client_id=form.cleaned_data.get("client_id")).exists():
            return JsonResponse({"error": "invalid_client", "error_description": "No such client."}, status=400)
        if unfit := _unfit(form.cleaned_data, self.request.GET):
            return JsonResponse({"error": "invalid_request", "error_description": unfit}, status=400)
        form.cleaned_data["resource"] = settings.SKILLPORT_MCP_URL
        self.success_url = None
        response = super().form_valid(form)
        data = form.cleaned_data
        application = get_application_model().objects.filter(client_id=data["client_id"]).first()
        allowed = bool(data.get("allow"))
        if application is not None and (self.success_url or not allowed):  # a decision, not a broken request
            if allowed:
                Consent.objects.get_or_create(
                    user=self.request.user, application=application, redirect_uri=data["redirect_uri"],
                    scope=Consent.normalise_scope(data["scope"]),
                )
            record(Action.CONSENT_GRANTED if allowed else Action.CONSENT_DENIED, request=self.request,
                   outcome=Outcome.OK if allowed else Outcome.DENIED,
                   extra={"client_id": application.client_id, "client_name": application.name,
                          "redirect_uri": data["redirect_uri"], "scope": data["scope"]})
        return response


# RFC 7636: an S256 challenge is the base64url of a SHA-256 digest, 43 characters. The toolkit checks neither this
# nor a nonce's length, and storing one longer than its column failed the request (a 500).
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
LONGEST_NONCE = 255


def _unfit(*asked) -> str:
    """Why an authorization request's PKCE challenge or nonce cannot be taken, or "". Each of `asked` (what the toolkit
    read, the query: oauthlib reads a nonce from it that the toolkit does not pass on) is checked."""
    for given in asked:
        challenge = given.get("code_challenge") or ""
        if challenge and not S256_CHALLENGE.fullmatch(challenge):
            return "code_challenge must be the 43-character base64url SHA-256 of the code verifier (RFC 7636, S256)."
        if len(given.get("nonce") or "") > LONGEST_NONCE:
            return f"nonce may be at most {LONGEST_NONCE} characters long."
    return ""


def _wrong_target(resource, **kwargs) -> CustomOAuth2Error:
    return CustomOAuth2Error(error="invalid_target", description=(
        f"This server issues tokens only for {settings.SKILLPORT_MCP_URL} (without a query or fragment), "
        f"not {resource}"), **kwargs)


class Token(oauth.TokenView):
    """The token endpoint. A resource naming /mcp with a trailing slash or other case is the same resource;
    any other is refused. A code exchanged a second time revokes what the first exchange issued."""

    def post(self, request, *args, **kwargs):
        resources = request.POST.getlist("resource")
        if foreign := [r for r in resources if not is_mcp_resource(r)]:
            error = _wrong_target(foreign[0])
            return HttpResponse(error.json, status=error.status_code, content_type="application/json")
        if resources:
            body = request.POST.copy()
            body.setlist("resource", [settings.SKILLPORT_MCP_URL] * len(resources))
            request.POST = body
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200 and request.POST.get("grant_type") == "authorization_code":
            _revoke_replayed(request)
        return response


def _revoke_replayed(request):
    """RFC 6749 4.1.2: a code presented after it was exchanged revokes every token issued from it."""
    redeemed = RedeemedCode.objects.revoke_tokens(request.POST.get("code", ""))
    if redeemed is not None:
        record(Action.TOKEN_REVOKED, request=request, actor=redeemed.user, outcome=Outcome.DENIED, extra={
            "client_id": redeemed.application.client_id, "client_name": redeemed.application.name,
            "reason": "authorization code replayed: every token issued from it is revoked",
        })


class Revoke(oauth.RevokeTokenView):
    def post(self, request, *args, **kwargs):
        hashed = checksum(request.POST.get("token", ""))
        token = (get_access_token_model().objects.filter(token_checksum=hashed).select_related("user").first()
                 or get_refresh_token_model().objects.filter(token_checksum=hashed).select_related("user").first())
        response = super().post(request, *args, **kwargs)
        if token is not None and response.status_code == 200:
            record(Action.TOKEN_REVOKED, request=request, actor=token.user,
                   extra={"client_id": request.POST.get("client_id", ""), "kind": type(token).__name__})
        return response


# What a registered client may use: the code grant (refreshable). Any other grant the toolkit knows
# would give a self-registered client tokens no one consented to (client credentials: no user at all).
REGISTERED_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})


def _registration_refusal(request):
    """A 400 naming what in the registration Skillport refuses, or None to let the toolkit read it."""
    try:
        data = json.loads(request.body)
    except RecursionError:
        return JsonResponse({"error": "invalid_client_metadata",
                             "error_description": "The request body is nested too deeply to be client metadata."},
                            status=400)
    except ValueError:
        return None  # the toolkit answers malformed JSON itself
    if not isinstance(data, dict):
        return None
    if reason := name_refusal(data.get("client_name", "")):
        return JsonResponse({"error": "invalid_client_metadata", "error_description": reason}, status=400)
    uris = data.get("redirect_uris")
    for uri in uris if isinstance(uris, list) else []:
        if reason := redirect_refusal(uri):
            return JsonResponse({"error": "invalid_redirect_uri", "error_description": reason}, status=400)
    grants = data.get("grant_types")
    for grant in grants if isinstance(grants, list) else []:
        if isinstance(grant, str) and grant not in REGISTERED_GRANT_TYPES:  # the toolkit refuses non-strings
            return JsonResponse({"error": "invalid_client_metadata", "error_description": (
                f"Grant type {grant!r} is not available to registered clients: use authorization_code "
                "(with refresh_token)")}, status=400)
    return None


class Register(oauth.DynamicClientRegistrationView):
    """RFC 7591 registration, open to anyone, for allow-listed redirect URIs and the code grant only."""

    def post(self, request, *args, **kwargs):
        if refusal := _registration_refusal(request):
            return refusal
        response = super().post(request, *args, **kwargs)
        if response.status_code == 201:
            client = json.loads(response.content)
            record(Action.OAUTH_CLIENT_REGISTERED, request=request, extra={
                "client_id": client["client_id"], "client_name": client.get("client_name", ""),
                "redirect_uris": client.get("redirect_uris", []),
            })
        return response


class RegistrationManagement(oauth.DynamicClientRegistrationManagementView):
    """RFC 7592 client updates: the same allow-list applies to a changed redirect URI."""

    def put(self, request, *args, **kwargs):
        return _registration_refusal(request) or super().put(request, *args, **kwargs)


class ProtectedResourceMetadata(oauth.OAuthProtectedResourceMetadataView):
    """RFC 9728, for /mcp. `skills:write` is reserved, so it is not offered."""

    def get_scopes_supported(self):
        return ["skills:read"]


@require_GET
def download(request, token):
    """Redeem a one-time install link: the package, if the link is fresh and the skill still visible to its user."""
    link = InstallLink.objects.redeem(token)
    if link is None:
        return render(request, "connector/link_spent.html", status=410)
    skill = Skill.objects.visible_to(link.user).select_related("plugin", "marketplace").filter(pk=link.skill_id).first()
    policy = skill.stance[0] if skill is not None else None
    if skill is None or policy == Policy.PROHIBITED:
        record(Action.ACCESS_DENIED, request=request, actor=link.user, target=link.skill, surface=link.surface,
               client=(link.client_name, link.client_version), outcome=Outcome.DENIED,
               extra={"reason": "no longer visible" if skill is None else "prohibited by policy", "via": "install link"})
        return HttpResponse("This skill is no longer available to you.", status=404, content_type="text/plain")
    record(Action.PACKAGE_DOWNLOADED, request=request, actor=link.user, target=skill, surface=link.surface,
           client=(link.client_name, link.client_version),
           extra={"content_hash": skill.content_hash, "via": "install link"})
    return packaging.download(skill)
