"""Data migrations, run backwards and forwards on the test database."""
import pytest

from marketplace.models import Plugin, Skill, SkillRevision
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md
from .migrating import there_and_back

BEFORE_BODY_HTML = ("marketplace", "0011_api_identifiers")
BEFORE_APPROVED_ENTRY = ("marketplace", "0038_skill_command")
BEFORE_HELD_SKILLS = ("marketplace", "0039_plugin_approved_entry")
BEFORE_APPROVED_MANIFEST = ("marketplace", "0040_skill_in_approved_commit")
BEFORE_APPROVED_LOADS = ("marketplace", "0041_plugin_approved_manifest")
BEFORE_SERVED_CONTENT = ("marketplace", "0042_plugin_approved_loads")
BEFORE_APPROVED_ROOT = ("marketplace", "0044_skill_name_index")
BEFORE_HOLDS = ("marketplace", "0045_plugin_approved_root")


@pytest.mark.django_db(transaction=True)
def test_0012_renders_the_stored_bodies_and_the_pending_ones(simple_repo, make_marketplace):
    market = make_marketplace(simple_repo, requires_approval=True)
    sync_marketplace(market.pk)
    alpha = Skill.objects.get(slug="alpha")
    pending = SkillRevision.objects.create(skill=alpha, content_hash="0" * 64, status=SkillRevision.Status.PENDING,
                                           content={"body": "# Newer\n\n```python\nprint(2)\n```\n"})
    there_and_back(BEFORE_BODY_HTML)
    assert "<h1>Title</h1>" in Skill.objects.get(slug="alpha").body_html
    assert "<h1>Newer</h1>" in SkillRevision.objects.get(pk=pending.pk).content["body_html"]
    assert '<span class="nb">print</span>' in SkillRevision.objects.get(pk=pending.pk).content["body_html"]


@pytest.mark.django_db(transaction=True)
def test_0039_keeps_the_entry_as_approved_for_a_plugin_that_waits(simple_repo, make_marketplace):
    """Where an admin has yet to approve a server the entry gained, the entry the catalogues give keeps the keys
    that do something as approved; a plugin with nothing waiting keeps its entry as synced."""
    simple_repo.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry("other")),
                        "plugins/other/skills/gamma/SKILL.md": "---\nname: gamma\ndescription: G.\n---\nG.\n"})
    market = make_marketplace(simple_repo)
    sync_marketplace(market.pk)
    market.requires_approval = True
    market.save(update_fields=["requires_approval"])
    tracker = {"tracker": {"command": "npx", "args": ["tracker"]}}
    simple_repo.commit({".claude-plugin/marketplace.json": catalog(
        plugin_entry("tools", version="1.1.0", mcpServers=tracker), plugin_entry("other", version="2.0.0"))})
    sync_marketplace(market.pk)
    Plugin.objects.update(approved_entry={})
    there_and_back(BEFORE_APPROVED_ENTRY)
    tools, other = Plugin.objects.get(name="tools"), Plugin.objects.get(name="other")
    assert tools.approved_commit != tools.commit and tools.approved_own_content == {}
    assert tools.approved_entry == {"name": "tools", "source": "./plugins/tools", "version": "1.1.0"}
    assert other.approved_commit == other.commit and other.approved_entry == other.entry


@pytest.mark.django_db(transaction=True)
def test_0040_holds_the_skills_a_lagging_approved_commit_may_hold(simple_repo, make_marketplace):
    """Live skills as approved are held; where the plugin's approved commit lags, removed ones may be held too."""
    market = make_marketplace(simple_repo, requires_approval=False)
    sync_marketplace(market.pk)
    market.requires_approval = True
    market.save(update_fields=["requires_approval"])
    simple_repo.commit({"plugins/tools/skills/beta/SKILL.md": None,
                        "plugins/tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Changed.\n---\nA.\n",
                        "plugins/tools/skills/gamma/SKILL.md": "---\nname: gamma\ndescription: New.\n---\nG.\n"})
    sync_marketplace(market.pk)
    Skill.objects.update(in_approved_commit=False)
    there_and_back(BEFORE_HELD_SKILLS)
    held = dict(Skill.objects.values_list("slug", "in_approved_commit"))
    assert held == {"alpha": True, "beta": True, "gamma": False}  # gamma waits for its first approval


@pytest.mark.django_db(transaction=True)
def test_0041_takes_the_plugin_json_as_synced_for_a_plugin_with_an_approved_commit(simple_repo, make_marketplace):
    simple_repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "dependencies": ["base"]}'})
    market = make_marketplace(simple_repo)
    sync_marketplace(market.pk)
    Plugin.objects.update(approved_manifest=None)
    there_and_back(BEFORE_APPROVED_MANIFEST)
    tools = Plugin.objects.get(name="tools")
    assert tools.approved_commit and tools.approved_manifest == tools.manifest == {"name": "tools",
                                                                                   "dependencies": ["base"]}


