"""Filters of the skill catalogue (browser now, the API later): one FilterSet for both."""
import functools

import django_filters
from django import forms
from django.db.models import CharField, Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce

from audit.models import INSTALL_ACTIONS, AuditEvent

from . import caching, rows
from .models import Plugin, Skill
from .search import SORTS, search, validate_query
from .verdicts import Verdict

SURFACES = [("claude_code", "Claude Code"), ("claude_ai", "Claude.ai"), ("claude_desktop", "Claude Desktop")]


# Who a download was by: the GitHub account (which keeps its id through a change of login), else the local username.
PERSON = Coalesce(Cast("actor_github_id", CharField()), "actor_login")


def with_installs(queryset):
    """Annotate `installs`: how many people downloaded each skill's package (audit log), each counted once, so that
    nobody moves a skill up "Most installed" or the home page's popular list by downloading it again and again."""
    downloads = (
        AuditEvent.objects.filter(
            action__in=INSTALL_ACTIONS, marketplace=OuterRef("marketplace__slug"), plugin=OuterRef("plugin__name"),
            skill=OuterRef("slug"),
        )
        .order_by()
        .values("skill")
        .annotate(n=Count(PERSON, distinct=True))
        .values("n")
    )
    return queryset.annotate(installs=Coalesce(Subquery(downloads, output_field=IntegerField()), Value(0)))


def count_installs(skills) -> list:
    """Set `installs` on each of `skills` (a page of cards) that has none yet: one grouped query of the
    audit log for them all (rows.install_counts), where `with_installs` would run a subquery per skill."""
    skills = list(skills)
    wanted = [skill for skill in skills if not hasattr(skill, "installs")]
    targets = [(skill.marketplace.slug, skill.plugin.name, skill.slug) for skill in wanted]
    counts = rows.install_counts(targets)
    for skill, target in zip(wanted, targets):
        skill.installs = counts.get(target, 0)
    return skills


def _choices(pairs):
    return sorted(pairs, key=lambda pair: pair[1].lower())


# The filters whose choices are what the user can see (_visible_choices).
CHOSEN_FROM_PLUGINS = ("marketplace", "plugin", "category", "tag")


def _visible_choices(user):
    """Marketplace, plugin, category and tag choices from the plugins `user` can see."""
    plugins = Plugin.objects.visible_to(user)
    rows = list(plugins.values_list("marketplace__slug", "marketplace__name", "name", "shown_category", "shown_tags"))
    return {
        "marketplace": _choices({(slug, name or slug) for slug, name, *_ in rows}),
        "plugin": _choices({(name, name) for _m, _n, name, _c, _t in rows}),
        "category": _choices({(c, c) for *_, c, _t in rows if c}),
        "tag": _choices(
            {(t, t) for *_, tags in rows for t in tags if isinstance(t, str) and not t.startswith("surface:")}
        ),
    }


class SkillFilter(django_filters.FilterSet):
    """Pass `request=`: the marketplace, plugin, category and tag choices are what its user can see."""

    q = django_filters.CharFilter(method="filter_text", label="Search", validators=[validate_query])
    marketplace = django_filters.ChoiceFilter(field_name="marketplace__slug", label="Marketplace", empty_label="Any")
    plugin = django_filters.ChoiceFilter(field_name="plugin__name", label="Plugin", empty_label="Any")
    category = django_filters.ChoiceFilter(field_name="plugin__shown_category", label="Category", empty_label="Any")
    tag = django_filters.ChoiceFilter(method="filter_tag", label="Tag", empty_label="Any")
    surface = django_filters.ChoiceFilter(choices=SURFACES, method="filter_surface", label="Works in",
                                          empty_label="Any")
    verdict = django_filters.MultipleChoiceFilter(
        choices=Verdict.choices, method="filter_verdicts", label="Only skills that", widget=forms.CheckboxSelectMultiple,
    )
    sort = django_filters.ChoiceFilter(
        choices=[("relevance", "Relevance"), ("name", "Name"), ("updated", "Recently updated"),
                 ("installs", "Most installed")],
        method="filter_sort", empty_label=None, label="Sort by",
    )

    def __init__(self, *args, request=None, matched=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.matched = matched  # see search.search

        @functools.cache
        def choices():
            if request is None:
                return _visible_choices(None)
            # The same for everyone who sees the same plugins, until the catalogue changes.
            return caching.get_or_set(request, lambda: _visible_choices(request.user), "filter choices")

        # Read when a value is checked or the selects are drawn, not on every search: most give only
        # words, the filter panel is cached (views._filter_panel), and reading 500 plugins' choices
        # from the cache cost more than the rest of the form.
        for name in CHOSEN_FROM_PLUGINS:
            self.form.fields[name].choices = functools.partial(lambda name: choices()[name], name)

    class Meta:
        model = Skill
        fields = []

    def through_the_typo_path(self):
        """Search again, correcting the words (search.search, matched=False): for a search whose words
        as written matched nothing. The form was validated once and stays; only the filters run again.
        django-filter keeps the first `qs` it built, in `_qs`."""
        self.matched = False
        self.__dict__.pop("_qs", None)

    def filter_text(self, queryset, name, value):
        return search(queryset, value, matched=self.matched)

    def filter_tag(self, queryset, name, value: str):  # the hint types the API schema's parameter
        return queryset.filter(plugin__shown_tags__contains=[value])

    def filter_surface(self, queryset, name, value):
        return queryset.filter(plugin__surfaces__contains=[value])

    def filter_verdicts(self, queryset, name, values):
        return queryset.filter(**{value: True for value in values})

    def filter_sort(self, queryset, name, value):
        return queryset  # applied in `qs`, after the text search has annotated a score

    @property
    def qs(self):
        queryset = super().qs
        data = self.form.cleaned_data if self.form.is_valid() else {}
        sort = data.get("sort") or ("relevance" if data.get("q") else "name")
        if sort == "installs":
            return with_installs(queryset).order_by("-installs", "name")
        if sort == "relevance" and not data.get("q"):
            sort = "name"
        if sort == "relevance":
            return queryset.order_by(*SORTS["relevance"])
        return queryset.order_by(*SORTS[sort])
