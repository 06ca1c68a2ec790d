"""/m/<slug>/marketplace.json: the curated catalogue for Claude Code, pinned to synced commits, validated by us."""
import json
import subprocess
import threading
import time

import pytest
from django.db.models import F

from connector.tokens import mint
from marketplace import approval, curated as curating, install
from marketplace.models import Curation, Marketplace, Plugin, Policy, Skill, SkillRevision
from marketplace.sync import sync_marketplace
from skillport_site.links import absolute_url

from .builders import Symlink, catalog, plugin_entry, run_command, skill_md
from .test_claude_code_oracle import CLAUDE, claude_env, installed

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(make_repo, synced_marketplace, git_host):
    upstream = git_host("acme/tools", {"skills/gh/SKILL.md": skill_md("gh", "From another repository.")})
    # In repositories of their own: docs-kit, at the top of the marketplace's, holds every skill there.
    git_host("acme/secret", {"skills/s/SKILL.md": skill_md("s")})
    git_host("acme/core-only", {"skills/c/SKILL.md": skill_md("c")})
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("ops-kit", version="1.0.0"),
            plugin_entry("docs-kit", source="./", strict=False, skills=["./skills/notes"]),
            plugin_entry("tools", source={"source": "github", "repo": "acme/tools", "ref": "main"}),
            plugin_entry("from-npm", source={"source": "npm", "package": "@acme/skills"}),
            plugin_entry("secret", source={"source": "github", "repo": "acme/secret"}),
            plugin_entry("core-only", source={"source": "github", "repo": "acme/core-only"}),
            name="acme-skills",
        ),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem"),
        "skills/notes/SKILL.md": skill_md("notes"),
    })
    m = synced_marketplace(repo, slug="acme")
    m.refresh_from_db()
    Plugin.objects.filter(name="secret").update(curation=Curation.HIDDEN)
    Plugin.objects.filter(name="core-only").update(audience=["github:@acme/core"])
    return m, repo, upstream


def catalogue_folder(tmp_path, text: str):
    """A marketplace folder holding the catalogue `text`, for the pinned CLI to read."""
    folder = tmp_path / "curated"
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin" / "marketplace.json").write_text(text)
    return folder


def curated(client, user=None, **headers):
    if user is not None:
        client.force_login(user)
    return client.get("/m/acme/marketplace.json", headers=headers)


def test_lists_visible_approved_plugins_pinned_to_the_synced_commit(client, market, people):
    m, repo, upstream = market
    data = curated(client, people["member"]).json()
    plugins = {entry["name"]: entry for entry in data["plugins"]}
    assert data["name"] == "acme-skills" and set(plugins) == {"ops-kit", "docs-kit", "tools"}
    commit = m.last_synced_commit
    # The repository is a folder on this server (the tests allow local sources): Claude Code takes it as a URL.
    assert m.git_url.startswith("/")
    assert plugins["ops-kit"]["source"] == {"source": "git-subdir", "url": f"file://{m.git_url}",
                                            "path": "plugins/ops-kit", "sha": commit}
    assert plugins["docs-kit"]["source"] == {"source": "url", "url": f"file://{m.git_url}", "sha": commit}
    assert plugins["docs-kit"]["skills"] == ["./skills/notes"] and plugins["docs-kit"]["strict"] is False
    assert plugins["tools"]["source"] == {"source": "github", "repo": "acme/tools", "sha": upstream.head}
    assert "core-only" in {e["name"] for e in curated(client, people["core"]).json()["plugins"]}


def test_the_curated_catalogue_passes_our_own_validator(client, market, people, tmp_path):
    folder = catalogue_folder(tmp_path, curated(client, people["core"]).content.decode())
    # Its sources are git repositories, which validation clones only when asked (--fetch).
    code, out = run_command("validate_marketplace", str(folder), "--json", "--fetch")
    result = json.loads(out)
    assert code == 0, result["problems"]
    assert [p for p in result["problems"] if p["severity"] == "error"] == []
    assert result["counts"]["plugins"] == 4 and result["counts"]["skills"] == 4


def test_claude_code_installs_each_kind_of_source_at_its_pinned_commit(client, market, people, tmp_path,
                                                                       settings):
    """The pinned CLI reads the curated catalogue and installs from each kind of source it writes: `git-subdir`
    and `url` in the marketplace's repository, and `github` (from the git host standing in for github.com,
    which git is told to use in its place). Commits made since the sync are not what it installs."""
    assert CLAUDE.exists(), f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it"
    m, repo, upstream = market
    folder = catalogue_folder(tmp_path, curated(client, people["core"]).content.decode())
    repo.commit({"plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Not synced yet."),
                 "skills/notes/SKILL.md": skill_md("notes", "Not synced yet.")})
    upstream.commit({"skills/gh/SKILL.md": skill_md("gh", "Not synced yet.")})
    upstream.git("push", "--quiet", str(upstream.bare), "HEAD:main")
    home = tmp_path / "home"
    env = claude_env(home)
    github = settings.SKILLPORT_GITHUB_URL.rstrip("/") + "/"
    (home / ".gitconfig").write_text(f'[url "{github}"]\n\tinsteadOf = https://github.com/\n'
                                     f"\tinsteadOf = git@github.com:\n")

    def claude(*args):
        return subprocess.run([CLAUDE, "plugin", *args], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=180)

    added = claude("marketplace", "add", str(folder))
    assert added.returncode == 0, added.stdout + added.stderr
    for plugin in ("ops-kit", "docs-kit", "tools", "core-only"):
        done = claude("install", f"{plugin}@acme-skills")
        assert done.returncode == 0, f"{plugin}: {done.stdout}{done.stderr}"
    synced = {("ops-kit", "postmortem"): skill_md("postmortem"), ("docs-kit", "notes"): skill_md("notes"),
              ("tools", "gh"): skill_md("gh", "From another repository."), ("core-only", "c"): skill_md("c")}
    for (plugin, skill), text in synced.items():
        installed = list(home.glob(f".claude/plugins/cache/acme-skills/{plugin}/*/skills/{skill}/SKILL.md"))
        assert [path.read_text() for path in installed] == [text], plugin


