"""One hostile item never stops a marketplace: text PostgreSQL cannot hold, values longer than their
columns and nesting that would exhaust the stack are each a problem on that item, and the rest of the
marketplace syncs. Each case commits one hostile item beside a change to a good skill, then a good
commit that removes it."""
import json

import pytest

from marketplace import claudefields, gitrepo, manifest, skillmd
from marketplace.models import Marketplace, Plugin, Skill, Status
from marketplace.problems import Problems
from marketplace.sync import sync_marketplace

from .builders import plugin_entry, skill_md

pytestmark = pytest.mark.django_db

CATALOG = ".claude-plugin/marketplace.json"
ALPHA_MD = "plugins/tools/skills/alpha/SKILL.md"
BETA = "plugins/tools/skills/beta"
DEEP = "[" * 5000 + "]" * 5000  # thousands of levels, past Python's recursion limit
LONG_PATH = "/".join(["f" * 200] * 5)  # 1,004 characters, each name within what filesystems take
# 1,100 nested folders, committed with git's plumbing (GitRepo.commit_paths), never written to disk.
NESTED = f"{BETA}/{'a/' * 1100}deep.md"


def catalogue(*extra, **top) -> str:
    """The good catalogue's JSON, with `extra` plugin entries and top-level fields; the string
    "DEEP" (quoted) stands for a value nested thousands deep, which json.dumps cannot write."""
    data = {"name": "hostile", "owner": {"name": "Tests"},
            "plugins": [plugin_entry("tools"), plugin_entry("other"), *extra], **top}
    return json.dumps(data).replace('"DEEP"', DEEP)


BASE = {
    CATALOG: catalogue(),
    ALPHA_MD: skill_md("alpha", "Alpha v1."),
    f"{BETA}/SKILL.md": skill_md("beta", "Beta v1."),
    "plugins/other/skills/gamma/SKILL.md": skill_md("gamma", "Gamma v1."),
}

# id: (files the hostile commit writes, (severity, code, where) expected among the run's problems)
CASES = {
    "nul-after-8kb-of-skill-md": (
        {f"{BETA}/SKILL.md": skill_md("beta", "Beta v2.", body="# Beta\n\n" + "x" * 9000 + "\n\nA NUL: \x00.\n")},
        ("error", "unstorable-text", BETA),
    ),
    "nul-in-yaml-frontmatter": (
        {"plugins/tools/skills/nully/SKILL.md": '---\nname: nully\ndescription: "before\\0after"\n---\n\nBody.\n'},
        ("error", "unstorable-text", "plugins/tools/skills/nully"),
    ),
    "nul-in-marketplace-json-entry": (
        {CATALOG: catalogue(plugin_entry("third", "./plugins/other", description="a\x00b", keywords=["k\x00"],
                                         version="1.0\x00", **{"odd\x00key": 1}))},
        ("error", "unstorable-text", "plugins[2]"),
    ),
    "surrogate-in-marketplace-json-entry": (
        {CATALOG: catalogue(plugin_entry("third", "./plugins/other", description="half a pair: \ud800"))},
        ("error", "unstorable-text", "plugins[2]"),
    ),
    "nul-in-marketplace-json-top-level": (
        {CATALOG: catalogue(description="The\x00catalogue", metadata={"version": "1\x00"})},
        ("error", "unstorable-text", CATALOG),
    ),
    "plugin-name-over-its-column": (
        {CATALOG: catalogue(plugin_entry("p" * 201, "./plugins/other"))},
        ("error", "name-too-long", "plugins[2]"),
    ),
    "skill-name-over-its-column": (
        {"plugins/tools/skills/long-name/SKILL.md": skill_md("s" * 201, "Too long a name.")},
        ("error", "name-too-long", "plugins/tools/skills/long-name"),
    ),
    "slug-over-its-column": (
        # 150 characters, but each becomes two in the slug ('ǆ' is 'dz').
        {"plugins/tools/skills/long-slug/SKILL.md": skill_md("\u01c6" * 150, "Too long a slug.")},
        ("error", "name-too-long", "plugins/tools/skills/long-slug"),
    ),
    "skill-folder-path-over-1000-characters": (
        {CATALOG: catalogue(plugin_entry("deep", f"./{LONG_PATH}")),
         f"{LONG_PATH}/skills/epsilon/SKILL.md": skill_md("epsilon", "Lives too deep.")},
        ("error", "path-too-long", f"{LONG_PATH}/skills/epsilon"),
    ),
    "file-path-over-1000-characters": (
        {f"{BETA}/{LONG_PATH}.md": "far away\n"},
        ("error", "path-too-long", BETA),
    ),
    "1100-nested-folders": (
        {NESTED: "deep\n"},
        ("error", "folder-too-deep", BETA),
    ),
    "yaml-nested-thousands-deep": (
        {"plugins/tools/skills/yamly/SKILL.md": f"---\nname: yamly\ndescription: Deep.\nmeta: {DEEP}\n---\n\nBody.\n"},
        ("warning", "frontmatter-too-deep", "plugins/tools/skills/yamly"),
    ),
    "marketplace-json-nested-thousands-deep": (
        {CATALOG: catalogue(plugin_entry("deepjson", "./plugins/other", description="DEEP"))},
        ("error", "json-too-deep", "plugins[2]"),
    ),
    "plugin-json-nested-thousands-deep": (
        {"plugins/other/.claude-plugin/plugin.json": '{"name": "other", "keywords": "DEEP"}'.replace('"DEEP"', DEEP)},
        ("error", "plugin-json-invalid", "plugins/other/.claude-plugin/plugin.json"),
    ),
}


