"""Catalogue tokens the server issued under a client someone had registered with its name (connector.tokens.issue
found its client by name alone) move to the server's own client, whose registration token nobody holds: that
client's could delete them all. Only catalogue tokens are known for the server's own by their rows."""
from django.conf import settings
from django.db import migrations

NAME = "Skillport (personal catalogue tokens)"  # connector.tokens.CATALOGUE_CLIENT_NAME, as it was


def forwards(apps, schema_editor):
    Application = apps.get_model(*settings.OAUTH2_PROVIDER_APPLICATION_MODEL.split("."))
    AccessToken = apps.get_model(*settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL.split("."))
    filed = AccessToken.objects.filter(catalogue_token__isnull=False).exclude(application__registration_source="manual")
    if not filed.exists():
        return
    own = {"name": NAME, "registration_source": "manual"}
    ours = Application.objects.filter(**own).first() or Application.objects.create(
        **own, client_type="confidential", authorization_grant_type="client-credentials")
    filed.update(application=ours)


class Migration(migrations.Migration):

    dependencies = [
        ("connector", "0003_catalogue_tokens"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
