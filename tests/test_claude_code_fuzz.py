"""Claude Code as the oracle for marketplaces nobody wrote by hand: seeded random changes to a valid marketplace
(a field of its entry or plugin.json given a random value, its hooks, its MCP servers, its source), each judged by
`claude plugin validate` and by `validate_marketplace`, must reach the same verdict; and seeded random skill
layouts must have the skills a Claude Code session offers the model.

The hand-written fixtures (test_claude_code_oracle.py) say what each rule is; these find the rules nobody wrote
down. Differential fuzzing of this kind found a dozen disagreements and three inputs that stopped a whole sync.
The seeds are fixed, so a failure names a case that fails every time. Left out is what README's "Where Skillport
differs" lists: hook events and types Claude Code does not know, a `github` repo that is not owner/name.
"""
import json
import posixpath
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from marketplace.reader import Reader

from .test_claude_code_oracle import (
    CATALOG, CLAUDE, SKILL, Fixture, build, claude_verdict, described, our_verdict, skills_loaded,
)

CASES = 150
STRINGS = ["", "x", "tools", "./plugins/tools", "../up", "/abs", "./missing", "https://example.com", "not a url",
           "1.2.3", "latest", "^1.0.0", ">=2", "MIT", "a b", "./skills", "skills", "acme/tools", "*", "1.2.3.4",
           "./.mcp.json", "./hooks/hooks.json", "\t", "ü", "@docs", "base@acme-tools", "a" * 300]
KEYS = ["name", "source", "path", "url", "repo", "ref", "version", "type", "command", "description", "server",
        "title", "options", "default", "hooks", "claude-code", "x"]
PLUGIN_KEYS = ["name", "description", "version", "author", "homepage", "repository", "license", "keywords", "category",
               "tags", "displayName", "commands", "agents", "skills", "mcpServers", "lspServers", "outputStyles",
               "themes", "monitors", "dependencies", "optionalDependencies", "defaultEnabled", "engines", "userConfig",
               "channels", "settings", "binaries", "experimental", "metadata", "network", "bogus"]
ENTRY_KEYS = PLUGIN_KEYS + ["strict", "source", "relevance", "headers", "headersHelper"]
EVENTS = ["PreToolUse", "PostToolUse", "Stop", "SessionStart", "UserPromptSubmit", "PermissionRequest"]
HOOK_TYPES = ["command", "prompt", "agent", "http", "mcp_tool"]
HOOK_FIELDS = ["command", "prompt", "url", "timeout", "shell", "onFailure", "server", "tool", "input", "headers",
               "async", "statusMessage", "model", "once", "if"]
MCP_FIELDS = ["command", "args", "env", "url", "type", "headers", "cwd", "timeout", "oauth", "headersHelper"]


