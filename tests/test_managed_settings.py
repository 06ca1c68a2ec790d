"""The managed-settings fragment (publishing/managed_settings.py): Skillport's Required and Prohibited
policies become enabledPlugins, its sources the only marketplaces Claude Code accepts, and Claude
Code's own settings check (`claude doctor`, pinned CLI) finds nothing invalid in it."""
import json
import re
import subprocess

import pytest

from marketplace.models import Plugin, Policy, Skill
from publishing.managed_settings import fragment, not_forced_on
from publishing.models import Kind, PublishTarget

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db
BASE = "http://testserver"


@pytest.fixture
def markets(two_markets, make_repo, synced_marketplace, settings):
    """acme ("acme-skills": ops-kit, Required), labs ("labs": data-kit, Prohibited), and zeta, whose own
    ops-kit is Prohibited: the name of a plugin acme publishes."""
    settings.SKILLPORT_BASE_URL = BASE
    zeta = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit"), name="zeta"),
        "plugins/ops-kit/skills/other/SKILL.md": skill_md("other", "Another ops kit."),
    }), slug="zeta")
    acme, labs = two_markets
    Plugin.objects.filter(marketplace=acme, name="ops-kit").update(policy=Policy.REQUIRED)
    Plugin.objects.filter(marketplace=labs, name="data-kit").update(policy=Policy.PROHIBITED)
    Plugin.objects.filter(marketplace=zeta).update(policy=Policy.PROHIBITED)
    return acme, labs, zeta


def settings_target(markets, name="devices", **fields):
    target = PublishTarget.objects.create(name=name, kind=Kind.MANAGED_SETTINGS, marketplace_name="unused", **fields)
    target.marketplaces.set(markets)
    return target


def git_target(markets, url="https://github.com/acme/claude-plugins", branch="main", **fields):
    target = PublishTarget.objects.create(name="org-repo", kind=Kind.GIT, marketplace_name="acme-org",
                                          repository_url=url, branch=branch, **fields)
    target.marketplaces.set(markets)
    return target


def curated(slug):
    return {"source": "url", "url": f"{BASE}/m/{slug}/marketplace.json"}


def test_curated_catalogues_required_on_prohibited_off_and_only_these_sources(markets):
    acme, labs, _zeta = markets
    # ops-kit holds a skill for the core team alone, so only their catalogues list it (see below).
    found = fragment(settings_target([acme, labs], audience=["github:@acme/core"]))
    assert found == {
        "extraKnownMarketplaces": {"acme-skills": {"source": curated("acme"), "autoUpdate": True},
                                   "labs": {"source": curated("labs"), "autoUpdate": True}},
        "strictKnownMarketplaces": [curated("acme"), curated("labs")],
        "enabledPlugins": {"data-kit@labs": False, "ops-kit@acme-skills": True, "ops-kit@zeta": False},
    }
    # Deterministic: the same state gives the same bytes, keys in order.
    assert json.dumps(fragment(settings_target([labs, acme], name="again", audience=["github:@acme/core"]))) == \
        json.dumps(found)
    assert list(found["enabledPlugins"]) == sorted(found["enabledPlugins"])


def test_not_strict_leaves_other_marketplaces_allowed(markets):
    acme, _labs, _zeta = markets
    found = fragment(settings_target([acme], strict=False, audience=["github:@acme/core"]))
    assert "strictKnownMarketplaces" not in found and list(found["extraKnownMarketplaces"]) == ["acme-skills"]
    assert found["enabledPlugins"]["ops-kit@acme-skills"] is True


def test_a_required_plugin_is_forced_on_only_for_an_audience_that_may_see_it(markets):
    acme, _labs, _zeta = markets
    Plugin.objects.filter(marketplace=acme, name="ops-kit").update(audience=["github:@acme/core"])
    everyone = fragment(settings_target([acme]))
    core = fragment(settings_target([acme], name="core", audience=["github:@acme/core"]))
    assert "ops-kit@acme-skills" not in everyone["enabledPlugins"]
    assert core["enabledPlugins"]["ops-kit@acme-skills"] is True
    # A marketplace the audience may not see is not offered at all.
    acme.audience = ["github:@acme/design"]
    acme.save(update_fields=["audience"])
    assert fragment(settings_target([acme], name="others"))["extraKnownMarketplaces"] == {}


def test_a_required_plugin_is_forced_on_only_where_every_members_catalogue_lists_it(markets, admin_client):
    """Forced on where a member's curated catalogue does not list it, Claude Code would find no such plugin (one
    holding a skill not every member may see: Claude Code installs plugins whole), or one that does not load (its
    dependency left out). The target's page says which are not forced on, and why."""
    acme, _labs, _zeta = markets
    everyone = settings_target([acme])
    assert "ops-kit@acme-skills" not in fragment(everyone)["enabledPlugins"]
    assert not_forced_on(everyone) == [("ops-kit@acme", "some of its skills, or of the plugins its folder holds, are "
                                                       "not shared with everyone in this audience or are prohibited, "
                                                       "and Claude Code installs a plugin's folder whole")]

    core = settings_target([acme], name="core", audience=["github:@acme/core"])
    assert fragment(core)["enabledPlugins"]["ops-kit@acme-skills"] is True and not_forced_on(core) == []
    ops = Plugin.objects.get(marketplace=acme, name="ops-kit")
    # As a sync of a commit adding it, with nothing waiting for approval, would store.
    ops.entry = ops.approved_entry = {**ops.entry, "dependencies": ["gone"]}
    ops.save(update_fields=["entry", "approved_entry"])
    assert "ops-kit@acme-skills" not in fragment(core)["enabledPlugins"]
    assert not_forced_on(core) == [("ops-kit@acme", "it depends on gone, which the catalogue does not list for "
                                                   "everyone in this audience")]
    page = admin_client.get(f"/admin/publishing/publishtarget/{core.pk}/managed-settings/").content.decode()
    assert "<li><code>ops-kit@acme</code>: it depends on gone, which the catalogue does not list" in page


