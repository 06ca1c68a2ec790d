"""Shared fixtures: real git repositories built in tmp_path, and marketplaces pointing at them."""
import json
import re
import subprocess
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.db import connection
from django.db.backends.signals import connection_created

from marketplace import caching
from marketplace.models import Marketplace
from marketplace.sync import sync_marketplace
from skillport_site.celery import app as celery_app
from skillport_site.throttle import counters

from .builders import GitRepo, catalog, person, plugin_entry, skill_md
from .github_plugin import FAKE_GITHUB

@pytest.fixture
def fake_github(settings):
    """The fake GitHub the whole session signs in against (started by tests/github_plugin.py), empty, as
    this test's GitHub app: set per test, so that tests without it see GitHub sign-in not set up."""
    FAKE_GITHUB.reset()
    app = {"client_id": FAKE_GITHUB.client_id, "secret": FAKE_GITHUB.client_secret}
    providers = settings.SOCIALACCOUNT_PROVIDERS
    settings.SOCIALACCOUNT_PROVIDERS = {**providers, "github": {**providers["github"], "APP": app}}
    return FAKE_GITHUB


@pytest.fixture
def github_org(fake_github, settings):
    """GitHub sign-in on, for org "acme": orla (member), tam (core team), otto (design team), nina (elsewhere)."""
    settings.SKILLPORT_GITHUB_CLIENT_ID = fake_github.client_id
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    fake_github.add_user("orla", orgs=["acme"])
    fake_github.add_user("tam", teams=["acme/core"])
    fake_github.add_user("otto", teams=["acme/design"])
    fake_github.add_user("nina", orgs=["elsewhere"])
    return fake_github


@pytest.fixture(autouse=True)
def _isolated_data(settings, tmp_path):
    """Each test gets its own git cache, and github.com stands for the bare repositories of `git_host`."""
    settings.SKILLPORT_DATA_DIR = tmp_path / "data"
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = True
    settings.SKILLPORT_GITHUB_URL = f"file://{tmp_path}/github"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches: rolled back tests hand out the same catalogue versions, and
    the throttles' request counters would carry one test's requests into the next."""
    cache.clear()
    counters().clear()
    caching._named = (None, frozenset())  # a version number a rolled-back test had may name other rules now


# What post_migrate writes back after every flush, the same rows each time: kept, it has nothing to write.
FLUSH_KEEPS = {"django_content_type", "auth_permission"}
DJANGO_FLUSH = re.compile(r'TRUNCATE ("[^"]+"(, )?)+;')


def _flush_under_the_purge_rule(run, sql, params, many, context):
    """Transactional tests end with Django's flush: one TRUNCATE of every table (0.1 to 0.4 s here, as
    it makes new files for all 45), then post_migrate writes every content type and permission back.
    Instead the flush's transaction deletes the rows of the tables that hold any, but content types and
    permissions (foreign keys are checked at its commit), in a few milliseconds. The audit table allows
    that only under the retention purge's rule (audit migrations 0002 and 0006), so the transaction
    first sets the purge's cutoff past every event, as the purge sets its own."""
    if not sql.startswith("TRUNCATE "):
        return run(sql, params, many, context)
    cursor = context["cursor"]
    cursor.execute("SELECT set_config('skillport.audit_purge_before', 'infinity', true)")
    if not DJANGO_FLUSH.fullmatch(sql):  # with RESTART IDENTITY or CASCADE: as asked
        return run(sql, params, many, context)
    tables = [name.strip('" ') for name in sql.removeprefix("TRUNCATE ").removesuffix(";").split(",")]
    tables = [table for table in tables if table not in FLUSH_KEEPS]
    cursor.execute(" UNION ALL ".join(f'(SELECT %s FROM "{table}" LIMIT 1)' for table in tables), tables)
    holding = {table for (table,) in cursor.fetchall()}
    for table in tables:  # in one order, so every flush leaves the same (the catalogue version's triggers write it)
        if table in holding:
            cursor.execute(f'DELETE FROM "{table}"')


@pytest.fixture(scope="session", autouse=True)
def _flushes_under_the_purge_rule():
    """On every connection the tests open: a test running an event loop (Playwright's) gets a
    connection object of its own, which flushes too."""
    def add_wrapper(connection, **kwargs):
        if _flush_under_the_purge_rule not in connection.execute_wrappers:
            connection.execute_wrappers.append(_flush_under_the_purge_rule)

    add_wrapper(connection)
    connection_created.connect(add_wrapper)
    yield
    connection_created.disconnect(add_wrapper)


