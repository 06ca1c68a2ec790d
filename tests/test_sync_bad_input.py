"""Bad input never costs the last good catalogue: each case syncs a good repository, commits one
bad change, syncs again and checks the exact problem recorded and what survived (FORMAT.md §1-4, §7).
"""
import json
import string
import time

import pytest

from marketplace import manifest, sync, typesfile
from marketplace.models import Blob, Marketplace, Plugin, Skill, SkillFile, Status
from marketplace.problems import Problems
from marketplace.sync import sync_marketplace

from .builders import Symlink, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

CATALOG = ".claude-plugin/marketplace.json"
ACCESS = '{"editors": ["github:@alice"], "defaults": {"read": "editors", "write": "editors"}}'
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)
ALPHA_MD = "plugins/tools/skills/alpha/SKILL.md"


def good_catalogue(remote=False) -> dict:
    """The good catalogue as a fresh dict, for a test to spoil."""
    plugins = [plugin_entry("tools"), plugin_entry("other")]
    if remote:
        plugins.append(plugin_entry("remote", {"source": "github", "repo": "acme/remote"}))
    return {"name": "test-market", "owner": {"name": "Tests"}, "plugins": plugins}


class Good:
    """A marketplace synced from a good repository, and what that sync produced."""

    def __init__(self, repo, market, remote):
        self.repo, self.market, self.remote = repo, market, remote
        run = sync_marketplace(market.pk)
        assert run.status == Status.OK and run.problems == [], run.problems
        self.commit = repo.head
        self.rows = rows(market)
        self.live = live(market)

    def catalogue(self) -> dict:
        return good_catalogue(self.remote)

    def commit_catalogue(self, data):
        self.repo.commit({CATALOG: json.dumps(data, indent=2)})

    def sync(self):
        return sync_marketplace(self.market.pk)


def _good(make_repo, make_marketplace, remote):
    repo = make_repo({
        CATALOG: json.dumps(good_catalogue(remote), indent=2),
        ".skillport/access.json": ACCESS,
        ALPHA_MD: skill_md("alpha", "Alpha does A."),
        "plugins/tools/skills/alpha/scripts/run.py": "print('alpha')\n",
        "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "Beta does B."),
        "plugins/other/skills/gamma/SKILL.md": skill_md("gamma", "Gamma does C."),
    })
    return Good(repo, make_marketplace(repo), remote)


@pytest.fixture
def good(make_repo, make_marketplace):
    """Plugins `tools` (alpha, beta) and `other` (gamma), both relative sources."""
    return _good(make_repo, make_marketplace, remote=False)


@pytest.fixture
def good_remote(make_repo, make_marketplace, git_host):
    """As `good`, plus plugin `remote` (skill delta) from acme/remote on the fake GitHub."""
    git_host("acme/remote", {"skills/delta/SKILL.md": skill_md("delta", "Delta does D.")})
    return _good(make_repo, make_marketplace, remote=True)


def rows(marketplace):
    """Every Plugin, Skill and SkillFile row of a marketplace, every column: any write shows."""
    return {
        "plugins": list(Plugin.objects.filter(marketplace=marketplace).order_by("name").values()),
        "skills": list(Skill.objects.filter(marketplace=marketplace).order_by("plugin__name", "slug").values()),
        "files": list(SkillFile.objects.filter(skill__marketplace=marketplace).order_by("skill_id", "path").values()),
    }


def live(marketplace):
    """The catalogue as users see it: {(plugin, skill slug): content_hash} of live skills."""
    return {
        (plugin, slug): content_hash
        for plugin, slug, content_hash in Skill.objects.filter(marketplace=marketplace, removed_at=None)
        .values_list("plugin__name", "slug", "content_hash")
    }


def without(catalogue, *keys):
    return {key: value for key, value in catalogue.items() if key not in keys}


def codes(run):
    """The run's problems, less the notes on SKILL.md files no plugin reaches: a plugin that cannot
    be read leaves its skills unreached too (test_claude_code_oracle.py checks those notes)."""
    return [(p["severity"], p["code"]) for p in run.problems if p["code"] != "skill-unreachable"]


def assert_catalogue_kept(good, run, code):
    """A catalogue-level failure: the run fails and not one Plugin, Skill or SkillFile row changes."""
    assert run.status == Status.FAILED, run.problems
    assert codes(run) == [("error", code)]
    assert rows(good.market) == good.rows
    market = Marketplace.objects.get(pk=good.market.pk)
    assert market.status == Status.FAILED
    assert market.last_synced_commit == good.commit
    assert market.last_error


def assert_plugin_kept(good, run, plugin, code):
    """A plugin-level failure: that plugin keeps its skills, live; every other plugin is untouched."""
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", code)]
    assert live(good.market) == good.live
    row = Plugin.objects.get(marketplace=good.market, name=plugin)
    assert row.removed_at is None
    assert code in [p["code"] for p in row.problems]
    assert Skill.objects.filter(plugin=row, removed_at=None).exists()
    market = Marketplace.objects.get(pk=good.market.pk)
    assert market.last_synced_commit == good.repo.head


# -- the catalogue cannot be read: nothing changes ------------------------------------------


@pytest.mark.parametrize("content, code", [
    ('{"name": "test-market", "owner": {"name": "Tests"}, "plugins": [,]}', "catalog-invalid-json"),
    (None, "catalog-missing"),
    ('[{"name": "tools", "source": "./plugins/tools"}]', "catalog-not-claude-code"),
    (json.dumps({"name": "my-ext", "publisher": "acme", "engines": {"vscode": "^1.80.0"},
                 "contributes": {"commands": []}}), "catalog-not-claude-code"),
    ('{"name": "test-market", "owner": {"name": "Tests"}, "plugins": {"tools": "./plugins/tools"}}',
     "catalog-plugins-not-array"),
    (LFS_POINTER, "lfs-pointer"),
    (Symlink("../../outside.json"), "symlink-escape"),
    ('{"name": "test-market", "owner": {"name": "Tests"}, "plugins": [], "version": NaN}', "catalog-invalid-json"),
], ids=["invalid-json", "deleted", "json-array", "vscode-extension", "plugins-object", "lfs", "symlink-out", "nan"])
def test_unreadable_catalogue_keeps_the_last_good_one(good, content, code):
    good.repo.commit({CATALOG: content})
    run = good.sync()
    assert_catalogue_kept(good, run, code)


def test_catalogue_over_the_file_limit_keeps_the_last_good_one(good, settings):
    settings.SKILLPORT_MAX_FILE_BYTES = 4096
    data = good.catalogue()
    data["description"] = "x" * 5000
    good.commit_catalogue(data)
    run = good.sync()
    assert_catalogue_kept(good, run, "catalog-too-large")


def test_ref_that_does_not_exist_keeps_the_last_good_catalogue(good):
    Marketplace.objects.filter(pk=good.market.pk).update(ref="nope")
    run = good.sync()
    assert_catalogue_kept(good, run, "fetch-failed")
    assert "nope" in Marketplace.objects.get(pk=good.market.pk).last_error


