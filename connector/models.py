"""What the connector keeps besides the toolkit's own tables: trusted hosts, consents, redeemed codes, install links."""
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from marketplace.models import Skill

from .tokens import checksum


# A name, not a pattern: "*" or a URL here would put every host on the allow-list, or none.
TRUSTED_HOST = RegexValidator(
    r"\A\.?[a-z0-9-]+(\.[a-z0-9-]+)+\Z",
    'Enter a host name such as "tools.example.com" or ".example.com" (lower case, no scheme, port or "*").',
)


class TrustedHost(models.Model):
    """A host an admin trusts for OAuth redirect URIs (https only) and client metadata documents."""

    host = models.CharField(
        max_length=253, unique=True,
        help_text='A host name such as "tools.example.com", or ".example.com" for it and its subdomains.',
        validators=[TRUSTED_HOST],
    )
    note = models.CharField(max_length=200, blank=True, help_text="Who uses it, and why it is trusted.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host"]
        verbose_name = "trusted client host"

    def __str__(self):
        return self.host


class Consent(models.Model):
    """A user's yes to one client, for one redirect URI and set of scopes: asked once, then remembered."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_consents")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    redirect_uri = models.TextField()
    scope = models.CharField(max_length=200, help_text="Granted scopes, sorted and space-separated.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application", "redirect_uri", "scope"], name="consent_unique"),
        ]

    def __str__(self):
        return f"{self.user} → {self.application} ({self.scope})"

    @staticmethod
    def normalise_scope(scopes) -> str:
        return " ".join(sorted(set(scopes.split() if isinstance(scopes, str) else scopes)))


class RedeemedCodeQuerySet(models.QuerySet):
    def record(self, code: str, request, token: dict) -> bool:
        """Remember that `code` was exchanged for `token`; False when it already was, by a concurrent request.

        Called in the transaction that saves the tokens: a second exchange racing this one waits on
        the unique code until the first commits, then fails here and rolls its own tokens back. What
        is kept is the family of the refresh token (the code grant always issues one): every token
        later refreshed from it joins that family.
        """
        family = get_refresh_token_model().objects.filter(
            token_checksum=checksum(token["refresh_token"])).values_list("token_family", flat=True).get()
        try:
            with transaction.atomic():
                self.create(code_hash=checksum(code), application=request.client, user=request.user,
                            token_family=family)
        except IntegrityError:
            return False
        return True

    def revoke_tokens(self, code: str):
        """Revoke every token issued from `code`, refreshed ones included, as RFC 6749 4.1.2 asks of a
        replayed code; the code's record, or None when it was never exchanged."""
        redeemed = self.select_related("application", "user").filter(code_hash=checksum(code)).first()
        if redeemed is not None:
            get_refresh_token_model().revoke_family(redeemed.token_family)
        return redeemed

    def spent(self):
        """Codes with nothing left to revoke: every refresh token of their family has been cleared away."""
        family = get_refresh_token_model().objects.filter(token_family=OuterRef("token_family"))
        return self.exclude(Exists(family))


class RedeemedCode(models.Model):
    """An authorization code that was exchanged, and the refresh token family its tokens started.

    The toolkit deletes a code once exchanged, so a second exchange already fails; this record is
    what lets it also revoke the tokens the first exchange produced. Only a hash of the code is kept.
    """

    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_family = models.UUIDField()
    redeemed_at = models.DateTimeField(default=timezone.now)

    objects = RedeemedCodeQuerySet.as_manager()

    def __str__(self):
        return f"code redeemed by {self.application} for {self.user}"


class InstallLinkQuerySet(models.QuerySet):
    def redeem(self, token: str):
        """Claim a link in SQL, so two downloads racing for it cannot both win; None when spent or expired."""
        now, hashed = timezone.now(), checksum(token)
        claimed = self.filter(token_hash=hashed, redeemed_at=None, expires_at__gt=now).update(redeemed_at=now)
        if not claimed:
            return None
        return self.select_related("user", "skill__plugin", "skill__marketplace").get(token_hash=hashed)


class InstallLink(models.Model):
    """A one-time, short-lived download link for a .skill package, handed out by install_skill.

    Only a hash of the link's token is stored: the database never holds a usable URL.
    """

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    surface = models.CharField(max_length=20, blank=True)
    client_name = models.CharField(max_length=100, blank=True)
    client_version = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)

    objects = InstallLinkQuerySet.as_manager()

    def __str__(self):
        return f"{self.skill} for {self.user}"

    @classmethod
    def issue(cls, user, skill, *, surface="", client=("", "")) -> tuple["InstallLink", str]:
        token = secrets.token_urlsafe(32)
        link = cls.objects.create(
            token_hash=checksum(token), user=user, skill=skill, surface=surface,
            client_name=client[0][:100], client_version=client[1][:50],
            expires_at=timezone.now() + timedelta(seconds=settings.SKILLPORT_INSTALL_LINK_SECONDS),
        )
        return link, token


class CatalogueToken(models.Model):
    """A member's named personal token for the curated catalogues (connector.catalogue_tokens).

    The secret is the access token it names, stored hashed by the toolkit like every other token, with
    scope catalogue:read and bound to the catalogues alone; revoking deletes that token, and this with it.
    `prefix` is the first characters of the value, so its owner can tell which token a machine holds.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="catalogue_tokens")
    name = models.CharField(max_length=100)
    access_token = models.OneToOneField(settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL, on_delete=models.CASCADE,
                                        related_name="catalogue_token")
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def expires(self):
        return self.access_token.expires

    @property
    def expired(self) -> bool:
        return self.access_token.is_expired()
