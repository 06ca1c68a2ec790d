"""Package downloads (installs) per day, split by surface, as the geometry of a stacked bar chart drawn in SVG."""
from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import INSTALL_ACTIONS, Surface

# The drawing's size and the margins that hold the axes' labels.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 200, 44, 18, 10, 28
COLOURS = {
    Surface.CLAUDE_CODE: "#c2410c", Surface.CLAUDE_AI: "#2563eb", Surface.CLAUDE_DESKTOP: "#7c3aed",
    Surface.WEB: "#059669", Surface.API: "#475569", Surface.CLI: "#a16207", Surface.SCHEDULE: "#0e7490",
    Surface.WEBHOOK: "#be185d", Surface.MCP: "#4d7c0f", Surface.SKILLPORT: "#b91c1c", Surface.UNKNOWN: "#9ca3af",
}
# At most this many labelled ticks on each axis: more overlap at the chart's width.
Y_TICKS, X_TICKS = 4, 8
# Days between dated ticks, the smallest that keeps X_TICKS or fewer: a day, a week, a fortnight, about a month...
DATE_STEPS = [1, 2, 7, 14, 28, 56, 91]


def installs_chart(queryset, since=None, until=None, days=30):
    """Bars, axes and legend for the installs in `queryset` between `since` and `until` (dates)."""
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
    y_step = _step(peak)
    top = -(-peak // y_step) * y_step  # the scale ends on a tick, at or above the peak
    axis_y = HEIGHT - BOTTOM
    scale = (axis_y - TOP) / top if top else 0
    step = (WIDTH - LEFT - RIGHT) / span
    bars = []
    for i in range(span):
        day = since + timedelta(days=i)
        y = axis_y
        for surface, label in Surface.choices:
            n = counts.get(day, {}).get(surface, 0)
            if n:
                height = n * scale
                y -= height
                bars.append({"x": round(LEFT + i * step + 1, 1), "y": round(y, 1), "width": round(max(step - 2, 1), 1),
                             "height": round(height, 1), "colour": COLOURS[surface],
                             "title": f"{day:%a} {day.day} {day:%b %Y}: {n} via {label}"})
    date_step = next((d for d in DATE_STEPS if span / d <= X_TICKS), DATE_STEPS[-1])
    # Counted back from `until`, so the last day always has its date.
    x_ticks = [{"x": round(LEFT + (i + 0.5) * step, 1), "label": _short(since + timedelta(days=i))}
               for i in range(span - 1, -1, -date_step)]
    y_ticks = [{"y": round(axis_y - value * scale, 1), "label": f"{value:,}"}
               for value in range(0, top + 1, y_step)] if top else []
    used = {s for c in counts.values() for s in c}
    return {
        "width": WIDTH, "height": HEIGHT, "bars": bars, "total": sum(sum(c.values()) for c in counts.values()),
        "peak": peak, "since": since, "until": until, "axis_y": axis_y, "left": LEFT, "right": WIDTH - RIGHT,
        "x_ticks": x_ticks, "y_ticks": y_ticks, "y_label_x": LEFT - 6, "x_label_y": HEIGHT - 8,
        "legend": [{"label": label, "colour": COLOURS[s]} for s, label in Surface.choices if s in used],
    }


def _step(peak: int) -> int:
    """The gap between labelled counts: 1, 2 or 5 times a power of ten, leaving Y_TICKS or fewer above 0."""
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            if peak <= multiple * magnitude * Y_TICKS:
                return multiple * magnitude
        magnitude *= 10


def _short(day) -> str:
    return f"{day.day} {day:%b}"