# -- the catalogue loads with catalogue-level errors or warnings ------------------------------


@pytest.mark.parametrize("change, problem, status", [
    (lambda c: without(c, "name"), ("error", "catalog-missing-name"), Status.OK),
    (lambda c: without(c, "owner"), ("error", "catalog-missing-owner"), Status.OK),
    (lambda c: {**c, "owner": "Tests"}, ("error", "catalog-missing-owner"), Status.OK),
    (lambda c: {**c, "owner": {"name": ""}}, ("error", "owner-name-empty"), Status.OK),
    (lambda c: {**c, "owner": {"name": "   ", "email": "a@example.com"}}, ("error", "owner-name-empty"), Status.OK),
    (lambda c: {**c, "name": "my market"}, ("error", "marketplace-name-invalid"), Status.OK),
    (lambda c: {**c, "name": "-market"}, ("error", "marketplace-name-invalid"), Status.OK),
    (lambda c: {**c, "name": "market..v2"}, ("error", "marketplace-name-invalid"), Status.OK),
    # Claude Code's validator cannot tell where a folder is published from: an official name is
    # only a warning here (an error from any repository outside github.com/anthropics/).
    (lambda c: {**c, "name": "claude-plugins-official"}, ("warning", "marketplace-name-reserved"), Status.OK),
    (lambda c: {**c, "name": "Builtin"}, ("error", "marketplace-name-reserved"), Status.OK),
    (lambda c: {**c, "name": "claude-marketplace"}, ("error", "marketplace-name-impersonates"), Status.OK),
    (lambda c: {**c, "renames": {"old": "new", "new": "old"}}, ("error", "renames-cycle"), Status.OK),
    # An entry that cannot be read at all is a plugin missing from the sync.
    (lambda c: {**c, "plugins": c["plugins"] + ["./plugins/other"]}, ("error", "plugin-not-object"), Status.PARTIAL),
    (lambda c: {**c, "plugins": c["plugins"] + [{"source": "./plugins/other"}]}, ("error", "plugin-missing-name"),
     Status.PARTIAL),
    # Found by differential fuzzing: a name of another type stopped the read of the whole catalogue.
    (lambda c: {**c, "plugins": c["plugins"] + [{"name": {"a": 1}, "source": "./x"}]}, ("error", "plugin-missing-name"),
     Status.PARTIAL),
], ids=[
    "no-name", "no-owner", "owner-string", "owner-name-empty", "owner-name-blank", "name-space",
    "name-leading-dash", "name-dotdot", "reserved-official", "reserved-built-in", "imitates-official",
    "renames-cycle", "entry-not-object", "entry-without-name", "entry-name-not-text",
])
def test_catalogue_error_is_recorded_and_the_plugins_still_load(good, change, problem, status):
    data = change(good.catalogue())
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == status, run.problems
    assert codes(run) == [problem]
    assert live(good.market) == good.live
    assert sorted(Plugin.objects.filter(marketplace=good.market, removed_at=None).values_list("name", flat=True)) == [
        "other", "tools",
    ]
    market = Marketplace.objects.get(pk=good.market.pk)
    assert market.last_synced_commit == good.repo.head and market.status == status
    assert market.name == data.get("name", "test-market")  # no name: keep the one it had
    assert market.renames == {}  # a cycle is never stored, so nothing can follow it forever


@pytest.mark.parametrize("change", [
    lambda c: {**c, "homepage": "https://example.com"},
    lambda c: {**c, "metadata": {"description": "d", "colour": "blue"}},
    lambda c: {**c, "plugins": [{**c["plugins"][0], "colour": "blue"}] + c["plugins"][1:]},
], ids=["top-level", "metadata", "plugin-entry"])
def test_unknown_fields_are_warnings_only(good, change):
    good.commit_catalogue(change(good.catalogue()))
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "unknown-field")]
    assert live(good.market) == good.live


def test_commands_and_agents_whose_frontmatter_claude_code_refuses_are_warned_of(good):
    """The plugin installs all the same (Claude Code drops the field, its validator refuses the file): a
    warning each, naming the file; only Markdown below commands/ and agents/ is read."""
    good.repo.commit({
        "plugins/tools/commands/release/notes.md": "---\ndescription: [notes]\nshell: zsh\n---\nWrite the notes.\n",
        "plugins/tools/commands/plain.md": "Without frontmatter.\n",
        "plugins/tools/commands/draft.txt": "---\nname: 3\n---\nNot a command.\n",
        "plugins/tools/agents/reviewer.md": "---\nname: 3\ndescription: Reviews.\nallowed-tools: [Read, 3]\nshell: zsh\n"
                                            "---\nYou review.\n",  # an agent's shell Claude Code does not read
        "plugins/tools/docs/other.md": "---\nname: 3\n---\nNot a command either.\n",
    })
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert [(p["location"], p["message"]) for p in run.problems if p["code"] == "component-frontmatter-invalid"] == [
        ("plugins/tools/commands/release/notes.md", "description: must be a string, not a list; Claude Code drops it "
                                                    "and claude plugin validate refuses it"),
        ("plugins/tools/commands/release/notes.md", 'shell: must be bash or powershell, not "zsh"; claude plugin '
                                                    "validate refuses it"),
        ("plugins/tools/agents/reviewer.md", "name: must be a string, not a number; claude plugin validate refuses it"),
        ("plugins/tools/agents/reviewer.md", "allowed-tools: must be a string or a list of strings, not a list holding "
                                             "other than strings; claude plugin validate refuses it"),
    ]
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads


def test_a_plugin_full_of_commands_is_read_only_so_far(good, monkeypatch):
    monkeypatch.setattr("marketplace.componentfiles.MAX_FILES", 2)
    good.repo.commit({f"plugins/tools/commands/c{n}.md": "---\nname: 3\n---\nGo.\n" for n in range(5)})
    run = good.sync()
    assert [p["location"] for p in run.problems if p["code"] == "component-frontmatter-invalid"] == [
        "plugins/tools/commands/c0.md", "plugins/tools/commands/c1.md"]


