"""Blob.sha256: the content's SHA-256, for provenance manifests; existing rows are filled in batches.

Adding the column with a constant default is instant in PostgreSQL 11+. The fill runs outside one
big transaction (atomic = False), a batch per statement, so a large blob table is never locked
whole and a migration stopped halfway resumes where it was. PostgreSQL hashes the content itself
(sha256(), PostgreSQL 11+), so no content leaves the database.
"""
from django.db import migrations, models

BATCH = 2000


def fill(apps, schema_editor):
    table = apps.get_model("marketplace", "Blob")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"UPDATE {table} SET sha256 = encode(sha256(content), 'hex') "
                f"WHERE sha IN (SELECT sha FROM {table} WHERE sha256 = '' LIMIT %s)", [BATCH])
            if cursor.rowcount == 0:
                break


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("marketplace", "0015_security_scan"),
    ]

    operations = [
        migrations.AddField(
            model_name="blob",
            name="sha256",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
