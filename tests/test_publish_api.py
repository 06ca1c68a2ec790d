"""The publishing endpoints of the REST API: admins only (never a credential), publish queues a run,
runs page and poll, the managed-settings fragment for device management, the latest ZIP."""
import json
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)
from django.utils import timezone

from marketplace.models import Plugin, Policy
from publishing import runs
from publishing.models import Kind, PublishRun, PublishTarget, Status, Trigger

from .test_api import bearer

pytestmark = pytest.mark.django_db
API = "/api/v1/publish-targets/"
WRITE = "skills:read skills:write"


@pytest.fixture
def targets(two_markets):
    acme, labs = two_markets
    Plugin.objects.filter(name="ops-kit").update(policy=Policy.REQUIRED)
    Plugin.objects.filter(name="data-kit").update(policy=Policy.PROHIBITED)
    repo = PublishTarget.objects.create(name="org-repo", kind=Kind.GIT, marketplace_name="acme-org",
                                        repository_url="https://github.com/acme/claude-plugins", credential="ghp_sec")
    zipped = PublishTarget.objects.create(name="upload", kind=Kind.ZIP, marketplace_name="acme-upload")
    devices = PublishTarget.objects.create(name="devices", kind=Kind.MANAGED_SETTINGS, marketplace_name="unused")
    for target in (repo, zipped, devices):
        target.marketplaces.set([acme, labs])
    return {"repo": repo, "zip": zipped, "devices": devices}


@pytest.mark.parametrize("persona, status", [("anonymous", 401), ("member", 403), ("outsider", 403)])
def test_non_admins_get_the_apis_usual_errors(client, people, targets, persona, status):
    if persona != "anonymous":
        client.force_login(people[persona])
    for path in [API, f"{API}org-repo/", f"{API}org-repo/runs/", f"{API}devices/managed-settings/",
                 f"{API}upload/zip/"]:
        response = client.get(path)
        assert response.status_code == status and response.json()["detail"], path
    assert client.post(f"{API}upload/publish/").status_code == status
    assert not PublishRun.objects.exists()


def test_admins_list_targets_with_whether_a_credential_is_stored_never_the_credential(client, people, targets):
    client.force_login(people["admin"])
    listed = client.get(API)
    assert listed.status_code == 200 and b"ghp_sec" not in listed.content
    found = {t["name"]: t for t in listed.json()["results"]}
    assert list(found) == ["devices", "org-repo", "upload"]
    repo = found["org-repo"]
    assert (repo["has_credential"], repo["has_api_key"], repo["kind"]) == (True, False, "git")
    assert repo["marketplaces"] == ["acme", "labs"] and repo["last_run"] is None
    assert "credential" not in repo and "api_key" not in repo and "id" not in repo
    assert repo["api_url"].endswith(f"{API}org-repo/") and repo["runs_url"].endswith(f"{API}org-repo/runs/")
    assert found["upload"]["has_credential"] is False
    assert client.get(f"{API}org-repo/").json() == repo
    missing = client.get(f"{API}nowhere/")
    assert missing.status_code == 404 and missing.json()["detail"]


def test_publish_queues_a_run_to_poll_and_needs_the_write_scope_with_a_token(client, people, targets,
                                                                             django_capture_on_commit_callbacks):
    admin = people["admin"]
    assert client.post(f"{API}upload/publish/", **bearer(admin)).status_code == 403  # a read-only token
    with django_capture_on_commit_callbacks() as sent:
        queued = client.post(f"{API}upload/publish/", **bearer(admin, scope=WRITE))
    assert queued.status_code == 202 and len(sent) == 1
    run = queued.json()
    assert (run["target"], run["status"], run["trigger"], run["progress"]) == ("upload", "queued", "api",
                                                                               {"phase": "queued"})
    stored = PublishRun.objects.get()
    assert run == {**stored.as_json(), "progress": stored.progress, "api_url": run["api_url"]}
    polled = client.get(urlsplit(run["api_url"]).path, **bearer(admin))
    assert polled.status_code == 200 and polled.json()["id"] == run["id"]
    refused = client.post(f"{API}devices/publish/", **bearer(admin, scope=WRITE))
    assert refused.status_code == 400 and "managed-settings" in refused.json()["detail"]
    assert client.post(f"{API}nowhere/publish/", **bearer(admin, scope=WRITE)).status_code == 404


def test_runs_are_paginated_newest_first(client, people, targets):
    client.force_login(people["admin"])
    made = [PublishRun.objects.create(target=targets["repo"], trigger=Trigger.SCHEDULE, status=Status.UNCHANGED)
            for _ in range(3)]
    PublishRun.objects.create(target=targets["zip"], trigger=Trigger.MANUAL)  # another target's
    page = client.get(f"{API}org-repo/runs/", {"page_size": 2}).json()
    assert page["count"] == 3 and "page=2" in page["next"]
    assert [r["id"] for r in page["results"]] == [str(made[2].uid), str(made[1].uid)]
    assert set(page["results"][0]) >= set(made[0].as_json())
    assert client.get(f"{API}upload/runs/{made[0].uid}/").status_code == 404  # not that target's run