def test_the_owner_is_one_claude_code_takes_whatever_the_repository_wrote(client, market, people, tmp_path):
    """Claude Code refuses a whole catalogue for an owner's email that is not a string (the sync reports
    it); the curated catalogue keeps what it can of the owner, and Claude Code's validator accepts it."""
    m, _repo, _upstream = market
    m.owner = {"name": "Acme", "email": 3, "url": "https://acme.example", "team": ["x"]}
    m.save(update_fields=["owner"])
    text = curated(client, people["core"]).content.decode()
    assert json.loads(text)["owner"] == {"name": "Acme", "url": "https://acme.example"}
    m.owner = {"name": ["Acme"]}
    m.save(update_fields=["owner"])
    assert curated(client, people["core"]).json()["owner"] == {"name": "Skillport"}
    folder = catalogue_folder(tmp_path, text)
    checked = subprocess.run([CLAUDE, "plugin", "validate", "--json", str(folder)], env=claude_env(tmp_path / "home"),
                             capture_output=True, text=True, timeout=120)
    assert json.loads(checked.stdout)["success"], checked.stdout


def test_who_may_fetch_it(client, market, people, settings):
    assert curated(client).status_code == 401
    assert curated(client, HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401
    token = mint(people["member"])
    assert len(curated(client, Authorization=f"Bearer {token}").json()["plugins"]) == 3
    foreign = mint(people["member"], resource=["https://elsewhere.example/mcp"])
    assert curated(client, Authorization=f"Bearer {foreign}").status_code == 401  # issued for another resource
    assert curated(client, Authorization=f"Bearer {mint(people['member'], scope='skills:write')}").status_code == 401
    assert curated(client, people["outsider"]).status_code == 404
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False  # a folder on this server: nothing Claude Code could fetch
    assert curated(client, people["member"]).status_code == 404


def test_two_marketplaces_of_one_name_have_catalogues_claude_code_can_tell_apart(client, market, people, make_repo,
                                                                                 synced_marketplace):
    """A fork with the same marketplace.json name: Claude Code keeps one marketplace per name, so the one
    added later goes by its slug, in its catalogue, the settings snippet and the install command alike."""
    fork = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", version="1.0.0"), name="acme-skills"),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem"),
    }), slug="acme-fork")
    client.force_login(people["member"])
    assert client.get("/m/acme/marketplace.json").json()["name"] == "acme-skills"
    assert client.get("/m/acme-fork/marketplace.json").json()["name"] == "acme-fork"
    snippet = json.loads(install.claude_code_settings(Marketplace.objects.filter(pk__in=[market[0].pk, fork.pk])))
    assert {name: entry["source"]["url"].rsplit("/m/", 1)[1]
            for name, entry in snippet["extraKnownMarketplaces"].items()} == {
        "acme-skills": "acme/marketplace.json", "acme-fork": "acme-fork/marketplace.json"}
    assert install.curated_install(Plugin.objects.get(marketplace=fork)) == "/plugin install ops-kit@acme-fork"
    # Name and slug both taken already: the slug, numbered.
    assert Marketplace.objects.create(slug="acme-skills", name="acme-fork", git_url=fork.git_url).catalogue_name == "acme-skills-2"


