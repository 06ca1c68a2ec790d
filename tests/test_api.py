"""The REST API: personas on every endpoint, tokens, errors, paging, throttles and the schema."""
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone

from audit.models import Action, AuditEvent, Surface
from connector.tokens import mint
from marketplace.models import Plugin, Policy, Skill, SyncRun
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

ALL = {"acme/ops-kit/postmortem", "acme/ops-kit/core-runbook", "acme/ops-kit/csv-cleanup", "labs/data-kit/csv-cleanup"}
SEES = {
    "member": ALL - {"acme/ops-kit/core-runbook"},
    "core": ALL,
    "outsider": set(),
    "admin": ALL,
}


@pytest.fixture
def as_(client, people):
    """Sign the test client in as a persona; return it."""
    def sign_in(persona):
        client.force_login(people[persona])
        return client
    return sign_in


def bearer(user, **kwargs):
    return {"HTTP_AUTHORIZATION": f"Bearer {mint(user, **kwargs)}"}


def listed(client, path, key="identifier", **headers):
    response = client.get(path + ("&" if "?" in path else "?") + "page_size=100", **headers)
    assert response.status_code == 200, response.content
    return {item[key] for item in response.json()["results"]}


@pytest.mark.parametrize("persona", SEES)
def test_every_catalogue_endpoint_shows_exactly_what_the_persona_may_see(as_, two_markets, persona):
    client = as_(persona)
    assert listed(client, "/api/v1/skills/") == SEES[persona]
    for identifier in ALL:
        visible = identifier in SEES[persona]
        assert client.get(f"/api/v1/skills/{identifier}/").status_code == (200 if visible else 404), identifier
        link = client.post(f"/api/v1/skills/{identifier}/package-link/")
        assert link.status_code == (201 if visible else 404), identifier
    plugins = {identifier.rsplit("/", 1)[0] for identifier in SEES[persona]}
    assert {(p["marketplace"], p["name"]) for p in client.get("/api/v1/plugins/").json()["results"]} == {
        tuple(name.split("/")) for name in plugins}
    for name in ("acme/ops-kit", "labs/data-kit"):
        assert client.get(f"/api/v1/plugins/{name}/").status_code == (200 if name in plugins else 404)
    markets = {name.split("/")[0] for name in SEES[persona]}
    assert listed(client, "/api/v1/marketplaces/", "slug") == markets
    for slug in ("acme", "labs"):
        assert client.get(f"/api/v1/marketplaces/{slug}/").status_code == (200 if slug in markets else 404)
    results = client.post("/api/v1/check-updates/", {"installed": [{"name": "acme/ops-kit/core-runbook"}]},
                          content_type="application/json").json()["results"]
    assert (results[0]["status"] != "not_found") is ("acme/ops-kit/core-runbook" in SEES[persona])


def test_a_bearer_token_sees_what_its_user_sees(client, two_markets, people):
    headers = bearer(people["member"])
    assert listed(client, "/api/v1/skills/", **headers) == SEES["member"]
    me = client.get("/api/v1/whoami/", **headers).json()
    assert (me["github_login"], me["authenticated_by"], me["scopes"]) == ("orla", "token", ["skills:read"])
    assert me["orgs"] == ["acme"] and me["is_admin"] is False


@pytest.mark.parametrize("token_kwargs, status", [
    ({"resource": []}, 401),                                    # no audience
    ({"resource": ["https://elsewhere.example/mcp"]}, 401),     # a foreign audience
    ({"scope": "skills:write"}, 403),                          # no skills:read
])
def test_tokens_for_another_audience_or_without_the_scope_are_refused(client, two_markets, people, token_kwargs,
                                                                      status):
    response = client.get("/api/v1/skills/", **bearer(people["core"], **token_kwargs))
    assert response.status_code == status and response.json()["detail"]