def test_commands_reached_through_symlinks_out_of_the_repository_are_not_read(good, tmp_path):
    """A commands folder, or a command, that is a link leading outside the repository: nothing there is read
    (Skillport reports such links where the plugin is read), and the sync goes on."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret.md").write_text("---\nname: 3\n---\nNot the repository's.\n")
    good.repo.commit({"plugins/tools/agents": Symlink(str(tmp_path / "outside")),
                      "plugins/tools/commands/leak.md": Symlink("../../../../../outside/secret.md"),
                      "plugins/tools/commands/fine.md": "---\nname: 3\n---\nGo.\n"})
    run = good.sync()
    assert run.status != Status.FAILED, run.error
    assert [p["location"] for p in run.problems if p["code"] == "component-frontmatter-invalid"] == [
        "plugins/tools/commands/fine.md"]


def test_an_entrys_field_in_plugin_json_says_where_it_belongs(good):
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps(
        {"name": "tools", "relevance": {"signals": {"cli": ["tools"]}}, "colour": "blue"})})
    run = good.sync()
    assert run.status == Status.OK and [p["message"] for p in run.problems] == [
        "Unrecognized field 'colour' will be ignored",
        "Unrecognized field 'relevance' will be ignored here: it belongs in the plugin's marketplace entry"]


def test_a_field_a_letter_or_two_from_a_known_one_is_named_with_it(good):
    """As Claude Code's validator does: a slip of case or a letter or two names the field meant; one nothing is
    near is only unknown."""
    data = good.catalogue()
    data["plugins"][0].update(decription="Typo.", Keywords=["a"], src="./x", experimental={"themez": "./t"})
    data["metdata"] = {}
    good.commit_catalogue(data)
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "homepag": "x"})})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert sorted(p["message"] for p in run.problems if p["code"] == "unknown-field") == [
        "Unrecognized field 'Keywords' will be ignored: did you mean 'keywords'?",
        "Unrecognized field 'decription' will be ignored: did you mean 'description'?",
        "Unrecognized field 'experimental.themez' will be ignored: did you mean 'experimental.themes'?",
        "Unrecognized field 'homepag' will be ignored: did you mean 'homepage'?",
        "Unrecognized field 'metdata' will be ignored: did you mean 'metadata'?",
        "Unrecognized field 'src' will be ignored"]


def test_an_object_of_made_up_fields_is_not_guessed_at_past_a_hundred(monkeypatch):
    """A catalogue may hold a million made-up keys: guessing what each meant would spend the sync's time."""
    monkeypatch.setattr(Problems, "MOST_OF_A_CODE", 1000)  # every warning kept, to read what each said
    problems = Problems()
    slips = [f"descripti{a}{b}" for a in string.ascii_lowercase for b in string.ascii_lowercase]  # two letters off
    manifest.warn_unknown(dict.fromkeys([*slips[:manifest.SUGGESTED + 50], "nme"]), {"description", "name"}, "x",
                          problems)
    said = [p.message for p in problems]
    assert len(said) == manifest.SUGGESTED + 51 and said[0].endswith("did you mean 'description'?")
    assert sum("did you mean" in message for message in said) == manifest.SUGGESTED


def test_a_flood_of_one_problem_is_counted_not_held(good):
    """One commit of an entry with thousands of made-up keys made a warning each, all held in memory and stored on
    the plugin, whose page lists them: past Problems.MOST_OF_A_CODE of a code, one note counts the rest."""
    most = Problems.MOST_OF_A_CODE
    data = good.catalogue()
    data["plugins"][0].update(dict.fromkeys((f"made-up-{n:04}" for n in range(most + 150)), 1))
    data["plugins"][0]["strict"] = "yes"  # an error after the flood is still there
    good.commit_catalogue(data)
    run = good.sync()
    kept = Plugin.objects.get(marketplace=good.market, name="tools").problems
    assert [p["code"] for p in kept] == ["unknown-field"] * most + ["problems-truncated", "strict-not-boolean"]
    assert kept[most - 1]["message"] == f"Unrecognized field 'made-up-{most - 1:04}' will be ignored"
    assert kept[most] == {"severity": "info", "code": "problems-truncated", "location": kept[0]["location"],
                          "message": "150 more 'unknown-field' problems not listed"}
    assert [p for p in run.problems if p["location"] == kept[0]["location"]] == kept


def test_a_page_lists_what_a_plugin_stores_and_a_sync_what_its_run_stores(good, monkeypatch):
    """Problems of many kinds together still outgrow a page (here, fewer than a code may hold): a plugin or skill keeps MAX_ROW_PROBLEMS, a sync's run
    MAX_STORED_PROBLEMS, and each says how many it left out."""
    monkeypatch.setattr(sync, "MAX_ROW_PROBLEMS", 40)
    monkeypatch.setattr(sync, "MAX_STORED_PROBLEMS", 60)
    data = good.catalogue()
    data["plugins"][0].update(dict.fromkeys((f"made-up-{n:04}" for n in range(70)), 1))
    good.commit_catalogue(data)
    run = good.sync()
    kept = Plugin.objects.get(marketplace=good.market, name="tools").problems
    assert len(kept) == 41 and kept[-1] == {"severity": "info", "code": "problems-truncated", "location": "",
                                            "message": "30 more problems not stored"}
    assert len(run.problems) == 61 and run.problems[-1]["message"] == "10 more problems not stored"


def test_duplicate_plugin_name_keeps_the_first(good):
    data = good.catalogue()
    data["plugins"].append(plugin_entry("tools", "./plugins/other"))
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "duplicate-plugin-name")]
    assert live(good.market) == good.live
    assert Plugin.objects.get(marketplace=good.market, name="tools").source == {"path": "./plugins/tools"}


@pytest.mark.parametrize("name, code", [
    ("my tools", "plugin-name-invalid"),
    ("tools@evil", "plugin-name-invalid"),
    ("tools:x", "plugin-name-invalid"),
    ("evil\u202egpj.md", "name-bidi-control"),
], ids=["space", "at", "colon", "bidi-override"])
def test_invalid_plugin_name_is_skipped(good, name, code):
    data = good.catalogue()
    data["plugins"].append(plugin_entry(name, "./plugins/other"))
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", code)]
    assert not Plugin.objects.filter(marketplace=good.market, name=name).exists()
    assert live(good.market) == good.live


@pytest.mark.parametrize("name", ["claude-tools", "Anthropic-helpers", "claude", "anthropics-x", "cc-plugin-x",
                                  "claude-mods", "my-claude-official"])
def test_impersonating_plugin_name_is_an_error_but_loads(good, name):
    data = good.catalogue()
    data["plugins"].append(plugin_entry(name, "./plugins/other"))
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == Status.OK, run.problems  # everything loads: the name is advice, not a failure
    assert codes(run) == [("error", "plugin-name-impersonates")]
    impostor = Plugin.objects.get(marketplace=good.market, name=name)
    assert impostor.loads
    assert live(good.market) == {**good.live, (name, "gamma"): good.live[("other", "gamma")]}


@pytest.mark.parametrize("content", ["{oops", "[]"], ids=["invalid-json", "not-an-object"])
def test_invalid_access_json_is_an_error(good, content):
    good.repo.commit({".skillport/access.json": content})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "access-json-invalid")]
    assert live(good.market) == good.live


def test_broken_access_json_does_not_open_restricted_skills(good):
    # Judgement, not spelled out in FORMAT.md: a typo in access.json must not turn "editors only"
    # into "everyone reads" (the meaning of a missing file); keep the last rules that could be read.
    before = Marketplace.objects.get(pk=good.market.pk).access_rules
    assert before["defaults"]["read"] == "editors"
    good.repo.commit({".skillport/access.json": "{oops"})
    good.sync()
    assert Marketplace.objects.get(pk=good.market.pk).access_rules == before


