"""Install-link tokens never reach a log: the loggers that write request paths blank them out.

A link's token is its whole secret (`/install/<token>/`, connector/urls.py), and the paths of
its downloads would otherwise be written by the servers' access logs, by Django's request log (a
spent link's 410 and a withdrawn skill's 404 are logged with their path) and by our own.
"""
import logging
import re

TOKEN_IN_PATH = re.compile(r"(/install/)[^/?#\s\"']+")
# The access logs of uvicorn (alone, or as gunicorn's worker) and gunicorn, the servers' error
# logs (a malformed request line), Django's request and development-server logs, and ours.
LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "gunicorn.error", "django.request",
           "django.server", "skillport.connector")


def _redacted(value):
    return TOKEN_IN_PATH.sub(r"\1[redacted]", value) if isinstance(value, str) else value


class RedactInstallTokens(logging.Filter):
    """Rewrites the record's message and arguments in place, keeping their shape (uvicorn's access
    formatter unpacks its five arguments), before any handler sees it."""

    def filter(self, record):
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(arg) for key, arg in record.args.items()}
        return True


def redact_install_tokens():
    """Filter every logger in LOGGERS. A filter on the logger, not a handler, sees each record first,
    whichever handlers the server in charge (uvicorn, gunicorn, Django) gave it."""
    for name in LOGGERS:
        logging.getLogger(name).addFilter(RedactInstallTokens())