def test_a_plugin_claude_code_would_refuse_is_not_listed(client, make_repo, synced_marketplace, people):
    """Claude Code refuses a plugin whose entry gives `author` as a string (test_claude_code_oracle holds us to
    that): listed, its install would fail, so only the page shows it, with the reason."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("good"), plugin_entry("refused", author="Bob"),
                                                   name="acme-skills"),
        "plugins/good/skills/a/SKILL.md": skill_md("a"),
        "plugins/refused/skills/b/SKILL.md": skill_md("b"),
    }), slug="acme")
    assert not Plugin.objects.get(name="refused").loads
    assert [entry["name"] for entry in curated(client, people["member"]).json()["plugins"]] == ["good"]


def test_a_plugin_is_listed_only_with_the_plugins_it_depends_on(client, make_repo, synced_marketplace, people,
                                                                 tmp_path):
    """Claude Code installs a plugin's dependencies from its catalogue with it, and will not load it without them:
    a plugin whose dependency a member's catalogue leaves out is left out too, and its page says why. Where the
    catalogue lists both, the pinned CLI installs the two and loads them."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("app", dependencies=["base"]), plugin_entry("base"),
            plugin_entry("chain", dependencies=["app@acme-skills"], optionalDependencies=["x@elsewhere"]),
            name="acme-skills"),
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill") for name in ("app", "base", "chain")},
    }), slug="acme")
    assert all(Plugin.objects.values_list("loads", flat=True))
    Plugin.objects.filter(name="base").update(audience=["github:@acme/core"])

    assert curated(client, people["member"]).json()["plugins"] == []
    app, chain = Plugin.objects.select_related("marketplace").get(name="app"), Plugin.objects.get(name="chain")
    assert install.claude_code(app, people["member"])["unavailable"] == (
        "it depends on base, which your catalogue does not list, and Claude Code would install it without that and "
        "not load it")
    assert install.claude_code(chain, people["member"])["unavailable"].startswith("it depends on app@acme-skills, ")
    page = client.get("/plugins/acme/app/").content.decode()
    assert "Claude Code cannot install this plugin from Skillport: it depends on base, which your catalogue" in page
    assert "<li><code>base</code>: not available to you</li>" in page.split("Installs with it", 1)[1]
    page = client.get("/plugins/acme/chain/").content.decode().split("Installs with it", 1)[1].split("</ul>")[0]
    assert '<a href="/plugins/acme/app/">App</a> <code>app@acme-skills</code></li>' in page
    assert ("<li><code>x@elsewhere</code> (optional): from the <code>elsewhere</code> marketplace, installed only "
            "where you have added it</li>") in page
    client.force_login(people["member"])
    listed = {p["name"]: p["claude_code"]["unavailable"] for p in client.get("/api/v1/plugins/").json()["results"]}
    assert listed["app"].startswith("it depends on base") and listed["chain"].startswith("it depends on app@")
    assert client.get("/api/v1/plugins/acme/app/").json()["dependencies"] == [
        {"name": "base", "optional": False, "marketplace": None, "api_url": None}]  # not shared with orla
    assert client.get("/api/v1/plugins/acme/chain/").json()["dependencies"] == [
        {"name": "app@acme-skills", "optional": False, "marketplace": None,
         "api_url": absolute_url("/api/v1/plugins/acme/app/")},
        {"name": "x@elsewhere", "optional": True, "marketplace": "elsewhere", "api_url": None}]

    text = curated(client, people["core"]).content.decode()
    assert [entry["name"] for entry in json.loads(text)["plugins"]] == ["app", "base", "chain"]
    assert install.claude_code(app, people["core"])["unavailable"] == ""
    chain_skill = Skill.objects.get(plugin__name="chain")
    assert "Claude Code also installs the plugins it depends on: app@acme-skills." in install.steps(
        chain_skill, people["core"])["CC"]
    page = client.get("/plugins/acme/app/").content.decode().split("Installs with it", 1)[1]
    assert '<a href="/plugins/acme/base/">Base</a> <code>base</code></li>' in page
    folder = catalogue_folder(tmp_path, text)
    printed, errors = installed(folder, "chain@acme-skills", tmp_path / "home")
    assert "+ 2 dependencies" in printed, printed
    assert {name: errors.get(f"{name}@acme-skills") for name in ("app", "base", "chain")} == {
        "app": [], "base": [], "chain": []}


def test_a_page_of_one_plugin_asks_about_what_it_needs_and_answers_as_the_whole_listing(make_repo, synced_marketplace,
                                                                                      people):
    """A plugin's page asks whether the catalogue lists it and the plugins it needs, each on its own, rather than
    read the whole catalogue's listing: the same answer for every plugin and reader, a diamond and a chain longer
    than it asks about (read by the listing) included."""
    long = curating.MOST_NEEDED + 3
    entries = [
        plugin_entry("app", dependencies=["base"]), plugin_entry("base"),
        plugin_entry("chain", dependencies=["app@acme-skills"]),
        plugin_entry("top", dependencies=["left", "right"]), plugin_entry("left", dependencies=["bottom"]),
        plugin_entry("right", dependencies=["bottom"]), plugin_entry("bottom"),
        *(plugin_entry(f"link-{i}", dependencies=[f"link-{i + 1}"]) for i in range(long)), plugin_entry(f"link-{long}"),
    ]
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(*entries, name="acme-skills"),
        **{f"plugins/{entry['name']}/skills/s/SKILL.md": skill_md("s") for entry in entries},
    }), slug="acme")
    Plugin.objects.filter(name__in=["base", "bottom", f"link-{long}"]).update(audience=["github:@acme/core"])
    plugins = list(Plugin.objects.select_related("marketplace").order_by("name"))
    for user in (people["member"], people["core"]):
        listed = curating.listing(user, plugins[0].marketplace)
        answers = {plugin.name: curating.refusal(plugin, user) for plugin in plugins}
        assert answers == {plugin.name: curating.refusal(plugin, user, listed) for plugin in plugins}
        assert (answers["top"] == "") == (answers["chain"] == "") == (answers["link-0"] == "") == (user == people["core"])
    assert curating._listing_needed(people["member"], plugins[0]) is not None  # app: asked about on its own
    assert curating._listing_needed(people["member"], Plugin.objects.get(name="link-0")) is None


def test_a_catalogue_served_under_another_name_names_its_own_plugins_as_claude_code_finds_them(
        client, make_repo, synced_marketplace, people, tmp_path):
    """A fork whose repository gives it the name another marketplace here has goes by its slug: a dependency on
    "base@acme-skills" would name the other one there, and Claude Code refuses the install ("not in the
    allowlist"). Its entries name base alone, and Claude Code installs both; a plugin.json naming it so cannot be
    rewritten (Claude Code installs that plugin and does not load it), so that plugin is left out."""
    def repo(*entries, **files):
        return make_repo({".claude-plugin/marketplace.json": catalog(*entries, name="acme-skills"), **files,
                          **{f"plugins/{e['name']}/skills/{e['name']}-skill/SKILL.md": skill_md(f"{e['name']}-skill")
                             for e in entries}})

    synced_marketplace(repo(plugin_entry("base")), slug="acme")
    fork = synced_marketplace(repo(
        plugin_entry("app", dependencies=["base@acme-skills"]), plugin_entry("base"), plugin_entry("tool"),
        **{"plugins/tool/.claude-plugin/plugin.json": json.dumps({"name": "tool", "dependencies": ["base@acme-skills"]})},
    ), slug="fork")
    fork.refresh_from_db()
    assert (fork.name, fork.catalogue_name, fork.renamed) == ("acme-skills", "fork", True)
    assert all(Plugin.objects.filter(marketplace=fork).values_list("loads", flat=True))  # in its repository, they do

    client.force_login(people["member"])
    text = client.get("/m/fork/marketplace.json").content.decode()
    served = {entry["name"]: entry for entry in json.loads(text)["plugins"]}
    assert sorted(served) == ["app", "base"] and served["app"]["dependencies"] == ["base"]
    # Named so wherever members read what installing it brings.
    steps = install.steps(Skill.objects.get(plugin__marketplace=fork, plugin__name="app"), people["member"])["CC"]
    assert "Claude Code also installs the plugins it depends on: base." in steps
    assert client.get("/api/v1/plugins/fork/app/").json()["dependencies"] == [
        {"name": "base", "optional": False, "marketplace": None, "api_url": absolute_url("/api/v1/plugins/fork/base/")}]
    tool = Plugin.objects.select_related("marketplace").get(marketplace=fork, name="tool")
    assert install.claude_code(tool, people["member"])["unavailable"].startswith("it depends on base@acme-skills, ")
    page = client.get("/plugins/fork/tool/").content.decode()
    assert "cannot install this plugin from Skillport: it depends on base@acme-skills" in page

    folder = catalogue_folder(tmp_path, text)
    printed, errors = installed(folder, "app@fork", tmp_path / "home")
    assert "+ 1 dependency" in printed, printed
    assert (errors.get("app@fork"), errors.get("base@fork")) == ([], [])