def test_a_required_plugin_holding_a_prohibited_skill_is_not_forced_on(markets):
    """No member's catalogue lists it (the skill would come with it), so forcing it on would find no such plugin."""
    acme, _labs, _zeta = markets
    core = settings_target([acme], name="core", audience=["github:@acme/core"])
    assert fragment(core)["enabledPlugins"]["ops-kit@acme-skills"] is True
    Skill.objects.filter(marketplace=acme, slug="csv-cleanup").update(policy=Policy.PROHIBITED)
    assert "ops-kit@acme-skills" not in fragment(core)["enabledPlugins"]
    assert not_forced_on(core) == [("ops-kit@acme", "it holds csv-cleanup, which your organisation prohibits, and "
                                                   "Claude Code installs a plugin whole")]


def test_the_published_repository_on_github_with_prohibited_names_blocked_where_they_could_come_from(markets):
    acme, labs, zeta = markets
    published = git_target([acme, labs, zeta], credential="ghp_never_shown")
    found = fragment(settings_target([acme], settings_source=published))
    source = {"source": "github", "repo": "acme/claude-plugins", "ref": "main"}
    assert found == {
        "extraKnownMarketplaces": {"acme-org": {"source": source, "autoUpdate": True}},
        "strictKnownMarketplaces": [source],
        "enabledPlugins": {
            "data-kit@acme-org": False,  # labs feeds the repository: its prohibited plugin is blocked there too
            "data-kit@labs": False,
            "ops-kit@acme-org": True,  # acme's, published: zeta's prohibited ops-kit does not block its name
            "ops-kit@zeta": False,
        },
    }
    assert "ghp_never_shown" not in json.dumps(found)


def test_another_git_host_is_a_git_source_at_the_branch_and_never_carries_credentials(markets):
    acme, _labs, _zeta = markets
    published = git_target([acme], url="https://robot:hunter2@git.example.com/acme/plugins.git", branch="release")
    found = fragment(settings_target([acme], settings_source=published))
    source = {"source": "git", "url": "https://git.example.com/acme/plugins.git", "ref": "release"}
    assert found["extraKnownMarketplaces"] == {"acme-org": {"source": source, "autoUpdate": True}}
    assert found["strictKnownMarketplaces"] == [source]
    assert "hunter2" not in json.dumps(found)


def invalid_settings(tmp_path, settings: dict) -> list[str]:
    """What Claude Code's settings check says is invalid in `settings`, written as a project's settings."""
    from .test_claude_code_oracle import CLAUDE, claude_env

    assert CLAUDE.exists(), f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it"
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True, exist_ok=True)
    (project / ".claude/settings.json").write_text(json.dumps(settings, indent=2))
    done = subprocess.run([CLAUDE, "doctor"], cwd=project, env=claude_env(tmp_path / "home"), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    section = re.search(r"^Invalid settings\n((?:- .*\n)+)", done.stdout, re.MULTILINE)
    return section.group(1).splitlines() if section else []


def test_claude_code_finds_nothing_invalid_in_either_fragment(markets, tmp_path):
    acme, labs, _zeta = markets
    curated_fragment = fragment(settings_target([acme, labs]))
    # As an admin deploys it: a headersHelper added to each curated source.
    for entry in curated_fragment["extraKnownMarketplaces"].values():
        entry["source"]["headersHelper"] = "/usr/local/bin/skillport-token"
    published = fragment(settings_target([acme], name="git", settings_source=git_target([acme, labs])))
    assert invalid_settings(tmp_path, curated_fragment) == []
    assert invalid_settings(tmp_path, published) == []
    # The check does read the file: a source it cannot use is reported.
    broken = {**published, "extraKnownMarketplaces": {"acme-org": {"source": {"source": "github", "repo": 7}}}}
    assert any("acme-org" in line for line in invalid_settings(tmp_path, broken))


def test_a_headers_helper_is_added_to_every_curated_source(db, make_repo, synced_marketplace):
    from publishing.managed_settings import fragment, not_forced_on
    from publishing.models import Kind, PublishTarget

    repo = make_repo({".claude-plugin/marketplace.json": '{"name": "acme-skills", "owner": {"name": "A"}, "plugins": []}'})
    target = PublishTarget.objects.create(name="devices", kind=Kind.MANAGED_SETTINGS,
                                          headers_helper="/usr/local/bin/skillport-token")
    target.marketplaces.set([synced_marketplace(repo, slug="acme")])
    found = fragment(target)
    assert found["extraKnownMarketplaces"]["acme-skills"]["source"]["headersHelper"] == "/usr/local/bin/skillport-token"
    assert "headersHelper" not in found["strictKnownMarketplaces"][0]  # Claude Code matches url entries by URL
