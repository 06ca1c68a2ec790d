"""Events the marketplace features record through the one writer: changes, syncs, sign-ins."""
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from audit.models import Action, AuditEvent, Outcome, Surface
from marketplace.models import Marketplace
from marketplace.sync import sync_marketplace


pytestmark = pytest.mark.django_db


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_admin_add_change_remove_are_recorded_without_secrets(client, people, simple_repo):
    client.force_login(people["admin"])
    form = {"slug": "acme", "git_url": simple_repo.url, "ref": "", "catalog_path": ".claude-plugin/marketplace.json",
            "access_token": "ghp_topsecret", "sync_interval": 60, "enabled": "on", "scan_gate": "report", "scan_threshold": "high", "token_reach": "owner"}
    client.post("/admin/marketplace/marketplace/add/", form, HTTP_USER_AGENT="Mozilla/5.0 Firefox/140.0")
    m = Marketplace.objects.get(slug="acme")
    [added] = events(Action.MARKETPLACE_ADDED)
    assert (added.actor_login, added.marketplace, added.surface) == ("root", "acme", Surface.WEB)
    assert (added.client_name, added.client_version) == ("Firefox", "140.0")
    client.post(f"/admin/marketplace/marketplace/{m.pk}/change/", {**form, "access_token": "ghp_rotated",
                                                                    "sync_interval": 15})
    [changed] = events(Action.MARKETPLACE_CHANGED)
    assert sorted(changed.extra["fields"]) == ["access_token", "sync_interval"]
    # Left empty, the token is kept, and not recorded as changed.
    client.post(f"/admin/marketplace/marketplace/{m.pk}/change/", {**form, "access_token": "", "sync_interval": 30})
    latest = AuditEvent.objects.filter(action=Action.MARKETPLACE_CHANGED).order_by("-id").first()
    assert latest.extra["fields"] == ["sync_interval"]
    assert Marketplace.objects.get(pk=m.pk).access_token == "ghp_rotated"
    client.post(f"/admin/marketplace/marketplace/{m.pk}/change/", {**form, "access_token": "", "token_reach": "server"})
    widened = AuditEvent.objects.filter(action=Action.MARKETPLACE_CHANGED).order_by("-id").first()
    assert "token_reach" in widened.extra["fields"] and widened.extra["token_reach"] == "server"
    client.post(f"/admin/marketplace/marketplace/{m.pk}/delete/", {"post": "yes"})
    [removed] = events(Action.MARKETPLACE_REMOVED)
    assert removed.marketplace == "acme" and not Marketplace.objects.exists()
    dump = str(list(AuditEvent.objects.values()))
    assert "ghp_topsecret" not in dump and "ghp_rotated" not in dump


def test_cli_add_is_recorded(simple_repo):
    call_command("add_marketplace", simple_repo.url, "--slug", "cli-added", stdout=StringIO())
    [added] = events(Action.MARKETPLACE_ADDED)
    assert added.surface == Surface.CLI and added.marketplace == "cli-added" and added.actor is None


def test_syncs_are_recorded_with_counts(simple_repo, make_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    run = sync_marketplace(m.pk, "cli")
    [ok] = events(Action.SYNC_SUCCEEDED)
    assert ok.extra["counts"]["skills"] == 2 and ok.extra["run"] == run.pk
    assert ok.commit == simple_repo.head and ok.surface == Surface.CLI
    sync_marketplace(m.pk)  # unchanged: nothing happened, nothing recorded
    assert len(events(Action.SYNC_SUCCEEDED)) == 1

    simple_repo.commit({".claude-plugin/marketplace.json": "[]"})
    sync_marketplace(m.pk, "schedule")
    [failed] = events(Action.SYNC_FAILED)
    assert failed.outcome == Outcome.ERROR and failed.extra["trigger"] == "schedule"
    assert "not a Claude Code marketplace" in failed.extra["error"] and failed.extra["errors"] == 1


def test_sign_in_is_recorded(client):
    User.objects.create_user("dana", password="pw-for-dana")
    assert client.login(username="dana", password="pw-for-dana")
    [signed_in] = events(Action.SIGN_IN)
    assert signed_in.actor_login == "dana" and signed_in.outcome == Outcome.OK