def test_a_dependency_of_another_marketplace_is_installed_as_the_repository_allows(client, make_repo,
                                                                                     synced_marketplace, people,
                                                                                     tmp_path):
    """A marketplace may let its plugins depend on another's (allowCrossMarketplaceDependenciesOn): Claude Code then
    installs that one along with them, where the member has added both. The curated catalogue says so too; without
    it, the pinned CLI refuses the install ("cross-marketplace dependencies are blocked by default")."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": json.dumps({
            "name": "acme-skills", "owner": {"name": "Acme"}, "allowCrossMarketplaceDependenciesOn": ["labs"],
            "plugins": [plugin_entry("app", dependencies=["helper@labs"])]}),
        "plugins/app/skills/app-skill/SKILL.md": skill_md("app-skill"),
    }), slug="acme")
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("helper"), name="labs"),
        "plugins/helper/skills/helper-skill/SKILL.md": skill_md("helper-skill"),
    }), slug="labs")
    client.force_login(people["member"])
    folders = {}
    for slug in ("acme", "labs"):
        folders[slug] = tmp_path / slug / "with"
        (folders[slug] / ".claude-plugin").mkdir(parents=True)
        (folders[slug] / ".claude-plugin" / "marketplace.json").write_text(
            client.get(f"/m/{slug}/marketplace.json").content.decode())
    acme = json.loads((folders["acme"] / ".claude-plugin/marketplace.json").read_text())
    assert acme["allowCrossMarketplaceDependenciesOn"] == ["labs"] and [e["name"] for e in acme["plugins"]] == ["app"]
    printed, errors = installed([folders["labs"], folders["acme"]], "app@acme-skills", tmp_path / "home")
    assert "+ 1 dependency: helper" in printed, (printed, errors)
    assert errors.get("app@acme-skills") == [] and errors.get("helper@labs") == [], (printed, errors)

    without = tmp_path / "acme" / "without"
    (without / ".claude-plugin").mkdir(parents=True)
    (without / ".claude-plugin" / "marketplace.json").write_text(json.dumps(
        {key: value for key, value in acme.items() if key != "allowCrossMarketplaceDependenciesOn"}))
    printed, errors = installed([folders["labs"], without], "app@acme-skills", tmp_path / "home-without")
    assert "helper@labs" not in errors and errors.get("app@acme-skills") != [], (printed, errors)
    assert "not in the allowlist" in printed


def test_a_plugin_installed_turned_off_or_for_other_versions_says_so_before_it_is_installed(
        client, make_repo, synced_marketplace, people, tmp_path):
    """`"defaultEnabled": false` installs a plugin turned off: the curated catalogue keeps it (the pinned CLI says
    so as it installs), and the page and install steps give the command that turns it on. `engines` names the
    Claude Code versions a plugin needs: the pinned CLI will not install one from a git source for others."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("quiet", defaultEnabled=False), plugin_entry("future"),
                                                   name="acme-skills"),
        "plugins/quiet/skills/hush/SKILL.md": skill_md("hush"),
        "plugins/future/.claude-plugin/plugin.json": json.dumps({"name": "future", "engines": {"claude-code": ">=  99"}}),
        "plugins/future/skills/later/SKILL.md": skill_md("later"),
    }), slug="acme")
    client.force_login(people["member"])
    page = client.get("/plugins/acme/quiet/").content.decode()
    assert "turn it on with\n          <div class=\"copy\"><code>/plugin enable quiet@acme-skills</code>" in page
    steps = install.steps(Skill.objects.get(slug="hush"), people["member"])["CC"]
    assert "Claude Code installs this plugin turned off: turn it on with /plugin enable quiet@acme-skills" in steps
    folder = catalogue_folder(tmp_path, client.get("/m/acme/marketplace.json").content.decode())
    printed, errors = installed(folder, "quiet@acme-skills", tmp_path / "home")
    assert "disabled by default" in printed and errors["quiet@acme-skills"] == [], printed

    assert "needs Claude Code <code>&gt;= 99</code>" in client.get("/plugins/acme/future/").content.decode()
    assert install.steps(Skill.objects.get(slug="later"), people["member"])["CC"][0] == (
        "This plugin needs Claude Code >= 99: update yours first if it is older (claude update).")
    printed, errors = installed(folder, "future@acme-skills", tmp_path / "home-future")
    assert "it needs Claude Code >= 99, this is" in printed and "future@acme-skills" not in errors, printed