def test_an_access_json_over_the_file_size_limit_is_not_read_and_keeps_the_rules(good, settings):
    before = Marketplace.objects.get(pk=good.market.pk).access_rules
    settings.SKILLPORT_MAX_FILE_BYTES = 1000
    good.repo.commit({".skillport/access.json": json.dumps({"defaults": {"read": "*"}, "pad": "x" * 1000})})
    run = good.sync()
    assert [(p["code"], p["location"]) for p in run.problems] == [("access-json-invalid", ".skillport/access.json")]
    assert "over the file-size limit" in run.problems[0]["message"]
    assert Marketplace.objects.get(pk=good.market.pk).access_rules == before


# -- one plugin cannot be read: it keeps what it had, the others are untouched ---------------


@pytest.mark.parametrize("source, code", [
    ("../x", "path-traversal"),
    ("./../x", "path-traversal"),
    ("/etc", "path-traversal"),
    ("./plugins\\other", "path-traversal"),
    ({"source": "svn", "url": "https://example.com/repo"}, "source-unknown-type"),
    ("./plugins/nowhere", "plugin-source-missing"),
    ("./plugins/tools/skills/alpha/SKILL.md", "plugin-source-not-folder"),
    (None, "plugin-missing-source"),
], ids=["dotdot", "dot-slash-dotdot", "absolute", "backslash", "unknown-type", "missing-folder",
        "file-not-folder", "no-source"])
def test_bad_relative_source_keeps_the_plugins_skills(good, source, code):
    data = good.catalogue()
    data["plugins"][1] = {"name": "other", "source": source} if source is not None else {"name": "other"}
    good.commit_catalogue(data)
    run = good.sync()
    assert_plugin_kept(good, run, "other", code)


@pytest.mark.parametrize("source, code", [
    ({"source": "git-subdir", "url": "acme/remote", "path": "../outside"}, "path-traversal"),
    ({"source": "github", "repo": "acme/remote", "sha": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"},
     "source-invalid-sha"),
    ({"source": "github", "repo": "acme/remote", "sha": "abc123"}, "source-invalid-sha"),
    ({"source": "github", "repo": "acme/remote", "sha": "g" * 40}, "source-invalid-sha"),
    ({"source": "github", "repo": "acme/does-not-exist"}, "source-fetch-failed"),
], ids=["git-subdir-traversal", "sha-uppercase", "sha-short", "sha-not-hex", "repo-missing"])
def test_bad_git_source_keeps_the_plugins_skills(good_remote, source, code):
    data = good_remote.catalogue()
    data["plugins"][2]["source"] = source
    good_remote.commit_catalogue(data)
    run = good_remote.sync()
    assert_plugin_kept(good_remote, run, "remote", code)
    assert live(good_remote.market)[("remote", "delta")] == good_remote.live[("remote", "delta")]


def test_plugin_folder_that_is_an_escaping_symlink_is_refused(good, tmp_path):
    (tmp_path / "outside/skills/stolen").mkdir(parents=True)
    (tmp_path / "outside/skills/stolen/SKILL.md").write_text(skill_md("stolen"))
    data = good.catalogue()
    data["plugins"][1]["source"] = "./plugins/link"
    good.repo.commit({CATALOG: json.dumps(data), "plugins/link": Symlink(str(tmp_path / "outside"))})
    run = good.sync()
    assert_plugin_kept(good, run, "other", "symlink-escape")
    assert not Skill.objects.filter(slug="stolen").exists()


def test_submodule_as_plugin_folder_keeps_the_plugins_skills(good):
    repo = good.repo
    repo.write({"plugins/other/skills/gamma/SKILL.md": None})
    repo.git("add", "--all")
    # A gitlink: the folder's content lives in another repository that is not here.
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},plugins/other")
    repo.git("commit", "--quiet", "-m", "plugins/other becomes a submodule")
    assert repo.git("ls-tree", "HEAD", "plugins/other").startswith("160000 commit")
    run = good.sync()
    assert_plugin_kept(good, run, "other", "submodule")


def test_strict_false_with_plugin_json_and_entry_components_is_a_warning_and_the_plugin_does_not_load(good):
    # Claude Code 2.1.332's validator passes such a plugin and it installs, but it does not load ("conflicting
    # manifests", `claude plugin list`: test_claude_code_oracle.py). Its skills are still stored.
    data = good.catalogue()
    data["plugins"][0].update(strict=False, skills=["./skills/alpha"])
    good.repo.commit({
        CATALOG: json.dumps(data),
        "plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "version": "1.0.0"}',
    })
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("warning", "strict-conflict")]
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads
    skills = Skill.objects.filter(plugin=tools, removed_at=None)
    assert skills.count() == 2 and not any(skills.values_list("loads_in_claude_code", flat=True))


# -- the plugin loads, with a problem in its own files -------------------------------------------


@pytest.mark.parametrize("skills, problems", [
    (["./../../../etc"], [("error", "path-traversal")]),
    # Not starting with './' is a schema error Claude Code refuses the plugin for as well.
    (["/etc"], [("error", "component-path-not-relative"), ("error", "path-traversal")]),
], ids=["dotdot", "absolute"])
def test_skills_path_traversal_is_refused_and_the_scan_still_runs(good, skills, problems):
    data = good.catalogue()
    data["plugins"][0]["skills"] = skills
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == problems
    assert set(live(good.market)) == set(good.live)


@pytest.mark.parametrize("manifest, code", [
    ('{"name": "tools", "author": "Bob"}', "author-not-object"),
    ('{"name": "tools", "repository": {"type": "git", "url": "https://example.com/r"}}', "repository-not-string"),
])
def test_bad_display_field_in_plugin_json_is_an_error_and_the_plugin_loads(good, manifest, code):
    # Claude Code's validator reports it; its installer ignores the field and loads the plugin.
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": manifest})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("error", code)]
    assert live(good.market) == good.live
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert tools.loads and tools.author == {} and tools.repository == ""


def test_a_hook_claude_code_cannot_read_is_left_out_of_a_plugin_json_and_refuses_an_entry(good):
    """Claude Code loads a plugin whose plugin.json holds a hook it cannot read, without that hook (and warns);
    the same hook written in the marketplace entry refuses the plugin."""
    bad = {"SessionStart": [{"hooks": [{"type": "command", "command": "echo hi"}, {"type": "command"}]}]}
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "hooks": bad})})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert run.problems == [{"severity": "warning", "code": "hook-ignored",
                             "location": "plugins/tools/.claude-plugin/plugin.json",
                             "message": "hooks.SessionStart[0].hooks[1].command: Required for a command hook, a "
                                        "string. Claude Code leaves it out and loads the plugin without it"}]
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads
    assert all(Skill.objects.filter(marketplace=good.market).values_list("loads_in_claude_code", flat=True))

    data = good.catalogue()
    data["plugins"][0]["hooks"] = bad
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools"}'})
    good.commit_catalogue(data)
    run = good.sync()
    assert run.status == Status.PARTIAL and codes(run) == [("error", "component-path-invalid")], run.problems
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads and "hooks.SessionStart[0].hooks[1].command: Required" in tools.problems[0]["message"]


