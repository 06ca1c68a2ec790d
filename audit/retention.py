"""The one path allowed to delete audit events: purging those older than the retention period.

The append-only trigger lets a DELETE through only inside a transaction that has set
`skillport.audit_purge_before`, and only for rows older than that instant, so even this path
cannot remove recent events. The purge itself is recorded.
"""
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import record
from .models import Action, AuditEvent, Surface


def purge_expired(surface: Surface) -> int:
    """Delete the events past retention and record the purge, made from `surface`; return how many went."""
    cutoff = timezone.now() - timedelta(days=settings.SKILLPORT_AUDIT_RETENTION_DAYS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('skillport.audit_purge_before', %s, true)", [cutoff.isoformat()])
            try:
                deleted, _ = AuditEvent.objects.filter(created_at__lt=cutoff).delete()
            finally:
                # `true` above scopes the setting to the transaction, but when a caller's
                # transaction encloses ours that lasts longer than the purge: end it here.
                cursor.execute("SELECT set_config('skillport.audit_purge_before', '', true)")
        # In the same transaction: a purge that is not on the record does not happen.
        record(
            Action.AUDIT_PURGED,
            surface=surface,
            extra={"deleted": deleted, "before": cutoff.isoformat(),
                   "retention_days": settings.SKILLPORT_AUDIT_RETENTION_DAYS},
        )
    return deleted