@pytest.mark.parametrize("unread, shown", [
    # On Linux Claude Code loads hooks/hooks.json; beside Hooks.json the sync reads neither, so nobody saw it.
    ({"hooks/hooks.json": '{"hooks": {}}', "hooks/Hooks.json": "{}"}, ["hooks/Hooks.json (same-name)",
                                                                       "hooks/hooks.json (same-name)"]),
    ({"skills/postmortem/aux.md": "Installed all the same.\n"}, ["skills/postmortem/aux.md (unsafe-name)"]),
], ids=["hooks", "in-a-skill"])
def test_a_commit_holding_names_the_sync_does_not_read_is_not_pinned(client, market, people, unread, shown):
    """Claude Code installs a plugin's commit whole, files Skillport refused to read included: the catalogue
    keeps pinning the last commit without them, until they are renamed."""
    m, repo, upstream = market
    before = m.last_synced_commit
    repo.commit({f"plugins/ops-kit/{path}": content for path, content in unread.items()})
    assert sync_marketplace(m.pk).status == "partial"  # something in the repository was not read

    ops, docs = Plugin.objects.get(name="ops-kit"), Plugin.objects.get(name="docs-kit")
    [problem] = [p for p in ops.problems if p["code"] == "unread-files"]
    assert all(name in problem["message"] for name in shown), problem
    # docs-kit's source is the whole repository ("./"), ops-kit's folder included.
    assert "unread-files" in [p["code"] for p in docs.problems]
    assert ops.commit != before and (ops.approved_commit, docs.approved_commit) == (before, before)
    pinned = {entry["name"]: entry["source"]["sha"] for entry in curated(client, people["member"]).json()["plugins"]}
    assert pinned["ops-kit"] == pinned["docs-kit"] == before

    fixed = repo.commit({f"plugins/ops-kit/{path}": None for path in unread if path != "hooks/hooks.json"})
    sync_marketplace(m.pk)
    ops.refresh_from_db()
    assert "unread-files" not in [p["code"] for p in ops.problems] and ops.approved_commit == fixed
    assert {e["name"]: e["source"]["sha"] for e in curated(client, people["member"]).json()["plugins"]}["ops-kit"] == fixed


def test_a_skill_too_long_to_store_holds_its_plugin_back_too(client, market, people):
    """A frontmatter name past Skillport's column (200 characters; Claude Code takes up to 256) left the skill
    unstored, so unreviewed, while the plugin's commit holding it was pinned and served."""
    m, repo, upstream = market
    before = m.last_synced_commit
    repo.commit({"plugins/ops-kit/skills/long/SKILL.md": skill_md("l" * 250, "Never reviewed.")})
    sync_marketplace(m.pk)

    ops = Plugin.objects.get(name="ops-kit")
    [problem] = [p for p in ops.problems if p["code"] == "unread-files"]
    assert problem["message"].startswith("1 skill(s) in the plugin cannot be stored (plugins/ops-kit/skills/long)")
    assert ops.commit != before and ops.approved_commit == before
    assert {e["name"]: e["source"]["sha"] for e in curated(client, people["member"]).json()["plugins"]}["ops-kit"] == before


def test_names_refused_behind_a_plugins_symlink_hold_it_back_too(client, market, people):
    """Claude Code follows the plugin's links when it installs it: what they lead to is installed too."""
    m, repo, upstream = market
    before = m.last_synced_commit
    repo.commit({"plugins/ops-kit/hooks": Symlink("../../shared/hooks"),
                 "shared/hooks/hooks.json": "{}", "shared/hooks/Hooks.json": "{}"})
    sync_marketplace(m.pk)

    ops = Plugin.objects.get(name="ops-kit")
    [problem] = [p for p in ops.problems if p["code"] == "unread-files"]
    assert "hooks/Hooks.json (same-name)" in problem["message"] and ops.approved_commit == before


def test_a_commit_approved_before_its_names_were_refused_is_approved_no_more(client, market, people):
    m, repo, upstream = market
    repo.commit({"plugins/ops-kit/hooks/hooks.json": "{}", "plugins/ops-kit/hooks/Hooks.json": "{}"})
    sync_marketplace(m.pk)
    # As a Skillport from before these names were refused left it: that commit approved, and synced.
    Plugin.objects.filter(name="ops-kit").update(approved_commit=F("commit"), problems=[], fingerprint="")
    # Read again though its commit has not moved, as reader.READER_VERSION has each marketplace read.
    Marketplace.objects.filter(pk=m.pk).update(last_sync_fingerprint="read by an older reader")

    assert sync_marketplace(m.pk).status != "unchanged"
    assert Plugin.objects.get(name="ops-kit").approved_commit == ""
    assert "ops-kit" not in {entry["name"] for entry in curated(client, people["member"]).json()["plugins"]}


@pytest.mark.django_db(transaction=True)
def test_two_marketplaces_of_one_name_written_at_once_both_get_a_catalogue_name():
    """Both find the name free; the second to write waits for the first's transaction, fails on the
    unique name, and takes its slug instead of failing its sync."""
    from django.db import connections, transaction

    first_wrote, outcome = threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                Marketplace.objects.create(slug="first", name="acme-skills", git_url="https://example.com/a.git")
                first_wrote.set()
                time.sleep(0.5)  # the second has looked, found the name free, and waits on the index
        finally:
            connections.close_all()

    def second():
        first_wrote.wait(10)
        try:
            with transaction.atomic():
                outcome["second"] = Marketplace.objects.create(
                    slug="second", name="acme-skills", git_url="https://example.com/b.git").catalogue_name
        except Exception as error:  # noqa: BLE001 (the test reports what went wrong)
            outcome["second"] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["second"] == "second"
    assert dict(Marketplace.objects.values_list("slug", "catalogue_name")) == {
        "first": "acme-skills", "second": "second"}


