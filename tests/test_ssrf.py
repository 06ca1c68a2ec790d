"""Fetches reach only public addresses, or hosts an operator allowed; members never read git's network errors."""
import json
import time

import pytest

from marketplace import addresses
from marketplace.models import Marketplace, Plugin, Status
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, run_command, skill_md
from .gitservers import GitHTTPServer, Listener

pytestmark = pytest.mark.django_db
GENERIC = "it could not be reached or read"


@pytest.fixture
def listener():
    """Something on loopback that a catalogue must not be able to make Skillport touch."""
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def git_http(tmp_path):
    server = GitHTTPServer(tmp_path / "served")
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SKILLPORT_GIT_RETRIES = 0
    settings.SKILLPORT_GIT_CONNECT_TIMEOUT = 2


def loopback_urls(port):
    """The loopback listener, spelled every way a naive check misses."""
    return [
        f"http://127.0.0.1:{port}/acme/skills.git",
        f"http://2130706433:{port}/acme/skills.git",  # decimal
        f"http://0x7f.1:{port}/acme/skills.git",  # hex, short form
        f"http://0177.0.0.1:{port}/acme/skills.git",  # octal
        f"http://localhost:{port}/acme/skills.git",
        f"https://github.com@127.0.0.1:{port}/acme/skills.git",  # userinfo: the host is 127.0.0.1
        f"http://[::ffff:127.0.0.1]:{port}/acme/skills.git",  # IPv4-mapped IPv6
        f"git://127.0.0.1:{port}/acme/skills.git",
        f"ssh://git@127.0.0.1:{port}/acme/skills.git",
    ]


SPELLINGS = ["ip", "decimal", "hex", "octal", "localhost", "userinfo", "ipv4-mapped", "git", "ssh"]


@pytest.mark.parametrize("allowed", [[], ["github.com", "git.internal.example.com", "10.0.0.0/8"]],
                         ids=["no-allow-list", "other-hosts-allowed"])
@pytest.mark.parametrize("spelling", range(len(SPELLINGS)), ids=SPELLINGS)
def test_a_marketplace_on_loopback_is_never_contacted(listener, settings, allowed, spelling):
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = allowed
    url = loopback_urls(listener.port)[spelling]
    market = Marketplace.objects.create(slug="inside", git_url=url)
    run = sync_marketplace(market.pk)
    assert run.status == Status.FAILED
    [problem] = run.problems
    assert problem["code"] == "fetch-failed" and GENERIC in problem["message"]
    assert "loopback" in problem["detail"] and "SKILLPORT_FETCH_ALLOWED_HOSTS" in problem["detail"]
    assert listener.connections == 0


@pytest.mark.parametrize("source", [
    lambda port: {"source": "url", "url": f"http://127.0.0.1:{port}/p.git"},
    lambda port: {"source": "url", "url": f"http://2130706433:{port}/p.git"},
    lambda port: {"source": "git-subdir", "url": f"http://[::ffff:7f00:1]:{port}/p.git", "path": "plugins/p"},
    lambda port: {"source": "git-subdir", "url": f"git://localhost:{port}/p.git", "path": "plugins/p"},
], ids=["url", "url-decimal", "git-subdir-mapped", "git-subdir-git"])
@pytest.mark.parametrize("allowed", [[], ["git.internal.example.com"]], ids=["no-allow-list", "other-host-allowed"])
def test_url_and_git_subdir_sources_on_loopback_are_never_contacted(make_repo, listener, settings, source, allowed):
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = allowed
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("tools"), plugin_entry("inside", source(listener.port)),
        ),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha"),
    })
    market = Marketplace.objects.create(slug="m", git_url=repo.url)
    run = sync_marketplace(market.pk)
    assert run.status == Status.PARTIAL
    [problem] = [p for p in run.problems if p["code"] == "source-fetch-failed"]
    assert problem["message"].endswith(GENERIC) and "loopback" in problem["detail"]
    assert listener.connections == 0
    assert Plugin.objects.get(marketplace=market, name="tools").skills.count() == 1  # the rest syncs


