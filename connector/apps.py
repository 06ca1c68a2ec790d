from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "connector"
    verbose_name = "Connector (MCP and OAuth)"

    def ready(self):
        from . import checks, signals  # noqa: F401  (registers its checks; audits tokens as the OAuth server issues them)
        from .redaction import redact_install_tokens

        redact_install_tokens()
