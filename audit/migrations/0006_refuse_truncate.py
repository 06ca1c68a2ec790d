"""PostgreSQL refuses TRUNCATE of audit events too, which row-level triggers (0002) never see.

One exception, the retention purge's own rule: inside a transaction that has set
`skillport.audit_purge_before`, a TRUNCATE that removes no event as recent as that instant may
run, since the purge's DELETE could remove the same rows. Django's flush (the tests' teardown)
truncates every table that way; nothing in Skillport truncates audit events.
"""
from django.db import migrations

FORWARD = """
CREATE FUNCTION audit_event_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    purge_before text := current_setting('skillport.audit_purge_before', true);
BEGIN
    IF purge_before IS NOT NULL AND purge_before <> '' AND NOT EXISTS (
        SELECT 1 FROM audit_auditevent WHERE created_at >= purge_before::timestamptz
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_approval_actions")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