@pytest.fixture
def make_repo(tmp_path):
    counter = iter(range(1000))

    def make(files: dict | None = None, name=None) -> GitRepo:
        repo = GitRepo(tmp_path / (name or f"repo{next(counter)}"))
        if files is not None:
            repo.commit(files, "initial")
        return repo

    return make


@pytest.fixture
def git_host(tmp_path):
    """Create `owner/name` from a dict of files on the git host that stands in for github.com: bare
    repositories under SKILLPORT_GITHUB_URL, which `github` plugin sources clone from."""

    def create(full_name: str, files: dict) -> GitRepo:
        repo = GitRepo(tmp_path / "github-src" / full_name)
        repo.commit(files, "initial")
        bare = tmp_path / "github" / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--bare", "--quiet", str(repo.path), str(bare)], check=True)
        repo.bare = bare
        return repo

    return create


@pytest.fixture
def make_marketplace(db):
    def make(repo: GitRepo, slug="test", **fields) -> Marketplace:
        return Marketplace.objects.create(slug=slug, git_url=repo.url, **fields)

    return make


@pytest.fixture
def synced_marketplace(make_marketplace):
    """A marketplace of `repo`, synced once as an admin's first sync would: `market.repo` takes more
    commits, `market.first_run` is that sync's run. With `github_url` it shows that URL afterwards, as
    if it had been synced from GitHub (what Claude Code users can add)."""

    def make(repo: GitRepo, slug="test", github_url=None, **fields) -> Marketplace:
        market = make_marketplace(repo, slug=slug, **fields)
        market.first_run = sync_marketplace(market.pk)
        if github_url:
            market.git_url = github_url
            market.save(update_fields=["git_url"])
        market.repo = repo
        return market

    return make


@pytest.fixture
def simple_repo(make_repo):
    """A marketplace with one plugin of two skills."""
    return make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools", version="1.0.0")),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A."),
        "plugins/tools/skills/alpha/scripts/run.py": "print('alpha')\n",
        "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "Beta does B."),
    })


@pytest.fixture
def celery_worker_queue(settings):
    """A real worker thread on the configured broker, consuming a queue of its own.

    Tasks sent during the test go to that queue, so no other worker on the same broker (a
    developer's `make run`, say) can take them. No scanner is configured: the worker would scan
    after each sync, and stopping it waits for that scan (the scanner takes 7 s or more to start);
    a test of scanning on the worker sets SKILLPORT_SCANNERS again.
    """
    settings.SKILLPORT_SCANNERS = []
    queue = f"test-{uuid.uuid4().hex[:8]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", queues=[queue],
                          shutdown_timeout=30):
            yield queue
    finally:
        celery_app.conf.task_default_queue = default_queue


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure (screenshots)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def _skillport_server():
    from .servers import SkillportServer

    server = SkillportServer().start()
    yield server
    server.stop()


@pytest.fixture
def skillport(_skillport_server, transactional_db):
    """The whole site (Django and /mcp) over HTTP on loopback, reading this test's committed data."""
    return _skillport_server


@pytest.fixture
def two_markets(make_repo, synced_marketplace):
    """Two marketplaces whose `csv-cleanup` skills collide, one team-only skill, one semver plugin, one not."""
    acme = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", version="1.2.0"), name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/ops-kit/skills/postmortem/scripts/timeline.py": "print('timeline')\n",
        "plugins/ops-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", "Core team on-call runbook."),
        "plugins/ops-kit/skills/csv-cleanup/SKILL.md": skill_md("csv-cleanup", "Clean messy CSV exports."),
    })
    labs = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("data-kit", version="nightly"), name="labs"),
        "plugins/data-kit/skills/csv-cleanup/SKILL.md": skill_md("csv-cleanup", "Experimental CSV cleaner."),
    })
    return [synced_marketplace(acme, slug="acme"), synced_marketplace(labs, slug="labs")]


@pytest.fixture
def people(db, settings):
    """The cast, with the logins `github_org` gives them on the fake GitHub: an org member, a member of the core team,
    a member of the design team, a member of another org; a local admin, and someone not signed in."""
    from django.contrib.auth.models import AnonymousUser, User

    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    return {
        "member": person("orla", 1),
        "core": person("tam", 2, teams=["acme/core"]),
        "outsider": person("nina", 3, orgs=["elsewhere"]),
        "design": person("otto", 4, teams=["acme/design"]),
        "admin": User.objects.create_superuser("root", "root@example.com", "pw"),
        "anonymous": AnonymousUser(),
    }
