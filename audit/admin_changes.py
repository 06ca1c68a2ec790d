"""Every addition, change and deletion made in the admin, as audit events (Action.ADMIN_CHANGED).

The admin site mixes `AuditedChanges` into each model's admin, other apps' as much as ours (skillport_site.admin), so
that making someone an admin or an auditor, editing an OAuth client's redirect URIs or trusting a host is in the log
auditors read, not only in the admin's own history. Admins that record events of their own (a marketplace added, a
skill's curation changed, a publish target removed) name those operations in `records_its_own`.
"""
import json

from django.contrib.admin.models import LogEntry

from . import record, record_many
from .models import Action

# What an auditor needs to read of a change besides which fields it changed: the roles an account has, and where an
# OAuth client sends codes. Never a secret: a password's hash or a client's secret is named as changed, not shown.
SHOWN = {
    "auth.user": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
    "auth.group": ("permissions",),
    "oauth2_provider.application": ("redirect_uris", "client_type", "authorization_grant_type"),
}


class AuditedChanges:
    """A ModelAdmin mixin: Django logs each change it saves through these three methods, after saving it (its related
    rows too) and before deleting."""

    records_its_own = frozenset()  # of "added", "changed", "deleted"

    def log_addition(self, request, obj, message):
        if "added" not in self.records_its_own:
            record(Action.ADMIN_CHANGED, request=request, extra=_details(obj, "added", message))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if "changed" not in self.records_its_own:
            record(Action.ADMIN_CHANGED, request=request, extra=_details(obj, "changed", message))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        if "deleted" not in self.records_its_own:
            record_many([(Action.ADMIN_CHANGED, None, _details(obj, "deleted", "")) for obj in queryset],
                        request=request)
        return super().log_deletions(request, queryset)


def _details(obj, operation, message) -> dict:
    details = {
        "operation": operation, "model": str(obj._meta.verbose_name), "object": str(obj)[:200], "object_id": str(obj.pk),
        "change": str(LogEntry(change_message=message if isinstance(message, str) else json.dumps(message))
                      .get_change_message()),
    }
    if shown := SHOWN.get(obj._meta.label_lower):
        details["now" if operation != "deleted" else "had"] = {name: _value(obj, name) for name in shown}
    return details


def _value(obj, name):
    value = getattr(obj, name)
    if hasattr(value, "all"):  # a many-to-many field: the names of what it holds
        return sorted(str(item) for item in value.all())
    return value
