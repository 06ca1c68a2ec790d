"""Query parameters of the API's lists. Skills (here) and audit events (audit.filters) reuse the web pages' FilterSets."""
from datetime import timezone

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from marketplace.filters import SkillFilter
from marketplace.models import Marketplace, Plugin, Status, SyncRun
from marketplace.search import search, validate_query

UPDATED_SINCE = "Only what changed at or after this time (ISO 8601), for incremental consumers."


class UTCDateTimeField(IsoDateTimeField):
    """ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59): compare in UTC instead."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(timezone.utc) if value is not None else None
        except OverflowError:
            raise forms.ValidationError("Give a time between the years 1 and 9999.", code="invalid")


class Since(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class _TextAndSince(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Text in the name or description.",
                                  validators=[validate_query])
    updated_since = Since(field_name="updated_at", lookup_expr="gte", label=UPDATED_SINCE)

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class MarketplaceFilter(_TextAndSince):
    class Meta:
        model = Marketplace
        fields = []


class PluginFilter(_TextAndSince):
    marketplace = django_filters.CharFilter(field_name="marketplace__slug", label="Marketplace slug.")
    category = django_filters.CharFilter(field_name="shown_category", label="Category.")
    tag = django_filters.CharFilter(method="filter_tag", label="Tag.")

    class Meta:
        model = Plugin
        fields = []

    def filter_tag(self, queryset, name, value):
        return queryset.filter(shown_tags__contains=[value])


class ApiSkillFilter(SkillFilter):
    updated_since = Since(field_name="updated_at", lookup_expr="gte", label=UPDATED_SINCE)

    def filter_text(self, queryset, name, value):
        return search(queryset, value, headlines=False)  # the API returns no highlighted snippets


class SyncRunFilter(django_filters.FilterSet):
    marketplace = django_filters.CharFilter(field_name="marketplace__slug", label="Marketplace slug.")
    status = django_filters.ChoiceFilter(choices=Status.choices)
    trigger = django_filters.ChoiceFilter(choices=SyncRun.Trigger.choices)
    since = Since(field_name="started_at", lookup_expr="gte", label="Started at or after.")

    class Meta:
        model = SyncRun
        fields = []
