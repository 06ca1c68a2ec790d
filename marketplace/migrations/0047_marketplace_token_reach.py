from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0046_plugin_holds"),
    ]

    # Marketplaces added before took the token to every repository on their server; they now keep it beside their
    # own, as new ones do, and a source it no longer reaches says so (reader: source-fetch-failed).
    operations = [
        migrations.AddField(
            model_name="marketplace",
            name="token_reach",
            field=models.CharField(
                choices=[
                    ("repository", "This repository alone"),
                    ("owner", "Repositories beside it on its server (the same owner, group or project)"),
                    ("server", "Every repository on its server"),
                ],
                default="owner",
                help_text="Where the access token goes when plugin sources on the repository's server are fetched. "
                          "Never to another server, nor over another scheme or port.",
                max_length=20,
                verbose_name="Token reaches",
            ),
        ),
    ]