def test_a_skill_removed_while_another_waits_still_keeps_its_plugin_from_those_it_is_kept_from(
        make_repo, synced_marketplace, client, people):
    """The approved commit, which the catalogue pins while a changed skill waits, still holds a skill the push
    removed: a member who may not see that one must not get the plugin at that commit."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit"), name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
        "plugins/ops-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", "Core team only."),
    })
    m = synced_marketplace(repo, slug="acme")
    m.requires_approval = True
    m.save(update_fields=["requires_approval"])

    def listed(user):
        return {entry["name"] for entry in curated(client, user).json()["plugins"]}

    assert listed(people["member"]) == set() and listed(people["core"]) == {"ops-kit"}
    repo.commit({"plugins/ops-kit/skills/core-runbook/SKILL.md": None,
                 "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless, and brief.")})
    assert sync_marketplace(m.pk).status == "ok"
    ops = Plugin.objects.get(name="ops-kit")
    assert ops.approved_commit != ops.commit  # postmortem's change waits
    assert listed(people["member"]) == set()  # the commit approved holds core-runbook
    assert listed(people["core"]) == {"ops-kit"}
    held = curated(client, people["core"]).json()["plugins"][0]["metadata"]["skillport"]["skills"]
    assert {item["skill"].rsplit("/", 1)[-1] for item in held} == {"postmortem", "core-runbook"}

    approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), None)
    assert Plugin.objects.get(name="ops-kit").approved_commit == ops.commit  # which holds core-runbook no more
    assert listed(people["member"]) == {"ops-kit"}
    held = curated(client, people["member"]).json()["plugins"][0]["metadata"]["skillport"]["skills"]
    assert [item["skill"].rsplit("/", 1)[-1] for item in held] == ["postmortem"]


def test_prohibited_plugins_and_plugins_holding_a_prohibited_skill_are_left_out(client, market, people):
    """Every other surface refuses a prohibited skill (its page, its download, the connector, publishing): the curated
    catalogue must not hand it over inside its plugin, nor a prohibited plugin, and says why wherever it is asked."""
    m, _repo, _upstream = market
    ops = Plugin.objects.get(name="ops-kit")

    def listed(user=people["member"]):
        return {entry["name"] for entry in curated(client, user).json()["plugins"]}

    assert "ops-kit" in listed()
    Skill.objects.filter(slug="postmortem").update(policy=Policy.PROHIBITED, policy_reason="Leaks incident data.")
    assert "ops-kit" not in listed() and "ops-kit" not in listed(people["admin"])
    # The skill's own page says it is prohibited; the reason here names no skill, which the reader may not see.
    assert install.claude_code(ops, people["member"])["unavailable"] == (
        "some of its skills, or of the plugins its folder holds, are not shared with you or are prohibited, "
        "and Claude Code installs a plugin's folder whole")
    # docs-kit, at the top of the repository, holds the skill's folder too; the others stay.
    docs = Plugin.objects.select_related("marketplace").get(name="docs-kit")
    assert listed() == {"tools"} and install.claude_code(docs, people["member"])["unavailable"].startswith(
        "some of its skills, or of the plugins its folder holds, are not shared")

    Skill.objects.filter(slug="postmortem").update(policy="", policy_reason="")
    assert listed() == {"ops-kit", "docs-kit", "tools"}
    Plugin.objects.filter(pk=ops.pk).update(policy=Policy.PROHIBITED, policy_reason="Replaced by sre-kit.")
    assert listed() == {"tools"}
    ops.refresh_from_db()
    assert install.claude_code(ops, people["member"])["unavailable"] == (
        "your organisation prohibits it: Replaced by sre-kit.")
    client.force_login(people["member"])
    page = client.get("/plugins/acme/ops-kit/").content.decode()
    assert "Claude Code cannot install this plugin from Skillport: your organisation prohibits it" in page
    assert "/plugin install ops-kit" not in page


def test_a_dependency_is_judged_as_the_approved_commit_declares_it(client, make_repo, synced_marketplace, people):
    """A push whose plugin.json adds a dependency waits for an admin (plugincontent): members still get the approved
    commit, which needs nothing, so the catalogue keeps listing it and the steps name no dependency, until then."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("app"), plugin_entry("base"), name="acme-skills"),
        "plugins/app/.claude-plugin/plugin.json": json.dumps({"name": "app"}),
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill") for name in ("app", "base")},
    })
    m = synced_marketplace(repo, slug="acme")
    m.requires_approval = True
    m.save(update_fields=["requires_approval"])
    Plugin.objects.filter(name="base").update(audience=["github:@acme/core"])
    repo.commit({"plugins/app/.claude-plugin/plugin.json": json.dumps({"name": "app", "dependencies": ["base"]})})
    assert sync_marketplace(m.pk).status == "ok"
    app = Plugin.objects.select_related("marketplace").get(name="app")
    assert app.approved_commit != app.commit and app.manifest["dependencies"] == ["base"]
    assert [entry["name"] for entry in curated(client, people["member"]).json()["plugins"]] == ["app"]
    steps = install.steps(Skill.objects.get(slug="app-skill"), people["member"])["CC"]
    assert not any("depends on" in step for step in steps)

    approval.approve_plugin_content(Plugin.objects.filter(pk=app.pk), None)
    app.refresh_from_db()
    assert app.approved_commit == app.commit and app.approved_manifest == app.manifest
    assert curated(client, people["member"]).json()["plugins"] == []  # base is not shared with orla
    assert install.claude_code(app, people["member"])["unavailable"].startswith("it depends on base, ")


