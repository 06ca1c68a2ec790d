"""add_marketplace and the admin's form refuse what the next sync could not fetch, with a clear message."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketplace.models import Marketplace

from .gitservers import Listener

pytestmark = pytest.mark.django_db


def add(*args):
    out = StringIO()
    call_command("add_marketplace", *args, stdout=out)
    return out.getvalue()


def test_a_slug_over_50_characters_is_a_clear_error(simple_repo):
    with pytest.raises(CommandError, match=r"^--slug: Ensure this value has at most 50 characters \(it has 51\)\.$"):
        add(simple_repo.url, "--slug", "s" * 51)
    with pytest.raises(CommandError, match="^--slug: Enter a valid “slug”"):
        add(simple_repo.url, "--slug", "Not a slug!")
    assert not Marketplace.objects.exists()


def test_a_slug_derived_from_a_long_name_asks_for_one(make_repo):
    repo = make_repo({"README.md": "x"}, name="r" * 60)
    with pytest.raises(CommandError, match="^--slug: Ensure this value has at most 50 characters"):
        add(repo.url)
    assert not Marketplace.objects.exists()


@pytest.mark.parametrize("url, message", [
    ("not a url", "URL_OR_PATH: a git URL cannot contain spaces, control characters or backslashes"),
    ("ftp://example.com/acme/skills.git", "URL_OR_PATH: 'ftp://' URLs are not fetched; use https, http, ssh or git"),
    ("https://github.com/", "URL_OR_PATH: the URL names a host but no repository"),
    ("ext::sh", "URL_OR_PATH: git's 'transport::address' form is not allowed"),
    ("https://user:ghp_x@github.com/acme/skills.git",
     "URL_OR_PATH: Put credentials in the marketplace's access token field, not in the URL."),
    ("/no/such/folder", "URL_OR_PATH: No such folder or repository: /no/such/folder"),
])
def test_urls_no_sync_could_fetch_are_refused(url, message):
    with pytest.raises(CommandError) as error:
        add(url, "--slug", "bad")
    assert str(error.value) == message
    assert not Marketplace.objects.exists()


def test_the_repository_must_answer(tmp_path, settings):
    settings.SKILLPORT_GIT_RETRIES = 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match=r"^Cannot fetch file://.*/empty: git ls-remote failed: .*"
                                           r"Pass --no-check to register it anyway\.$"):
        add(f"file://{tmp_path}/empty", "--slug", "empty")
    assert not Marketplace.objects.exists()


def test_an_internal_host_says_how_to_allow_it_and_is_never_contacted(settings):
    listener = Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}/acme/skills.git"
        with pytest.raises(CommandError, match="^Cannot fetch http://127.0.0.1:[0-9]+/acme/skills.git: 127.0.0.1 is "
                                               "a loopback address; list the host in SKILLPORT_FETCH_ALLOWED_HOSTS"):
            add(url, "--slug", "inside")
        assert listener.connections == 0 and not Marketplace.objects.exists()
        assert "Added marketplace 'inside'" in add(url, "--slug", "inside", "--no-check")
        assert listener.connections == 0
    finally:
        listener.close()


def test_a_ref_the_repository_lacks_is_refused(simple_repo):
    with pytest.raises(CommandError, match=r"^.* has no branch or tag 'nope'\.$"):
        add(simple_repo.url, "--slug", "tools", "--ref", "nope")
    assert "Added" in add(simple_repo.url, "--slug", "tools", "--ref", "main")


def test_a_used_slug_is_not_repointed_without_update(simple_repo, make_repo):
    other = make_repo({"README.md": "other"}, name="other")
    add(simple_repo.url, "--slug", "tools")
    with pytest.raises(CommandError) as error:
        add(other.url, "--slug", "tools")
    assert str(error.value) == (f"Marketplace 'tools' already exists for {simple_repo.url}. Pass --update to point "
                                f"it at {other.url}, or choose another --slug.")
    assert Marketplace.objects.get(slug="tools").git_url == simple_repo.url

    assert "Updated marketplace 'tools'" in add(other.url, "--slug", "tools", "--update")
    assert Marketplace.objects.get(slug="tools").git_url == other.url
    # The same URL again is the same marketplace: its settings change, nothing is repointed.
    assert "Updated" in add(other.url, "--slug", "tools", "--interval", "5")
    assert Marketplace.objects.get(slug="tools").sync_interval == 5 and Marketplace.objects.count() == 1


FORM = {"catalog_path": ".claude-plugin/marketplace.json", "sync_interval": 60, "enabled": "on", "scan_gate": "report", "scan_threshold": "high", "token_reach": "owner"}


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/acme/skills.git", "&#x27;ftp://&#x27; URLs are not fetched"),
    ("https://github.com/", "the URL names a host but no repository"),
    ("not a url", "a git URL cannot contain spaces"),
])
def test_the_admins_form_checks_the_url_the_same_way(admin_client, url, message):
    response = admin_client.post("/admin/marketplace/marketplace/add/", {**FORM, "slug": "bad", "git_url": url})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Marketplace.objects.exists()


def test_setup_demo_registers_the_example_folder_again_and_again():
    call_command("setup_demo", stdout=StringIO())
    call_command("setup_demo", stdout=StringIO())
    example = Marketplace.objects.get(slug="example")
    assert example.status == "ok" and example.skills.count() >= 8