def commit(repo, files):
    """Commit `files` as a repository would hold them; the nested path only through git's plumbing."""
    repo.commit({path: content for path, content in files.items() if path != NESTED})
    if NESTED in files:
        repo.commit_paths({NESTED: files[NESTED].encode()})


def live(market) -> dict:
    return dict(Skill.objects.filter(marketplace=market, removed_at=None).values_list("slug", "description"))


@pytest.fixture
def market(make_repo, synced_marketplace):
    market = synced_marketplace(make_repo(BASE))
    assert market.first_run.status == Status.OK, market.first_run.problems
    return market


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_item_is_a_problem_on_it_and_the_rest_syncs(market, case):
    hostile, (severity, code, where) = CASES[case]
    before = live(market)
    commit(market.repo, {**hostile, ALPHA_MD: skill_md("alpha", "Alpha v2.")})
    run = sync_marketplace(market.pk)

    assert run.status == (Status.OK if severity == "warning" else Status.PARTIAL), (run.error, run.problems)
    found = [p for p in run.problems if p["code"] == code]
    assert [p["severity"] for p in found] == [severity], run.problems
    assert where in found[0]["location"] and "\x00" not in found[0]["message"]
    # The good skill is updated; nothing synced before is lost.
    after = live(market)
    assert after["alpha"] == "Alpha v2."
    assert {slug: text for slug, text in after.items() if slug in before and slug != "alpha"} == {
        slug: text for slug, text in before.items() if slug != "alpha"
    } | ({"beta": "Beta v2."} if case == "nul-after-8kb-of-skill-md" else {})
    assert set(Plugin.objects.filter(marketplace=market, removed_at=None).values_list("name", flat=True)) >= {
        "tools", "other"
    }
    assert Marketplace.objects.get(pk=market.pk).last_synced_commit == market.repo.head

    # A later good commit syncs clean.
    # (Paths written only with git's plumbing are not in the working tree, so `commit` leaves them out.)
    market.repo.commit({**{path: BASE.get(path) for path in hostile if path != NESTED},
                        ALPHA_MD: skill_md("alpha", "Alpha v3.")})
    fixed = sync_marketplace(market.pk)
    assert fixed.status == Status.OK, (fixed.error, fixed.problems)
    assert code not in [p["code"] for p in fixed.problems]
    assert live(market) == {**before, "alpha": "Alpha v3."}


