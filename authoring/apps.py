from django.apps import AppConfig


class AuthoringConfig(AppConfig):
    name = "authoring"
    verbose_name = "Authoring"

    def ready(self):
        from . import following  # noqa: F401  (follows pull requests through the marketplace's webhook)