def test_a_hooks_file_claude_code_cannot_read_leaves_the_plugin_loading_without_hooks(good):
    """A hooks.json that is no JSON is an error, and Claude Code loads the plugin without its hooks (its session
    offers the skills: tests/test_claude_code_oracle.py); one whose `hooks` is no object of events may hold a
    hook that guards a tool's use, and Claude Code does not load the plugin."""
    good.repo.commit({"plugins/tools/hooks/hooks.json": '{"hooks": {"SessionStart": ['})
    run = good.sync()
    assert run.status == Status.OK and codes(run) == [("error", "hooks-json-invalid")], run.problems
    assert run.problems[0]["location"] == "plugins/tools/hooks/hooks.json"
    assert run.problems[0]["message"].endswith("; Claude Code loads the plugin without its hooks until it is")
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert tools.loads and Skill.objects.get(marketplace=good.market, plugin=tools, name="alpha").loads_in_claude_code

    good.repo.commit({"plugins/tools/hooks/hooks.json": json.dumps({"hooks": [{"matcher": "Bash"}]})})
    run = good.sync()
    assert run.status == Status.PARTIAL and codes(run) == [("error", "hooks-json-invalid")], run.problems
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads
    alpha = Skill.objects.get(marketplace=good.market, plugin=tools, name="alpha")
    assert not alpha.loads_in_claude_code
    assert "its hooks file plugins/tools/hooks/hooks.json holds no object of events" in str(alpha.verdict_reasons)

    good.repo.commit({"plugins/tools/hooks/hooks.json": json.dumps({"hooks": {"SessionStart": [{"hooks": [
        {"type": "http", "url": "hooks.example"}]}]}})})
    run = good.sync()
    assert run.status == Status.OK and codes(run) == [("warning", "hook-ignored")], run.problems
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads
    assert Skill.objects.get(marketplace=good.market, plugin=tools, name="alpha").loads_in_claude_code


def test_a_types_file_that_holds_code_is_an_error_and_the_plugin_loads(good, monkeypatch, admin_client):
    """Claude Code's validator refuses a plugin whose plugin.json names a types file holding more than types, and
    Claude Code loads it all the same (the contract is for the plugins built against it); one past what Skillport
    judges is passed over."""
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "types": "./index.d.ts"}',
                      "plugins/tools/index.d.ts": "export type Mode = 'a' | 'b'\nexport const mode: Mode = 'a'\n"})
    run = good.sync()
    assert run.status == Status.OK and codes(run) == [("error", "types-not-declarations")] * 2, run.problems
    assert {p["location"] for p in run.problems} == {"plugins/tools/index.d.ts"}
    assert [p["message"] for p in run.problems] == [
        "types: line 2: `export` at the top level is followed by `type` or `interface`: a contract exports types and "
        "nothing else", "types: line 2: `const` declares something that runs; a contract holds types only"]
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads

    # A plugin that does not load: its page says why, though a warning comes first among its problems.
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps(
        {"name": "tools", "hooks": {"Stop": [{"hooks": [{"type": "prompt"}]}]}, "commands": "./nowhere"}),
        "plugins/tools/hooks/hooks.json": json.dumps({"hooks": {"PreToolUse": [{"hooks": [{"type": "command"}]}]}})})
    good.sync()
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert [p["code"] for p in tools.problems][:3] == [
        "hook-ignored", "component-path-missing", "hook-guard-unreadable"] and not tools.loads
    page = admin_client.get(f"/plugins/{good.market.slug}/tools/").content.decode()
    assert ("<strong>Claude Code will not load this plugin</strong>: its hooks file plugins/tools/hooks/hooks.json "
            "has a PreToolUse hook it cannot read") in page

    monkeypatch.setattr(typesfile, "MAX_BYTES", 40)
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "types": "./index.d.ts", '
                                                                  '"description": "Tools."}',
                      "plugins/tools/hooks/hooks.json": None})
    run = good.sync()
    assert run.status == Status.OK and run.problems == [], run.problems
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads


def test_a_types_file_of_thousands_of_nested_templates_is_read_without_recursion():
    """A template literal in a placeholder in a template literal...: read with a stack, as Python's recursion
    would stop (and fail the whole read) a thousand levels down."""
    nested = "export type A = " + "`${" * 5000 + "1" + "}`" * 5000 + "\n"
    assert typesfile.problems(nested) == []
    assert typesfile.problems(nested[:-3]) == ["does not parse as TypeScript: a template literal on line 1 does not "
                                               "close"]


def test_a_plugin_that_depends_on_one_its_marketplace_does_not_list_does_not_load(good, admin_client):
    """Claude Code installs it without the dependency and will not load it; one of another marketplace it may, where
    the member has that one (and Claude Code installs it with the plugin only where the catalogue allows that
    marketplace). With only warnings to list, the plugin page says why from what the sync stored."""
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps(
        {"name": "tools", "dependencies": ["nowhere", "other", "lint@elsewhere", {"name": "x", "marketplace": "test-market"}]})})
    run = good.sync()
    assert run.status == Status.PARTIAL and codes(run) == [("warning", "dependency-missing")] * 2 + [
        ("warning", "dependency-not-allowed")], run.problems
    assert [p["message"].split(":")[1].split("'")[1] for p in run.problems] == ["nowhere", "x@test-market",
                                                                                 "lint@elsewhere"]
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads and tools.refusal == "it depends on nowhere, which its marketplace does not list"
    page = admin_client.get(f"/plugins/{good.market.slug}/tools/").content.decode()
    assert "this plugin</strong>: it depends on nowhere, which its marketplace does not list." in page


def test_dependencies_in_a_circle_and_on_a_plugin_that_lacks_its_own(good, admin_client):
    """Claude Code will not install a plugin whose entries' dependencies lead back round (`claude plugin install`:
    "Dependency cycle"), though the same circle in plugin.json installs and loads, and will not load one whose
    dependency lacks a dependency of its own."""
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "dependencies": ["other"]}),
                      "plugins/other/.claude-plugin/plugin.json": json.dumps({"name": "other", "dependencies": ["tools"]})})
    run = good.sync()
    assert run.status == Status.OK and run.problems == [], run.problems
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads

    catalogue = good.catalogue()
    for plugin, needed in zip(catalogue["plugins"], ["other", "tools"]):
        plugin["dependencies"] = [needed]
    good.repo.commit({CATALOG: json.dumps(catalogue), **{f"plugins/{name}/.claude-plugin/plugin.json": json.dumps(
        {"name": name}) for name in ("tools", "other")}})
    run = good.sync()
    assert run.status == Status.PARTIAL and codes(run) == [("warning", "dependency-cycle")] * 2, run.problems
    assert run.problems[0]["message"] == ("dependencies: tools → other → tools leads round in a circle, and Claude Code "
                                          "will not install tools. Remove the dependency that closes it")
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads and tools.refusal == "its dependencies lead round in a circle (tools → other → tools)"
    alpha = Skill.objects.get(plugin=tools, slug="alpha")
    assert not alpha.loads_in_claude_code and alpha.verdict_reasons["claude_code"] == [
        "Claude Code will not load its plugin: its dependencies lead round in a circle (tools → other → tools)"]

    catalogue["plugins"][1].pop("dependencies")
    good.repo.commit({CATALOG: json.dumps(catalogue), "plugins/other/.claude-plugin/plugin.json": json.dumps(
        {"name": "other", "dependencies": ["gone"]})})
    run = good.sync()
    assert [(p["code"], p["message"].split(":")[1].strip()) for p in run.problems] == [
        ("dependency-missing", "'other' does not load for want of its own dependencies"),
        ("dependency-missing", "'gone' is not a plugin of this marketplace")]
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads and tools.refusal == "it depends on other, which will not load"
    page = admin_client.get(f"/plugins/{good.market.slug}/tools/").content.decode()
    assert "this plugin</strong>: it depends on other, which will not load." in page
    assert not Skill.objects.get(plugin=tools, slug="alpha").loads_in_claude_code

    good.repo.commit({"plugins/other/.claude-plugin/plugin.json": json.dumps({"name": "other"})})
    run = good.sync()
    assert run.status == Status.OK and run.problems == [], run.problems
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads


def test_a_version_of_a_dependency_its_marketplace_does_not_hold(good):
    """Claude Code installs a plugin whose plugin.json asks for a version of its dependency the marketplace does
    not hold, and will not load it; nor its dependents. Asked in words that are no range, it will not install it."""
    good.repo.commit({
        "plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "version": "1.4.0"}),
        "plugins/other/.claude-plugin/plugin.json": json.dumps(
            {"name": "other", "dependencies": [{"name": "tools", "version": "^2.0.0"}]})})
    run = good.sync()
    assert run.status == Status.PARTIAL and codes(run) == [("warning", "dependency-version")], run.problems
    assert run.problems[0]["message"] == (
        "dependencies: 'tools' \"^2.0.0\" is required, and tools is \"1.4.0\": Claude Code installs other, and will not "
        "load it. Ask for a version tools has, or give tools one this allows")
    other = Plugin.objects.get(marketplace=good.market, name="other")
    assert not other.loads and other.refusal == 'it requires tools "^2.0.0", and tools is "1.4.0"'
    assert Plugin.objects.get(marketplace=good.market, name="tools").loads

    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "version": "2.1.0"})})
    assert good.sync().status == Status.OK and Plugin.objects.get(marketplace=good.market, name="other").loads

    good.repo.commit({"plugins/other/.claude-plugin/plugin.json": json.dumps(
        {"name": "other", "dependencies": [{"name": "tools", "version": "newest"}]})})
    run = good.sync()
    assert [p["message"] for p in run.problems] == [
        "dependencies: 'tools' version \"newest\" is not a range of versions, and Claude Code will not install other. "
        'Write one such as "^1.2.0" or ">=2"']
    assert Plugin.objects.get(marketplace=good.market, name="other").refusal == (
        'it asks for tools by a version that is no range ("newest")')


def test_plugin_json_that_is_not_json_makes_the_plugin_not_load(good):
    good.repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "version": '})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "plugin-json-invalid")]
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert not tools.loads
    skills = Skill.objects.filter(plugin=tools, removed_at=None)
    assert skills.count() == 2 and not any(skills.values_list("loads_in_claude_code", flat=True))


def test_duplicate_skill_name_keeps_the_first_folder(good):
    good.repo.commit({"plugins/tools/skills/zeta/SKILL.md": skill_md("alpha", "An impostor.")})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "duplicate-skill-name")]
    assert live(good.market) == good.live
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha")
    assert alpha.path == "plugins/tools/skills/alpha" and alpha.description == "Alpha does A."
    # Claude Code loads the other too: it is reviewed and scanned as the rest of the plugin's files are.
    own = Plugin.objects.get(marketplace=good.market, name="tools").own_content
    assert ["skills/zeta/SKILL.md", "100644"] in [file[:2] for file in own["files"]]


# -- one skill is damaged: it is still listed, the damage is recorded --------------------------


ALPHA = ("tools", "alpha")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../outside.txt"], ids=["absolute", "dotdot"])
def test_symlink_out_of_the_repo_inside_a_skill_is_not_stored(good, tmp_path, target):
    (tmp_path / "outside.txt").write_text("top secret")
    good.repo.commit({"plugins/tools/skills/alpha/secret.txt": Symlink(target)})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "symlink-escape")]
    # The link is part of what the skill now is (so a later sync reports it again), but
    # nothing it points at is stored; the other skills are untouched.
    after = live(good.market)
    assert after.pop(ALPHA) != good.live[ALPHA]
    assert after == {k: v for k, v in good.live.items() if k != ALPHA}
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha")
    assert sorted(alpha.files.values_list("path", flat=True)) == ["SKILL.md", "scripts/run.py"]
    assert codes(good.sync()) == [("error", "symlink-escape")]
    assert "symlink-escape" in [p["code"] for p in alpha.problems]
    assert not Blob.objects.filter(content__contains=b"top secret").exists()


def test_escaping_symlink_used_as_a_skill_folder_is_reported_not_read(good, tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/SKILL.md").write_text(skill_md("stolen", "Read from outside the repository."))
    good.repo.commit({"plugins/tools/skills/stolen": Symlink("../../../../outside")})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "symlink-escape")]
    assert live(good.market) == good.live
    assert not Skill.objects.filter(slug="stolen").exists()


def test_a_link_no_checkout_could_make_is_broken_and_never_read(good, monkeypatch):
    """A link's target of 5 MB packs to a few kilobytes; each path resolved through it read it again (20 MB: 5 s and
    340 MB a time). No file system makes a link past 4,096 bytes: a checkout leaves it out, and so does the sync."""
    from marketplace.tree import Tree

    huge = Symlink("x/../" * 1_000_000 + "scripts")
    good.repo.commit_paths({"plugins/tools/skills/alpha/more": huge})
    read, original = [], Tree.read_blob
    monkeypatch.setattr(Tree, "read_blob", lambda self, sha: read.append(sha) or original(self, sha))
    run = good.sync()
    assert ("warning", "symlink-broken") in codes(run)
    huge_sha = good.repo.git("rev-parse", "HEAD:plugins/tools/skills/alpha/more")
    assert huge_sha not in read
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha")
    assert sorted(alpha.files.values_list("path", flat=True)) == ["SKILL.md", "scripts/run.py"]


def test_lfs_pointer_as_skill_md_makes_the_skill_unloadable(good):
    good.repo.commit({ALPHA_MD: LFS_POINTER})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("warning", "lfs-pointer"), ("error", "skill-md-unreadable")]
    assert without(live(good.market), ALPHA) == without(good.live, ALPHA)
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert not alpha.loads_in_claude_code


def test_lfs_pointer_as_bundled_file_is_a_warning(good):
    good.repo.commit({"plugins/tools/skills/alpha/assets/model.onnx": LFS_POINTER})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "lfs-pointer")]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.loads_in_claude_code
    pointer = alpha.files.get(path="assets/model.onnx")
    assert pointer.blob.is_lfs_pointer