def test_every_hostile_item_at_once_still_syncs_the_good_skill(market):
    everything = {}
    for hostile, _expected in CASES.values():
        everything.update({path: content for path, content in hostile.items() if path != CATALOG})
    # One catalogue holding every hostile entry and top-level value.
    everything[CATALOG] = catalogue(
        plugin_entry("third", "./plugins/other", description="a\x00b\ud800"),
        plugin_entry("p" * 201, "./plugins/other"),
        plugin_entry("deep", f"./{LONG_PATH}"),
        plugin_entry("deepjson", "./plugins/other", description="DEEP"),
        description="The\x00catalogue",
    )
    commit(market.repo, {**everything, ALPHA_MD: skill_md("alpha", "Alpha v2.")})
    run = sync_marketplace(market.pk)
    assert run.status == Status.PARTIAL, (run.error, run.problems)
    codes = {p["code"] for p in run.problems}
    assert codes >= {expected[1] for _hostile, expected in CASES.values()}
    assert live(market)["alpha"] == "Alpha v2." and live(market)["gamma"] == "Gamma v1."


def test_text_is_stored_with_each_unstorable_character_replaced(market):
    market.repo.commit({
        f"{BETA}/SKILL.md": skill_md("beta", "Beta\x00v2.", body="x" * 9000 + "\nNUL: \x00.\n", tags=["a\x00"]),
        CATALOG: catalogue(plugin_entry("third", "./plugins/other", description="a\x00b\ud800"),
                           description="The\x00catalogue"),
    })
    sync_marketplace(market.pk)
    beta = Skill.objects.get(marketplace=market, slug="beta")
    assert beta.description == "Beta\ufffdv2." and beta.body.endswith("NUL: \ufffd.\n")
    assert beta.frontmatter["tags"] == ["a\ufffd"]
    assert "unstorable-text" in [p["code"] for p in beta.problems]
    third = Plugin.objects.get(marketplace=market, name="third")
    assert third.description == "a\ufffdb\ufffd" and third.entry["description"] == "a\ufffdb\ufffd"
    assert "unstorable-text" in [p["code"] for p in third.problems]
    assert Marketplace.objects.get(pk=market.pk).description == "The\ufffdcatalogue"


def test_a_skill_that_cannot_be_stored_keeps_what_it_had(market):
    beta = Skill.objects.get(marketplace=market, slug="beta")
    market.repo.commit({f"{BETA}/SKILL.md": skill_md("beta", "Beta v2."), f"{BETA}/{LONG_PATH}.md": "far\n"})
    run = sync_marketplace(market.pk)
    assert ("error", "path-too-long") in [(p["severity"], p["code"]) for p in run.problems]
    kept = Skill.objects.get(pk=beta.pk)
    assert kept.removed_at is None and kept.description == "Beta v1." and kept.content_hash == beta.content_hash
    assert list(kept.files.values_list("path", flat=True)) == ["SKILL.md"]


def nested_keys(levels: int) -> str:
    """A block mapping `levels` deep, nested by indentation alone."""
    return "\n".join(f"{'  ' * level}k{level}:" for level in range(levels)) + " leaf"


@pytest.mark.parametrize("frontmatter, refused", [
    # The frontmatter is a mapping (one level), with lists nested inside it.
    (f"meta: {'[' * (skillmd.MAX_NESTING - 1)}{']' * (skillmd.MAX_NESTING - 1)}", None),
    (f"meta: {'[' * skillmd.MAX_NESTING}{']' * skillmd.MAX_NESTING}", "frontmatter-too-deep"),
    (nested_keys(skillmd.MAX_NESTING), None),
    (nested_keys(skillmd.MAX_NESTING + 1), "frontmatter-too-deep"),
    # Past libyaml's own limit (1,000 levels), where its scanner stops before our count reaches 65. (A block
    # that deep is past the size limit first: its indentation grows with every level.)
    (f"meta: {DEEP}", "frontmatter-too-deep"),
    (f"meta: {'{k: ' * 1200}leaf{'}' * 1200}", "frontmatter-too-deep"),
    ("name: alpha\nsee: &a one\nalso: *a", "frontmatter-yaml-alias"),
    ("name: alpha\ndescription: Use the * operator", None),
], ids=["64-deep", "65-deep", "64-deep-block", "65-deep-block", "5000-deep", "1200-deep-mappings", "alias",
        "a-star-in-text"])
def test_frontmatter_nesting_is_refused_from_one_level_past_the_limit(frontmatter, refused):
    """Frontmatter too plain to refuse is not walked event by event (skillmd.OPENERS): the limit holds
    exactly, either side of that shortcut."""
    parsed = skillmd.parse(f"---\n{frontmatter}\n---\n\nBody.\n".encode())
    assert [code for code, _message in parsed.repairs] == ([refused] if refused else [])
    assert parsed.frontmatter_ok == (refused is None)