def test_whether_a_skill_pages_catalogue_lists_its_plugin_is_a_prepared_statement(client, market, people):
    """Compiled once per visibility key and prepared (planning it for each plugin cost a millisecond a page; its
    generic plan reads the plugin's skills alone: bench/README.md), it still answers for each plugin and each
    member."""
    from django.db import connection

    client.force_login(people["member"])
    for _ in range(8):  # psycopg prepares what a connection has run five times
        assert "/plugin install ops-kit@acme-skills" in client.get("/skills/acme/ops-kit/postmortem/").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('"marketplace_plugin"."approved_commit"' in statement and ' AS "unseen"' in statement
               for statement in prepared)
    core_only = Plugin.objects.select_related("marketplace").get(name="core-only")
    assert install.claude_code(core_only, people["member"])["unavailable"]  # not shared with orla
    assert install.claude_code(core_only, people["core"])["unavailable"] == ""


def test_a_plugin_at_the_top_of_the_repository_is_only_for_those_who_may_see_every_skill_there(
        client, make_repo, synced_marketplace, people, tmp_path):
    """Plugins at the top of one repository (`"./"`, each listing its skills, as anthropics/skills is laid out) each
    install the whole repository: a member who may not see one plugin's skill gets neither plugin, since installing
    either would hand them its files. The pinned CLI shows the folder arriving whole."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("documents", source="./", strict=False, skills=["./skills/pdf"]),
            plugin_entry("internal", source="./", strict=False, skills=["./skills/payroll"]),
            plugin_entry("ops-kit"), plugin_entry("deploy-hooks"), name="acme-skills"),
        "skills/pdf/SKILL.md": skill_md("pdf"),
        "skills/payroll/SKILL.md": skill_md("payroll", "Salaries by employee."),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem"),
        "plugins/deploy-hooks/hooks/hooks.json": json.dumps({"hooks": {}}),
    })
    synced_marketplace(repo, slug="acme")
    assert dict(Plugin.objects.values_list("name", "holds")) == {
        "documents": ["deploy-hooks", "internal", "ops-kit"], "internal": ["deploy-hooks", "documents", "ops-kit"],
        "ops-kit": [], "deploy-hooks": []}
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])

    text = curated(client, people["core"]).content.decode()
    assert {entry["name"] for entry in json.loads(text)["plugins"]} == {
        "documents", "internal", "ops-kit", "deploy-hooks"}
    home = tmp_path / "home"
    printed, errors = installed(catalogue_folder(tmp_path, text), "documents@acme-skills", home)
    assert errors.get("documents@acme-skills") == [], printed
    assert [path.read_text() for path in home.glob(".claude/plugins/cache/acme-skills/documents/*/skills/payroll/SKILL.md")
            ] == [skill_md("payroll", "Salaries by employee.")]

    assert {entry["name"] for entry in curated(client, people["member"]).json()["plugins"]} == {
        "ops-kit", "deploy-hooks"}
    client.force_login(people["admin"])
    change = client.get(f"/admin/marketplace/plugin/{Plugin.objects.get(name='documents').pk}/change/").content.decode()
    assert ("Its folder holds other plugins, which Claude Code installs with it: deploy-hooks, internal, ops-kit, so a "
            "member&#x27;s curated catalogue lists it only if") in change
    documents = Plugin.objects.select_related("marketplace").get(name="documents")
    assert install.claude_code(documents, people["member"])["unavailable"].startswith(
        "some of its skills, or of the plugins its folder holds, are not shared with you")
    client.force_login(people["member"])
    page = client.get("/skills/acme/documents/pdf/").content.decode()
    assert "/plugin install documents" not in page and "unzip -o pdf.skill" in page
    Plugin.objects.filter(name="internal").update(audience=[])  # shared again
    assert {entry["name"] for entry in curated(client, people["member"]).json()["plugins"]} == {
        "documents", "internal", "ops-kit", "deploy-hooks"}
    # A plugin of hooks alone in their folder is theirs too.
    Plugin.objects.filter(name="deploy-hooks").update(audience=["github:@acme/core"])
    assert {entry["name"] for entry in curated(client, people["member"]).json()["plugins"]} == {"ops-kit"}


def test_plugins_of_one_fetched_repository_hold_each_other_too(client, make_repo, synced_marketplace, git_host,
                                                                people):
    """Two entries sourcing one GitHub repository at its top install all of it, each the other's files."""
    git_host("acme/mono", {"skills/pdf/SKILL.md": skill_md("pdf"), "skills/payroll/SKILL.md": skill_md("payroll")})
    mono = {"source": "github", "repo": "acme/mono"}
    repo = make_repo({".claude-plugin/marketplace.json": catalog(
        plugin_entry("documents", source=mono, strict=False, skills=["./skills/pdf"]),
        plugin_entry("internal", source=mono, strict=False, skills=["./skills/payroll"]), name="acme-skills")})
    synced_marketplace(repo, slug="acme")
    assert dict(Plugin.objects.values_list("name", "holds")) == {"documents": ["internal"], "internal": ["documents"]}
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])
    assert {entry["name"] for entry in curated(client, people["member"]).json()["plugins"]} == set()
    assert {entry["name"] for entry in curated(client, people["core"]).json()["plugins"]} == {"documents", "internal"}