def test_the_managed_settings_fragment_for_device_management(client, people, targets):
    client.force_login(people["admin"])
    # ops-kit holds a core-team skill: only the core team's catalogues list it, so only their fragment forces it on.
    assert "ops-kit@acme-skills" not in client.get(f"{API}devices/managed-settings/").json()["enabledPlugins"]
    targets["devices"].audience = ["github:@acme/core"]
    targets["devices"].save(update_fields=["audience"])
    found = client.get(f"{API}devices/managed-settings/")
    assert found.status_code == 200
    assert found.json()["enabledPlugins"] == {"ops-kit@acme-skills": True, "data-kit@labs": False}
    assert set(found.json()["extraKnownMarketplaces"]) == {"acme-skills", "labs"}
    assert len(found.json()["strictKnownMarketplaces"]) == 2
    PublishTarget.objects.filter(name="devices").update(enabled=False)
    off = client.get(f"{API}devices/managed-settings/")
    assert off.status_code == 404 and "turned off" in off.json()["detail"]
    other = client.get(f"{API}upload/managed-settings/")
    assert other.status_code == 404 and "not a Claude Code managed settings target" in other.json()["detail"]


def test_the_latest_zip_or_a_404_that_says_why(client, people, targets):
    client.force_login(people["admin"])
    none_yet = client.get(f"{API}upload/zip/")
    assert none_yet.status_code == 404 and "publish it first" in none_yet.json()["detail"]
    built = runs.zip_path(targets["zip"], "ab" * 32)
    built.parent.mkdir(parents=True)
    built.write_bytes(b"PK zip bytes")
    PublishRun.objects.create(target=targets["zip"], trigger=Trigger.MANUAL, status=Status.PUBLISHED,
                              artifact=built.name)
    download = client.get(f"{API}upload/zip/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert b"".join(download.streaming_content) == b"PK zip bytes"
    assert client.get(f"{API}org-repo/zip/").status_code == 404


def test_answers_with_real_targets_and_runs_conform_to_the_schema(client, people, targets):
    """test_api_schemathesis fuzzes the schema without publish targets; here every endpoint answers about real
    ones (the fuzzer could not guess their names), and each answer is checked against the schema."""
    schema = schemathesis.openapi.from_dict(json.loads(client.get("/api/schema/?format=json").content))
    headers = bearer(people["admin"], scope=WRITE)
    run = PublishRun.objects.create(target=targets["repo"], trigger=Trigger.MANUAL, status=Status.PROPOSED,
                                    commit="a" * 40, pull_request_url="https://github.com/acme/claude-plugins/pull/1",
                                    changes={"added": [{"plugin": "ops-kit", "version": "1.2.0+skillport.x"}]},
                                    finished_at=timezone.now())
    built = runs.zip_path(targets["zip"], "cd" * 32)
    built.parent.mkdir(parents=True)
    built.write_bytes(b"PK")
    PublishRun.objects.create(target=targets["zip"], trigger=Trigger.MANUAL, status=Status.PUBLISHED,
                              artifact=built.name)
    target = "/api/v1/publish-targets/{target}/"
    calls = [
        ("GET", "/api/v1/publish-targets/", {}, 200),
        ("GET", target, {"target": "org-repo"}, 200),
        ("GET", target, {"target": "nowhere"}, 404),
        ("GET", f"{target}runs/", {"target": "org-repo"}, 200),
        ("GET", f"{target}runs/{{run}}/", {"target": "org-repo", "run": str(run.uid)}, 200),
        ("GET", f"{target}managed-settings/", {"target": "devices"}, 200),
        ("GET", f"{target}managed-settings/", {"target": "upload"}, 404),
        ("GET", f"{target}zip/", {"target": "upload"}, 200),
        ("GET", f"{target}zip/", {"target": "devices"}, 404),
        ("POST", f"{target}publish/", {"target": "upload"}, 202),
        ("POST", f"{target}publish/", {"target": "devices"}, 400),
    ]
    for method, path, parameters, expected in calls:
        case = schema[path][method].Case(path_parameters=parameters)
        answer = getattr(client, method.lower())(case.formatted_path, **headers)
        assert answer.status_code == expected, (case.formatted_path, answer.content[:500])
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        prepared = requests.Request(method, f"http://testserver{case.formatted_path}",
                                    headers={"Authorization": headers["HTTP_AUTHORIZATION"]}).prepare()
        case.validate_response(
            schemathesis.Response(status_code=answer.status_code, headers={k: [v] for k, v in answer.items()},
                                  content=content, request=prepared, elapsed=0.0, verify=True),
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_headers_conformance, response_schema_conformance])
