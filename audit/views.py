"""The audit review UI: find, read, chart and export events. Auditors only."""
import json
from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from marketplace.models import GitHubIdentity, Skill

from . import record
from .chart import installs_chart
from .export import csv_lines, jsonl_lines
from .filters import AuditEventFilter
from .models import Action, AuditEvent, Outcome

PERMISSION = "audit.review_auditevent"
REFUSED = "Reviewing the audit log needs membership of the Auditors group."


def may_review(request) -> bool:
    """Whether the signed-in user may review the audit log; a refusal is itself an audit event."""
    if request.user.has_perm(PERMISSION):
        return True
    record(Action.ACCESS_DENIED, request=request, outcome=Outcome.DENIED, extra={"path": request.path})
    return False


def auditor_required(view):
    """Anonymous users sign in first; signed-in users without the permission get a 403 (audited)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not may_review(request):
            raise PermissionDenied(REFUSED)
        return view(request, *args, **kwargs)

    return wrapper


def known_values(user) -> dict:
    """What the actor and skill filters suggest: everyone who has an account (by the login events name
    them by), and the skills `user` may see in the catalogue. Both may be typed too: events keep the
    names of accounts and skills that are gone."""
    logins = {*GitHubIdentity.objects.values_list("login", flat=True),
              *get_user_model().objects.filter(github__isnull=True).values_list("username", flat=True)}
    skills = (Skill.objects.visible_to(user).order_by("marketplace__slug", "plugin__name", "slug")
              .values_list("marketplace__slug", "plugin__name", "slug"))
    return {"actors": sorted(logins, key=str.lower), "skills": list(skills)}


def _listing(request, base, heading, scope=None):
    events = AuditEventFilter(request.GET, queryset=base)
    # A filter that cannot be used (a date out of range, a search past the limits) lists nothing,
    # and the form says why.
    valid = events.is_valid()
    found = events.qs if valid else base.none()
    cleaned = events.form.cleaned_data if valid else {}
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/event_list.html", {
        "filter": events,
        "page": page,
        "heading": heading,
        "scope": scope,
        "chart": installs_chart(found, cleaned.get("since"), cleaned.get("until")),
        "query": query.urlencode(),
        "known": known_values(request.user),
    }, status=200 if valid else 400)


@auditor_required
def event_list(request):
    return _listing(request, AuditEvent.objects.all(), "Audit log")


@auditor_required
def event_detail(request, pk):
    event = get_object_or_404(AuditEvent, pk=pk)
    extra_json = json.dumps(event.extra, indent=2, sort_keys=True)
    return render(request, "audit/event_detail.html", {"event": event, "extra_json": extra_json})


@auditor_required
def skill_history(request, marketplace, plugin, skill):
    base = AuditEvent.objects.filter(marketplace=marketplace, plugin=plugin, skill=skill)
    return _listing(request, base, f"History of {marketplace}/{plugin}/{skill}", scope="skill")


@auditor_required
def user_history(request, login):
    return _listing(request, AuditEvent.objects.filter(actor_login__iexact=login), f"Activity of {login}", scope="user")


@auditor_required
def export(request, fmt):
    events = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
    if not events.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in events.errors.items())
        return HttpResponseBadRequest(f"Nothing exported: {problems}", content_type="text/plain; charset=utf-8")
    filters = {k: v for k, v in request.GET.items() if v}
    record(Action.AUDIT_EXPORTED, request=request, extra={"format": fmt, "filters": filters})
    lines, content_type = (csv_lines, "text/csv") if fmt == "csv" else (jsonl_lines, "application/x-ndjson")
    response = StreamingHttpResponse(lines(events.qs), content_type=f"{content_type}; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="skillport-audit-{stamp}.{fmt}"'
    return response
