"""The filters of the audit review UI (and, later, the API): one FilterSet for both."""
from datetime import date

import django_filters
from django import forms
from django.core.validators import MinValueValidator
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from marketplace.search import validate_query

from .models import Action, AuditEvent, Outcome, Surface


# The chart reaches up to a year back from `until`, which must stay in the calendar (year 1 at the
# earliest); nothing was recorded before 1970 anyway.
DAYS = [MinValueValidator(date(1970, 1, 1))]


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From",
                                      widget=forms.DateInput(attrs={"type": "date"}), validators=DAYS)
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To",
                                      widget=forms.DateInput(attrs={"type": "date"}), validators=DAYS)
    # Typed, or picked from the datalists the review page sends with the form (views.known_values).
    actor = django_filters.CharFilter(field_name="actor_login", lookup_expr="iexact", label="Actor",
                                      widget=forms.TextInput(attrs={"list": "known-actors", "autocomplete": "off"}))
    action = django_filters.ChoiceFilter(choices=Action.choices)
    marketplace = django_filters.CharFilter()
    plugin = django_filters.CharFilter()
    skill = django_filters.CharFilter(widget=forms.TextInput(attrs={"list": "known-skills", "autocomplete": "off"}))
    surface = django_filters.ChoiceFilter(choices=Surface.choices)
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    q = django_filters.CharFilter(method="search", label="Text", validators=[validate_query])
    sort = django_filters.OrderingFilter(
        fields=(("created_at", "time"), ("action", "action"), ("actor_login", "actor"), ("surface", "surface"),
                ("outcome", "outcome")),
        label="Sort",
    )

    class Meta:
        model = AuditEvent
        fields = []

    def search(self, queryset, name, value):
        """Free text across names, client, network details and the event's extra data."""
        terms = Q()
        for field in ("actor_login", "marketplace", "plugin", "skill", "client_name", "user_agent", "request_id"):
            terms |= Q(**{f"{field}__icontains": value})
        return queryset.annotate(extra_text=Cast("extra", TextField())).filter(terms | Q(extra_text__icontains=value))

    @property
    def qs(self):
        queryset = super().qs
        # The default and tie-breaker order: newest first, stable across pages.
        return queryset if self.form.cleaned_data.get("sort") else queryset.order_by("-created_at", "-id")