@pytest.mark.parametrize("host, reason", [
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("[fe80::1]", "link-local"),
    ("10.1.2.3", "private"),
    ("192.168.0.10", "private"),
    ("100.64.0.1", "private"),  # carrier-grade NAT
    ("[fd00::1]", "private"),  # unique local
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("[::1]", "loopback"),
    ("[::ffff:169.254.169.254]", "link-local"),  # IPv4-mapped
    ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 of the metadata service
    ("[2002:a00:1::]", "private"),  # 6to4 of 10.0.0.1
    ("2852039166", "link-local"),  # 169.254.169.254 as one decimal number
])
def test_internal_addresses_are_refused_before_any_connection(host, reason):
    started = time.monotonic()
    with pytest.raises(addresses.Refused, match=reason):
        addresses.resolve(addresses.parse(f"https://{host}/latest/meta-data.git"))
    assert time.monotonic() - started < 1  # refused, not tried


@pytest.mark.parametrize("url, message", [
    ("file:///etc/skillport.git", "'file://' URLs are not fetched"),
    ("ext::sh", "transport::address"),
    ("fd::3", "transport::address"),
    ("ftp://example.com/x.git", "'ftp://' URLs are not fetched"),
    ("https://example.com\\@127.0.0.1/x.git", "backslashes"),
    ("https://exa mple.com/x.git", "spaces"),
    ("ssh://-oProxyCommand=touch%20x/y", "not a plain host name"),
    ("-oProxyCommand=x:y", "not a git URL"),
    ("https://github.com/", "no repository"),
])
def test_urls_that_could_be_read_two_ways_are_refused(url, message):
    with pytest.raises(addresses.InvalidURL, match=message):
        addresses.parse(url)


def test_allow_listed_hosts_are_fetched(make_repo, git_http, settings):
    plugin = make_repo({"skills/beta/SKILL.md": skill_md("beta")}, name="plugin")
    market = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("tools"),
            plugin_entry("remote", {"source": "url", "url": git_http.publish(plugin, "plugin")}),
        ),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha"),
    }, name="market")
    m = Marketplace.objects.create(slug="internal", git_url=git_http.publish(market, "market"))
    assert sync_marketplace(m.pk).status == Status.FAILED and git_http.requests == []

    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    assert run.commit == market.head and run.skills == 2
    assert any(path.startswith("/plugin.git/") for path in git_http.requests)


def test_an_allowed_network_admits_its_addresses(make_repo, git_http, settings):
    market = make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
                        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha")})
    m = Marketplace.objects.create(slug="internal", git_url=git_http.publish(market, "market"))
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["10.0.0.0/8", "::1/128"]
    assert sync_marketplace(m.pk).status == Status.FAILED and git_http.requests == []
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["10.0.0.0/8", "127.0.0.0/8"]
    assert sync_marketplace(m.pk).status == Status.OK


def test_redirects_are_not_followed(make_repo, tmp_path, listener, settings):
    """A redirect would lead git to an address nobody checked."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    elsewhere = f"http://localhost:{listener.port}/inside.git/info/refs?service=git-upload-pack"
    server = GitHTTPServer(tmp_path / "served", answer=lambda path: (302, {"Location": elsewhere}))
    try:
        m = Marketplace.objects.create(slug="moved", git_url=f"http://127.0.0.1:{server.port}/moved.git")
        run = sync_marketplace(m.pk)
    finally:
        server.close()
    assert run.status == Status.FAILED and run.problems[0]["code"] == "fetch-failed"
    assert server.requests and listener.connections == 0


def test_a_git_port_that_never_answers_fails_within_the_connect_timeout(listener, settings):
    """git:// has no timeout of its own: this used to hold the sync for SKILLPORT_GIT_TIMEOUT (300 s)."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SKILLPORT_GIT_CONNECT_TIMEOUT = 1
    m = Marketplace.objects.create(slug="silent", git_url=f"git://127.0.0.1:{listener.port}/acme/skills.git")
    started = time.monotonic()
    run = sync_marketplace(m.pk)
    assert time.monotonic() - started < 10
    assert run.status == Status.FAILED and "timed out" in run.problems[0]["detail"]
    assert listener.connections == 1


