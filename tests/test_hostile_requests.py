"""Every URL the project serves, asked with hostile values in its path and its query string: a 4xx or an
answer, never a 5xx.

A sweep like this one, against a running quick start, found `/oauth/clients/%0A/` answering 500 (a redirect
to an admin URL whose pattern refuses a newline). It is kept here so that every route added later is asked
the same questions: each pattern is read from the URL configuration, not listed by hand, and each kind of
object a route takes is made for real, so its page is read as well as its 404 (which found every admin change
and delete page answering `?_to_field=` with a 500). Every form a page shows is posted back as a browser would
send it, one field at a time hostile (which found allauth's GitHub account form storing 1e309, infinity, in a JSON
column PostgreSQL refuses). The connector's tools and resource reads are asked the same through the official MCP
client (which found half a surrogate pair failing every tool), and the admin is read by a staff member who may only
view (which found a publish target's page failing). The test client raises what a view raises, so a failure shows
its traceback.
"""
import logging
from urllib.parse import urlencode, urljoin

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.db import models
from django.urls import reverse

from .html_forms import Forms
from .url_routes import named_routes, routes

# Path segments: a newline, a NUL, bytes that are not UTF-8 (a lone surrogate's), overlong text, dot segments
# (plain and escaped), a slash inside a segment, and numbers past any column's range.
SEGMENTS = ["%0A", "%00", "%FF", "%ED%A0%80", "a" * 3000, "..", "%2E%2E%2F%2E%2E", "x%2Fy", "-1", "9" * 25]
# The parameters our views, filters and the API read (a view ignores the rest), and values for them.
PARAMETERS = ("q page sort marketplace plugin category tag surface verdict since until actor action skill outcome "
              "status trigger from to raw next cursor limit offset format page_size relevance path login token").split()
VALUES = ["", "%00", "%FF", "%ED%A0%80", "a" * 3000, "-1", "9" * 25, "1e309", "2026-13-45", "%27%22%3C"]


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The sweeps ask thousands of questions from one address and member: no rate is what they test."""
    for name in dir(django_settings):
        if name.startswith("SKILLPORT_") and name.endswith("_RATE"):
            setattr(settings, name, "1000000/minute")


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


@pytest.fixture
def real_objects(client, people, simple_repo, synced_marketplace):
    """One real object of each kind a route takes, made as people make them, keyed by (route, argument) or argument."""
    from oauth2_provider.models import get_application_model

    from audit.models import AuditEvent
    from authoring.models import Proposal
    from connector.models import CatalogueToken, InstallLink
    from marketplace.models import Skill
    from publishing.models import Kind, PublishRun, PublishTarget, Trigger

    market = synced_marketplace(simple_repo, slug="acme", contributors=["*"])
    skill = Skill.objects.get(plugin__marketplace=market, name="alpha")
    target = PublishTarget.objects.create(name="org-repo", kind=Kind.GIT, marketplace_name="acme-org")
    published = PublishRun.objects.create(target=target, trigger=Trigger.MANUAL)
    client.force_login(people["member"])
    client.post(reverse("connector:catalogue-tokens"), {"name": "laptop"})
    client.get(reverse("marketplace:download", args=["acme", "tools", "alpha"]))
    client.logout()
    application = get_application_model().objects.create(
        name="Claude", client_type="public", authorization_grant_type="authorization-code",
        redirect_uris="https://claude.ai/api/mcp/auth_callback")
    proposal = Proposal.objects.create(marketplace=market, proposer=people["member"], kind="edit", plugin="tools",
                                       skill="alpha", branch="skillport/alpha")
    return {
        "marketplace": "acme", "plugin": "tools", "skill": "alpha", "path": "SKILL.md",
        "target": target.name, "login": people["member"].username,
        ("api:syncrun-detail", "run"): market.first_run.uid, ("api:publishtarget-run", "run"): published.uid,
        ("audit:event", "pk"): AuditEvent.objects.latest("pk").pk, ("authoring:proposal", "pk"): proposal.pk,
        ("connector:catalogue-token-revoke", "token"): CatalogueToken.objects.get(user=people["member"]).pk,
        ("connector:download", "token"): InstallLink.issue(people["member"], skill, surface="api")[1],
        "object_id": application.pk, "client_id": application.client_id,
    }


@pytest.mark.parametrize("who", ["anonymous", "member", "admin"])
def test_pages_of_every_kind_of_real_object_never_fail_on_a_hostile_query(client, people, real_objects, who):
    """Every route that takes arguments, given a real object of the kind it takes (a publish target, a sync or
    publish run, an audit event, a proposal, a token, an OAuth client): the pages the path sweep reaches only
    with hostile arguments, read here with hostile query strings."""
    pages = []
    for name, arguments in named_routes():
        missing = [a for a in arguments if (name, a) not in real_objects and a not in real_objects]
        assert not missing, f"no real object for {name}'s {missing}: add one to real_objects"
        pages.append(reverse(name, kwargs={a: real_objects.get((name, a), real_objects.get(a)) for a in arguments}))
    assert {"/api/v1/publish-targets/org-repo/", "/proposals/" + str(real_objects["authoring:proposal", "pk"]) + "/",
            "/audit/users/orla/", f"/oauth/clients/{real_objects['object_id']}/"} <= set(pages)
    if who != "anonymous":
        client.force_login(people[who])
    failed = []
    for page in pages:
        for value in VALUES:
            query = "&".join(f"{name}={value}" for name in PARAMETERS)
            status = client.get(f"{page}?{query}").status_code
            if status >= 500:
                failed.append((page, value[:20], status))
    assert failed == []


@pytest.fixture
def admin_rows(people, real_objects):
    """real_objects, and a row of each kind they leave out, so that every list of the admin has one."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount
    from oauth2_provider.models import get_application_model, get_refresh_token_model

    from connector.models import Consent, TrustedHost
    from marketplace.models import Marketplace, WebhookDelivery

    member, application = people["member"], get_application_model().objects.get(pk=real_objects["object_id"])
    SocialAccount.objects.create(user=member, provider="github", uid="1", extra_data={"login": "orla"})
    EmailAddress.objects.create(user=member, email="orla@example.com", verified=True, primary=True)
    Consent.objects.create(user=member, application=application, redirect_uri=application.redirect_uris,
                           scope="skills:read")
    TrustedHost.objects.create(host="git.example.com")
    WebhookDelivery.objects.create(marketplace=Marketplace.objects.get(), event="push",
                                   result=WebhookDelivery.Result.choices[0][0])
    get_refresh_token_model().objects.create(user=member, application=application, token="r" * 40)
    return real_objects


