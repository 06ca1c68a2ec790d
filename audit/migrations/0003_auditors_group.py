"""The "Auditors" group: membership is how someone gets to review the audit log."""
from django.db import migrations


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="audit", model="auditevent")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="review_auditevent", defaults={"name": "Can review the audit log"}
    )
    group, _ = Group.objects.get_or_create(name="Auditors")
    group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only"), ("auth", "0012_alter_user_first_name_max_length"),
                    ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