def test_binary_skill_md_makes_the_skill_unloadable(good):
    good.repo.commit({ALPHA_MD: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"})
    run = good.sync()
    assert run.status == Status.PARTIAL, run.problems
    assert codes(run) == [("error", "skill-md-unreadable")]
    assert without(live(good.market), ALPHA) == without(good.live, ALPHA)
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert not alpha.loads_in_claude_code and not alpha.claude_ai_uploadable


def test_file_over_the_file_limit_is_listed_without_content(good, settings):
    settings.SKILLPORT_MAX_FILE_BYTES = 4096
    good.repo.commit({"plugins/tools/skills/alpha/data.csv": "x" * 10000})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "file-too-large")]
    big = SkillFile.objects.get(skill__marketplace=good.market, skill__slug="alpha", path="data.csv")
    assert big.omitted == "file-too-large" and big.blob is None and big.size == 10000
    assert SkillFile.objects.get(skill=big.skill, path="SKILL.md").blob is not None
    assert without(live(good.market), ALPHA) == without(good.live, ALPHA)


def test_too_many_files_are_listed_without_content(good, settings):
    settings.SKILLPORT_MAX_SKILL_FILES = 3
    good.repo.commit({f"plugins/tools/skills/alpha/refs/{i}.md": f"ref {i}" for i in range(4)})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "too-many-files")]
    files = SkillFile.objects.filter(skill__marketplace=good.market, skill__slug="alpha")
    assert files.filter(blob=None).count() == 3
    assert set(files.exclude(omitted="").values_list("omitted", flat=True)) == {"too-many-files"}
    assert files.get(path="SKILL.md").blob is not None


def test_skill_over_the_size_limit_keeps_what_fits(good, settings):
    settings.SKILLPORT_MAX_SKILL_BYTES = 1000
    good.repo.commit({
        "plugins/tools/skills/alpha/big1.md": "a" * 600,
        "plugins/tools/skills/alpha/big2.md": "b" * 600,
    })
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "skill-too-large")]
    files = dict(SkillFile.objects.filter(skill__marketplace=good.market, skill__slug="alpha")
                 .values_list("path", "omitted"))
    assert files == {"SKILL.md": "", "big1.md": "", "big2.md": "skill-too-large", "scripts/run.py": ""}


@pytest.mark.parametrize("content, code", [
    (b'---\nname: alpha\ndescription: "Caf\xe9 helper for A."\n---\n\nBody.\n', "text-not-utf8"),
    (b"\xef\xbb\xbf" + skill_md("alpha", "Caf\u00e9 helper for A.").encode(), "text-bom"),
    (skill_md("alpha", "Caf\u00e9 helper for A.").replace("\n", "\r\n").encode(), "text-crlf"),
], ids=["cp1252", "bom", "crlf"])
def test_odd_text_encodings_are_read_and_noted(good, content, code):
    good.repo.commit({ALPHA_MD: content})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", code)]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.description == "Caf\u00e9 helper for A."
    assert alpha.frontmatter["name"] == "alpha" and alpha.loads_in_claude_code


def test_a_skill_md_over_what_claude_code_reads_does_not_load(good):
    """Claude Code (2.1.332) skips a SKILL.md over 1 MiB ("exceeds 1048576 byte limit"); Skillport's own file limit
    is larger, so it read such a skill and said it loads."""
    head = skill_md("alpha", "Alpha does A.")
    beta = head.replace("alpha", "beta") + "y" * (1024 * 1024)
    good.repo.commit({ALPHA_MD: head + "x" * (1024 * 1024 - len(head)), "plugins/tools/skills/beta/SKILL.md": beta})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert [(p["code"], p["location"]) for p in run.problems] == [("skill-md-too-large", "plugins/tools/skills/beta")]
    said = f"SKILL.md is {len(beta):,} bytes, over the 1,048,576 Claude Code reads, so it skips the skill"
    assert run.problems[0]["message"] == f"{said}: move detail into files the SKILL.md links to"
    loads = dict(Skill.objects.filter(marketplace=good.market, removed_at=None).values_list("slug", "loads_in_claude_code"))
    assert loads == {"alpha": True, "beta": False, "gamma": True}
    assert Skill.objects.get(marketplace=good.market, slug="beta", removed_at=None).verdicts()[0][2] == [said]


@pytest.mark.parametrize("written, shown", [
    ("1e3", "1000"), ("0x1F", "31"), ("true", "true"), (".inf", "Infinity"), ("[Reads, files]", "Alpha from the body."),
    ("{a: 1}", "Alpha from the body."),
])
def test_a_description_that_is_not_text_is_read_as_claude_code_reads_it(good, written, shown):
    """Claude Code takes a number or boolean as its JavaScript text, and drops a list or an object for the body's
    first paragraph; Skillport showed them as JSON (`1000.0`, `["Reads", "files"]`)."""
    good.repo.commit({ALPHA_MD: f"---\nname: alpha\ndescription: {written}\n---\n\nAlpha from the body.\n"})
    good.sync()
    assert Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None).description == shown


def test_a_name_longer_than_claude_code_reads_is_ignored_as_there(good):
    good.repo.commit({ALPHA_MD: skill_md("n" * 257, "Alpha does A.")})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert [(p["code"], p["message"]) for p in run.problems] == [("skill-name-ignored", (
        "name is over the 256 characters Claude Code reads, so it names the skill for its folder, 'alpha'"))]
    assert Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None).name == "alpha"


def test_a_utf16_skill_md_has_no_frontmatter_for_claude_code_and_its_body_is_shown(good):
    """Claude Code reads UTF-8 alone: in UTF-16 it finds no frontmatter (`claude plugin validate` says so), and the
    skill has its folder's name. Skillport showed the name and description it could decode."""
    good.repo.commit({ALPHA_MD: ("\ufeff---\nname: renamed\ndescription: Caf\u00e9 helper for A.\n---\n\n"
                                 "Does A.\n").encode("utf-16-le")})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "text-utf16"), ("warning", "description-from-body")]
    assert "Claude Code does not read as text: it finds no frontmatter" in run.problems[0]["message"]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert (alpha.name, alpha.frontmatter) == ("alpha", {})
    assert alpha.body.endswith("Does A.\n") and "Caf\u00e9 helper for A." in alpha.body
    assert alpha.loads_in_claude_code and not alpha.spec_valid


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_frontmatter_claude_code_cannot_mend_loads_without_metadata(good, ending):
    """Claude Code mends a value holding YAML's syntax only on a line ending in LF alone: saved with CRLF, the
    description below loses all the skill's metadata there, as here; with CR alone it finds no frontmatter."""
    text = "---\nname: renamed\ndescription: Use when: the user asks for A\n---\n\nAlpha from the body.\n"
    good.repo.commit({ALPHA_MD: text.replace("\n", ending)})
    run = good.sync()
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert (alpha.name, alpha.frontmatter) == ("alpha", {})
    if ending == "\r\n":
        assert codes(run) == [("warning", "text-crlf"), ("warning", "frontmatter-invalid"),
                              ("warning", "description-from-body")]
        assert run.problems[1]["message"].endswith(
            "Claude Code quotes a value holding YAML's syntax only on a line that ends in LF alone: quote it, or save "
            "the file with LF line endings")
        assert alpha.description == "Alpha from the body."
    else:
        assert codes(run) == [("warning", "text-crlf"), ("warning", "description-from-body")]


