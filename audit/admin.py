"""Audit events in the admin: readable, never editable (the database refuses changes anyway)."""
from django.contrib import admin

from .admin_records import PermanentRecordAdmin
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(PermanentRecordAdmin):
    list_display = ["created_at", "action", "actor_login", "marketplace", "plugin", "skill", "surface", "outcome"]
    list_filter = ["action", "surface", "outcome"]
    search_fields = ["actor_login", "marketplace", "plugin", "skill", "request_id"]
    date_hierarchy = "created_at"
