from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplaces"

    def ready(self):
        from . import schedule  # noqa: F401  (connects the beat-schedule signals)