def value(rng, depth=0):
    """A JSON value of any type, nested at most two deep, made of strings Claude Code's fields take or refuse."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(STRINGS)
    if roll < 0.45:
        return rng.choice([0, 1, -1, 1.5, 10 ** 12])
    if roll < 0.6:
        return rng.choice([True, False, None])
    if roll < 0.8 and depth < 2:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if depth < 2:
        return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randint(0, 2))}
    return "x"


def hooks(rng) -> dict:
    """Events Claude Code knows, each with matchers and hooks of the types it knows, their fields random."""
    def hook():
        made = {"type": rng.choice(HOOK_TYPES)}
        for _ in range(rng.randint(0, 3)):
            made[rng.choice(HOOK_FIELDS)] = rng.choice(["echo hi", "https://example.com/h", 5, 0, "bash", "block",
                                                        {}, value(rng, 1)])
        return made
    return {rng.choice(EVENTS): [{"matcher": rng.choice(["Bash", "", 5]), "hooks": [hook() for _ in range(rng.randint(
        0, 2))]} if rng.random() < 0.9 else value(rng, 1)] for _ in range(rng.randint(1, 2))}


def case(seed) -> Fixture:
    rng = random.Random(seed)
    entry, manifest, files = {"name": "tools", "source": "./plugins/tools"}, {"name": "tools"}, {}
    kind = rng.random()
    if kind < 0.5:
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                entry[rng.choice(ENTRY_KEYS)] = value(rng)
            else:
                manifest[rng.choice(PLUGIN_KEYS)] = value(rng)
    elif kind < 0.7:
        files["plugins/tools/hooks/hooks.json"] = json.dumps({"hooks": hooks(rng)})
    elif kind < 0.8:
        (entry if rng.random() < 0.5 else manifest)["hooks"] = hooks(rng)
    else:
        servers = {"s": {rng.choice(MCP_FIELDS): rng.choice(["node", ["a"], {"K": "v"}, "https://example.com/mcp",
                                                             "stdio", "http", "ws", 5, value(rng, 1)])
                         for _ in range(rng.randint(0, 4))}}
        if rng.random() < 0.5:
            files["plugins/tools/.mcp.json"] = json.dumps({"mcpServers": servers})
        else:
            (entry if rng.random() < 0.5 else manifest)["mcpServers"] = servers
    catalogue = json.dumps({"name": "acme-tools", "owner": {"name": "Acme"}, "plugins": [entry]})
    return Fixture(f"seed-{seed}", {CATALOG: catalogue, "plugins/tools/.claude-plugin/plugin.json": json.dumps(manifest),
                                    **files}, skill_files={"plugins/tools/skills/alpha/SKILL.md": SKILL})


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it (npm, pinned in the Makefile)")
    fixtures = [case(seed) for seed in range(CASES)]
    folders = [tmp_path_factory.mktemp("fuzzed") for _ in fixtures]

    def judge(fx, folder):
        repo = build(folder, fx)
        return fx.id, (fx, repo, claude_verdict(CLAUDE, folder, repo)[0])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(judge, fixtures, folders))


@pytest.mark.parametrize("seed", range(CASES))
def test_a_random_marketplace_gets_claude_codes_verdict(judged, seed):
    fx, repo, theirs = judged[f"seed-{seed}"]
    ours, result = our_verdict(repo)
    assert ours == theirs, (fx.files, [p for p in result["problems"] if p["severity"] == "error"])


# Where a random plugin holds its skills, and what its entry and plugin.json list (a folder, a skill, the skills
# folder, the root, a file, nothing there, a path out of the plugin).
FOLDERS = ["", "skills", "skills/a", "skills/b", "skills/a/c", "extra", "extra/x", "extra/y", "extra/x/z", "more/m",
           ".hidden/h", "skills/.d", "skills/.mcpb-cache", ".mcpb-cache/k", "skills/n.o p"]
LISTED = ["./skills", "./skills/", "./skills/a", "./extra", "./extra/x", "./extra/x/", "./more", "./more/m", "./", ".",
          "./nowhere", "./extra/x/SKILL.md", "./skills/../extra", "./../out", "./.hidden", "./.mcpb-cache",
          "./.mcpb-cache/k"]
LAYOUTS = 24


def layout(rng, name) -> tuple[dict, dict]:
    """A random plugin `name`: its entry, and its files (each SKILL.md named for its folder)."""
    files = {}
    for folder in rng.sample(FOLDERS, rng.randint(1, 5)):
        files[f"{folder}/SKILL.md".lstrip("/")] = described(posixpath.basename(folder) or name)
    entry = {"name": name, "source": f"./plugins/{name}"}
    if rng.random() < 0.6:
        entry["skills"] = rng.sample(LISTED, rng.randint(1, 3)) if rng.random() < 0.8 else rng.choice(LISTED)
    if rng.random() < 0.3:
        entry["strict"] = rng.random() < 0.5
    if rng.random() < 0.35:
        manifest = {"name": name}
        if rng.random() < 0.5:  # plugin.json's paths must exist: Claude Code refuses the plugin otherwise
            manifest["skills"] = rng.sample([path for path in LISTED if path not in ("./nowhere", "./../out")],
                                            rng.randint(1, 2))
        files[".claude-plugin/plugin.json"] = json.dumps(manifest)
        entry["strict"] = True  # not both places with strict: false, which Claude Code refuses to load
    return entry, files


def test_random_plugins_have_the_skills_claude_codes_loader_finds(tmp_path, make_repo):
    """Seeded random skill layouts, each plugin installed and its skills those a Claude Code session offers: the
    rules discovery.py follows were read off Claude Code's loader, and these check them where nobody looked."""
    rng = random.Random(26)
    plugins, files = [], {}
    for index in range(LAYOUTS):
        entry, held = layout(rng, f"p{index}")
        plugins.append(entry)
        files |= {f"plugins/{entry['name']}/{path}": content for path, content in held.items()}
    repo = make_repo({CATALOG: json.dumps({"name": "acme-tools", "owner": {"name": "Acme"}, "plugins": plugins}),
                      **files})
    snapshot = {plugin.name: plugin for plugin in Reader(repo.url).read().plugins}
    theirs = skills_loaded(CLAUDE, repo, [p["name"] for p in plugins], tmp_path / "home")
    assert {name for name, skills in theirs.items() if skills is None} == {
        name for name, plugin in snapshot.items() if not plugin.installs}
    assert {name: skills for name, skills in theirs.items() if skills is not None} == {
        name: sorted(skill.command for skill in plugin.skills) for name, plugin in snapshot.items() if plugin.installs}
