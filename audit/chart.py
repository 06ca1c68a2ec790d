"""Installs per day, split by surface, as the geometry of a stacked bar chart drawn in SVG."""
from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import INSTALL_ACTIONS, Surface

WIDTH, HEIGHT, LEFT, BOTTOM = 720, 200, 36, 24
COLOURS = {
    Surface.CLAUDE_CODE: "#c2410c", Surface.CLAUDE_AI: "#2563eb", Surface.CLAUDE_DESKTOP: "#7c3aed",
    Surface.WEB: "#059669", Surface.API: "#475569", Surface.CLI: "#a16207", Surface.UNKNOWN: "#9ca3af",
}


def installs_chart(queryset, since=None, until=None, days=30):
    """Bars and legend for the installs in `queryset` between `since` and `until` (dates)."""
    until = until or timezone.localdate()
    since = since or until - timedelta(days=days - 1)
    since = max(since, until - timedelta(days=365))  # one bar a day stays readable up to a year
    rows = (
        queryset.filter(action__in=INSTALL_ACTIONS, created_at__date__gte=since, created_at__date__lte=until)
        .annotate(day=TruncDate("created_at"))
        .values("day", "surface")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {}
    for row in rows:
        counts.setdefault(row["day"], {})[row["surface"]] = row["n"]
    span = (until - since).days + 1
    peak = max((sum(c.values()) for c in counts.values()), default=0)
    scale = (HEIGHT - BOTTOM - 8) / peak if peak else 0
    step = (WIDTH - LEFT) / span
    bars = []
    for i in range(span):
        day = since + timedelta(days=i)
        y = HEIGHT - BOTTOM
        for surface, label in Surface.choices:
            n = counts.get(day, {}).get(surface, 0)
            if n:
                height = n * scale
                y -= height
                bars.append({"x": round(LEFT + i * step + 1, 1), "y": round(y, 1), "width": round(max(step - 2, 1), 1),
                             "height": round(height, 1), "colour": COLOURS[surface], "title": f"{day}: {n} via {label}"})
    used = {s for c in counts.values() for s in c}
    return {
        "width": WIDTH, "height": HEIGHT, "bars": bars, "total": sum(sum(c.values()) for c in counts.values()),
        "peak": peak, "since": since, "until": until, "axis_y": HEIGHT - BOTTOM, "left": LEFT,
        "legend": [{"label": label, "colour": COLOURS[s]} for s, label in Surface.choices if s in used],
    }
