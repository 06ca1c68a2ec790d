"""What an admin changes in the admin reaches the audit log auditors read: accounts and their roles, OAuth clients,
trusted hosts, GitHub accounts unlinked. Django's own history of the admin is not theirs to read."""
import pytest
from django.contrib.auth.models import Group
from oauth2_provider.models import get_application_model

from audit.models import Action, AuditEvent
from connector.models import TrustedHost

from .html_forms import posted_back

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["admin"])
    return client


def admin_events():
    return list(AuditEvent.objects.filter(action=Action.ADMIN_CHANGED).order_by("id"))


def test_making_someone_an_admin_and_an_auditor_is_recorded_with_the_roles_they_now_have(admin_client, people):
    member, auditors = people["member"], Group.objects.get(name="Auditors")
    page = f"/admin/auth/user/{member.pk}/change/"
    response = posted_back(admin_client, page, is_staff="on", is_superuser="on", groups=[str(auditors.pk)])
    assert response.status_code == 302
    [event] = admin_events()
    assert (event.actor_login, event.surface, event.target) == ("root", "web", "user orla")
    assert event.extra["operation"] == "changed" and event.extra["object_id"] == str(member.pk)
    assert "Staff status" in event.extra["change"] and "Superuser status" in event.extra["change"]
    assert event.extra["now"] == {"is_active": True, "is_staff": True, "is_superuser": True, "groups": ["Auditors"],
                                  "user_permissions": []}
    # Taken away again: the event says what they have now.
    posted_back(admin_client, page, is_staff=False, is_superuser=False, groups=[])
    assert admin_events()[-1].extra["now"]["is_superuser"] is False and admin_events()[-1].extra["now"]["groups"] == []


def test_a_password_set_in_the_admin_is_named_never_shown(admin_client, people):
    member = people["member"]
    admin_client.post(f"/admin/auth/user/{member.pk}/password/",
                      {"password1": "a long new passphrase 7", "password2": "a long new passphrase 7"})
    member.refresh_from_db()
    [event] = admin_events()
    assert event.extra["change"] == "Changed password."
    assert member.password not in str(event.extra) and "passphrase" not in str(event.extra)


def test_an_oauth_clients_redirect_uris_trusted_hosts_and_unlinked_accounts_are_recorded(admin_client, people):
    from allauth.socialaccount.models import SocialAccount

    client = get_application_model().objects.create(
        name="Claude", client_type="public", authorization_grant_type="authorization-code",
        redirect_uris="https://claude.ai/api/mcp/auth_callback")
    posted_back(admin_client, f"/admin/oauth2_provider/application/{client.pk}/change/",
                redirect_uris="https://claude.ai/api/mcp/auth_callback https://evil.example/callback")
    posted_back(admin_client, "/admin/connector/trustedhost/add/", host="tools.example.com", note="Our MCP gateway")
    hosts = TrustedHost.objects.all()
    admin_client.post("/admin/connector/trustedhost/", {"action": "delete_selected", "post": "yes",
                                                        "_selected_action": [host.pk for host in hosts]})
    account = SocialAccount.objects.create(user=people["member"], provider="github", uid="1")
    admin_client.post(f"/admin/socialaccount/socialaccount/{account.pk}/delete/", {"post": "yes"})
    changed, added, deleted, unlinked = admin_events()
    assert changed.target == "application Claude"
    assert changed.extra["now"]["redirect_uris"].endswith("https://evil.example/callback")
    assert "client_secret" not in changed.extra["now"] and client.client_secret not in str(changed.extra)
    assert (added.extra["operation"], added.target) == ("added", "trusted client host tools.example.com")
    assert (deleted.extra["operation"], deleted.target) == ("deleted", "trusted client host tools.example.com")
    assert (unlinked.extra["operation"], unlinked.extra["model"]) == ("deleted", "social account")
    assert not TrustedHost.objects.exists() and not SocialAccount.objects.exists()


def test_what_an_admin_records_itself_is_recorded_once(admin_client, simple_repo, synced_marketplace):
    """A marketplace's changes and a skill's curation have events of their own."""
    market = synced_marketplace(simple_repo)
    posted_back(admin_client, f"/admin/marketplace/marketplace/{market.pk}/change/", name="Renamed")
    skill = market.skills.get(name="alpha")
    posted_back(admin_client, f"/admin/marketplace/skill/{skill.pk}/change/", notes="Reviewed")
    assert admin_events() == []
    assert AuditEvent.objects.filter(action=Action.MARKETPLACE_CHANGED).count() == 1
    assert AuditEvent.objects.filter(action=Action.CURATION_CHANGED).count() == 1


def test_the_audit_log_lists_admin_changes_by_what_they_changed(admin_client, people):
    people["member"].groups.add(Group.objects.get(name="Auditors"))
    posted_back(admin_client, "/admin/connector/trustedhost/add/", host="tools.example.com")
    admin_client.force_login(people["member"])
    page = admin_client.get("/audit/?action=admin_changed").content.decode()
    assert "Changed in the admin" in page and "trusted client host tools.example.com" in page
