"""Streaming exports of audit events as CSV or JSON Lines.

Rows come from a server-side cursor in chunks and leave as they are formatted, so exporting
a million events holds one chunk in memory, never the whole set.
"""
import csv
import json

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
    for row in queryset.order_by("-created_at", "-id").values_list(*COLUMNS).iterator(chunk_size=CHUNK):
        yield dict(zip(COLUMNS, row))


def csv_lines(queryset):
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in _rows(queryset):
        row["created_at"] = row["created_at"].isoformat()
        row["extra"] = json.dumps(row["extra"], sort_keys=True)
        yield writer.writerow([_safe_cell(row[c]) for c in COLUMNS])


def jsonl_lines(queryset):
    for row in _rows(queryset):
        row["created_at"] = row["created_at"].isoformat()
        yield json.dumps(row, separators=(",", ":"), default=str) + "\n"


def _safe_cell(value):
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