@pytest.mark.django_db(transaction=True)
def test_0042_judges_a_plugin_with_an_approved_commit_as_synced(simple_repo, make_marketplace):
    simple_repo.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry("other")),
                        "plugins/other/.claude-plugin/plugin.json": "{not json",
                        "plugins/other/skills/gamma/SKILL.md": "---\nname: gamma\ndescription: G.\n---\nG.\n"})
    market = make_marketplace(simple_repo)
    sync_marketplace(market.pk)
    Plugin.objects.update(approved_loads=True, approved_refusal="")
    there_and_back(BEFORE_APPROVED_LOADS)
    tools, other = Plugin.objects.get(name="tools"), Plugin.objects.get(name="other")
    assert tools.approved_commit and (tools.loads, tools.approved_loads) == (True, True)
    assert tools.served_refusal is None
    assert not other.loads and other.refusal and (other.approved_loads, other.approved_refusal) == (False, other.refusal)
    assert other.served_refusal == other.refusal


@pytest.mark.django_db(transaction=True)
def test_0043_takes_the_content_approved_as_what_the_approved_commit_holds(simple_repo, make_marketplace):
    simple_repo.commit({"plugins/tools/hooks/hooks.json": '{"hooks": {}}'})
    market = make_marketplace(simple_repo)
    sync_marketplace(market.pk)
    Plugin.objects.update(served_own_hash="", served_own_content={})
    there_and_back(BEFORE_SERVED_CONTENT)
    tools = Plugin.objects.get(name="tools")
    assert tools.approved_commit and tools.approved_own_hash
    assert (tools.served_own_hash, tools.served_own_content) == (tools.approved_own_hash, tools.approved_own_content)


@pytest.mark.django_db(transaction=True)
def test_0045_takes_the_folder_as_synced_for_a_plugin_with_an_approved_commit(simple_repo, make_marketplace):
    market = make_marketplace(simple_repo)
    sync_marketplace(market.pk)
    Plugin.objects.update(approved_root=None)
    there_and_back(BEFORE_APPROVED_ROOT)
    tools = Plugin.objects.get(name="tools")
    assert tools.approved_commit and tools.approved_root == tools.root == "plugins/tools"


@pytest.mark.django_db(transaction=True)
def test_0046_finds_what_each_plugins_folder_holds_as_the_sync_does(make_repo, make_marketplace, git_host):
    """Plugins at the top hold every other read at their commit, a plugin below holds what lies below its folder, a
    fetched repository's plugins hold each other, two of one folder too; past 100 a plugin holds "*" (snapshot.MOST_HELD)."""
    git_host("acme/mono", {"skills/pdf/SKILL.md": skill_md("pdf"), "skills/payroll/SKILL.md": skill_md("payroll")})
    mono = {"source": "github", "repo": "acme/mono"}
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("documents", source="./", strict=False, skills=["./skills/pdf"]),
            plugin_entry("internal", source="./", strict=False, skills=["./skills/payroll"]),
            plugin_entry("shelf", source="./plugins/shelf", strict=False, skills=[]),
            plugin_entry("twin", source="./plugins/shelf", strict=False, skills=[]),
            plugin_entry("item", source="./plugins/shelf/item"), plugin_entry("deploy-hooks"),
            plugin_entry("mono-docs", source=mono, strict=False, skills=["./skills/pdf"]),
            plugin_entry("mono-pay", source=mono, strict=False, skills=["./skills/payroll"]), name="acme-skills"),
        "skills/pdf/SKILL.md": skill_md("pdf"),
        "skills/payroll/SKILL.md": skill_md("payroll"),
        "plugins/shelf/item/skills/postmortem/SKILL.md": skill_md("postmortem"),
        "plugins/deploy-hooks/hooks/hooks.json": "{}",
    })
    market = make_marketplace(repo)
    sync_marketplace(market.pk)
    synced = dict(Plugin.objects.values_list("name", "holds"))
    assert synced["shelf"] == ["item", "twin"] and synced["mono-docs"] == ["mono-pay"] and synced["item"] == []
    assert synced["documents"] == ["deploy-hooks", "internal", "item", "shelf", "twin"]
    # Another marketplace, never synced, whose plugin at the top holds more than 100 others.
    crowded = make_marketplace(repo, slug="crowded")
    Plugin.objects.bulk_create(Plugin(marketplace=crowded, name=f"p-{n}", source_kind="relative", commit="c" * 40,
                                      root=f"plugins/p-{n}" if n else "") for n in range(102))
    Plugin.objects.update(holds=[])

    there_and_back(BEFORE_HOLDS)
    assert dict(Plugin.objects.filter(marketplace=market).values_list("name", "holds")) == synced
    crowded = dict(Plugin.objects.filter(marketplace=crowded).values_list("name", "holds"))
    assert crowded.pop("p-0") == ["*"] and set(map(tuple, crowded.values())) == {()}
