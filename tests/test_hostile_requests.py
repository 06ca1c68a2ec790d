"""Every URL the project serves, asked with hostile values in its path and its query string: a 4xx or an
answer, never a 5xx.

A sweep like this one, against a running quick start, found `/oauth/clients/%0A/` answering 500 (a redirect
to an admin URL whose pattern refuses a newline). It is kept here so that every route added later is asked
the same questions: each pattern is read from the URL configuration, not listed by hand. The test client
raises what a view raises, so a failure shows its traceback.
"""
import re

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.db import models
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

# Path segments: a newline, a NUL, bytes that are not UTF-8 (a lone surrogate's), overlong text, dot segments
# (plain and escaped), a slash inside a segment, and numbers past any column's range.
SEGMENTS = ["%0A", "%00", "%FF", "%ED%A0%80", "a" * 3000, "..", "%2E%2E%2F%2E%2E", "x%2Fy", "-1", "9" * 25]
# The parameters our views, filters and the API read (a view ignores the rest), and values for them.
PARAMETERS = ("q page sort marketplace plugin category tag surface verdict since until actor action skill outcome "
              "status trigger from to raw next cursor limit offset format page_size relevance path login token").split()
VALUES = ["", "%00", "%FF", "%ED%A0%80", "a" * 3000, "-1", "9" * 25, "1e309", "2026-13-45", "%27%22%3C"]
# Named groups of a regular-expression pattern, and its anchors.
GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")
CONVERTER = re.compile(r"<(?:\w+:)?\w+>")


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The sweeps ask thousands of questions from one address and member: no rate is what they test."""
    for name in dir(django_settings):
        if name.startswith("SKILLPORT_") and name.endswith("_RATE"):
            setattr(settings, name, "1000000/minute")


def routes():
    """Each URL pattern as one template, its parameters written `{}`: Django's own and every app's."""
    def walk(resolver, prefix):
        for entry in resolver.url_patterns:
            pattern = entry.pattern
            part = str(pattern)
            if isinstance(pattern, RegexPattern):
                part = GROUP.sub("{}", part).replace("^", "").replace("$", "").replace("\\Z", "")
            else:
                part = CONVERTER.sub("{}", part)
            if isinstance(entry, URLResolver):
                yield from walk(entry, prefix + part)
            else:
                yield "/" + prefix + part

    return sorted(set(walk(get_resolver(), "")))


def test_the_sweep_reaches_every_app():
    """What the sweeps below ask covers the whole configuration, the admin's and the connector's routes too."""
    found = routes()
    assert len(found) > 200
    for expected in ("/skills/{}/{}/{}/", "/oauth/clients/{}/", "/api/v1/publish-targets/{}/zip/", "/audit/events/{}/",
                     "/admin/marketplace/marketplace/{}/change/", "/proposals/edit/{}/{}/{}/", "/install/{}/"):
        assert expected in found


@pytest.mark.parametrize("who", ["anonymous", "member", "admin"])
def test_hostile_path_segments_never_fail_a_route(client, people, who):
    if who != "anonymous":
        client.force_login(people[who])
    failed = []
    for route in routes():
        count = route.count("{}")
        for segment in SEGMENTS if count else [None]:
            path = route.format(*[segment] * count)
            for method in (client.get, client.post):
                status = method(path).status_code
                if status >= 500:
                    failed.append((method.__name__, path[:120], status))
                if who != "anonymous" and "logout" in route:
                    client.force_login(people[who])  # signed out: the sweep goes on signed in
    assert failed == []


@pytest.mark.parametrize("who", ["anonymous", "member", "admin"])
def test_hostile_query_strings_never_fail_a_page(client, people, simple_repo, synced_marketplace, who):
    market = synced_marketplace(simple_repo, slug="acme")
    if who != "anonymous":
        client.force_login(people[who])
    # Each route's parameters filled in the order a skill's are (marketplace, plugin, skill, file): real pages
    # where that is what the route takes, 404s elsewhere, which also must not fail on the query.
    pages = [route.format(*["acme", "tools", "alpha", "SKILL.md"][:route.count("{}")]) for route in routes()
             if not route.startswith("/admin/") and route.count("{}") <= 4]
    pages += ["/admin/marketplace/skill/", "/admin/marketplace/plugin/", "/admin/marketplace/syncrun/",
              "/admin/audit/auditevent/", f"/admin/marketplace/marketplace/{market.pk}/change/"]
    assert {"/skills/acme/tools/alpha/", "/skills/acme/tools/alpha/files/SKILL.md", "/api/v1/skills/acme/tools/alpha/",
            "/plugins/acme/tools/", "/audit/skills/acme/tools/alpha/"} <= set(pages)
    failed = []
    for page in pages:
        for value in VALUES:
            query = "&".join(f"{name}={value}" for name in PARAMETERS) + f"&q=x&page=2&verdict={value}"
            status = client.get(f"{page}?{query}").status_code
            if status >= 500:
                failed.append((page, value[:20], status))
    assert failed == []


def test_every_admin_action_refuses_a_selection_naming_no_row(client, people, rf):
    """Django's admin ran an action on "abc" as a list of numbers' keys, and failed with a 500: every list's actions,
    ours and other apps', now say so instead."""
    client.force_login(people["admin"])
    asked = rf.get("/admin/")
    asked.user = people["admin"]
    refused = []
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for action in model_admin.get_actions(asked):
            for selection in ("abc", "9" * 25):
                response = client.post(url, {"action": action, helpers.ACTION_CHECKBOX_NAME: [selection], "index": 0},
                                       follow=True)
                assert response.status_code < 500, (url, action, selection)
                if b"The selection names something that is not in this list" in response.content:
                    refused.append((model, selection))
    keyed_by_number = {model for model in admin.site._registry
                       if isinstance(model._meta.pk, (models.AutoField, models.BigAutoField, models.UUIDField))}
    assert len(refused) > 10
    assert {model for model, selection in refused if selection == "abc"} >= {
        model for model in keyed_by_number if admin.site._registry[model].get_actions(asked)}