def test_without_credentials_the_answer_is_401_with_a_bearer_challenge(client, two_markets):
    response = client.get("/api/v1/skills/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer scope="skills:read"'
    assert client.get("/api/v1/skills/", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


def test_an_expired_token_is_refused(client, two_markets, people):
    from oauth2_provider.models import AccessToken

    headers = bearer(people["member"])
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/whoami/", **headers).status_code == 401


def test_a_token_for_another_resource_or_without_skills_read_is_refused(client, two_markets, people):
    member = people["member"]
    foreign = bearer(member, resource=["https://elsewhere.example/mcp"])
    assert client.get("/api/v1/whoami/", **foreign).status_code == 401
    assert client.get("/api/v1/whoami/", **bearer(member, resource=[])).status_code == 401  # valid anywhere: not here
    refused = client.get("/api/v1/whoami/", **bearer(member, scope="skills:write"))
    assert refused.status_code == 403 and refused.json()["detail"] == "The token lacks the skills:read scope."


def test_skill_detail_has_its_files_verdicts_and_install_paths(as_, two_markets):
    detail = as_("member").get("/api/v1/skills/acme/ops-kit/postmortem/").json()
    assert [f["path"] for f in detail["files"]] == ["SKILL.md", "scripts/timeline.py"]
    assert detail["identifier"] == "acme/ops-kit/postmortem" and detail["version"] == "1.2.0"
    assert set(detail["verdicts"]) == {"loads_in_claude_code", "spec_valid", "claude_ai_uploadable", "scan_passed"}
    # The steps the skill page and install_skill give: ops-kit holds a skill orla may not see, so her curated
    # catalogue leaves it out and the skill goes in as a personal skill; the core team installs the plugin.
    install = detail["install"]
    assert install["claude_code"] == {"settings": "", "install": "", "unavailable": (
        "some of its skills, or of the plugins its folder holds, are not shared with you or are prohibited, "
        "and Claude Code installs a plugin's folder whole")}
    assert install["steps"]["CC"][1] == "unzip -o postmortem.skill -d ~/.claude/skills/"
    assert install["steps"]["CD"][0] == "Download postmortem.skill. Do not unzip it." == install["steps"]["CAI"][0]
    assert install["connector_url"].endswith("/mcp")
    core = as_("core").get("/api/v1/skills/acme/ops-kit/postmortem/").json()["install"]
    assert core["claude_code"]["install"] == "/plugin install ops-kit@acme-skills"
    assert json.loads(core["claude_code"]["settings"])["extraKnownMarketplaces"]["acme-skills"]["source"]["url"] \
        .endswith("/m/acme/marketplace.json")
    assert core["steps"]["CC"][1:3] == [core["claude_code"]["settings"], core["claude_code"]["install"]]
    # Never the repository's own `/plugin marketplace add`: it would bypass what the organisation approved.
    assert "/plugin marketplace add" not in json.dumps([install, core])
    plugin = as_("core").get("/api/v1/plugins/acme/ops-kit/").json()
    assert plugin["claude_code"] == core["claude_code"] and core["claude_code"]["unavailable"] == ""
    assert "id" not in detail and detail["api_url"].endswith("/api/v1/skills/acme/ops-kit/postmortem/")


def test_a_page_of_plugins_reads_the_curated_catalogues_once(as_, make_repo, synced_marketplace,
                                                             django_assert_max_num_queries):
    files = {".claude-plugin/marketplace.json": catalog(*[plugin_entry(f"kit-{i}") for i in range(12)], name="big")}
    files.update({f"plugins/kit-{i}/skills/s{i}/SKILL.md": skill_md(f"s{i}") for i in range(12)})
    synced_marketplace(make_repo(files), slug="big", github_url="https://github.com/acme/big.git")
    client = as_("member")
    with django_assert_max_num_queries(6):  # not one more per plugin
        plugins = client.get("/api/v1/plugins/").json()["results"]
    expected = sorted(f"/plugin install kit-{i}@big" for i in range(12))
    assert sorted(p["claude_code"]["install"] for p in plugins) == expected


def test_a_plugin_says_whether_what_members_get_loads_not_the_newest_push(as_, make_repo, synced_marketplace):
    """Under an approval policy, a push that adds a hook waits behind the approved commit, which members still
    install: though its plugin.json no longer loads, the API says the plugin loads, as its page does, until that
    commit moves."""
    repo = make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("app"), name="acme-skills"),
                      "plugins/app/.claude-plugin/plugin.json": json.dumps({"name": "app"}),
                      "plugins/app/skills/s/SKILL.md": skill_md("s")})
    market = synced_marketplace(repo, slug="acme")
    market.requires_approval = True
    market.save(update_fields=["requires_approval"])
    hook = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo hi"}]}]}}
    repo.commit({"plugins/app/.claude-plugin/plugin.json": "{not json", "plugins/app/hooks/hooks.json": json.dumps(hook)})
    assert sync_marketplace(market.pk).status == "partial"
    app = Plugin.objects.get(name="app")
    assert app.loads is False and app.approved_loads is True and app.approved_commit != app.commit
    client = as_("member")
    assert client.get("/api/v1/plugins/acme/app/").json()["loads"] is True
    assert "Claude Code will not load this plugin" not in client.get("/plugins/acme/app/").content.decode()
    Plugin.objects.filter(pk=app.pk).update(approved_loads=False, approved_refusal="its plugin.json is not JSON")
    assert client.get("/api/v1/plugins/acme/app/").json()["loads"] is False


