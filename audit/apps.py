from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from . import auditors, signals  # noqa: F401  (signals records sign-ins and sign-outs)

        post_migrate.connect(auditors.ensure_group, sender=self)