def test_links_out_of_a_plugins_folder_do_not_come_with_it_through_the_catalogue(
        client, make_repo, synced_marketplace, people, tmp_path):
    """Claude Code follows a plugin's links as it copies the plugin from a marketplace it reads itself, but installs
    a `git-subdir` source, the curated catalogue's, without those leaving the plugin's folder (the pinned CLI says
    so). So a link into a plugin kept from the member hands over nothing of it (`Plugin.holds` counts folders, not
    links); and a skill reached through such a link, or holding one, is said to come without it, and its steps
    install it on its own."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("writing"), plugin_entry("internal"),
                                                   name="acme-skills"),
        "plugins/writing/skills/memo/SKILL.md": skill_md("memo"),
        "plugins/writing/skills/style/SKILL.md": skill_md("style"),
        "plugins/writing/skills/style/guide.md": Symlink("../../../../shared/guide.md"),
        "plugins/writing/scripts/own.sh": "echo own\n",
        "plugins/writing/scripts/alias.sh": Symlink("own.sh"),
        "plugins/writing/skills/payroll": Symlink("../../internal/skills/payroll"),
        "plugins/writing/scripts/run.sh": Symlink("../../internal/scripts/export.sh"),
        "plugins/internal/skills/payroll/SKILL.md": skill_md("payroll", "Salaries by employee."),
        "plugins/internal/scripts/export.sh": "echo exporting salaries\n",
        "shared/guide.md": "The house style.\n",
    })
    synced_marketplace(repo, slug="acme")
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])
    assert dict(Plugin.objects.values_list("name", "holds")) == {"writing": [], "internal": []}
    [warned] = [p["message"] for p in Plugin.objects.get(name="writing").problems if p["code"] == "links-out-of-plugin"]
    assert warned.startswith("3 symbolic link(s) in the plugin lead out of its folder (scripts/run.sh, "
                             "skills/payroll, skills/style/guide.md)")
    said = {skill.name: [p["message"] for p in skill.problems if p["code"] == "links-out-of-plugin"]
            for skill in Skill.objects.filter(plugin__name="writing")}
    assert said["memo"] == [] and said["payroll"][0].startswith(
        "Installed with its plugin through Skillport, the skill comes without its folder")
    assert said["style"][0].startswith("Installed with its plugin through Skillport, the skill comes without these "
                                       "symbolic links out of the plugin's folder: guide.md.")
    text = curated(client, people["member"]).content.decode()
    [listed] = json.loads(text)["plugins"]
    assert listed["name"] == "writing" and listed["source"]["source"] == "git-subdir"

    home = tmp_path / "home"
    printed, errors = installed(catalogue_folder(tmp_path, text), "writing@acme-skills", home)
    assert errors.get("writing@acme-skills") == [], printed
    [folder] = home.glob(".claude/plugins/cache/acme-skills/writing/*")
    got = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file() or path.is_symlink())
    assert got == ["scripts/alias.sh", "scripts/own.sh", "skills/memo/SKILL.md", "skills/style/SKILL.md"], printed
    assert (folder / "scripts/alias.sh").read_text() == "echo own\n"

    client.force_login(people["member"])
    for skill, whole in (("memo", True), ("payroll", False), ("style", False)):
        page = client.get(f"/skills/acme/writing/{skill}/").content.decode()
        assert ("/plugin install writing@acme-skills" in page) is whole and (f"unzip -o {skill}.skill" in page) is not whole


def test_a_plugin_holding_more_plugins_than_the_sync_names_is_left_out_for_everyone(client, make_repo,
                                                                                   synced_marketplace, people):
    """A catalogue of many plugins at its top would make each of them name every other: past snapshot.MOST_HELD the
    plugin is marked as holding too many, warned of, and left out of curated catalogues, the admin's too; the
    plugins of folders of their own stay."""
    from marketplace.snapshot import MOST_HELD

    entries = [plugin_entry(f"top-{n}", source="./", strict=False, skills=[]) for n in range(MOST_HELD + 1)]
    # And a plugin whose folder holds as many others, each with several skills below it: counted by plugin.
    nested = {f"plugins/shelf/{n}/skills/{skill}/SKILL.md": skill_md(skill) for n in range(MOST_HELD + 1)
              for skill in ("a", "b", "c")}
    entries += [plugin_entry("shelf", source="./plugins/shelf", strict=False, skills=[])]
    entries += [plugin_entry(f"item-{n}", source=f"./plugins/shelf/{n}") for n in range(MOST_HELD + 1)]
    repo = make_repo({".claude-plugin/marketplace.json": catalog(*entries, plugin_entry("ops-kit"), name="acme-skills"),
                      "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem"), **nested})
    synced_marketplace(repo, slug="acme")
    for name in ("top-0", "shelf"):
        plugin = Plugin.objects.get(name=name)
        assert plugin.holds == ["*"] and [p for p in plugin.problems if p["code"] == "holds-unchecked"]
    client.force_login(people["admin"])
    change = client.get(f"/admin/marketplace/plugin/{Plugin.objects.get(name='shelf').pk}/change/").content.decode()
    assert f"Its folder holds other plugins, which Claude Code installs with it: more than {MOST_HELD}, or one" in change
    assert Plugin.objects.get(name="ops-kit").holds == Plugin.objects.get(name="item-7").holds == []
    for persona in ("member", "admin"):
        listed = {entry["name"] for entry in curated(client, people[persona]).json()["plugins"]}
        assert "ops-kit" in listed and "item-7" in listed and not {"top-0", "shelf"} & listed


def test_a_plugin_holding_one_too_long_to_store_is_left_out(client, make_repo, synced_marketplace, people):
    """A plugin whose name is over its column is not stored, so nobody here reviews it: one whose folder holds it
    would hand its files over unreviewed."""
    repo = make_repo({".claude-plugin/marketplace.json": catalog(
        plugin_entry("kit", source="./plugins/kit"), plugin_entry("p" * 201, source="./plugins/kit/inner"),
        plugin_entry("ops-kit"), name="acme-skills"),
        "plugins/kit/skills/a/SKILL.md": skill_md("a"), "plugins/kit/inner/skills/b/SKILL.md": skill_md("b"),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem")})
    synced_marketplace(repo, slug="acme")
    kit = Plugin.objects.get(name="kit")
    assert kit.holds == ["*"] and [p for p in kit.problems if p["code"] == "holds-unchecked"]
    assert {entry["name"] for entry in curated(client, people["admin"]).json()["plugins"]} == {"ops-kit"}