# What the admin's pages read from a query string besides a list's filters: its sort, page, search, popup and
# related-field parameters, and the filters a change page carries back to its list.
ADMIN_PARAMETERS = "o p q e all _popup _to_field _changelist_filters _facets action".split()


def test_every_admin_page_of_a_real_row_never_fails_on_a_hostile_query(client, people, admin_rows, rf):
    """Every registered model's list, and the change, history and delete pages of a real row of it."""
    client.force_login(people["admin"])
    asked = rf.get("/admin/")
    asked.user = people["admin"]
    pages, changed = [], set()
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{prefix}_changelist"))
        row = model_admin.get_queryset(asked).first()
        if row is not None:
            changed.add(model)
            pages += [reverse(f"{prefix}_{page}", args=[row.pk]) for page in ("change", "history")]
            if model_admin.has_delete_permission(asked, row):
                pages.append(reverse(f"{prefix}_delete", args=[row.pk]))
    assert changed == set(admin.site._registry)
    failed = []
    for page in pages:
        for value in VALUES:
            query = "&".join(f"{name}={value}" for name in ADMIN_PARAMETERS + PARAMETERS)
            status = client.get(f"{page}?{query}").status_code
            if status >= 500:
                failed.append((page, value[:20], status))
    assert failed == []


# Field values no form of ours should fail on: control and overlong text, numbers past any column, malformed
# dates, JSON and lists nested past Python's recursion limit, markup.
FIELD_VALUES = ["\x00", "a" * 3000, "-1", "9" * 25, "1e309", "2026-13-45", "[" * 5000, '{"a": ' * 3000, "<b>x</b>"]


def post_back(client, action, fields, editable=lambda name: True):
    """Post `fields` to `action` once for each hostile value of each editable field, the others as they were: the
    posts that failed with a 5xx."""
    failed = []
    for name in dict.fromkeys(name for name, value in fields if name != "csrfmiddlewaretoken" and editable(name)):
        for value in FIELD_VALUES:
            data = urlencode([(field, value if field == name else current) for field, current in fields])
            status = client.post(action, data, content_type="application/x-www-form-urlencoded").status_code
            if status >= 500:
                failed.append((action, name, value[:10], status))
    return failed


