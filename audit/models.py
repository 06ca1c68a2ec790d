"""The audit log: one append-only table of security-relevant events.

Rows are written only by `audit.record` and never changed: a PostgreSQL trigger (migration
0002) refuses UPDATE and DELETE, except nulling the actor of a deleted user and the retention
purge in `audit.retention`. Names are copied into each row, so the record outlives what it names.
"""
from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class Action(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    MARKETPLACE_ADDED = "marketplace_added", "Marketplace added"
    MARKETPLACE_CHANGED = "marketplace_changed", "Marketplace changed"
    MARKETPLACE_REMOVED = "marketplace_removed", "Marketplace removed"
    SYNC_SUCCEEDED = "sync_succeeded", "Sync succeeded"
    SYNC_FAILED = "sync_failed", "Sync failed"
    WEBHOOK_BAD_SIGNATURE = "webhook_bad_signature", "Webhook with a bad signature"
    AUDIT_EXPORTED = "audit_exported", "Audit log exported"
    AUDIT_PURGED = "audit_purged", "Audit log purged (retention)"
    INSTALL_LINK_ISSUED = "install_link_issued", "Install link issued"
    PACKAGE_DOWNLOADED = "package_downloaded", "Package downloaded"
    SKILL_FILE_READ = "skill_file_read", "Skill file read"
    OAUTH_CLIENT_REGISTERED = "oauth_client_registered", "OAuth client registered"
    OAUTH_CLIENT_REVOKED = "oauth_client_revoked", "OAuth client revoked"
    CONSENT_GRANTED = "consent_granted", "Consent granted to a client"
    CONSENT_DENIED = "consent_denied", "Consent refused to a client"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REFRESHED = "token_refreshed", "Token refreshed"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    ACCESS_DENIED = "access_denied", "Access denied"
    CURATION_CHANGED = "curation_changed", "Curation changed"
    SKILL_APPROVED = "skill_approved", "Skill change approved"
    SKILL_REJECTED = "skill_rejected", "Skill change rejected"
    PLUGIN_CONTENT_APPROVED = "plugin_content_approved", "Plugin's hooks, commands or servers approved"
    SCAN_HELD = "scan_held", "Held by the security scan"
    SCAN_BLOCKED = "scan_blocked", "Blocked by the security scan"
    SCAN_RELEASED = "scan_released", "Released by the security scan"
    SCAN_OVERRIDDEN = "scan_overridden", "Security scan findings overridden"
    PUBLISHED = "published", "Published to a channel"
    PUBLISH_FAILED = "publish_failed", "Publish failed"
    PUBLISH_TARGET_CHANGED = "publish_target_changed", "Publish target changed"
    PROPOSAL_OPENED = "proposal_opened", "Change proposed"
    PROPOSAL_MERGED = "proposal_merged", "Proposed change merged"
    PROPOSAL_CLOSED = "proposal_closed", "Proposed change closed"
    ADMIN_CHANGED = "admin_changed", "Changed in the admin"


class Surface(models.TextChoices):
    CLAUDE_CODE = "claude_code", "Claude Code"
    CLAUDE_AI = "claude_ai", "Claude.ai"
    CLAUDE_DESKTOP = "claude_desktop", "Claude Desktop"
    WEB = "web", "Web"
    API = "api", "API"
    CLI = "cli", "Command line"
    SCHEDULE = "schedule", "Schedule"
    WEBHOOK = "webhook", "Webhook"
    MCP = "mcp", "Other MCP client"
    # Skillport acting on its own, by the rules admins set: the security scan's holds and releases,
    # a publish after a change.
    SKILLPORT = "skillport", "Skillport (automatic)"
    UNKNOWN = "unknown", "Unknown"


# The Claude surfaces among MCP clients, by the name each gives in its initialize request (Claude
# Desktop calls itself "claude-ai" too, so its installs count as Claude.ai's).
CLIENT_SURFACES = {"claude-code": Surface.CLAUDE_CODE, "claude-ai": Surface.CLAUDE_AI}


def client_surface(client) -> Surface:
    """The surface of an MCP client, given as its (name, version)."""
    return CLIENT_SURFACES.get((client or ("", ""))[0].lower(), Surface.MCP)


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    DENIED = "denied", "Denied"
    ERROR = "error", "Error"


# What the audit log's downloads chart and the install counts count: a .skill package handed to someone. The chart
# counts each download; a skill's install count, each person once (marketplace.filters.PERSON).
INSTALL_ACTIONS = [Action.PACKAGE_DOWNLOADED]


class AuditEvent(models.Model):
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    action = models.CharField(max_length=40, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_login = models.CharField(max_length=150, blank=True, help_text="GitHub login (or username) at the time.")
    actor_github_id = models.BigIntegerField(null=True, blank=True)
    marketplace = models.CharField(max_length=100, blank=True)
    plugin = models.CharField(max_length=200, blank=True)
    skill = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=100, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    surface = models.CharField(max_length=20, choices=Surface.choices, default=Surface.UNKNOWN)
    client_name = models.CharField(max_length=100, blank=True)
    client_version = models.CharField(max_length=50, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_auditevent", "Can review the audit log")]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_recent"),
            models.Index(fields=["action", "-created_at"], name="audit_action"),
            models.Index(fields=["actor_login", "-created_at"], name="audit_actor"),
            models.Index(fields=["marketplace", "plugin", "skill", "-created_at"], name="audit_target"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_login or '-'}"

    @property
    def target(self):
        """<marketplace>/<plugin>/<skill>, as far as the event names one; else what was changed in the admin."""
        if named := "/".join(part for part in (self.marketplace, self.plugin, self.skill) if part):
            return named
        return f"{self.extra['model']} {self.extra['object']}" if self.action == Action.ADMIN_CHANGED else ""