BILLION_LAUGHS = "\n".join(
    ['---', 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    + ["name: alpha", "description: boom", "---", "", "Alpha from the body.", ""]
)


@pytest.mark.parametrize("content, code", [
    (BILLION_LAUGHS, "frontmatter-yaml-alias"),
    # Quoted values are left as they are, and so stay broken (Claude Code's repair quotes the rest).
    ("---\nname: [alpha\ndescription: 'it's {broken'\n---\n\nAlpha from the body.\n", "frontmatter-invalid"),
    ("---\n- alpha\n- Alpha does A.\n---\n\nAlpha from the body.\n", "frontmatter-not-mapping"),
], ids=["alias-bomb", "broken-yaml", "list"])
def test_unreadable_frontmatter_still_loads_with_empty_metadata(good, content, code):
    good.repo.commit({ALPHA_MD: content})
    started = time.monotonic()
    run = good.sync()
    assert time.monotonic() - started < 10
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", code), ("warning", "description-from-body")]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.name == "alpha"  # from the folder
    assert alpha.frontmatter == {} and alpha.description == "Alpha from the body."
    assert alpha.loads_in_claude_code and not alpha.spec_valid
    assert ("Claude Code does not offer it to Claude (its frontmatter has no description): it runs only when someone "
            "types its command") in alpha.verdict_reasons["claude_code"]
    assert without(live(good.market), ALPHA) == without(good.live, ALPHA)


@pytest.mark.parametrize("description", ["@docs finds pages", "`grep` for it", "*.py files", "Use when: asked"])
def test_a_value_yaml_reads_as_syntax_is_quoted_as_claude_code_quotes_it(good, description):
    good.repo.commit({ALPHA_MD: f"---\nname: alpha\ndescription: {description}\n---\n\nBody.\n"})
    run = good.sync()
    assert [(p["code"], p["message"]) for p in run.problems] == [("frontmatter-repaired", (
        "frontmatter is not valid YAML as written; as Claude Code does, the value of description was quoted to read "
        "it: quote it yourself"))]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert (alpha.name, alpha.description) == ("alpha", description)


def test_a_tag_yaml_does_not_know_is_passed_over_as_claude_code_passes_it_over(good):
    """`!Use` opens a YAML tag: Claude Code's parser passes over one the core schema does not know, so the value
    is what follows it; one with nothing after it leaves no description."""
    good.repo.commit({ALPHA_MD: "---\nname: alpha\ndescription: !Use this when asked.\n---\n\nBody.\n"})
    run = good.sync()
    assert [(p["code"], p["message"]) for p in run.problems] == [("frontmatter-tag-ignored", (
        "frontmatter holds !Use, read as YAML tags, which Claude Code passes over (`description: !Use this` is read "
        "as 'this'): quote a value whose '!' is meant"))]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.description == "this when asked." and alpha.loads_in_claude_code

    good.repo.commit({ALPHA_MD: "---\nname: alpha\ndescription: !important\n---\n\nBody.\n"})
    assert codes(good.sync()) == [("warning", "frontmatter-tag-ignored"), ("warning", "description-from-body")]


def test_numbers_past_what_javascript_holds_are_kept_as_the_text_it_reads(good):
    """JSON.parse reads 1e999 and a number of 5,000 digits as Infinity, and YAML's .inf and .nan are numbers too:
    JSON has no word for them, so PostgreSQL refused the rows and the whole sync failed (and Python refused to read
    the 5,000 digits). Each is kept as the text JavaScript writes it as."""
    catalogue = json.dumps(good.catalogue()).replace('"name": "tools",', f'"name": "tools", "x": 1e999, "y": -{"9" * 5000},')
    good.repo.commit({
        CATALOG: catalogue,
        "plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "z": 1e999}',
        ALPHA_MD: f"---\nname: alpha\ndescription: .nan\nmetadata:\n  a: -.inf\n  b: 0x{'f' * 5000}\n"
                  f"  c: {'1' * 5000}\n  d: 12\n---\n\nBody.\n",
    })
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert sorted(p["message"].split("'")[1] for p in run.problems if p["code"] == "unknown-field") == ["x", "y", "z"]
    tools = Plugin.objects.get(marketplace=good.market, name="tools")
    assert (tools.entry["x"], tools.entry["y"], tools.manifest["z"]) == ("Infinity", "-Infinity", "Infinity")
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.description == "NaN"
    assert alpha.frontmatter["metadata"] == {"a": "-Infinity", "b": "Infinity", "c": "Infinity", "d": 12}


@pytest.mark.parametrize("value", ["!!int abc", "!!float abc", "!!bool maybe", "!!timestamp x"])
def test_a_value_tagged_as_what_it_cannot_be_is_its_text(good, value):
    """Such a tag made PyYAML raise an error of Python's, not of YAML's, which failed the whole sync. Claude Code's
    parser passes over the tag (tests/test_claude_code_oracle.py, OFFERED)."""
    good.repo.commit({ALPHA_MD: f"---\nname: alpha\ndescription: {value}\n---\n\nBody.\n"})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "frontmatter-tag-ignored")]
    description = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None).description
    assert description == value.split(" ", 1)[1]


def test_a_frontmatter_holding_every_private_use_character_of_the_bmp_still_reads_its_line_separators(good):
    """U+2028 is read by standing a private-use character the text does not hold in for it: a frontmatter holding all
    6,400 of the BMP's ran out of them and failed the whole sync (StopIteration)."""
    crowded = "".join(chr(point) for point in range(0xE000, 0xF900))
    good.repo.commit({ALPHA_MD: f"---\nname: alpha\ndescription: \"{crowded}\u2028\"\n---\n\nBody.\n"})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    description = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None).description
    assert description == f"{crowded}\u2028".strip()


def test_yaml_1_1_words_are_text_as_claude_code_reads_them(good):
    good.repo.commit({ALPHA_MD: "---\nname: alpha\ndescription: no\nversion: 1:20\nlicense: 2024-01-01T10:00:00Z\n"
                                "metadata:\n  on: off\n  <<: {a: 1}\n  octal: 0o17\n---\n\nBody.\n"})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.description == "no"
    assert alpha.frontmatter == {"name": "alpha", "description": "no", "version": "1:20",
                                 "license": "2024-01-01T10:00:00Z", "metadata": {"on": "off", "<<": {"a": 1}, "octal": 15}}


def test_unquoted_colon_in_description_is_repaired(good):
    good.repo.commit({ALPHA_MD: "---\nname: alpha\ndescription: Use when: the user asks for A\n---\n\nBody.\n"})
    run = good.sync()
    assert run.status == Status.OK, run.problems
    assert codes(run) == [("warning", "frontmatter-repaired")]
    alpha = Skill.objects.get(marketplace=good.market, slug="alpha", removed_at=None)
    assert alpha.description == "Use when: the user asks for A"
    assert alpha.frontmatter == {"name": "alpha", "description": "Use when: the user asks for A"}