def test_a_package_link_works_once_and_is_audited(as_, two_markets):
    client = as_("member")
    link = client.post("/api/v1/skills/acme/ops-kit/postmortem/package-link/").json()
    path = link["url"].split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "postmortem/SKILL.md" in archive.namelist()
    assert client.get("/" + path).status_code in (404, 410)
    event = AuditEvent.objects.get(action=Action.INSTALL_LINK_ISSUED)
    assert (event.skill, event.surface, event.actor_login) == ("postmortem", Surface.API, "orla")


def test_a_prohibited_skill_gets_no_package_link(as_, two_markets):
    Skill.objects.filter(slug="postmortem").update(policy=Policy.PROHIBITED, policy_reason="Use the new template.")
    response = as_("member").post("/api/v1/skills/acme/ops-kit/postmortem/package-link/")
    assert response.status_code == 403 and "Use the new template." in response.json()["detail"]
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED, skill="postmortem").exists()


def test_check_updates_matches_the_connector(as_, two_markets):
    client = as_("member")
    body = {"installed": [{"name": "ops-kit", "version": "1.0.0"}, {"name": "csv-cleanup", "version": "1"}]}
    answer = client.post("/api/v1/check-updates/", body, content_type="application/json").json()
    statuses = {r.get("skill", r["name"]): r["status"] for r in answer["results"]}
    assert statuses["acme/ops-kit/postmortem"] == "update_available"
    assert statuses["csv-cleanup"] == "ambiguous"
    assert "acme/ops-kit/postmortem" in answer["install_ready"]


