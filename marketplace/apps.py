from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplaces"

    def ready(self):
        from . import lookups, schedule  # noqa: F401  (registers `__any`; connects the beat-schedule signals)