def test_every_admin_form_posted_back_with_a_hostile_field_never_fails(client, people, admin_rows, rf):
    """Each registered model's add form, and its change form of a real row, posted back as a browser would with one
    field at a time set to a hostile value: a form error or a save, never a 5xx."""
    client.force_login(people["admin"])
    asked = rf.get("/admin/")
    asked.user = people["admin"]
    forms, failed = [], []
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        if model_admin.has_add_permission(asked):
            forms.append((model, reverse(f"{prefix}_add")))
        row = model_admin.get_queryset(asked).first()
        if row is not None and model_admin.has_change_permission(asked, row):
            forms.append((model, reverse(f"{prefix}_change", args=[row.pk])))
    for model, page in forms:
        [form] = [form for form in Forms(client.get(page).content.decode()).forms
                  if form["id"] == f"{model._meta.model_name}_form"]
        # An inline's first row stands for the rest.
        failed += post_back(client, page, form["fields"], lambda name: "-" not in name or "-0-" in name)
    assert {(model._meta.label, page.rsplit("/", 2)[-2]) for model, page in forms} >= {
        (label, page) for label in ("marketplace.Marketplace", "publishing.PublishTarget", "connector.TrustedHost",
                                    "oauth2_provider.Application", "auth.User") for page in ("add", "change")
    } | {("marketplace.Plugin", "change"), ("marketplace.Skill", "change")}
    assert failed == []


@pytest.mark.parametrize("who", ["member", "admin"])
def test_every_form_of_our_pages_posted_back_with_a_hostile_field_never_fails(client, people, real_objects, who,
                                                                             settings):
    """The forms of every page outside the admin (a skill's, the connector's tokens, proposals), each posted back
    with one field at a time set to a hostile value."""
    settings.SKILLPORT_SCANNERS = []  # a proposal's scan takes seconds; what a form does with its fields is asked here
    pages = [route for route in routes() if "{}" not in route and not route.startswith("/admin/")]
    pages += [reverse(name, kwargs={a: real_objects.get((name, a), real_objects.get(a)) for a in arguments})
              for name, arguments in named_routes()]
    client.force_login(people[who])
    posted, failed = set(), []
    for page in pages:
        response = client.get(page)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for form in Forms(response.content.decode()).forms:
            if form["method"] == "post":
                action = urljoin(page, form["action"])
                failed += post_back(client, action, form["fields"])
                posted.add(action)
                client.force_login(people[who])  # a sign-out form signed them out
    assert {"/connect/tokens/", "/proposals/edit/acme/tools/alpha/"} <= posted
    assert failed == []


# Arguments the connector's tools could be sent: hostile text (a NUL, a lone surrogate, 20,000 characters, paths out of
# a folder, a resource URI), numbers past any column or page, and each JSON type where another is expected.
ARGUMENTS = ["", "\x00", "\ud800", "a" * 20000, "../../../etc/passwd", "acme/tools/alpha/../../..", "%", "'\"<",
             "skill://acme/tools/alpha/..%2F..%2Fx", -1, 0, 10**30, 1.5, 1e308, True, None, [], {}, ["a"] * 500,
             [{"name": "acme/tools/alpha", "version": "9" * 400}], {"name": {"name": {"name": "x"}}}]
RESOURCES = [f"skill://acme/tools/alpha/{path}" for path in ("SKILL.md", "\x00", "\ud800", "%00", "%ED%A0%80", "..", "../..",
                                                            "a" * 5000, "%2E%2E/%2E%2E/x")] + ["skill://\ud800/x/y/z", "file:///etc/passwd"]
# A valid call of each tool, which the sweep changes one argument at a time.
VALID_CALLS = {
    "search_skills": {"query": "alpha"}, "list_skills": {}, "get_skill": {"name": "acme/tools/alpha"},
    "read_skill_file": {"name": "acme/tools/alpha", "path": "SKILL.md"}, "install_skill": {"name": "acme/tools/alpha"},
    "check_updates": {"installed": [{"name": "acme/tools/alpha", "version": "1.0.0"}]}, "whoami": {},
    "propose_skill": {"marketplace": "acme", "plugin": "tools", "skill": "alpha", "files": {"SKILL.md": "x"},
                      "message": "x"},
    "propose_removal": {"marketplace": "acme", "plugin": "tools", "skill": "alpha", "message": "x"},
    "my_proposals": {},
}