@pytest.mark.parametrize("body, field", [
    ({"installed": []}, "installed"),
    ({"installed": [{"version": "1"}]}, "installed[0].name"),
    ({"installed": "ops-kit"}, "installed"),
    ({}, "installed"),
])
def test_bad_input_is_a_400_that_names_the_field(as_, two_markets, body, field):
    response = as_("member").post("/api/v1/check-updates/", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["errors"] and field in response.json()["detail"]


def test_malformed_json_unknown_paths_and_pages_are_clear_4xx(as_, two_markets):
    client = as_("member")
    response = client.post("/api/v1/check-updates/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["detail"]
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404 and "/api/schema/" in response.json()["detail"]
    assert client.get("/api/v1/skills/", {"page": 99}).status_code == 404
    assert client.get("/api/v1/skills/", {"updated_since": "yesterday"}).status_code == 400
    assert client.get("/api/v1/skills/", {"q": "bad\x00"}).status_code == 400
    assert client.get("/api/v1/skills/", {"surface": "fax"}).json()["errors"]["surface"]


def test_search_filters_paging_and_incremental_reads(as_, two_markets):
    client = as_("admin")
    assert listed(client, "/api/v1/skills/?q=postmortm") == {"acme/ops-kit/postmortem"}  # a typo
    assert listed(client, "/api/v1/skills/?marketplace=labs") == {"labs/data-kit/csv-cleanup"}
    page = client.get("/api/v1/skills/", {"page_size": 3, "sort": "name"}).json()
    assert page["count"] == 4 and len(page["results"]) == 3 and "page=2" in page["next"]
    assert len(client.get("/api/v1/skills/", {"page_size": 1000}).json()["results"]) == 4

    since = timezone.now()
    Skill.objects.exclude(slug="postmortem").update(updated_at=since - timedelta(days=1))
    Skill.objects.filter(slug="postmortem").update(updated_at=since + timedelta(seconds=1))
    assert listed(client, f"/api/v1/skills/?updated_since={since.isoformat().replace('+00:00', 'Z')}") == {
        "acme/ops-kit/postmortem"}


def test_sync_runs_and_sync_now_are_for_admins(client, as_, two_markets, people, settings):
    assert as_("member").get("/api/v1/sync-runs/").status_code == 403
    assert as_("member").post("/api/v1/marketplaces/acme/sync/").status_code == 403
    admin = people["admin"]
    runs = client.get("/api/v1/sync-runs/?marketplace=acme", **bearer(admin)).json()["results"]
    assert [r["marketplace"] for r in runs] == ["acme"] and runs[0]["status"] == "ok" and "id" not in runs[0]
    assert client.post("/api/v1/marketplaces/acme/sync/", **bearer(admin)).status_code == 403  # read-only token
    started = client.post("/api/v1/marketplaces/acme/sync/", **bearer(admin, scope="skills:read skills:write"))
    assert started.status_code == 202
    run = started.json()
    assert SyncRun.objects.get(uid=run["uid"]).progress == {"phase": "queued"}
    polled = client.get(run["api_url"].removeprefix(settings.SKILLPORT_BASE_URL), **bearer(admin))
    assert polled.status_code == 200 and polled.json()["uid"] == run["uid"]
    assert client.post("/api/v1/marketplaces/nope/sync/", **bearer(admin, scope="skills:read skills:write")
                       ).status_code == 404


def test_audit_events_are_for_auditors_with_the_review_filters(client, as_, two_markets, people):
    as_("member").post("/api/v1/skills/acme/ops-kit/postmortem/package-link/")
    assert client.get("/api/v1/audit-events/").status_code == 403
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED, actor_login="orla").exists()

    auditor = people["member"]
    auditor.groups.add(Group.objects.get(name="Auditors"))
    events = client.get("/api/v1/audit-events/", {"action": "install_link_issued"}).json()["results"]
    assert [(e["action"], e["skill"], e["surface"]) for e in events] == [("install_link_issued", "postmortem", "api")]
    assert client.get("/api/v1/audit-events/", {"actor": "nobody"}).json()["count"] == 0
    assert client.get("/api/v1/audit-events/", {"action": "made-up"}).status_code == 400


def test_throttles_answer_429_with_retry_after(as_, two_markets, settings):
    settings.SKILLPORT_API_RATE = "3/hour"  # an hour's window: this test does not cross into the next
    cache.clear()
    client = as_("member")
    codes = [client.get("/api/v1/whoami/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/whoami/")
    assert int(response["Retry-After"]) > 0 and "throttled" in response.json()["detail"].lower()
    cache.clear()


def test_the_schema_and_its_documentation_need_no_cdn(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/skills/{marketplace}/{plugin}/{skill}/" in document["paths"]
    assert "token" in document["components"]["securitySchemes"]
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    # Every asset is a path on this server and nothing names another host. (Looking for the word
    # "cdn" failed one run in many: the page's random CSRF token held it.)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]", page, re.IGNORECASE)


def test_the_schema_generates_offline_without_a_warning(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`, as a build would run it: no request, so no
    middleware's `request.bearer` and no publish target in the URL."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/publish-targets/{target}/runs/:" in schema and "besides_skills_scan" in schema
