"""PostgreSQL enforces that audit events are append-only, whatever the application does.

UPDATE and DELETE are refused, with two exceptions the trigger checks for itself:
- nulling `actor_id` alone (the user was deleted; the login snapshot stays), and
- DELETE of rows older than `skillport.audit_purge_before`, which only the retention purge
  sets, inside its own transaction.
"""
from django.db import migrations

FORWARD = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    purge_before text := current_setting('skillport.audit_purge_before', true);
BEGIN
    IF TG_OP = 'DELETE' AND purge_before IS NOT NULL AND purge_before <> ''
       AND OLD.created_at < purge_before::timestamptz THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
