"""Admin for records the apps write: listed and read, never added or edited by hand (audit holds it: every app may import audit)."""
from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """Sync runs, webhook deliveries, tokens, consents: no add or change form; deleting stays possible."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PermanentRecordAdmin(RecordAdmin):
    """The audit log and the approval history: not deleted either."""

    def has_delete_permission(self, request, obj=None):
        return False
