"""Publish targets (Claude's own channels Skillport feeds) and the record of each publish."""
from django.contrib.postgres.functions import RandomUUID
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from marketplace import access, gitrepo, names
from marketplace.crypto import EncryptedTextField
from marketplace.models import Marketplace, audience_field

ANTHROPIC_API = "https://api.anthropic.com"


class Kind(models.TextChoices):
    GIT = "git", "Git repository"
    ZIP = "zip", "ZIP for upload"
    MANAGED_SETTINGS = "managed_settings", "Claude Code managed settings"
    WORKSPACE = "api_workspace", "Claude API workspace"


class Mode(models.TextChoices):
    AUTO = "", "Pull request on GitHub, else push"
    PUSH = "push", "Push commits to the branch"
    PULL_REQUEST = "pull_request", "Open a pull request (GitHub)"


class PublishTarget(models.Model):
    name = models.SlugField(unique=True, help_text="Stable identifier used by the CLI, the API and URLs.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True, help_text="Off: nothing is published here, not even on demand.")
    audience = audience_field()
    marketplaces = models.ManyToManyField(Marketplace, related_name="publish_targets",
                                          help_text="The marketplaces whose approved content this target carries.")
    publish_interval = models.PositiveIntegerField(
        "Publish interval (minutes)", default=0,
        help_text="Also publish on this schedule; 0: only after changes and on demand.",
    )
    # The published marketplace.json's own name and owner (Claude Code shows them).
    marketplace_name = models.CharField(
        max_length=100, help_text="The published marketplace's name (kebab-case): plugins install as plugin@name.",
    )
    owner_name = models.CharField(max_length=200, default="Skillport")
    owner_email = models.EmailField(blank=True)

    # Git repository targets.
    repository_url = models.CharField(
        "Repository URL", max_length=1000, blank=True,
        help_text="HTTPS or SSH URL of the repository to publish to. Never include a token here.",
    )
    branch = models.CharField(max_length=255, default="main")
    credential = EncryptedTextField(
        blank=True, help_text="A token that may push (and open pull requests). Stored encrypted; never shown again.",
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, blank=True, default=Mode.AUTO)

    # Managed settings: the published repository they point Claude Code at, else Skillport's curated catalogues.
    settings_source = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        limit_choices_to={"kind": Kind.GIT},
        help_text="A git target whose repository Claude Code should use; empty: Skillport's curated marketplaces.",
    )
    headers_helper = models.CharField(
        "Headers helper", max_length=500, blank=True,
        help_text="For Skillport's curated catalogues: the command on each machine that prints "
                  '{"Authorization": "Bearer <token>"} (Claude Code\'s headersHelper). A path, never a token.',
    )
    strict = models.BooleanField(
        "Restrict Claude Code to it", default=True,
        help_text="Add strictKnownMarketplaces, so Claude Code accepts no other marketplace.",
    )

    # Claude API workspace targets.
    api_url = models.CharField("API URL", max_length=1000, blank=True, default=ANTHROPIC_API)
    api_key = EncryptedTextField("API key", blank=True, help_text="The workspace's API key. Stored encrypted; never shown again.")

    # What the last successful publish put there: compared with the next one, and shown to admins.
    published = models.JSONField(default=dict, blank=True, editable=False)
    published_commit = models.CharField(max_length=40, blank=True, editable=False)
    open_pull_request = models.JSONField(default=dict, blank=True, editable=False)
    workspace_state = models.JSONField(default=dict, blank=True, editable=False)
    # The catalogue version (marketplace.models.CatalogueVersion) the last publish read: a newer one
    # means something changed since, and tasks.publish_due publishes again.
    catalogue_version = models.BigIntegerField(default=-1, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("admin:publishing_publishtarget_change", args=[self.pk])

    @property
    def uses_pull_requests(self) -> bool:
        from marketplace.pulls import on_github  # the host decides the default

        if self.mode == Mode.AUTO:
            return on_github(self.repository_url)
        return self.mode == Mode.PULL_REQUEST

    def clean(self):
        errors = {}
        if self.kind == Kind.MANAGED_SETTINGS:
            pass  # it names the marketplaces it points at; it publishes none of its own
        elif not names.KEBAB.match(self.marketplace_name or ""):
            errors["marketplace_name"] = "Use kebab-case: lower-case letters, digits and single hyphens."
        elif names.marketplace_imitates_official(self.marketplace_name) or \
                self.marketplace_name.lower() in names.OFFICIAL_MARKETPLACES | set(names.BUILT_IN_MARKETPLACES):
            errors["marketplace_name"] = "Claude Code keeps this name for Anthropic's own marketplaces or its built-ins."
        if self.kind == Kind.GIT:
            if not self.repository_url:
                errors["repository_url"] = "A git target needs the repository to publish to."
            else:
                try:
                    gitrepo.check_marketplace_url(self.repository_url)
                except ValueError as exc:
                    errors["repository_url"] = str(exc)
            if not self.branch or self.branch.startswith("-") or ".." in self.branch:
                errors["branch"] = "Name a branch."
        if self.kind == Kind.WORKSPACE and not self.api_url:
            errors["api_url"] = "A workspace target needs the API's URL."
        if self.settings_source_id and self.settings_source_id == self.pk:
            errors["settings_source"] = "A target cannot point at itself."
        elif self.settings_source_id and not _within(self.audience, self.settings_source.audience):
            # What it points at is what every member of *its* audience may see: others would be handed it.
            errors["settings_source"] = (
                f"{self.settings_source.name} is published for {', '.join(self.settings_source.audience)} alone: "
                "every machine this fragment reaches would be pointed at it. Give this target that audience, or "
                "part of it.")
        if errors:
            raise ValidationError(errors)


def _within(audience, published_for) -> bool:
    """Is every group of `audience` (refs; none: every member) one `published_for` names, or does that name none?"""
    normalised = {access.normalise(ref) for ref in published_for}
    if not published_for or access.EVERYONE in normalised:
        return True
    return bool(audience) and {access.normalise(ref) for ref in audience} <= normalised


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Publishing"
    PUBLISHED = "published", "Published"
    PROPOSED = "proposed", "Pull request opened"
    UNCHANGED = "unchanged", "Nothing new"
    FAILED = "failed", "Failed"


class Trigger(models.TextChoices):
    CHANGE = "change", "After a change"
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Publish now"
    CLI = "cli", "Command line"
    API = "api", "API"


class PublishRun(models.Model):
    target = models.ForeignKey(PublishTarget, on_delete=models.CASCADE, related_name="runs")
    uid = models.UUIDField(db_default=RandomUUID(), unique=True, editable=False)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    pull_request_url = models.CharField(max_length=1000, blank=True)
    plugins = models.PositiveIntegerField(default=0)
    skills = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of content published.")
    changes = models.JSONField(default=dict, blank=True, help_text="Plugins added, updated and removed.")
    approvals = models.JSONField(default=list, blank=True, help_text="The approvals behind the published content.")
    problems = models.JSONField(default=list, blank=True)
    progress = models.JSONField(default=dict, blank=True, help_text="Phase, done and total while running.")
    artifact = models.CharField(max_length=200, blank=True, help_text="The ZIP built, for ZIP targets.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["target", "-started_at"])]

    def __str__(self):
        return f"{self.target.name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    def as_json(self):
        """The shape `publish --json` prints and the API returns; scripts rely on these keys."""
        return {
            "id": str(self.uid),
            "target": self.target.name,
            "kind": self.target.kind,
            "status": self.status,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "commit": self.commit,
            "pull_request": self.pull_request_url,
            "counts": {"plugins": self.plugins, "skills": self.skills, "bytes": self.size},
            "changes": self.changes,
            "approvals": self.approvals,
            "problems": self.problems,
            "error": self.error,
        }