def test_a_fetch_never_runs_past_the_git_timeout(listener, settings):
    """Whatever stalls after the connection, the whole fetch stops at SKILLPORT_GIT_TIMEOUT, helpers
    included: git's own HTTP helper had outlived git, holding its connection open for good."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SKILLPORT_GIT_TIMEOUT = 2
    settings.SKILLPORT_GIT_CONNECT_TIMEOUT = 30
    m = Marketplace.objects.create(slug="slow", git_url=f"http://127.0.0.1:{listener.port}/acme/skills.git")
    started = time.monotonic()
    run = sync_marketplace(m.pk)
    assert time.monotonic() - started < 10
    assert run.status == Status.FAILED and "timed out" in run.problems[0]["detail"]
    assert listener.connections >= 1 and listener.all_closed(within=5)


# -- who reads what ----------------------------------------------------------------------------


@pytest.fixture
def failing(make_repo, listener, settings):
    """A marketplace whose `url` source points inside, and one that is itself inside; both synced."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("tools"),
            plugin_entry("inside", {"source": "url", "url": f"http://127.0.0.1:{listener.port}/p.git"}),
        ),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha"),
    })
    partial = Marketplace.objects.create(slug="partial", git_url=repo.url)
    failed = Marketplace.objects.create(slug="failed", git_url=f"http://127.0.0.1:{listener.port}/m.git")
    for market in (partial, failed):
        sync_marketplace(market.pk)
    return partial, failed


def details(run_problems):
    found = [p["detail"] for p in run_problems if p.get("detail")]
    assert found and all("127.0.0.1 is a loopback address" in d for d in found)
    return found


def test_members_read_a_generic_error_on_every_page_and_in_the_api(client, people, failing):
    partial, failed = failing
    [raw] = set(details(partial.sync_runs.first().problems) + details(failed.sync_runs.first().problems))
    client.force_login(people["member"])
    pages = [
        client.get(f"/marketplaces/{partial.slug}/"), client.get(f"/plugins/{partial.slug}/inside/"),
        client.get(f"/marketplaces/{failed.slug}/"),
        client.get(f"/api/v1/marketplaces/{partial.slug}/"), client.get(f"/api/v1/plugins/{partial.slug}/inside/"),
        client.get(f"/api/v1/marketplaces/{failed.slug}/"), client.get("/api/v1/plugins/"),
    ]
    assert [page.status_code for page in pages] == [200] * len(pages)
    assert all(raw not in page.content.decode() and "loopback" not in page.content.decode() for page in pages)
    assert GENERIC in pages[0].content.decode() and GENERIC in pages[1].content.decode()
    assert GENERIC in pages[2].content.decode()  # the marketplace's last error
    assert client.get("/api/v1/sync-runs/").status_code == 403


def test_admins_read_gits_own_words(admin_client, failing):
    partial, failed = failing
    raw = details(partial.sync_runs.first().problems)[0]
    assert raw in admin_client.get(f"/marketplaces/{partial.slug}/").content.decode()
    assert raw in admin_client.get(f"/plugins/{partial.slug}/inside/").content.decode()
    assert raw in admin_client.get(f"/admin/marketplace/marketplace/{failed.pk}/change/").content.decode()
    runs = admin_client.get("/api/v1/sync-runs/").json()["results"]
    assert raw in json.dumps(runs)
    code, out = run_command("sync_marketplace", failed.slug)
    assert code == 1 and raw in out
