"""Streaming exports of audit events as CSV or JSON Lines.

Rows come from a server-side cursor in chunks and leave as they are formatted, so exporting
a million events holds one chunk in memory, never the whole set (under ASGI too: asgi.py sends
a synchronous stream a batch at a time, where Django's handler would list it first).
"""
import csv
import json

from django.db.models import TextField
from django.db.models.functions import Cast

COLUMNS = [
    "id", "created_at", "action", "outcome", "actor_login", "actor_github_id", "marketplace", "plugin", "skill",
    "version", "commit", "surface", "client_name", "client_version", "ip", "user_agent", "request_id", "extra",
]
CHUNK = 2000


class _Line:
    """A file-like object whose write() returns what was written, for csv.writer."""

    def write(self, value):
        return value


def _rows(queryset):
    """Tuples in COLUMNS order; `extra` arrives as JSON text, so it is never decoded and re-encoded."""
    columns = [c for c in COLUMNS if c != "extra"]
    rows = (
        queryset.order_by("-created_at", "-id")
        .annotate(extra_text=Cast("extra", TextField()))
        .values_list(*columns, "extra_text")
    )
    return rows.iterator(chunk_size=CHUNK)


def csv_lines(queryset):
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in _rows(queryset):
        yield writer.writerow([row[0], row[1].isoformat(), *map(_safe_cell, row[2:])])


def jsonl_lines(queryset):
    for row in _rows(queryset):
        event = dict(zip(COLUMNS, row))
        event["created_at"] = event["created_at"].isoformat()
        event["extra"] = json.loads(event["extra"])
        yield json.dumps(event, separators=(",", ":"), default=str) + "\n"


def _safe_cell(value):
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