# Text that made a pattern read the rest of the line or file again from each of its characters.


@pytest.mark.parametrize("line, value", [
    ("description: Use it: daily", "Use it: daily"),
    ("description:   Use it: daily \t ", "Use it: daily \t "),  # as Claude Code quotes it, to the line's end
    (f"description: a: b{' ' * 60_000}c", f"a: b{' ' * 60_000}c"),  # 12 s, with a lazy match for its end
    (f"description:{' ' * 60_000}", None),  # 11 s, likewise
    ("description:x: y", None), ("2fa: @x", None),
])
def test_a_frontmatter_line_is_read_once_to_find_its_value(line, value):
    match = skillmd.QUOTABLE_LINE.match(line)
    assert (match.group(2) if match else None) == value


def test_a_repaired_value_with_a_long_run_of_spaces_keeps_them():
    parsed = skillmd.parse(f"---\nname: spaced\ndescription: Use it: daily{' ' * 60_000}now\n---\n\nBody.\n".encode())
    assert parsed.frontmatter["description"] == f"Use it: daily{' ' * 60_000}now"
    assert [code for code, _message in parsed.repairs] == ["frontmatter-repaired"]


def test_json_with_a_string_never_closed_is_read_once():
    """Past MAX_NESTING brackets nesting is followed token by token, and each of 40,000 escaped quotes in a
    string never closed started a string of its own (4.8 s). Now it is one string, to the end."""
    text = "[" * (manifest.MAX_NESTING + 1) + '"' + '\\"' * 40_000
    assert [token.group() for token in manifest.JSON_TOKEN.finditer(text)][-2:] == ["[", '"' + '\\"' * 40_000]
    with pytest.raises(ValueError, match="nested more than 64 levels deep"):
        manifest.load_json(text.encode(), "x.json", Problems())
    with pytest.raises(ValueError, match="line 1 column"):  # cut, it is still not JSON
        manifest.load_json(text.encode(), "x.json", Problems(), cut=True)


class CountedLookups(dict):
    """A catalogue's renames, counting how often a name is looked up in them."""

    lookups = 0

    def __getitem__(self, key):
        self.lookups += 1
        return super().__getitem__(key)


@pytest.mark.parametrize("end", ["tools", "a500"])
def test_a_chain_of_renames_is_walked_once(end):
    """Renames walked from every old name took time in the square of a chain's length (8,000 names: 2.4 s, and a
    catalogue may hold hundreds of thousands). Each name is now walked once, and a circle is still found."""
    renames = CountedLookups({f"a{i}": f"a{i + 1}" for i in range(20_000)}, a20000=end)
    problems = Problems()
    kept = manifest._check_renames(renames, {"tools"}, "x", problems)
    assert renames.lookups <= 2 * len(renames)
    assert ([p.code for p in problems], len(kept)) == (([], 20_001) if end == "tools" else (["renames-cycle"], 0))


def test_hostile_options_are_judged_by_their_length_first_and_named_short(monkeypatch):
    """A plugin's userConfig is read from its repository: an option a megabyte long is refused for its length
    before any character of it is looked at, and a name 100,000 characters long is quoted cut short."""
    looked_at = []
    monkeypatch.setattr(claudefields, "_hidden", lambda char: looked_at.append(char) or False)
    option = {"type": "string", "title": "T", "description": "D", "options": ["x" * 1_000_000], "required": True}
    refused = claudefields.user_config({"-" * 100_000: option, "region": option})
    assert refused[0].startswith("userConfig." + "-" * 60 + ": An option's name must be") and len(refused[0]) < 250
    assert refused[1] == "userConfig.region.options[0]: An option is 1 to 64 characters" and looked_at == []
    channels = claudefields.channels([{"server": "chat", "userConfig": {"t": option}}] * 10_000)
    assert len(channels) == 10_000 and looked_at == []


