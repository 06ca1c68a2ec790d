"""Audit events in the admin: readable, never editable (the database refuses changes anyway)."""
from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_login", "marketplace", "plugin", "skill", "surface", "outcome"]
    list_filter = ["action", "surface", "outcome"]
    search_fields = ["actor_login", "marketplace", "plugin", "skill", "request_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