def test_every_connector_tool_answers_hostile_arguments_with_a_tool_error_never_a_crash(
        transactional_db, people, simple_repo, synced_marketplace, caplog):
    """Through the official MCP client: each tool's every argument (and each field of an object argument) set in turn
    to each hostile value. A crash comes back as the SDK's bare "Error executing tool <name>", logged as an error."""
    from mcp.shared.exceptions import MCPError
    from mcp.types import INTERNAL_ERROR

    from .mcp_client import session

    synced_marketplace(simple_repo, slug="acme")

    async def sweep(client):
        tools = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        assert set(tools) == set(VALID_CALLS)
        crashed = []
        for name, schema in tools.items():
            paths = [[key] for key in schema.get("properties", {})]
            paths += [[key, field] for key, value in schema.get("properties", {}).items()
                      for field in _object_fields(schema, value)]
            for path, value in ((path, value) for path in paths for value in ARGUMENTS):
                arguments = _with(VALID_CALLS[name], path, value)
                try:
                    result = await client.call_tool(name, arguments)
                except MCPError as error:
                    crashed.append((name, path, repr(value)[:20], error.error.message))
                    continue
                text = " ".join(getattr(part, "text", "") for part in result.content)
                if text.startswith(f"Error executing tool {name}") and ": " not in text:
                    crashed.append((name, path, repr(value)[:20], text[:100]))
        for uri in RESOURCES:
            try:
                await client.read_resource(uri)
            except MCPError as error:
                if error.error.code == INTERNAL_ERROR:
                    crashed.append(("resources/read", uri[:40], error.error.message))
        return crashed

    with caplog.at_level(logging.INFO):
        assert session(people["member"], sweep) == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert len([record for record in caplog.records if "rejected arguments" in record.getMessage()]) > 100


def _object_fields(schema, value):
    """The fields of an argument whose schema is an object (directly, through $ref or anyOf)."""
    for option in [value, *value.get("anyOf", [])]:
        ref = option.get("$ref", "")
        fields = schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {}) if ref else option
        yield from fields.get("properties", {})


def _with(arguments, path, value):
    """`arguments` with the argument at `path` (a name, or a name and a field of it) set to `value`."""
    changed = dict(arguments)
    if len(path) == 1:
        changed[path[0]] = value
    else:
        changed[path[0]] = {**(changed.get(path[0]) if isinstance(changed.get(path[0]), dict) else {}), path[1]: value}
    return changed


def test_a_staff_member_who_may_only_view_reads_the_admin_and_changes_nothing(client, people, admin_rows, rf):
    """Every admin page of a real row, and every change form posted back as the superuser's browser would send it,
    by a staff member whose only permissions are to view: pages or 403s, never a 5xx, and nothing saved."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import Permission, User

    from audit.models import Action, AuditEvent

    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    asked = rf.get("/admin/")
    asked.user = people["admin"]
    client.force_login(people["admin"])
    pages, forms = ["/admin/"], []
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{prefix}_changelist"))
        if (row := model_admin.get_queryset(asked).first()) is not None:
            pages += [reverse(f"{prefix}_{page}", args=[row.pk]) for page in ("change", "history", "delete")]
            if model_admin.has_change_permission(asked, row):
                page = reverse(f"{prefix}_change", args=[row.pk])
                forms += [(page, form["fields"]) for form in Forms(client.get(page).content.decode()).forms
                          if form["id"] == f"{model._meta.model_name}_form"]
    assert len(forms) > 5
    client.force_login(viewer)
    logged, changed = LogEntry.objects.count(), AuditEvent.objects.filter(action=Action.ADMIN_CHANGED).count()
    answers = {page: client.get(page).status_code for page in pages}
    answers.update({f"POST {page}": client.post(page, urlencode(fields), content_type="application/x-www-form-urlencoded")
                    .status_code for page, fields in forms})
    assert {page: status for page, status in answers.items() if status >= 500 or status == 200 and "POST" in page} == {}
    assert answers["/admin/"] == 200 and answers[reverse("admin:marketplace_marketplace_changelist")] == 200
    assert LogEntry.objects.count() == logged
    assert AuditEvent.objects.filter(action=Action.ADMIN_CHANGED).count() == changed