@pytest.mark.parametrize("text, redacted", [
    ("fatal: unable to access 'https://user:s3cret@example.test/r.git/'",
     "fatal: unable to access 'https://example.test/r.git/'"),
    ("remote: see ssh://git:tok@host/x and http://a@b", "remote: see ssh://host/x and http://b"),
    ("remote: " + "a" * 40_000 + " https://u:p@h/", "remote: " + "a" * 40_000 + " https://h/"),  # 2.8 s before
])
def test_credentials_are_taken_out_of_what_git_writes_in_one_reading(text, redacted):
    assert gitrepo.redact(text) == redacted


def nested_tree(repo, depth: int) -> str:
    """A tree of `depth` objects naming 10 ** depth paths: ten folders, each the same tree of ten below it, and
    ten files at the bottom. Ten million paths are 80 bytes packed."""
    def mktree(lines):
        return repo._run("mktree", input="".join(f"{line}\n" for line in lines).encode()).decode().strip()

    blob = repo._run("hash-object", "-w", "--stdin", input=b"x").decode().strip()
    tree = mktree(f"100644 blob {blob}\tf{i}" for i in range(10))
    for _ in range(depth - 1):
        tree = mktree(f"040000 tree {tree}\td{i}" for i in range(10))
    return tree


def commit_beside(repo, name: str, tree: str):
    """Commit HEAD's tree with `tree` added as the folder `name`."""
    listing = repo._run("ls-tree", "HEAD^{tree}").decode() + f"040000 tree {tree}\t{name}\n"
    whole = repo._run("mktree", input=listing.encode()).decode().strip()
    repo.git("update-ref", "refs/heads/main", repo._run("commit-tree", whole, "-p", "HEAD", "-m", name).decode().strip())


def test_a_repository_naming_millions_of_paths_is_not_read_and_keeps_its_catalogue(market):
    """Read whole, ten million paths held 6 GB and took seven minutes; past SKILLPORT_MAX_TREE_ENTRIES nothing is
    read, and the marketplace keeps its last good catalogue."""
    repo = market.repo
    repo.commit({ALPHA_MD: skill_md("alpha", "Alpha v2.")})
    commit_beside(repo, "bomb", nested_tree(repo, 7))
    run = sync_marketplace(market.pk)
    assert run.status == "failed" and run.problems[0]["code"] == "repository-unreadable"
    assert "more than 200,000 files and folders (SKILLPORT_MAX_TREE_ENTRIES)" in run.problems[0]["message"]
    assert live(market)["alpha"] == "Alpha v1."
    repo.commit({ALPHA_MD: skill_md("alpha", "Alpha v3.")})  # from the work tree, which never held it
    assert sync_marketplace(market.pk).status == "ok" and live(market)["alpha"] == "Alpha v3."


def test_a_repository_naming_a_path_of_70000_bytes_is_not_read(market):
    """Git takes a name of any length in a tree, and ls-tree's record of it was held whatever its size."""
    repo = market.repo
    blob = repo._run("hash-object", "-w", "--stdin", input=b"x").decode().strip()
    tree = repo._run("mktree", input=f"100644 blob {blob}\t{'n' * 70_000}\n".encode()).decode().strip()
    commit_beside(repo, "long", tree)
    run = sync_marketplace(market.pk)
    assert run.status == "failed" and run.problems[0]["code"] == "repository-unreadable"
    assert "a path over 65,536 bytes long" in run.problems[0]["message"] and live(market)["alpha"] == "Alpha v1."


def test_a_plugin_source_naming_millions_of_paths_is_a_problem_on_its_plugins(make_repo, synced_marketplace,
                                                                             git_host):
    upstream = git_host("acme/bomb", {"skills/gh/SKILL.md": skill_md("gh", "From another repository.")})
    commit_beside(upstream, "bomb", nested_tree(upstream, 7))
    upstream.git("push", "--quiet", "--force", str(upstream.bare), "main")
    source = {"source": "github", "repo": "acme/bomb"}
    market = synced_marketplace(make_repo({
        **BASE, CATALOG: catalogue(plugin_entry("up", source), plugin_entry("again", {**source, "path": "skills"}))}))
    run = market.first_run
    unreadable = [p for p in run.problems if p["code"] == "source-unreadable"]
    assert [p["location"] for p in unreadable] == [f"{CATALOG}: plugins[2] (up)", f"{CATALOG}: plugins[3] (again)"]
    assert "more than 200,000 files" in unreadable[0]["message"]
    assert sorted(live(market)) == ["alpha", "beta", "gamma"]
