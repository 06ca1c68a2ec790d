"""Claude Code is the oracle: each fixture marketplace is validated by `claude plugin validate
--json` (the pinned CLI `make test` installs) and by `validate_marketplace`, and the verdicts must
match; which plugins load is checked against `claude plugin install`.

Where Skillport differs on purpose, the fixture says why (README, "Where Skillport differs from
claude plugin validate"). The agreement figure is printed at the end of the run.
"""
import json
import os
import posixpath
import re
import subprocess
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from django.conf import settings

from marketplace import componentfiles, discovery, skillmd, verdicts
from marketplace.reader import Reader

from .builders import GitRepo, Symlink, run_command, skill_md
from .claude_session import skills_offered

CLAUDE = settings.BASE_DIR / ".data/tools/claude-code/node_modules/.bin/claude"
CATALOG = ".claude-plugin/marketplace.json"
SKILL = skill_md("alpha", "Does A.")
PYRIGHT = {"command": "pyright-langserver", "extensionToLanguage": {".py": "python"}}
ECHO = {"type": "command", "command": "echo hi"}
TAIL = {"name": "tail", "command": "tail -F app.log", "description": "Watches the app's log."}
OPTION = {"type": "string", "title": "Region", "description": "Where the service runs."}
PAST_DOUBLE = "a number past the largest double"  # a stand-in replaced in the JSON text


def market(*plugins, name="acme-tools", **extra):
    return json.dumps({"name": name, "owner": {"name": "Acme"}, "description": "Tools.", "plugins": list(plugins),
                       **extra})


def entry(name="tools", **extra):
    return {"name": name, "source": "./plugins/tools", **extra}


def plugin_json(**fields):
    return {"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", **fields})}


@dataclass
class Fixture:
    id: str
    files: dict
    code: str = ""  # the problem Skillport must report (an error when the verdict is "invalid")
    differs: str = ""  # why Skillport's verdict differs from Claude Code's on purpose
    skill_files: dict = field(default_factory=lambda: {"plugins/tools/skills/alpha/SKILL.md": SKILL})


def fixture(id, catalogue, code="", files=None):
    return Fixture(id, {CATALOG: catalogue, **(files or {})}, code)


FIXTURES = [
    fixture("valid", market(entry())),
    # -- plugin names -------------------------------------------------------------------------
    *(fixture(f"plugin-{n}", market(entry(n)), "plugin-name-impersonates")
      for n in ["claude-tools", "Anthropic-helpers", "claude", "anthropics-x", "cc-plugin-x", "claude-mods",
                "claude-code", "my-claude-official", "official-anthropic-kit", "claudeofficial"]),
    *(fixture(f"plugin-{n}", market(entry(n)), "plugin-name-reads-as-anthropic")
      for n in ["x-anthropic", "tools-claude-helper"]),
    *(fixture(f"plugin-{n}", market(entry(n))) for n in ["myclaude", "claudeplugins", "my_tools", "Tools.v2"]),
    *(fixture(f"official-{m}", market(entry("claude-tools"), name=m), "marketplace-name-reserved")
      for m in ["claude-plugins-official", "anthropic-agent-skills", "claude-code-plugins", "knowledge-work-plugins",
                "financial-services-plugins", "life-sciences"]),
    *(fixture(f"plugin-{label}", market(entry(n)), code) for label, n, code in [
        ("space", "my tools", "plugin-name-invalid"),
        ("leading-dash", "-tools", "plugin-name-invalid"),
        ("at", "tools@evil", "plugin-name-invalid"),
        ("bidi", "evil\u202egpj", "name-bidi-control"),
        ("zero-width", "to\u200bols", "name-invisible-character"),
        ("cyrillic", "cl\u0430ude-tools", "name-confusable"),
        ("accented", "na\u00efve", "plugin-name-invalid"),
    ]),
    # -- marketplace names ----------------------------------------------------------------------
    *(fixture(f"market-{label}", market(entry(), name=n), code) for label, n, code in [
        ("imitates", "claude-marketplace", "marketplace-name-impersonates"),
        ("imitates-joined", "claudemarketplaces", "marketplace-name-impersonates"),
        ("imitates-underscore", "claude_plugins", "marketplace-name-impersonates"),
        ("official-beside", "anthropic-official-tools", "marketplace-name-impersonates"),
        ("built-in", "Builtin", "marketplace-name-reserved"),
        ("skills-dir", "skills-dir", "marketplace-name-reserved"),
        ("space", "my market", "marketplace-name-invalid"),
        ("leading-dash", "-market", "marketplace-name-invalid"),
        ("dotdot", "market..v2", "marketplace-name-invalid"),
        ("cyrillic", "m\u0430rket", "name-confusable"),
        ("zero-width", "market\u200b", "name-invisible-character"),
        ("claude-after", "my-claude-plugins", ""),
        ("github", "GitHub", ""),
        ("claudeai", "claudeai-tools", ""),
        ("dotted", "market.v2", ""),
    ]),
    # -- component paths and fields in the marketplace entry --------------------------------------
    fixture("entry-skills-not-relative", market(entry(skills=["skills/alpha"])), "component-path-not-relative"),
    fixture("entry-skills-string-not-relative", market(entry(skills="skills/alpha")), "component-path-not-relative"),
    fixture("entry-skills-relative", market(entry(skills=["./skills/alpha"]))),
    fixture("entry-agents-not-md", market(entry(agents=["./agents/reviewer"])), "agent-path-not-markdown",
            files={"plugins/tools/agents/reviewer/a.md": "x"}),
    fixture("entry-agents-md", market(entry(agents=["./agents/reviewer.md"])),
            files={"plugins/tools/agents/reviewer.md": "---\ndescription: Reviews.\n---\nReview.\n"}),
    fixture("entry-commands-not-relative", market(entry(commands=["commands/go.md"])), "component-path-not-relative",
            files={"plugins/tools/commands/go.md": "Go.\n"}),
    fixture("entry-repository-object", market(entry(repository={"type": "git", "url": "https://example.com/r"})),
            "repository-not-string"),
    fixture("entry-author-string", market(entry(author="Bob")), "author-not-object"),
    fixture("entry-homepage-not-url", market(entry(homepage="example")), "homepage-invalid"),
    fixture("entry-keywords-string", market(entry(keywords="a,b")), "field-wrong-type"),
    # -- plugin.json --------------------------------------------------------------------------
    fixture("manifest-skills-not-relative", market(entry()), "component-path-not-relative",
            files=plugin_json(skills=["skills/alpha"])),
    fixture("manifest-agents-not-md", market(entry()), "agent-path-not-markdown",
            files=plugin_json(agents=["./agents/reviewer"])),
    fixture("manifest-repository-object", market(entry()), "repository-not-string",
            files=plugin_json(repository={"url": "https://example.com/r"})),
    fixture("manifest-author-string", market(entry()), "author-not-object",
            files=plugin_json(author="Bob")),
    fixture("manifest-name-reserved", market(entry()), "plugin-name-impersonates",
            files={"plugins/tools/.claude-plugin/plugin.json": '{"name": "claude-tools"}'}),
    fixture("manifest-name-reserved-official", market(entry(), name="claude-plugins-official"),
            "marketplace-name-reserved",
            files={"plugins/tools/.claude-plugin/plugin.json": '{"name": "claude-tools"}'}),
    fixture("manifest-skills-missing", market(entry()), "skills-path-missing",
            files=plugin_json(skills=["./nowhere"])),
    fixture("manifest-invalid-json", market(entry()), "plugin-json-invalid",
            files={"plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", '}),
    fixture("manifest-no-name", market(entry()), "plugin-json-missing-name",
            files={"plugins/tools/.claude-plugin/plugin.json": '{"version": "1.0.0"}'}),
    # -- discovery and offline sources -----------------------------------------------------------
    Fixture("skill-md-directly-in-skills", {CATALOG: market(entry())},
            skill_files={"plugins/tools/skills/SKILL.md": SKILL}),
    fixture("github-source-offline", market(entry(source={"source": "github", "repo": "acme/elsewhere"})),
            "source-not-checked"),
    # -- the catalogue cannot be read, or loads with errors (test_sync_bad_input's cases) ------------
    fixture("catalogue-invalid-json", '{"name": "acme-tools", "plugins": [,]}', "catalog-invalid-json"),
    fixture("catalogue-array", json.dumps([entry()]), "catalog-not-claude-code"),
    fixture("catalogue-plugins-object", json.dumps({"name": "acme-tools", "owner": {"name": "Acme"},
                                                    "plugins": {"tools": "./plugins/tools"}}),
            "catalog-plugins-not-array"),
    fixture("catalogue-no-name", json.dumps({"owner": {"name": "Acme"}, "plugins": [entry()]}), "catalog-missing-name"),
    fixture("catalogue-no-owner", json.dumps({"name": "acme-tools", "plugins": [entry()]}), "catalog-missing-owner"),
    fixture("catalogue-owner-string", market(entry(), owner="Acme"), "catalog-missing-owner"),
    fixture("catalogue-owner-name-empty", market(entry(), owner={"name": ""}), "owner-name-empty"),
    fixture("renames-cycle", market(entry(), renames={"old": "new", "new": "old"}), "renames-cycle"),
    fixture("entry-not-object", market(entry(), "./plugins/tools"), "plugin-not-object"),
    fixture("entry-without-name", market(entry(), {"source": "./plugins/tools"}), "plugin-missing-name"),
    fixture("duplicate-plugin", market(entry(), entry()), "duplicate-plugin-name"),
    fixture("source-dotdot", market(entry(source="../x")), "path-traversal"),
    fixture("source-unknown-type", market(entry(source={"source": "svn", "url": "https://example.com/r"})),
            "source-unknown-type"),
    fixture("source-bare-name", market(entry(source="plugins/tools")), "source-invalid-path"),
    fixture("strict-conflict", market(entry(strict=False, skills=["./skills/alpha"])), "strict-conflict",
            files=plugin_json()),
    *(fixture(f"strict-{label}", market(entry(strict=value)), "strict-not-boolean")
      for label, value in [("string", "false"), ("number", 1), ("null", None)]),
    fixture("source-pip", market(entry(source={"source": "pip", "package": "tools"})), "source-unknown-type"),
    # -- sources Skillport lists but never fetches: Claude Code checks their fields ------------------
    *(fixture(f"unfetched-{label}", market(entry(source=source)), code) for label, source, code in [
        ("npm", {"source": "npm", "package": "@acme/tools@^1.2", "registry": "https://npm.example.com"}, ""),
        ("npm-dotdot", {"source": "npm", "package": "../tools"}, "source-field-invalid"),
        ("npm-file-dotdot", {"source": "npm", "package": "file:../tools.tgz"}, ""),
        ("npm-registry", {"source": "npm", "package": "tools", "registry": "ftp://npm.example.com"},
         "source-field-invalid"),
        ("npm-version-number", {"source": "npm", "package": "tools", "version": 1}, "source-field-invalid"),
        ("archive", {"source": "archive", "url": "https://example.com/tools.zip", "sha256": "a" * 64}, ""),
        ("archive-private-network", {"source": "archive", "url": "https://10.0.0.1/tools.zip"}, ""),
        ("archive-http", {"source": "archive", "url": "http://example.com/tools.zip"}, "source-field-invalid"),
        ("archive-metadata", {"source": "archive", "url": "https://169.254.169.254/x.zip"}, "source-field-invalid"),
        ("archive-loopback-v6", {"source": "archive", "url": "https://[::1]/x.zip"}, "source-field-invalid"),
        # Hosts as a URL parser reads them: IPv4 in one number or fewer parts, and IPv4 inside IPv6.
        *((f"archive-host-{label}", {"source": "archive", "url": f"https://{host}/x.zip"}, "source-field-invalid")
          for label, host in [("decimal", "2130706433"), ("short", "127.1"), ("hex", "0x7f.1"),
                              ("octal", "017700000001"), ("nat64", "[64:ff9b::a9fe:a9fe]"),
                              ("mapped", "[::ffff:169.254.169.254]"), ("azure", "168.63.129.16")]),
        ("archive-host-a-name", {"source": "archive", "url": "https://127.0.0.1.nip.io/x.zip"}, ""),
        ("archive-url-unclosed", {"source": "archive", "url": "https://[::1/x.zip"}, "source-field-invalid"),
        ("archive-url-userinfo", {"source": "archive", "url": "https://x@169.254.169.254:443/x.zip"},
         "source-field-invalid"),
        ("archive-host-many-numbers", {"source": "archive", "url": f"https://{'1.' * 2000}1/x.zip"},
         "source-field-invalid"),  # ends in a number, so a URL parser reads it as IPv4, and refuses it
        ("archive-host-number-inside", {"source": "archive", "url": "https://cdn.1.example.com/x.zip"}, ""),
        ("archive-host-ends-in-number", {"source": "archive", "url": "https://cdn.example.1/x.zip"},
         "source-field-invalid"),
        ("archive-sha256", {"source": "archive", "url": "https://example.com/tools.zip", "sha256": "abc"},
         "source-field-invalid"),
        ("command", {"source": "command", "command": "tools-export --print-dir", "timeout": 30, "mode": "link"}, ""),
        ("command-spaces", {"source": "command", "command": "echo    hi"}, "source-field-invalid"),
        ("command-unicode", {"source": "command", "command": "echo \u00e9"}, "source-field-invalid"),
        ("command-long", {"source": "command", "command": "x" * 501}, "source-field-invalid"),
        ("command-timeout", {"source": "command", "command": "echo hi", "timeout": 601}, "source-field-invalid"),
        ("command-mode", {"source": "command", "command": "echo hi", "mode": "move"}, "source-field-invalid"),
    ]),
    # -- plugin.json's component paths must be in the plugin (an entry's are not checked) --------------
    *(fixture(f"manifest-{key}-missing", market(entry()), "component-path-missing", files=plugin_json(**{key: path}))
      for key, path in [("commands", "./commands"), ("agents", ["./agents/reviewer.md"]),
                        ("hooks", "./hooks/hooks.json"), ("mcpServers", "./.mcp.json"),
                        ("outputStyles", "./styles"), ("lspServers", "./.lsp.json")]),
    fixture("manifest-commands-present", market(entry()), files=plugin_json(commands="./skills")),
    fixture("entry-commands-missing", market(entry(commands="./commands"))),
    # -- what else Claude Code reads of a plugin ---------------------------------------------------------
    *(fixture(f"entry-{label}", market(entry(**fields)), code) for label, fields, code in [
        ("newer-fields", {"themes": ["./themes"], "workflows": "./workflows/release.js", "monitors": "./monitors.json",
                          "types": "./types/index.d.ts", "channels": [{"server": "chat"}], "settings": {"x": 1},
                          "userConfig": {"token": {"type": "string", "title": "Token", "description": "API token"}},
                          "binaries": {}, "experimental": {}, "dependencies": ["other"]}, ""),
        ("themes-not-relative", {"themes": "themes"}, "component-path-not-relative"),
        ("monitors-object", {"monitors": {"tail": {}}}, "component-path-invalid"),
        ("monitors-not-json", {"monitors": "./monitors.txt"}, "component-path-not-json"),
        ("types-list", {"types": ["./types/index.d.ts"]}, "component-path-invalid"),
        ("types-not-declarations", {"types": "./types/index.ts"}, "types-not-declarations"),
        ("channels-string", {"channels": "chat"}, "field-wrong-type"),
        ("settings-list", {"settings": []}, "field-wrong-type"),
        ("user-config-string", {"userConfig": "token"}, "field-wrong-type"),
        ("dependencies-string", {"dependencies": "other"}, "field-wrong-type"),
        ("dependencies-named", {"dependencies": ["other", "other@acme.tools", {"name": "x_1", "marketplace": "m",
                                                                               "version": "^1"}]}, ""),
        *((f"dependencies-{label}", {"dependencies": [item]}, "field-wrong-type") for label, item in [
            ("empty", ""), ("space", "a b"), ("two-ats", "a@b@c"), ("leading-dash", "-a"), ("slash", "a/b"),
            ("no-marketplace", "a@"), ("number", 5), ("object-without-name", {"version": "^1"}),
            ("object-name-with-at", {"name": "a@b"}), ("marketplace-number", {"name": "a", "marketplace": 5})]),
        ("optional-dependencies", {"optionalDependencies": ["other", {"name": "x", "version": "^1"}]}, ""),
        ("optional-dependencies-string", {"optionalDependencies": "other"}, "field-ignored"),
        ("optional-dependencies-number", {"optionalDependencies": [5]}, "field-ignored"),
        # One plugin in both lists is required (Claude Code compares "name" or "name@marketplace" as written).
        ("optional-dependencies-required", {"dependencies": [{"name": "a"}, "b@m", "C"],
                                            "optionalDependencies": ["a", "b@n", {"name": "b", "marketplace": "m"},
                                                                     "c"]}, "field-ignored"),
        # Read by Claude Code alone: which versions it needs, when to suggest the plugin, an archive's headers.
        ("claude-only-fields", {"engines": {"claude-code": ">=2.1.0"}, "network": {"hosts": ["api.example.com"]},
                                "relevance": {"topic": "Stripe", "signals": {"cli": ["stripe"], "manifestDeps": [
                                    {"file": "package.json", "pattern": "stripe"}]}},
                                "headers": {"X-Team": "tools"}, "headersHelper": "print-headers"}, ""),
        # What Claude Code ignores for not being an object: a warning, as its validator gives.
        ("engines-string", {"engines": ">=2.1.0"}, "field-ignored"),
        ("network-list", {"network": ["api.example.com"]}, "field-ignored"),
        ("network-without-hosts", {"network": {"host": "api.example.com"}}, "field-ignored"),
        ("experimental-list", {"experimental": ["monitors"]}, "field-ignored"),
        ("metadata-string", {"metadata": "tools"}, "field-ignored"),
        ("engines-version-number", {"engines": {"claude-code": 2}}, "field-wrong-type"),
        # Claude Code reads npm's ranges (node-semver, here): words that are none it refuses, and ignores.
        *((f"engines-{label}", {"engines": {"claude-code": wanted}}, "field-wrong-type" if wrong else "")
          for label, wanted, wrong in [("latest", "latest", True), ("four-numbers", "1.2.3.4", True),
                                       ("letters", "x.y", True), ("spaced", ">=   2.1 <3", False),
                                       ("hyphen-or", "2.1.0 - 3 || ^4", False), ("empty", "", False),
                                       ("v-prefix", "v2", False)]),
        ("default-enabled", {"defaultEnabled": False}, ""),
        ("default-enabled-string", {"defaultEnabled": "no"}, "field-wrong-type"),
        ("relevance-string", {"relevance": "stripe"}, "field-ignored"),
        ("relevance-no-signal", {"relevance": {"topic": "Stripe", "signals": {}}}, "field-wrong-type"),
        ("relevance-without-signals", {"relevance": {"topic": "Stripe"}}, "field-wrong-type"),
        ("relevance-topic-long", {"relevance": {"topic": "S" * 65, "signals": {"cli": ["stripe"]}}}, "field-wrong-type"),
        ("relevance-too-many", {"relevance": {"signals": {"cli": ["stripe"] * 11}}}, "field-wrong-type"),
        ("relevance-pair-half", {"relevance": {"signals": {"manifestDeps": [{"file": "package.json"}]}}},
         "field-wrong-type"),
        ("headers-number", {"headers": {"X-Team": 3}}, "field-wrong-type"),
        ("headers-helper-number", {"headersHelper": 3}, "field-wrong-type"),
    ]),
    fixture("manifest-engines-version-number", market(entry()), "field-wrong-type",
            files=plugin_json(engines={"claude-code": 2})),
    fixture("manifest-engines-not-a-range", market(entry()), "field-wrong-type",
            files=plugin_json(engines={"claude-code": "newest"})),
    fixture("manifest-default-enabled", market(entry()), files=plugin_json(defaultEnabled=False)),
    fixture("manifest-default-enabled-null", market(entry()), "field-wrong-type", files=plugin_json(defaultEnabled=None)),
    fixture("manifest-binaries-list", market(entry()), "field-ignored", files=plugin_json(binaries=["tool"])),
    # What belongs in a marketplace entry Claude Code passes over in a plugin.json, whatever it holds.
    fixture("manifest-entry-fields", market(entry()), "unknown-field",
            files=plugin_json(tags="x", category=1, strict=5, source=5, headersHelper=5)),
    *(fixture(f"manifest-name-{label}", market(entry()), code, files=plugin_json(name=name)) for label, name, code in [
        ("space", "my tools", "plugin-name-invalid"), ("tab", "my\ttools", "plugin-name-invalid"),
        ("bidi", "to\u202eols", "plugin-name-invalid"), ("at", "tools@acme", "")]),
    # The options a plugin asks its user for, field by field as Claude Code's schema has them.
    *(fixture(f"user-config-{label}", market(entry(userConfig=config)), "field-wrong-type" if wrong else "")
      for label, config, wrong in [
          ("full", {"region": {**OPTION, "options": ["eu", "us"], "default": "eu"}, "port": {
              **OPTION, "type": "number", "min": 1, "max": 65535, "default": 8080, "required": False}, "token": {
              **OPTION, "sensitive": True}, "paths": {**OPTION, "type": "directory", "multiple": True,
                                                      "default": ["a", "b"]}, "_2": OPTION}, False),
          ("name-dash", {"my-token": OPTION}, True), ("name-digit", {"1st": OPTION}, True),
          ("not-object", {"token": "x"}, True), ("no-title", {"token": {"type": "string", "description": "d"}}, True),
          ("type-unknown", {"token": {**OPTION, "type": "secret"}}, True),
          ("unknown-key", {"token": {**OPTION, "label": "x"}}, True),
          ("min-boolean", {"token": {**OPTION, "type": "number", "min": True}}, True),
          ("required-null", {"token": {**OPTION, "required": None}}, True),
          ("default-list-of-numbers", {"token": {**OPTION, "default": [1]}}, True),
          ("options-required", {"token": {**OPTION, "options": ["eu"], "required": True}}, False),
          ("options-empty", {"token": {**OPTION, "options": [], "required": True}}, True),
          ("options-numbers", {"token": {**OPTION, "options": [1], "required": True}}, True),
          ("options-repeat", {"token": {**OPTION, "options": ["eu", "EU"], "required": True}}, True),
          ("options-padded", {"token": {**OPTION, "options": [" eu"], "required": True}}, True),
          ("options-invisible", {"token": {**OPTION, "options": ["e\u200bu"], "required": True}}, True),
          ("options-long", {"token": {**OPTION, "options": ["e" * 65], "required": True}}, True),
          ("options-longest", {"token": {**OPTION, "options": ["e" * 64], "required": True}}, False),
          ("options-sensitive", {"token": {**OPTION, "options": ["eu"], "sensitive": True, "required": True}}, True),
          ("options-of-a-number", {"token": {**OPTION, "type": "number", "options": ["1"], "required": True}}, True),
          ("options-without-default", {"token": {**OPTION, "options": ["eu"]}}, True),
          ("options-default-outside", {"token": {**OPTION, "options": ["eu"], "default": "us"}}, True),
      ]),
    fixture("manifest-user-config-no-title", market(entry()), "field-wrong-type",
            files=plugin_json(userConfig={"token": {"type": "string", "description": "d"}})),
    # Channels: each binds an MCP server, and may ask for options named as it likes.
    *(fixture(f"channels-{label}", market(entry(channels=channels)), "field-wrong-type" if wrong else "")
      for label, channels, wrong in [
          ("full", [{"server": "chat", "displayName": "Chat", "userConfig": {"bot-token": OPTION}}], False),
          ("item-string", ["chat"], True), ("no-server", [{}], True), ("server-empty", [{"server": ""}], True),
          ("unknown-key", [{"server": "chat", "x": 1}], True),
          ("option-without-title", [{"server": "chat", "userConfig": {"t": {"type": "string", "description": "d"}}}],
           True)]),
    fixture("manifest-channels-item-list", market(entry()), "field-wrong-type", files=plugin_json(channels=[[]])),
    fixture("source-a-file", market(entry(source="./plugins/tools/skills/alpha/SKILL.md")), "plugin-source-not-folder"),
    # `engines` is read for Claude Code's own versions; other hosts' it ignores, whatever they hold.
    fixture("engines-other-hosts", market(entry(engines={"node": 5, "vscode": [">=1"], "claude-code": ">=2"}))),
    # Found by differential fuzzing: a plugin.json's dependencies of another type stopped the whole read.
    *(fixture(f"manifest-dependencies-{label}", market(entry()), "field-wrong-type", files=plugin_json(dependencies=value))
      for label, value in [("number", 10**12), ("object", {"name": "b", "version": "^1"}), ("true", True)]),
    # -- the catalogue's own fields ---------------------------------------------------------------------
    fixture("catalogue-fields", market(entry(), version="1.0", description="Tools.", forceRemoveDeletedPlugins=True,
                                       allowCrossMarketplaceDependenciesOn=["acme-base"],
                                       metadata={"description": "Tools.", "version": "1.0"},
                                       owner={"name": "Acme", "email": "tools@example.com", "url": "https://a.example"})),
    *(fixture(f"catalogue-{label}", market(entry(), **fields), code) for label, fields, code in [
        ("version-number", {"version": 1}, "field-wrong-type"),
        ("schema-number", {"$schema": 3}, "field-wrong-type"),
        ("force-remove-string", {"forceRemoveDeletedPlugins": "yes"}, "field-wrong-type"),
        ("dependencies-on-numbers", {"allowCrossMarketplaceDependenciesOn": [3]}, "field-wrong-type"),
        ("metadata-string", {"metadata": "tools"}, "field-wrong-type"),
        ("metadata-version-number", {"metadata": {"version": 1}}, "field-wrong-type"),
        ("owner-email-number", {"owner": {"name": "Acme", "email": 3}}, "field-wrong-type"),
        ("renames-to-nothing", {"renames": {"old-tools": "gone"}}, "renames-invalid"),
        ("renames-null", {"renames": None}, "renames-invalid"),
        ("renames-to-a-plugin", {"renames": {"old-tools": "tools", "older": "old-tools", "dropped": None}}, ""),
    ]),
    fixture("entry-author-email-number", market(entry(author={"name": "Bob", "email": 3})), "author-not-object"),
    # -- components written inline (hook event names are Claude Code's to know: README) -----------------
    *(fixture(f"inline-mcp-{label}", market(entry(mcpServers={"tracker": config})), "component-path-invalid")
      for label, config in [
        ("empty", {}), ("command-number", {"command": 5}), ("command-empty", {"command": ""}),
        ("command-list", {"command": ["x"]}), ("args-string", {"command": "x", "args": "a b"}),
        ("args-numbers", {"command": "x", "args": [1]}), ("env-number", {"command": "x", "env": {"A": 1}}),
        ("env-string", {"command": "x", "env": "a"}), ("http-without-url", {"type": "http"}),
        ("url-without-type", {"url": "https://a.example"}), ("url-number", {"type": "http", "url": 5}),
        ("type-unknown", {"type": "bogus", "url": "https://a.example"}), ("stdio-url", {"type": "stdio", "url": "x"}),
        ("http-command", {"type": "http", "command": "x"}),
        ("headers-number", {"type": "http", "url": "https://a.example", "headers": {"A": 1}}),
        ("headers-string", {"type": "sse", "url": "https://a.example", "headers": "x"}),
        ("headers-helper-number", {"type": "http", "url": "https://a.example", "headersHelper": 5}),
        ("oauth-number", {"type": "http", "url": "https://a.example", "oauth": 5}), ("sdk-without-name", {"type": "sdk"}),
        ("proxy-without-id", {"type": "claudeai-proxy", "url": "https://a.example"}),
        ("ide-type", {"type": "sse-ide", "url": "https://a.example"}),
        ("type-object", {"type": {"http": 1}, "url": "https://a.example"}), ("type-list", {"type": ["http"]}),
    ]),
    # What else each type of MCP server may hold (a field one type refuses, another may pass over).
    fixture("inline-mcp-fields", market(entry(mcpServers={
        "a": {"command": "x", "timeout": 5, "alwaysLoad": True, "bareElicitationCapability": False},
        "b": {"type": "sse", "url": "https://a.example", "timeout": 5.0, "discoveryCache": True, "tools": [
            {"name": "x", "permission_policy": "always_allow"}, {"name": "y"}], "toolPermissions": {"x": "ask"},
            "oauth": {"clientId": "c", "callbackPort": 8080, "authServerMetadataUrl": "https://a.example/.well-known/x",
                      "scopes": "read", "xaa": True, "other": 1}},
        "c": {"type": "ws", "url": "wss://a.example", "oauth": 5, "tools": 5, "discoveryCache": 1},
        "d": {"type": "sdk", "name": "x", "tools": 5, "bareElicitationCapability": 1, "toolPermissions": 5},
        "e": {"type": "claudeai-proxy", "url": "https://a.example", "id": "x", "displayName": "x",
              "toolPermissions": {"x": "blocked"}, "oauth": 5, "tools": 5}}))),
    *(fixture(f"inline-mcp-{label}", market(entry(mcpServers={"a": config})), "component-path-invalid")
      for label, config in [
        ("stdio-timeout-string", {"command": "x", "timeout": "5"}), ("stdio-always-load", {"command": "x",
                                                                                         "alwaysLoad": "y"}),
        ("stdio-elicitation", {"command": "x", "bareElicitationCapability": 1}),
        ("sse-timeout-fraction", {"type": "sse", "url": "https://a.example", "timeout": 1.5}),
        ("http-timeout-zero", {"type": "http", "url": "https://a.example", "timeout": 0}),
        ("http-discovery-number", {"type": "http", "url": "https://a.example", "discoveryCache": 1}),
        ("sse-tools-number", {"type": "sse", "url": "https://a.example", "tools": 5}),
        ("http-tool-name-number", {"type": "http", "url": "https://a.example", "tools": [{"name": 5}]}),
        ("http-tool-policy", {"type": "http", "url": "https://a.example", "tools": [{"name": "a",
                                                                                     "permission_policy": "x"}]}),
        ("http-tool-permissions", {"type": "http", "url": "https://a.example", "toolPermissions": {"a": "x"}}),
        ("proxy-tool-permissions", {"type": "claudeai-proxy", "url": "https://a.example", "id": "x",
                                    "toolPermissions": {"a": "allow", "b": "deny"}}),
        ("proxy-display-number", {"type": "claudeai-proxy", "url": "https://a.example", "id": "x", "displayName": 5}),
        ("ws-elicitation", {"type": "ws", "url": "wss://a.example", "bareElicitationCapability": "y"}),
        ("sdk-timeout-string", {"type": "sdk", "name": "x", "timeout": "5"}),
        *((f"oauth-{label}", {"type": "http", "url": "https://a.example", "oauth": oauth}) for label, oauth in [
            ("client-number", {"clientId": 5}), ("port-zero", {"callbackPort": 0}),
            ("port-fraction", {"callbackPort": 80.5}), ("metadata-http", {"authServerMetadataUrl": "http://a.example"}),
            ("metadata-word", {"authServerMetadataUrl": "https://"}), ("scopes-empty", {"scopes": ""}),
            ("xaa-string", {"xaa": "yes"})]),
    ]),
    fixture("inline-lsp-servers", market(entry(lspServers={"py": {**PYRIGHT, "args": ["--stdio"], "transport": "socket",
        "env": {"A": "b"}, "initializationOptions": [1], "settings": {}, "workspaceFolder": "/w", "startupTimeout": 5,
        "shutdownTimeout": 5.0, "requestTimeout": 2147483647, "restartOnCrash": True, "maxRestarts": 0,
        "diagnostics": False}, "sh": {"command": "/opt/my server", "extensionToLanguage": {".sh.x": "sh"}}}))),
    *(fixture(f"inline-lsp-{label}", market(entry(lspServers={"py": {**PYRIGHT, **fields}})), "component-path-invalid")
      for label, fields in [
        ("without-command", {"command": None}), ("command-empty", {"command": ""}),
        ("command-spaces", {"command": "pyright --stdio"}), ("mapping-empty", {"extensionToLanguage": {}}),
        ("mapping-without-dot", {"extensionToLanguage": {"py": "python"}}), ("mapping-dot", {"extensionToLanguage": {
            ".": "python"}}), ("mapping-number", {"extensionToLanguage": {".py": 5}}),
        ("mapping-no-extension", {"extensionToLanguage": {"": "python"}}),
        ("mapping-empty-language", {"extensionToLanguage": {".py": ""}}), ("args-empty", {"args": [""]}),
        ("transport-tcp", {"transport": "tcp"}), ("timeout-negative", {"startupTimeout": -1}),
        ("timeout-string", {"startupTimeout": "5"}), ("timeout-true", {"shutdownTimeout": True}),
        ("request-timeout-big", {"requestTimeout": 2147483648}), ("restarts-fraction", {"maxRestarts": 1.5}),
        ("diagnostics-string", {"diagnostics": "no"}), ("workspace-number", {"workspaceFolder": 5}),
        ("unknown-key", {"pushDiagnostics": False}),
    ]),
    fixture("inline-commands", market(entry(commands={"deploy": {"source": "./commands/deploy.md"}, "ship": {
        "content": "Ship it.", "description": "Ships.", "argumentHint": "[env]", "model": "sonnet",
        "allowedTools": ["Bash"], "extra": 1}, "also": {"source": "./c.md", "content": ""}}))),
    *(fixture(f"inline-command-{label}", market(entry(commands={"deploy": command})), "component-path-invalid")
      for label, command in [
        ("empty", {}), ("both", {"source": "./c.md", "content": "x"}), ("content-empty", {"content": ""}),
        ("source-not-relative", {"source": "c.md"}), ("source-number", {"source": 5}),
        ("source-null", {"content": "x", "source": None}), ("model-number", {"content": "x", "model": 5}),
        ("tools-string", {"content": "x", "allowedTools": "Bash"}), ("description-number", {"content": "x",
                                                                                             "description": 5}),
    ]),
    *(fixture(f"inline-hooks-{label}", market(entry(hooks={"SessionStart": matchers})), code)
      for label, matchers, code in [
        ("no-hooks-yet", [{"hooks": []}, {"matcher": "Bash", "hooks": [ECHO], "extra": 1}], ""),
        ("matcher-empty", [{}], "component-path-invalid"), ("matcher-number", [5], "component-path-invalid"),
        ("matcher-not-string", [{"matcher": 5, "hooks": []}], "component-path-invalid"),
        ("hooks-string", [{"hooks": "x"}], "component-path-invalid"),
        ("hook-number", [{"hooks": [ECHO, 5]}], "component-path-invalid"),
        ("hook-number-first", [{"hooks": [5]}], "component-path-invalid"),
    ]),
    fixture("inline-hook-types", market(entry(hooks={"SessionStart": [{"hooks": [
        {"type": "command", "command": "", "args": ["a"], "if": "Bash(git *)", "shell": "powershell", "timeout": 1.5,
         "onFailure": "block", "statusMessage": "x", "once": True, "async": False, "asyncRewake": True,
         "holdsTools": False, "rewakeMessage": "x", "rewakeSummary": "x", "cloud": 5, "extra": 1},
        {"type": "prompt", "prompt": "x", "model": "m", "continueOnBlock": True},
        {"type": "agent", "prompt": "x", "model": "m", "timeout": 60},
        {"type": "http", "url": "https://a.example/hook", "headers": {"A": "b"}, "allowedEnvVars": ["A"],
         "onFailure": "continue", "cloud": "device"},
        {"type": "http", "url": "mailto:hooks@a.example"}, {"type": "http", "url": "http:a.example"},
        {"type": "mcp_tool", "server": "a", "tool": "b", "input": {"path": 1}, "onFailure": 5},
    ]}]}))),
    *(fixture(f"inline-hook-{label}", market(entry(hooks={"SessionStart": [{"hooks": [ECHO, hook]}]})),
              "component-path-invalid")
      for label, hook in [
        ("without-type", {"command": "x"}), ("type-number", {"type": 5, "command": "x"}),
        ("type-null", {"type": None}), ("command-missing", {"type": "command"}),
        ("command-number", {"type": "command", "command": 5}), ("timeout-zero", {**ECHO, "timeout": 0}),
        ("timeout-string", {**ECHO, "timeout": "5"}), ("timeout-true", {**ECHO, "timeout": True}),
        ("shell-fish", {**ECHO, "shell": "fish"}), ("async-string", {**ECHO, "async": "yes"}),
        ("args-string", {**ECHO, "args": "a b"}), ("if-number", {**ECHO, "if": 5}),
        ("on-failure-stop", {**ECHO, "onFailure": "stop"}), ("rewake-empty", {**ECHO, "rewakeMessage": ""}),
        ("once-string", {**ECHO, "once": "no"}), ("status-number", {**ECHO, "statusMessage": 5}),
        ("prompt-missing", {"type": "prompt"}), ("prompt-model-number", {"type": "prompt", "prompt": "x", "model": 5}),
        ("prompt-continue-number", {"type": "prompt", "prompt": "x", "continueOnBlock": 1}),
        ("agent-missing", {"type": "agent", "model": "m"}), ("http-missing", {"type": "http"}),
        ("http-url-word", {"type": "http", "url": "x"}), ("http-url-no-host", {"type": "http", "url": "https://"}),
        ("http-url-colon", {"type": "http", "url": "http:"}),
        ("http-headers-number", {"type": "http", "url": "https://a.example", "headers": {"A": 1}}),
        ("http-env-string", {"type": "http", "url": "https://a.example", "allowedEnvVars": "A"}),
        ("mcp-tool-missing", {"type": "mcp_tool", "server": "a"}),
        ("mcp-tool-input-list", {"type": "mcp_tool", "server": "a", "tool": "b", "input": [1]}),
    ]),
    # A plugin.json's hooks Claude Code cannot read are each left out, with a warning; the plugin loads.
    *(fixture(f"manifest-hooks-{label}", market(entry()), "hook-ignored", files={
        **plugin_json(hooks=hooks), "plugins/tools/extra-hooks.json": json.dumps({"hooks": {"Stop": [{"hooks": [ECHO]}]}})})
      for label, hooks in [
        ("hook", {"SessionStart": [{"hooks": [ECHO, {"type": "command"}]}]}),
        ("several", {"SessionStart": [5, {"hooks": [5, {"type": "http", "url": "x"}]}, {"hooks": "x"}],
                     "Stop": [{"matcher": 5, "hooks": [ECHO]}, {"hooks": [{"command": "x"}]}], "PreCompact": 3}),
        ("in-a-list", ["./extra-hooks.json", {"SessionStart": [{"hooks": [{"type": "mcp_tool", "server": "a"}]}]}]),
    ]),
    *(fixture(f"manifest-hooks-{label}", market(entry()), "hook-guard-unreadable", files=plugin_json(hooks=hooks))
      for label, hooks in [("guard-hook", {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "http", "url": 5}]}]}),
                           ("guard-matcher", {"PermissionRequest": [{"matcher": 5, "hooks": [ECHO]}]})]),
    # -- a plugin.json's types file: a contract of types alone --------------------------------------------
    *(fixture(f"types-file-{label}", market(entry()), "" if valid else "types-not-declarations", files={
        **plugin_json(types="./types/index.d.ts"), "plugins/tools/types/index.d.ts": content})
      for label, content, valid in [
        ("types", 'export interface Tools {\n  run(name: string): Promise<void>\n  g: () => void\n}\n'
                  'export type Mode =\n  | "fast"\n  | `x${string}`\nexport type Pair = [string, number];;\n', True),
        ("module", "// Claude Code's own types, augmented\ndeclare module 'claude-code' {\n  interface Tools { x: string "
                   "}\n  type Y = string\n  export interface Z<T extends { a: 1 }> { t: T }\n}\n", True),
        ("comments-and-strings", '/* export const x = 1 */\nexport type A = "{ import }" // import x\n', True),
        ("empty", "", True), ("unicode-in-a-string", 'export type A = "Größe" // ü\n', True),
        ("unicode-name", "export type Größe = number\n", False),
        ("control-character", "export type A = string\x0b\n", False),
        ("form-feed", "export type A = string\r\n\texport type B = string\f\n", False),
        ("byte-order-mark", "\ufeffexport type A = string\r\n", True),
        ("field-named-import", "export interface A { import: string; from: number }\n", True),
        ("export-function", "export declare function f(): void;\n", False),
        ("function-body", "export function f() { return 1 }\n", False), ("const", "const x = 1;\n", False),
        ("declare-const", "declare const x: number;\n", False), ("call", "console.log(1);\n", False),
        ("export-default", "export default class A {}\n", False),
        ("function-in-module", "declare module 'claude-code' {\n  export function f(): void;\n}\n", False),
        ("module-split", "declare module\n'claude-code' {}\n", False),
        ("other-module", "declare module 'other' {}\n", False), ("global-interface", "interface A { a: 1 }\n", False),
        ("global-type", "type A = string;\n", False), ("import-type", 'import type { B } from "./b";\n', False),
        ("re-export", 'export type { A } from "./a";\n', False),
        ("reference", '/// <reference types="node" />\nexport type A = string;\n', False),
        ("code-after-a-type", "export type A = {\n  b: string\n}\nfoo()\n", False),
        ("code-after-a-semicolon", "export type A = string\n;(foo)\n", False),
        ("import-in-a-type", 'export type A = typeof import("./x")\n', False),
        ("const-enum", "export const enum E { A }\n", False),
        ("namespace", "export namespace N { export type A = string }\n", False),
        ("export-nothing", "export type A = string; export {};\n", False),
        ("unclosed-comment", "/* open\nexport type A = string\n", False),
        ("unclosed-brace", "export type A = { a: 1\n", False),
        # Where statements end: what a line starts or ends with says whether it goes on.
        ("fields-named-as-keywords", "export interface A { const: string; class?: 1; abstract: 2; enum: 3 }\n", True),
        ("lines-that-go-on", "export type A<T> = T extends string\n  ? 'a'\n  : `b${`c${string}`}`\nexport\ntype B = "
                             "{ [k: string]: number }\n+1\n", True),
        ("two-on-a-line", "export interface A {} export type B = string /* x */ ; export type C = 1n\n", True),
        ("abstract-constructor", "export type A = abstract new () => void\n", False),
        ("enum-in-a-field", "export interface A { x: { enum E } }\n", False),
        ("decorator", "export type A = 1\n@dec\nexport type B = 1\n", False),
        ("directive", "export type A = 1;\n'use strict'\n", False),
        ("declare-global", "declare global { interface Window { a: 1 } }\n", False),
        ("export-equals", "export type A = string\nexport = A\n", False),
    ]),
    # -- hooks files: hooks/hooks.json, and those a plugin.json names ----------------------------------------
    *(fixture(f"hooks-file-{label}", market(entry()), code, files={
        "plugins/tools/hooks/hooks.json": content, **{f"plugins/{path}": "export function register(on) {}\n" for path in (
            "tools/hooks/m.ts", "tools/hooks/m.txt", "tools/hooks/m.mjs", "shared.js")}})
      for label, content, code in [
        ("valid", json.dumps({"description": "x", "$schema": 5, "hooks": {"SessionStart": [{"hooks": [ECHO]}]}}), ""),
        ("module", '{"modules": ["./m.ts"]}', ""), ("module-and-hooks", '{"hooks": {}, "modules": []}', ""),
        ("hook", json.dumps({"hooks": {"SessionStart": [{"hooks": [ECHO, {"type": "command"}]}]}}), "hook-ignored"),
        ("wrapped", '{"hooks": {"hooks": {"SessionStart": []}}}', "hook-ignored"),
        ("event-number", '{"hooks": {"SessionStart": 5, "Stop": [{"matcher": 5, "hooks": []}]}}', "hook-ignored"),
        # A hook that guards a tool's use is not left out: nothing of the file is applied.
        ("guard-hook", json.dumps({"hooks": {"PreToolUse": [{"hooks": [ECHO, {"type": "command"}]}]}}),
         "hook-guard-unreadable"),
        ("guard-matcher", '{"hooks": {"PermissionRequest": [{"matcher": 5, "hooks": []}]}}', "hook-guard-unreadable"),
        ("guard-not-a-list", '{"hooks": {"PreToolUse": "x"}}', "hook-guard-unreadable"),
        ("guard-type-empty", '{"hooks": {"PreToolUse": [{"hooks": [{"type": ""}]}]}}', "hook-guard-unreadable"),
        ("type-empty", '{"hooks": {"Stop": [{"hooks": [{"type": ""}]}]}}', "hook-ignored"),
        ("guard-readable", json.dumps({"hooks": {"PreToolUse": [{"hooks": [ECHO]}], "Stop": [{"hooks": [
            {"type": "command"}]}]}}), "hook-ignored"),
        ("not-json", "not json", "hooks-json-invalid"), ("list", "[1]", "hooks-json-invalid"),
        ("events-at-the-top", json.dumps({"SessionStart": [{"hooks": [ECHO]}]}), "hooks-json-invalid"),
        ("hooks-number", '{"hooks": 5}', "hooks-json-invalid"), ("hooks-null", '{"hooks": null}', "hooks-json-invalid"),
        ("modules-empty", '{"modules": []}', "hooks-json-invalid"),
        ("modules-two", '{"modules": ["./m.ts", "./m.ts"]}', "hooks-json-invalid"),
        ("modules-number", '{"modules": [1]}', "hooks-json-invalid"),
        ("modules-string", '{"hooks": {}, "modules": "./m.ts"}', "hooks-json-invalid"),
        ("module-missing", '{"modules": ["./x.ts"]}', "hooks-json-invalid"),
        ("module-outside", '{"modules": ["../../../m.ts"]}', "hooks-json-invalid"),
        ("module-outside-the-plugin", '{"modules": ["../../shared.js"]}', "hooks-json-invalid"),
        ("module-not-code", '{"modules": ["./m.txt"]}', "hooks-json-invalid"),
        ("module-javascript", '{"modules": ["./m.mjs"]}', ""),
        ("description-number", '{"hooks": {}, "description": 5}', "hooks-json-invalid"),
        ("surface", '{"hooks": {}, "surface": "./board.tsx"}', "hooks-json-invalid"),
    ]),
    # A marketplace entry's hooks files Claude Code's validator does not open (nor any entry's component files);
    # Claude Code will not load hooks an entry names by path at all (test_loads_in_claude_code_...): a warning.
    fixture("hooks-file-named-by-an-entry", market(entry(hooks="./extra-hooks.json")), "entry-hooks-not-inline",
            files={"plugins/tools/extra-hooks.json": "not json"}),
    *(fixture(f"hooks-file-named-{label}", market(entry()), code, files={
        **plugin_json(hooks="./extra-hooks.json"), "plugins/tools/extra-hooks.json": content})
      for label, content, code in [
        ("hook", json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "prompt"}]}]}}), "hook-ignored"),
        ("not-json", "{", "hooks-json-invalid"),
    ]),
    fixture("inline-mcp-in-a-list", market(entry(mcpServers=["./.mcp.json", {"tracker": {"command": "x"}}]))),
    fixture("inline-mcp-in-a-list-number", market(entry(mcpServers=[{"tracker": 5}])), "component-path-invalid"),
    fixture("inline-mcp-in-a-list-empty", market(entry(mcpServers=[{"tracker": {}}])), "component-path-invalid"),
    *(fixture(f"inline-{label}", market(entry(**fields)), code) for label, fields, code in [
        ("hooks", {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "echo hi"}]}]}}, ""),
        ("hooks-wrapped", {"hooks": {"hooks": {"SessionStart": []}}}, "component-path-invalid"),
        ("hooks-not-list", {"hooks": {"SessionStart": 3}}, "component-path-invalid"),
        ("mcp-server-number", {"mcpServers": {"tracker": 3}}, "component-path-invalid"),
        ("mcp-servers", {"mcpServers": {
            "a": {"command": "tracker", "args": ["--stdio"], "env": {"A": "b"}, "cwd": "/tmp", "timeout": 5},
            "b": {"type": "stdio", "command": "  "}, "c": {"type": "sse", "url": "https://a.example"},
            "d": {"type": "http", "url": "", "headers": {"A": "b"}, "headersHelper": "x", "oauth": {}},
            "e": {"type": "ws", "url": "wss://a.example"}, "f": {"type": "sdk", "name": "x"},
            "g": {"type": "claudeai-proxy", "url": "https://a.example", "id": "x"}}}, ""),
        ("command-number", {"commands": {"deploy": 3}}, "component-path-invalid"),
        ("lsp-server", {"lspServers": {"py": {"command": "pyright", "extensionToLanguage": {".py": "python"}}}}, ""),
    ]),
    fixture("manifest-themes-missing", market(entry()), "component-path-missing", files=plugin_json(themes="./themes")),
    # -- monitors written inline, and the components Claude Code takes under `experimental` ----------------
    *(fixture(f"monitors-{label}", market(entry(**{"monitors": monitors})), code) for label, monitors, code in [
        ("inline", [TAIL, {**TAIL, "name": "tail-2", "when": "always"}, {**TAIL, "name": "tail-3", "when":
                                                                           "on-skill-invoke:alpha"}], ""),
        ("paths-in-a-list", ["./monitors/monitors.json"], "component-path-invalid"),
        ("a-path-beside-one-inline", ["./monitors/monitors.json", TAIL], "component-path-invalid"),
        ("without-command", [{"name": "tail", "description": "Watches."}], "component-path-invalid"),
        ("without-name", [{"command": "tail -F app.log", "description": "Watches."}], "component-path-invalid"),
        ("name-a-list", [{**TAIL, "name": ["tail"]}, TAIL], "component-path-invalid"),
        ("name-empty", [{**TAIL, "name": ""}], "component-path-invalid"),
        ("name-number", [{**TAIL, "name": 3}], "component-path-invalid"),
        ("unknown-key", [{**TAIL, "trigger": "always"}], "component-path-invalid"),
        ("when-no-skill", [{**TAIL, "when": "on-skill-invoke:"}], "component-path-invalid"),
        ("when-sometimes", [{**TAIL, "when": "sometimes"}], "component-path-invalid"),
        ("names-twice", [TAIL, {**TAIL, "command": "tail -F other.log"}], "component-path-invalid"),
    ]),
    *(fixture(f"experimental-{label}", market(entry(experimental=fields)), code) for label, fields, code in [
        ("components", {"monitors": [TAIL], "themes": "./themes"}, ""),
        ("monitors-invalid", {"monitors": [{"name": "tail"}]}, "component-path-invalid"),
        ("monitors-not-json", {"monitors": "./monitors.txt"}, "component-path-not-json"),
        ("themes-not-relative", {"themes": "themes"}, "component-path-not-relative"),
        ("themes-object", {"themes": {"dark": 1}}, "component-path-invalid"),
        ("unknown-key", {"workflows": "./workflows"}, "unknown-field"),
        ("fields-of-its-own", {"outputStyles": ["./styles"], "evals": ["./evals"],
                               "syntaxHighlighting": {"hljsLanguages": []}}, ""),
        ("output-styles-not-relative", {"outputStyles": "styles"}, "component-path-not-relative"),
        ("evals-number", {"evals": 5}, "field-wrong-type"),
        ("highlighting-without-languages", {"syntaxHighlighting": {}}, "field-wrong-type"),
        ("highlighting-strings", {"syntaxHighlighting": {"hljsLanguages": ["zig"]}}, "field-wrong-type"),
        ("highlighting-languages", {"syntaxHighlighting": {"hljsLanguages": [
            {"id": "zig"}, {"id": "my_lang-2", "remote": "npm:@scope/highlightjs-zig@1.0.0+b",
                            "integrity": "sha384-" + "A" * 64},
            {"id": "x", "remote": "github:acme/hl.js@v1.2#dist/x.js"}]}}, ""),
        ("highlighting-seventeen", {"syntaxHighlighting": {"hljsLanguages": [{"id": f"l{n}"} for n in range(17)]}},
         "field-wrong-type"),
        *((f"highlighting-{label}", {"syntaxHighlighting": {"hljsLanguages": [{"id": "zig"}, language]}},
           "field-wrong-type") for label, language in [
            ("without-id", {"remote": "npm:zig"}), ("id-upper", {"id": "Zig"}), ("id-digit", {"id": "1c"}),
            ("id-long", {"id": "a" * 65}), ("id-number", {"id": 5}), ("id-accented", {"id": "z\u00efg"}),
            ("unknown-key", {"id": "zig", "name": "Zig"}), ("remote-url", {"id": "zig", "remote": "https://a.example/x.js"}),
            ("remote-github-no-js", {"id": "zig", "remote": "github:acme/hl@v1#x.ts"}),
            ("remote-long", {"id": "zig", "remote": "npm:" + "a" * 253}),
            ("integrity-md5", {"id": "zig", "integrity": "md5-abc"}), ("integrity-number", {"id": "zig", "integrity": 5}),
        ]),
    ]),
    fixture("manifest-experimental-themes-missing", market(entry()), "component-path-missing",
            files=plugin_json(experimental={"themes": "./themes"})),
    fixture("manifest-monitors-at-the-top", market(entry()), "component-experimental",
            files=plugin_json(monitors=[TAIL])),
    # Declared in both places, the one under `experimental` is read (and its path checked).
    fixture("manifest-themes-in-both-places", market(entry()), "component-experimental",
            files=plugin_json(themes="./themes", experimental={"themes": "./skills"})),
    # -- numbers as JSON.parse reads them: past the largest double is Infinity, which no number field takes ------
    fixture("number-past-a-double", market(entry(x=PAST_DOUBLE), metadata={"n": PAST_DOUBLE}).replace(
        f'"{PAST_DOUBLE}"', "1e999"), "unknown-field"),
    fixture("number-of-5000-digits", market(entry(), metadata={"n": PAST_DOUBLE}).replace(
        f'"{PAST_DOUBLE}"', "1" * 5000), "unknown-field"),
    fixture("number-hook-timeout-past-a-double", market(entry()), "hook-ignored", files={
        "plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "hooks": {"PostToolUse": [
            {"hooks": [ECHO, {**ECHO, "timeout": PAST_DOUBLE}]}]}}).replace(f'"{PAST_DOUBLE}"', "-1e400")}),
    *(fixture(f"number-{word}", market(entry(x=PAST_DOUBLE)).replace(f'"{PAST_DOUBLE}"', word), "catalog-invalid-json")
      for word in ("NaN", "Infinity", "-Infinity")),
    # -- how a JSON file is written: UTF-8 alone (a BOM is skipped) -------------------------------------------
    fixture("text-utf16-catalogue", ("\ufeff" + market(entry())).encode("utf-16-le"), "catalog-invalid-json"),
    fixture("text-utf16-plugin-json", market(entry()), "plugin-json-invalid", files={
        "plugins/tools/.claude-plugin/plugin.json": ("\ufeff" + json.dumps({"name": "tools"})).encode("utf-16-be")}),
    fixture("text-bom-catalogue", b"\xef\xbb\xbf" + market(entry()).encode(), "text-bom"),
    fixture("text-cp1252-plugin-json", market(entry()), "text-not-utf8", files={
        "plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "tools", "description": "Caf\u00e9"},
                                                               ensure_ascii=False).encode("cp1252")}),
]

# What Claude Code's validator passes and Skillport does not: it never opens a skill folder of a marketplace, so
# what only the skills' files show is Skillport's own finding, and it does not look for a relative source, which
# `claude plugin install` then refuses (LOAD_CASES). These fixtures must agree on everything else.
BEYOND_VALIDATOR = [
    Fixture("source-missing", {CATALOG: market(entry(source="./nowhere"))}, "plugin-source-missing",
            "Claude Code's validator does not look for a relative source; its install refuses one that is not there"),

    Fixture("duplicate-skill-name", {CATALOG: market(entry())}, "duplicate-skill-name",
            "Claude Code's validator does not read skills; Claude Code loads both skills under one shown name",
            skill_files={"plugins/tools/skills/alpha/SKILL.md": SKILL, "plugins/tools/skills/zeta/SKILL.md": SKILL}),
    Fixture("skill-md-binary", {CATALOG: market(entry())}, "skill-md-unreadable",
            "Claude Code's validator does not read skills; a binary SKILL.md does not load",
            skill_files={"plugins/tools/skills/alpha/SKILL.md": "\x00\x01PNG"}),
    Fixture("skill-name-bidi", {CATALOG: market(entry())}, "name-bidi-control",
            "Claude Code's validator does not read skills; a skill name that reorders text is a spoofing risk",
            skill_files={"plugins/tools/skills/alpha/SKILL.md": skill_md("ev\u202eil", "Does A.")}),
]

RESULTS = {}


def claude_env(home):
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "HOME": str(home), "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def installed(folders, plugin, home) -> tuple[str, dict]:
    """Adds the marketplace at each of `folders` (or the one) to a Claude Code of its own (`home`) and installs
    `plugin`: what the install printed, and for each plugin then installed, the errors `claude plugin list` names
    for it."""
    env = claude_env(home)

    def claude(*args):
        return subprocess.run([CLAUDE, "plugin", *args], env=env, cwd=home, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=180)

    for folder in folders if isinstance(folders, list) else [folders]:
        added = claude("marketplace", "add", str(folder))
        assert added.returncode == 0, added.stdout + added.stderr
    done = claude("install", plugin)
    listed = json.loads(claude("list", "--json").stdout)
    return done.stdout + done.stderr, {entry["id"]: entry.get("errors", []) for entry in listed}


@pytest.fixture(scope="module")
def claude(request):
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it (npm, pinned in the Makefile)")
    yield CLAUDE
    agreed = sum(RESULTS.values())
    line = (f"Claude Code oracle (claude plugin validate {_version()}): agreement {agreed}/{len(RESULTS)} fixtures, "
            f"{len(BEYOND_VALIDATOR)} more where Skillport finds what Claude Code's validator does not look for")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def _version():
    return subprocess.run([CLAUDE, "--version"], capture_output=True, text=True, timeout=60).stdout.split()[0]


def build(tmp_path, fx):
    repo = GitRepo(tmp_path / "market")
    repo.commit({**fx.files, **fx.skill_files})
    return repo


def claude_verdict(claude, tmp_path, repo):
    out = subprocess.run([claude, "plugin", "validate", "--json", str(repo.path)], env=claude_env(tmp_path / "home"),
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert (out.returncode == 0) == report["success"], out.stdout
    return report["success"], report


@pytest.fixture(scope="module")
def judged(claude, tmp_path_factory):
    """Every fixture's repository and Claude Code's verdict on it, by fixture id. One `claude plugin
    validate` is a Node process that mostly waits on starting up, so four run at a time: one by one
    they took 26 s of the suite."""
    def judge(fx, folder):
        repo = build(folder, fx)
        return fx.id, (repo, *claude_verdict(claude, folder, repo))

    fixtures = FIXTURES + BEYOND_VALIDATOR
    folders = [tmp_path_factory.mktemp("fixture") for _ in fixtures]  # here: mktemp is not thread-safe
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(judge, fixtures, folders))


def our_verdict(repo):
    code, out = run_command("validate_marketplace", repo.url, "--json")
    result = json.loads(out)
    return code == 0, result


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.id for f in FIXTURES])
def test_validate_reaches_claude_codes_verdict(judged, fx):
    repo, theirs, report = judged[fx.id]
    ours, result = our_verdict(repo)
    RESULTS[fx.id] = ours == theirs
    assert ours == theirs, (fx.id, report["manifest"]["errors"], result["problems"])
    if fx.code:
        assert fx.code in [p["code"] for p in result["problems"]], result["problems"]
    said = " ".join(f"{w.get('path')} {w['message']}" for w in report["manifest"]["warnings"])
    if fx.code == "unknown-field":  # Claude Code warns of the same field, as one it ignores
        unknown = [p["message"].split("'")[1] for p in result["problems"] if p["code"] == "unknown-field"]
        assert unknown and all(f"{key} Unknown field" in said or f"{key} Field '{key}' belongs in the marketplace "
                               "entry" in said for key in unknown), (unknown, said)
    else:  # no other fixture has a field Claude Code ignores
        assert "unknown-field" not in [p["code"] for p in result["problems"]]
    if fx.code == "hook-ignored":  # Claude Code warns of each entry it leaves out, in a plugin.json or hooks file
        said += " ".join(w["message"] for content in report["contents"] for w in content["warnings"])
        assert said.count("entry ignored at runtime") == [p["code"] for p in result["problems"]].count(fx.code), said
    if fx.code == "component-experimental":  # Claude Code warns that it will stop loading it there
        assert "is an experimental component; declare it under 'experimental." in said, said
    if fx.code == "field-ignored":  # Claude Code warns of the same field
        ignored = [p["message"].split(":")[0] for p in result["problems"] if p["code"] == "field-ignored"]
        assert ignored and all(key in said for key in ignored), (ignored, said)
    if not ours:
        assert any(p["severity"] == "error" and p["code"] == fx.code for p in result["problems"]), result["problems"]


@pytest.mark.parametrize("fx", BEYOND_VALIDATOR, ids=[f.id for f in BEYOND_VALIDATOR])
def test_findings_claude_codes_validator_does_not_make(judged, fx):
    repo, theirs, _report = judged[fx.id]
    ours, result = our_verdict(repo)
    assert theirs and not ours, fx.differs
    assert [p["code"] for p in result["problems"] if p["severity"] == "error"] == [fx.code]


# SKILL.md frontmatter `claude plugin validate` judges when given a plugin's folder (a marketplace's it
# does not open): what it refuses is a reason on the Claude Code verdict.
SKILL_FRONTMATTER = {
    "tools-string": "allowed-tools: Read Grep", "tools-list": "allowed-tools: [Read, Grep]",
    "tools-null": "allowed-tools:", "tools-number": "allowed-tools: 3", "tools-mixed": "allowed-tools: [Read, 3]",
    "tools-object": "allowed-tools: {read: yes}", "model-number": "model: 3", "unknown-key": "colour: blue",
    "desc-list": "description: [a]", "desc-object": "description: {a: 1}", "desc-number": "description: 3",
    "shell-zsh": "shell: zsh", "shell-list": "shell: [bash]", "shell-cased": "shell: ' PowerShell '",
    "shell-null": "shell:",
}


def plugin_folder(tmp_path) -> Path:
    """A plugin's folder holding its plugin.json, for `claude plugin validate` to judge what is added to it."""
    plugin = tmp_path / "tools"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin/plugin.json").write_text('{"name": "tools", "version": "1.0.0"}')
    return plugin


def validated(claude, plugin, tmp_path) -> list[dict]:
    """What `claude plugin validate --json` says of each file in the plugin's folder."""
    out = subprocess.run([claude, "plugin", "validate", "--json", str(plugin)], env=claude_env(tmp_path / "home"),
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)["contents"]


def test_what_claude_code_refuses_in_a_plugins_skill_md_is_a_reason(claude, tmp_path):
    plugin = plugin_folder(tmp_path)
    texts = {}
    for case, line in {**SKILL_FRONTMATTER, "name-number": None}.items():
        described = "" if case.startswith("desc") else f"description: Does {case}.\n"
        text = (f"---\nname: {case}\n{described}{line}\n---\nBody.\n" if line
                else "---\nname: 3\ndescription: Numbered.\n---\nBody.\n")
        (plugin / "skills" / case).mkdir(parents=True)
        (plugin / "skills" / case / "SKILL.md").write_text(text)
        texts[case] = text
    theirs = {Path(c["file"]).parent.name: bool(c["errors"]) for c in validated(claude, plugin, tmp_path)
              if c["type"] == "skill"}
    ours = {}
    for case, text in texts.items():
        loads, reasons = verdicts.claude_code(skillmd.parse(text.encode()))
        assert loads, (case, reasons)  # reasons on a pass: the loader is lenient
        ours[case] = any("claude plugin validate refuses" in reason for reason in reasons)
    assert ours == {case: theirs.get(case, False) for case in texts}
    assert sum(ours.values()) == 8  # tools a number, mixed or an object; a list or object description; a number for a
    # name; a shell other than bash or powershell, in any case


# Frontmatter that is not YAML as written: Claude Code quotes the values it can and reads it again.
FRONTMATTER_YAML = {
    "at-sign": "description: @docs finds pages", "backtick": "description: `grep` for it", "colon": "description: use: this",
    "bang": "description: !important", "percent": "description: %done", "alias-like": "description: Reads *.py files",
    "star-first": "description: *.py files", "brace-unclosed": "description: d\nhooks: {a: 1",
    "list-kept": "description: d\nallowed-tools: [Read, Grep]", "tab-indent": "description: d\nmetadata:\n\tteam: x",
    "tab-broken": "description: d\n\tx: 1", "quoted-first": "description: 'it's'", "hash": "description: C# and F#",
    "digit-key": "description: d\n2fa: @x", "pipe-then-text": "description: | x",
}
# Whole files, for what lies between the lines: Claude Code finds the frontmatter between lines split at LF, mends
# no line ending in CR, reads NEL, U+2028 and U+2029 as characters (YAML 1.2), and reads UTF-8 alone.
FRONTMATTER_FILES = {
    "crlf-at": "---\r\nname: crlf-at\r\ndescription: @docs finds pages\r\n---\r\nBody.\r\n",
    "crlf-colon": "---\r\nname: crlf-colon\r\ndescription: use: this\r\n---\r\nBody.\r\n",
    "crlf-plain": "---\r\nname: crlf-plain\r\ndescription: Plain words\r\n---\r\nBody.\r\n",
    "crlf-tab": "---\r\nname: crlf-tab\r\ndescription: d\r\nmetadata:\r\n\tteam: x\r\n---\r\nBody.\r\n",
    "crlf-elsewhere": "---\nname: crlf-elsewhere\r\ndescription: use: this\n---\nBody.\n",
    "cr-only": "---\rname: cr-only\rdescription: d\r---\rBody.\r",
    "line-separator-colon": "---\nname: line-separator-colon\ndescription: use: this\u2028more\n---\nBody.\n",
    "line-separator": "---\nname: line-separator\ndescription: a\u2028b\u2029c\n---\nBody.\n",
    "next-line": "---\nname: next-line\ndescription: a\x85b\n---\nBody.\n",
    "utf16": "\ufeff---\nname: utf16\ndescription: d\n---\nBody.\n",
}


def test_frontmatter_claude_code_reads_skillport_reads_alike(claude, tmp_path):
    """What Claude Code (its validator, and its loader, which parse alike) cannot read, Skillport cannot; what it
    reads once mended, Skillport reads the same; where it finds no frontmatter, Skillport finds none."""
    plugin = plugin_folder(tmp_path)
    texts = {case: f"---\nname: {case}\n{lines}\n---\nBody.\n".encode() for case, lines in FRONTMATTER_YAML.items()}
    texts |= {case: text.encode("utf-16-le" if case == "utf16" else "utf-8") for case, text in FRONTMATTER_FILES.items()}
    for case, text in texts.items():
        (plugin / "skills" / case).mkdir(parents=True)
        (plugin / "skills" / case / "SKILL.md").write_bytes(text)
    skills = [c for c in validated(claude, plugin, tmp_path) if c["type"] == "skill"]
    unread = {Path(c["file"]).parent.name for c in skills
              if any(e["message"].startswith("YAML frontmatter failed to parse") for e in c["errors"])}
    unfound = {Path(c["file"]).parent.name for c in skills
               if any(w["message"].startswith("No frontmatter block found") for w in c["warnings"])}
    ours = {case: skillmd.parse(text) for case, text in texts.items()}
    assert {case for case, parsed in ours.items() if not parsed.frontmatter_ok} == unread
    assert {case for case, parsed in ours.items() if not parsed.has_frontmatter} == unfound
    # The repair cannot mend these, nor a line that ends in CR or holds U+2028.
    assert unread == {"tab-broken", "quoted-first", "digit-key", "crlf-at", "crlf-colon", "line-separator-colon"}
    assert unfound == {"cr-only", "utf16"}
    assert ours["line-separator"].frontmatter["description"] == "a\u2028b\u2029c"
    assert ours["crlf-elsewhere"].frontmatter["description"] == "use: this"
    assert ours["at-sign"].frontmatter["description"] == "@docs finds pages"
    assert ours["tab-indent"].frontmatter["metadata"] == {"team": "x"}
    assert ours["list-kept"].frontmatter["allowed-tools"] == ["Read", "Grep"]


def test_the_description_claude_is_offered_is_the_one_skillport_shows(claude, tmp_path, make_repo):
    """Each frontmatter above (and each of commands' and agents' below, as a skill's), read by a Claude Code session:
    Skillport says a skill is offered to Claude where the session offers it, with the description Skillport shows
    (the session writes it on one line)."""
    texts = {f"yaml-{case}": f"---\nname: yaml-{case}\n{lines}\n---\nBody.\n" for case, lines in FRONTMATTER_YAML.items()}
    texts |= {f"file-{case}": text for case, text in FRONTMATTER_FILES.items() if case != "utf16"}
    texts |= {f"component-{case}": f"---\n{lines}\n---\nBody.\n" for case, lines in COMPONENT_FRONTMATTER.items()}
    repo = make_repo({CATALOG: market(entry()), **{f"plugins/tools/skills/{case}/SKILL.md": text
                                                   for case, text in texts.items()}})
    skills_loaded(claude, repo, ["tools"], tmp_path / "home")
    theirs = {name: " ".join(description.split())
              for name, description in skills_offered(claude, claude_env(tmp_path / "home"), tmp_path / "home").items()
              if name.startswith("tools:")}
    plugin = Reader(repo.url).read().plugins[0]
    ours = {skill.command: " ".join(skill.description.split()) for skill in plugin.skills if offered(skill)}
    assert ours == theirs and len(ours) == 18


# A command's or agent's frontmatter, which the validator also judges in a plugin's folder (the plugin installs).
COMPONENT_FRONTMATTER = {
    "desc-number": "description: 3", "desc-true": "description: true", "desc-null": "description:",
    "desc-list": "description: [a]", "desc-object": "description: {a: 1}", "name-number": "name: 3",
    "name-true": "name: true", "name-list": "name: [a]", "name-date": "name: 2024-01-01", "tools-list": "allowed-tools: [Read]",
    "tools-empty": "allowed-tools: []", "tools-null": "allowed-tools:", "tools-number": "allowed-tools: 3",
    "tools-true": "allowed-tools: true", "tools-mixed": "allowed-tools: [Read, 3]", "tools-object": "allowed-tools: {a: 1}",
    "hint-list": "argument-hint: [a, b]", "model-number": "model: 3", "tools-agent-number": "tools: 5",
    "shell-zsh": "shell: zsh", "shell-cased": "shell: Bash",
    # Read by YAML 1.2's core schema, as Claude Code reads them, not YAML 1.1's: `no`, `on`, `1:20` and `1_000` are text,
    # `0o17`, `017` and `1e3` numbers, and a value tagged as what it cannot be is its text, the tag passed over.
    **{f"name-yaml-{label}": f"name: {value}" for label, value in [
        ("no", "no"), ("true", "True"), ("on", "on"), ("null", "NULL"), ("sexagesimal", "1:20"), ("octal", "0o17"),
        ("underscores", "1_000"), ("exponent", "1e3"), ("binary", "0b101"), ("leading-zero", "017"),
        ("timestamp", "2024-01-01T10:00:00Z"), ("hex", "0x1F"), ("equals", "="), ("merge", "<<"),
        ("tagged-bool-yes", "!!bool yes"), ("tagged-int", "!!int 12"), ("tagged-int-word", "!!int abc"),
        ("tagged-timestamp-word", "!!timestamp x"), ("tagged-float-word", "!!float abc"),
    ]},
}


def test_what_claude_code_refuses_in_commands_and_agents_is_a_warning(claude, tmp_path):
    plugin = plugin_folder(tmp_path)
    ours = {}
    for folder in componentfiles.FOLDERS:
        (plugin / folder / "nested").mkdir(parents=True)
        for case, line in COMPONENT_FRONTMATTER.items():
            text = f"---\n{'' if case.startswith('desc') else 'description: Fine.'}\n{line}\n---\nBody.\n"
            (plugin / folder / "nested" / f"{case}.md").write_text(text)
            ours[f"{folder}/nested/{case}.md"] = sorted(
                field for field, _why in skillmd.refused_fields(skillmd.parse(text.encode()).frontmatter,
                                                                agent=folder == "agents"))
    theirs = {str(Path(c["file"]).relative_to(plugin)): sorted(error["path"] for error in c["errors"])
              for c in validated(claude, plugin, tmp_path) if c["type"] in ("command", "agent")}
    assert ours == {path: theirs.get(path, []) for path in ours}
    # List and object descriptions, three names and six more in YAML 1.2, four tools; a command's shell (an agent
    # has none).
    assert sum(bool(fields) for fields in ours.values()) == 2 * 15 + 1


def test_skill_md_placed_directly_in_skills_is_the_one_skill_there_and_strays_say_where_to_go(make_repo):
    repo = make_repo({
        CATALOG: market(entry()),
        "plugins/tools/skills/SKILL.md": SKILL,
        "plugins/tools/skills/beside/SKILL.md": skill_md("beside", "Not loaded."),
        "plugins/tools/docs/guide/SKILL.md": skill_md("guide", "Guides."),
        "notes/SKILL.md": skill_md("notes", "Notes."),
    })
    _ok, result = our_verdict(repo)
    assert result["counts"]["skills"] == 1 and result["counts"]["unreachable_skill_files"] == 3
    strays = {p["location"]: p["message"] for p in result["problems"] if p["code"] == "skill-unreachable"}
    assert "move it to 'plugins/tools/skills/guide/SKILL.md'" in strays["plugins/tools/docs/guide/SKILL.md"]
    assert "'./docs/guide'" in strays["plugins/tools/docs/guide/SKILL.md"]
    assert "outside every plugin" in strays["notes/SKILL.md"]
    assert strays["plugins/tools/skills/beside/SKILL.md"] == (
        "'plugins/tools/skills/beside/SKILL.md' is in the skills/ folder of plugin 'tools', but Claude Code loads "
        "plugins/tools/skills/SKILL.md there as the one skill and looks in no folder beside it: move that SKILL.md "
        "(and its files) into a folder of its own, such as skills/main/")


def test_validation_is_offline_unless_asked_to_fetch(make_repo, git_host):
    git_host("acme/remote", {"skills/delta/SKILL.md": skill_md("delta", "Delta.")})
    repo = make_repo({CATALOG: market(entry("remote", source={"source": "github", "repo": "acme/remote"}))})
    code, out = run_command("validate_marketplace", repo.url, "--json")
    result = json.loads(out)
    assert code == 0 and result["counts"]["skills"] == 0
    assert [(p["severity"], p["code"]) for p in result["problems"]] == [("info", "source-not-checked")]
    assert "--fetch" in result["problems"][0]["message"]
    code, out = run_command("validate_marketplace", repo.url, "--json", "--fetch")
    assert code == 0 and json.loads(out)["counts"]["skills"] == 1


# Each plugin breaks one rule; Claude Code's installer decides which of them load.
LOAD_CASES = {
    "good": ({}, {}),
    "entry-skills-not-relative": ({"skills": ["skills/alpha"]}, {}),
    "entry-agents-not-md": ({"agents": ["./agents/reviewer"]}, {"agents/reviewer/a.md": "x"}),
    "entry-repository-object": ({"repository": {"url": "https://example.com/r"}}, {}),
    "entry-author-string": ({"author": "Bob"}, {}),
    "entry-homepage-not-url": ({"homepage": "example"}, {}),
    "claude-named": ({}, {}),
    "strict-conflict": ({"strict": False, "skills": ["./skills/alpha"]}, {".claude-plugin/plugin.json": '{"name": "%s"}'}),
    "manifest-skills-not-relative": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "skills": ["skills/alpha"]}'}),
    "manifest-agents-not-md": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "agents": ["./agents/x"]}'}),
    "manifest-author-string": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "author": "Bob"}'}),
    "manifest-repository-object": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "repository": {"url": "u"}}'}),
    "manifest-invalid-json": ({}, {".claude-plugin/plugin.json": '{"name": '}),
    "manifest-skills-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "skills": ["./nowhere"]}'}),
    "manifest-commands-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "commands": "./nowhere"}'}),
    "strict-not-boolean": ({"strict": "yes"}, {}),
    "source-unknown": ({"source": {"source": "svn", "url": "https://example.com/tools"}}, {}),
    "source-traversal": ({"source": "../outside"}, {}),
    "source-fields-invalid": ({"source": {"source": "npm", "package": "../tools"}}, {}),
    "source-missing": ({"source": "./nowhere"}, {}),
    "source-a-file": ({"source": "./plugins/source-a-file/skills/alpha/SKILL.md"}, {}),
    "manifest-name-space": ({}, {".claude-plugin/plugin.json": '{"name": "my tools"}'}),
    "manifest-user-config-no-title": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "userConfig": {"t": {'
                                               '"type": "string", "description": "d"}}}'}),
    "entry-user-config-options-of-a-number": ({"userConfig": {"t": {**OPTION, "type": "number", "options": ["1"],
                                                                    "required": True}}}, {}),
    "entry-channels-string": ({"channels": ["chat"]}, {}),
    "engines-other-hosts": ({"engines": {"node": 5}}, {}),
    "manifest-entry-fields": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "tags": 5, "category": {}}'}),
    # Installed and loaded without what is missing (`claude plugin list` names an error), though its validator
    # refuses the file.
    "manifest-agents-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "agents": ["./agents/x.md"]}'}),
    "manifest-themes-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "experimental": {"themes": "./t"}}'}),
    "manifest-monitors-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "monitors": "./m.json"}'}),
    "manifest-mcp-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "mcpServers": "./nowhere.json"}'}),
    "manifest-lsp-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "lspServers": "./nowhere.json"}'}),
    "manifest-types-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "types": "./nowhere.d.ts"}'}),
    # An entry's paths its validator does not open; of them, Claude Code looks for some as it loads the plugin.
    **{f"entry-{label}-missing": (fields, {}) for label, fields in [
        ("commands", {"commands": "./nowhere"}), ("agents", {"agents": ["./nowhere.md"]}),
        ("skills", {"skills": ["./nowhere"]}), ("output-styles", {"outputStyles": "./nowhere"}),
        ("experimental-themes", {"experimental": {"themes": "./nowhere"}}), ("monitors", {"monitors": "./m.json"}),
        ("workflows", {"workflows": "./nowhere.js"}), ("mcp", {"mcpServers": "./nowhere.json"}),
        ("experimental-output-styles", {"experimental": {"outputStyles": "./nowhere"}})]},
    # Into the folder Claude Code unpacks MCP bundles into: loaded without it.
    "manifest-mcpb-cache": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "commands": "./.mcpb-cache/c.md"}',
                                 ".mcpb-cache/c.md": "Runs.\n"}),
    "entry-mcpb-cache": ({"commands": ["./.MCPB-Cache/c.md"]}, {".MCPB-Cache/c.md": "Runs.\n"}),
    # A hooks file it cannot read: loaded without its hooks, unless `hooks` is no object (it may guard a tool).
    "hooks-file-not-json": ({}, {"hooks/hooks.json": "not json"}),
    "hooks-file-hooks-list": ({}, {"hooks/hooks.json": '{"hooks": [{"matcher": "Bash"}]}'}),
    "hooks-file-description-number": ({}, {"hooks/hooks.json": '{"hooks": {}, "description": 3}'}),
    "hooks-file-surface": ({}, {"hooks/hooks.json": '{"hooks": {}, "surface": "x"}'}),
    "hooks-file-without-hooks": ({}, {"hooks/hooks.json": '{"SessionStart": []}'}),
    "hooks-file-module-missing": ({}, {"hooks/hooks.json": '{"modules": ["./x.ts"]}'}),
    "hooks-file-hook-ignored": ({}, {"hooks/hooks.json": '{"hooks": {"Stop": [{"hooks": [{"type": "prompt"}]}]}}'}),
    "manifest-hook-ignored": ({}, {".claude-plugin/plugin.json":
                                   '{"name": "%s", "hooks": {"Stop": [{"hooks": [{"type": "prompt"}]}]}}'}),
    "entry-hook-invalid": ({"hooks": {"Stop": [{"hooks": [{"type": "prompt"}]}]}}, {}),
    "hooks-file-guard-unreadable": ({}, {"hooks/hooks.json": '{"hooks": {"PreToolUse": [{"hooks": [{"type": "command"}]}]}}'}),
    "manifest-guard-unreadable": ({}, {".claude-plugin/plugin.json":
                                       '{"name": "%s", "hooks": {"PermissionRequest": [{"matcher": 5, "hooks": []}]}}'}),
    "entry-guard-unreadable": ({"hooks": {"PreToolUse": [{"hooks": [{"type": "command"}]}]}}, {}),
    "entry-hooks-path": ({"hooks": "./extra.json"}, {"extra.json": '{"hooks": {}}'}),
    "entry-hooks-list": ({"hooks": ["./extra.json"]}, {"extra.json": '{"hooks": {}}'}),
    "types-code": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "types": "./index.d.ts"}',
                        "index.d.ts": "const x = 1;\n"}),
    "entry-mcp-oauth": ({"mcpServers": {"a": {"type": "http", "url": "https://a.example",
                                              "oauth": {"callbackPort": 0}}}}, {}),
    # A dependency its marketplace does not list: installed without it, and not loaded.
    "dependency-missing": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "dependencies": ["nowhere"]}'}),
    "dependency-listed": ({"dependencies": ["good@acme-tools"]}, {".claude-plugin/plugin.json":
                                                                  '{"name": "%s", "dependencies": ["good"]}'}),
    # Installed with it, a dependency must install, and not lack one of its own; failing to load otherwise
    # does not stop its dependents.
    **{f"dependency-on-{case}": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "dependencies": ["' + case + '"]}'})
       for case in ("dependency-missing", "strict-not-boolean", "manifest-invalid-json", "manifest-agents-missing",
                    "hooks-file-not-json", "dependency-on-dependency-missing", "source-missing",
                    "manifest-user-config-no-title")},
    "entry-default-enabled-false": ({"defaultEnabled": False}, {}),
    "entry-default-enabled-string": ({"defaultEnabled": "no"}, {}),
    "dependency-cycle": ({"dependencies": ["dependency-cycle-too"]}, {}),
    "dependency-cycle-too": ({"dependencies": ["dependency-cycle"]}, {}),
    # Claude Code looks for circles in entries alone: in plugin.json they install and load.
    "manifest-cycle": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "dependencies": ["manifest-cycle-too"]}'}),
    "manifest-cycle-too": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "dependencies": ["manifest-cycle"]}'}),
    "manifest-self": ({}, {".claude-plugin/plugin.json": '{"name": "%s", "dependencies": ["manifest-self"]}'}),
    "entry-self": ({"dependencies": ["entry-self"]}, {}),
    # A version its plugin.json asks for, each of a plugin of its own (Claude Code refuses to install a second
    # plugin whose requirement of the same one conflicts with the first's).
    **{case: item for label, (version, required) in {
        "caret": ("1.0.5", "^1.0.0"), "caret-unmet": ("1.5.0", "^2"), "tilde-arrow": ("1.0.5", "~>1.0"),
        "prerelease": ("2.0.0-beta.1", ">=1.0.0"), "prerelease-asked": ("2.0.0-beta.1", "^2.0.0-alpha"),
        "coerced": ("release-7", ">=7"), "v-prefix": ("v1.2.3", "^1.2.0"), "none": (None, "*"),
        "not-a-range": ("1.0.0", "latest"), "empty": ("1.0.0", ""), "hyphen-or": ("1.0.5", "1.0.0 - 1.0.4 || ^1.0.5"),
        "number": ("1.0.0", 1), "entry-version": ({"version": "1.5.0"}, ">=1.2"),
        "entry-asks": ("1.0.0", {"entry": "^2"}),
    }.items() for case, item in {
        f"versioned-{label}": (version if isinstance(version, dict) else {}, {} if not isinstance(version, str) else {
            ".claude-plugin/plugin.json": json.dumps({"name": f"versioned-{label}", "version": version})}),
        f"requires-{label}": ({"dependencies": [{"name": f"versioned-{label}", "version": required["entry"]}]}, {})
        if isinstance(required, dict) else ({}, {".claude-plugin/plugin.json": json.dumps(
            {"name": f"requires-{label}", "dependencies": [{"name": f"versioned-{label}", "version": required}]})}),
    }.items()},
    # What a plugin.json writes inline Claude Code refuses to install for; its hooks and unknown fields it passes
    # over, as it does a command's or an agent's frontmatter.
    **{f"manifest-inline-{label}": ({}, {".claude-plugin/plugin.json": '{"name": "%s", ' + field + "}"})
       for label, field in [
        ("lsp", '"lspServers": {"py": {"command": "pyright --stdio", "extensionToLanguage": {".py": "python"}}}'),
        ("monitor", '"experimental": {"monitors": [{"name": "t"}]}'), ("monitor-top", '"monitors": [{"name": "t"}]'),
        ("command", '"commands": {"x": {"source": "./c.md", "content": "y"}}'),
        ("mcp", '"mcpServers": {"a": {"type": "http"}}'), ("hooks-wrapped", '"hooks": {"hooks": {"Stop": []}}'),
        ("unknown-field", '"bogus": 1')]},
    "command-frontmatter": ({}, {"commands/x.md": "---\ndescription: [a]\n---\nbody\n"}),
    "agent-frontmatter": ({}, {"agents/x.md": "---\nname: x\ndescription: 5\n---\nbody\n"}),
    # A plugin.json's fields Claude Code reads to install it refuse the plugin; display fields and engines do not.
    **{f"manifest-{label}": ({}, {".claude-plugin/plugin.json": '{"name": "%s", ' + field + "}"}) for label, field in [
        ("version-number", '"version": 1'), ("channels-string", '"channels": "chat"'),
        ("settings-list", '"settings": []'), ("user-config-string", '"userConfig": "x"'),
        ("dependencies-invalid", '"dependencies": ["a b"]'), ("evals-number", '"experimental": {"evals": 5}'),
        ("languages-invalid", '"experimental": {"syntaxHighlighting": {"hljsLanguages": [{"id": "Zig"}]}}'),
        ("description-number", '"description": 5'), ("engines-string", '"engines": ">=1"'),
        ("engines-not-a-range", '"engines": {"claude-code": "latest"}'), ("default-enabled-string", '"defaultEnabled": "no"'),
        ("default-enabled-false", '"defaultEnabled": false'),
        ("keywords-string", '"keywords": "a"'), ("homepage-invalid", '"homepage": "x"')]},
}


def test_loads_in_claude_code_is_what_claude_code_installs_and_loads(claude, tmp_path, make_repo):
    """Each case is installed, and loads if a Claude Code session then offers the model its skill: Claude Code
    installs some plugins it will not load (conflicting manifests, a hook that may guard a tool it cannot read, a
    dependency it cannot install). Whether it installs is checked too: a plugin's dependents ask."""
    files, plugins = {}, []
    for case, (fields, extra) in LOAD_CASES.items():
        name = "claude-tools" if case == "claude-named" else case
        plugins.append({"name": name, "source": f"./plugins/{case}", **fields})
        files[f"plugins/{case}/skills/alpha/SKILL.md"] = SKILL
        for rel, content in extra.items():
            files[f"plugins/{case}/{rel}"] = content.replace("%s", name) if "%s" in content else content
    repo = make_repo({CATALOG: market(*plugins), **files})
    env = claude_env(tmp_path / "home")
    added = subprocess.run([claude, "plugin", "marketplace", "add", str(repo.path)], env=env, capture_output=True,
                           text=True, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    for plugin in plugins:
        # Its exit status is no verdict: a plugin whose dependency fails to install is installed all the same.
        subprocess.run([claude, "plugin", "install", f"{plugin['name']}@acme-tools"], env=env, capture_output=True,
                       text=True, timeout=120)
    listed = subprocess.run([claude, "plugin", "list", "--json"], env=env, capture_output=True, text=True, timeout=120)
    errors = {entry["id"].split("@")[0]: entry.get("errors", []) for entry in json.loads(listed.stdout)}
    assert errors["good"] == [] and errors["hooks-file-not-json"], errors  # the list says what failed to load
    snapshot = Reader(repo.url).read()
    assert {p.name: p.installs for p in snapshot.plugins} == {p["name"]: p["name"] in errors for p in plugins}
    assert errors["dependency-on-strict-not-boolean"] and "dependency-cycle" not in errors and "entry-self" not in errors
    assert "requires-not-a-range" not in errors and errors["requires-caret-unmet"] == [
        'Requires "versioned-caret-unmet@acme-tools" ^2, installed 1.5.0']
    # Loaded: a session offers the model its skill (one installed turned off, once turned on). `claude plugin list`
    # names errors for plugins that load all the same, each without the part it names.
    for name in ("entry-default-enabled-false", "manifest-default-enabled-false"):
        subprocess.run([claude, "plugin", "enable", f"{name}@acme-tools"], env=env, capture_output=True, timeout=120)
    offered = skills_offered(claude, env, tmp_path / "home")
    loaded = {p["name"]: f"{p['name']}:alpha" in offered for p in plugins}
    assert errors["manifest-commands-missing"] and errors["entry-hooks-path"] and errors["entry-mcpb-cache"]
    assert loaded["manifest-commands-missing"] and loaded["entry-hooks-path"] and loaded["entry-mcpb-cache"]
    assert loaded["hooks-file-not-json"] and not loaded["hooks-file-hooks-list"]
    loads = {p.name: p.loads for p in snapshot.plugins}
    skills_load = {p.name: [s.verdicts["claude_code"]["ok"] for s in p.skills] for p in snapshot.plugins}
    assert loads == loaded
    read = {name for name, oks in skills_load.items() if oks}  # a source that cannot be read has no skills
    assert {name: all(skills_load[name]) for name in read} == {name: loaded[name] for name in read}
    assert not loaded["entry-skills-not-relative"] and loaded["claude-tools"]  # the oracle tells them apart
    assert not loaded["strict-conflict"] and loaded["types-code"] and loaded["manifest-hook-ignored"]
    assert loaded["dependency-on-manifest-agents-missing"] and not loaded["dependency-on-dependency-on-dependency-missing"]
    assert loaded["manifest-cycle"] and loaded["manifest-self"]
    assert loaded["requires-coerced"] and loaded["requires-entry-asks"] and not loaded["requires-none"]


def test_a_plugin_in_a_circle_of_entries_installs_as_a_plugin_jsons_dependency(claude, tmp_path, make_repo):
    """Claude Code refuses to install a plugin whose entry's dependencies lead round in a circle, but a plugin.json
    that depends on it brings it in all the same, and that plugin loads (each in a Claude Code of its own)."""
    repo = make_repo({
        CATALOG: market({"name": "u", "source": "./plugins/u"}, {"name": "a", "source": "./plugins/a", "dependencies": [
            "b"]}, {"name": "b", "source": "./plugins/b", "dependencies": ["a"]}),
        "plugins/u/.claude-plugin/plugin.json": json.dumps({"name": "u", "dependencies": ["a"]}),
        **{f"plugins/{name}/skills/alpha/SKILL.md": SKILL for name in "uab"},
    })
    plugins = {p.name: p for p in Reader(repo.url).read().plugins}
    assert (plugins["u"].installs, plugins["u"].loads, plugins["a"].installs) == (True, True, False)
    _said, errors = installed(repo.path, "u@acme-tools", tmp_path / "u-home")
    assert errors["u@acme-tools"] == [] and "a@acme-tools" in errors
    said, errors = installed(repo.path, "a@acme-tools", tmp_path / "a-home")
    assert "Dependency cycle: a@acme-tools → b@acme-tools → a@acme-tools" in said and "a@acme-tools" not in errors


def skills_loaded(claude, repo, plugins, home, alone=False) -> dict[str, list[str] | None]:
    """Each of `plugins` of the marketplace `repo`, installed in a Claude Code of its own (`home`; with `alone`, one
    each, since a session offers a skill folder two plugins share once): the skills a session then offers the
    model, as Claude Code calls them (`<plugin>:<skill>`); None for one it did not install."""
    if alone:
        return {name: skills_loaded(claude, repo, [name], home / name)[name] for name in plugins}
    env = claude_env(home)

    def claude_plugin(*args):
        return subprocess.run([claude, "plugin", *args], env=env, capture_output=True, text=True, timeout=120)

    assert claude_plugin("marketplace", "add", str(repo.path)).returncode == 0
    for name in plugins:
        claude_plugin("install", f"{name}@acme-tools")
    installed = {entry["id"] for entry in json.loads(claude_plugin("list", "--json").stdout)}
    offered = skills_offered(claude, env, home)
    return {name: sorted(skill for skill in offered if skill.startswith(f"{name}:"))
            if f"{name}@acme-tools" in installed else None for name in plugins}


def described(name, description="Does it."):
    return f"---\nname: {name}\ndescription: {description}\n---\nBody.\n"


# Where a plugin's skills are, each layout a plugin of its own: (entry fields, files in the plugin's folder; a
# SKILL.md given as None is named for its folder. Claude Code calls a skill it found in a folder of skill folders by
# that folder, and one it was pointed at directly by its frontmatter's name).
SKILL_LAYOUTS = {
    "default": ({}, {"skills/a/SKILL.md": None, "skills/b/SKILL.md": None}),
    "skill-md-in-skills": ({}, {"skills/SKILL.md": described("skills"), "skills/beside/SKILL.md": None}),
    "root-skill": ({}, {"SKILL.md": described("root-skill")}),
    "root-skill-beside-skills": ({}, {"SKILL.md": described("root-skill-beside-skills"), "skills/a/SKILL.md": None}),
    "root-skill-beside-empty-skills": ({}, {"SKILL.md": described("x"), "skills/README.md": "Notes.\n"}),
    "root-skill-listing-what-is-not-there": ({"skills": ["./nowhere"]}, {
        "SKILL.md": described("root-skill-listing-what-is-not-there")}),
    "root-skill-listing-a-skill": ({"skills": ["./extra/x"]}, {"SKILL.md": described("x"), "extra/x/SKILL.md": None}),
    # With a plugin.json, the entry's list is added to what it holds, the root's SKILL.md included.
    "root-skill-beside-plugin-json": ({"skills": ["./extra/x"]}, {
        ".claude-plugin/plugin.json": json.dumps({"name": "root-skill-beside-plugin-json"}),
        "SKILL.md": described("root-skill-beside-plugin-json"), "extra/x/SKILL.md": None}),
    "listed-in-both": ({"skills": ["./extra"]}, {
        ".claude-plugin/plugin.json": json.dumps({"name": "listed-in-both", "skills": "./more/m"}),
        "more/m/SKILL.md": None, "extra/x/SKILL.md": None, "skills/a/SKILL.md": None}),
    "listed-folder-of-skills": ({"skills": ["./extra"]}, {"extra/x/SKILL.md": None, "skills/a/SKILL.md": None}),
    "listed-skill": ({"skills": ["./extra/x"]}, {"extra/x/SKILL.md": None, "extra/y/SKILL.md": None,
                                                 "skills/a/SKILL.md": None}),
    "listed-skill-beside-folders": ({"skills": ["./extra"]}, {"extra/SKILL.md": None, "extra/y/SKILL.md": None}),
    "listed-missing": ({"skills": ["./nowhere"]}, {"skills/a/SKILL.md": None}),
    "listed-skills-folder": ({"skills": ["./skills/"]}, {"skills/a/SKILL.md": None}),
    "listed-root": ({"skills": ["./"]}, {"SKILL.md": described("listed-root"), "skills/a/SKILL.md": None}),
    "manifest-listed": ({}, {".claude-plugin/plugin.json": json.dumps({"name": "manifest-listed", "skills": ["./more"]}),
                             "more/m/SKILL.md": None, "skills/a/SKILL.md": None}),
    "nested-too-deep": ({}, {"skills/a/b/SKILL.md": None}),
    "hidden-and-odd-folders": ({}, {"skills/.hidden/SKILL.md": None, "skills/node_modules/SKILL.md": None,
                                    "skills/sp ace/SKILL.md": None}),
    "lower-case-file": ({}, {"skills/a/skill.md": None, "skills/b/SKILL.md": None}),
    "named-unlike-its-folder": ({}, {"skills/a/SKILL.md": described("other-name")}),
    "one-name-twice": ({}, {"skills/a/SKILL.md": described("same"), "skills/b/SKILL.md": described("same")}),
    "without-frontmatter": ({}, {"skills/a/SKILL.md": "Just a body.\n"}),
    "linked-inside": ({}, {"real/x/SKILL.md": None, "skills/x": Symlink("../real/x")}),
    # Claude Code unpacks MCP bundles into .mcpb-cache, and reads no skill there.
    "mcpb-cache": ({}, {"skills/.mcpb-cache/SKILL.md": None, "skills/a/SKILL.md": None}),
    "mcpb-cache-any-case": ({}, {"skills/.MCPB-Cache/SKILL.md": None, "skills/a/SKILL.md": None}),
    "listed-into-mcpb-cache": ({"skills": ["./.mcpb-cache/x"]}, {".mcpb-cache/x/SKILL.md": None,
                                                                 "skills/a/SKILL.md": None}),
    # A SKILL.md too large to read is skipped, and then the folders beside it are read.
    "skill-md-too-large-in-skills": ({}, {"skills/SKILL.md": described("big", "x" * 1_048_600),
                                          "skills/beside/SKILL.md": None}),
    # The name a person types: a folder's, or for a skill pointed at, its frontmatter's, each made of [A-Za-z0-9_-].
    "root-skill-named": ({}, {"SKILL.md": described("My Tool")}),
    "root-skill-prefixed": ({}, {"SKILL.md": described("root-skill-prefixed:inner")}),
    "listed-skill-named": ({"skills": ["./extra/x"]}, {"extra/x/SKILL.md": described("Other Name")}),
    "folder-named-oddly": ({}, {"skills/my.tool/SKILL.md": described("Fancy Name"),
                                "skills/caf\u00e9-\U0001f600/SKILL.md": described("cafe")}),
}


def test_the_skills_claude_code_loads_are_the_skills_skillport_reads(claude, tmp_path, make_repo):
    """A Claude Code session offers the model the skills its loader found in each installed plugin, as it calls them:
    each layout's are Skillport's skills' commands, and those of the skills it lists under another's name, less
    those it says are not offered. (`claude plugin details` is no oracle here: it lists a skills/.mcpb-cache folder,
    and a skills/SKILL.md too large to load in place of the folders beside it.)"""
    files, plugins = {}, []
    for case, (fields, extra) in SKILL_LAYOUTS.items():
        plugins.append({"name": case, "source": f"./plugins/{case}", **fields})
        files |= {f"plugins/{case}/{rel}": described(posixpath.basename(posixpath.dirname(rel))) if content is None
                  else content for rel, content in extra.items()}
    repo = make_repo({CATALOG: market(*plugins), **files})
    theirs = skills_loaded(claude, repo, SKILL_LAYOUTS, tmp_path / "home")
    ours = {plugin.name: sorted([skill.command for skill in plugin.skills if offered(skill)] + [
        discovery.command(plugin.claude_code_name, posixpath.basename(problem.location))
        for problem in plugin.problems if problem.code == "duplicate-skill-name"])
        for plugin in Reader(repo.url).read().plugins}
    assert ours == theirs
    assert theirs["skill-md-in-skills"] == ["skill-md-in-skills:skills"]
    assert theirs["one-name-twice"] == ["one-name-twice:a", "one-name-twice:b"]
    assert theirs["mcpb-cache"] == ["mcpb-cache:a"] and theirs["skill-md-too-large-in-skills"] == [
        "skill-md-too-large-in-skills:beside"]
    assert theirs["root-skill-named"] == ["root-skill-named:My-Tool"]
    assert theirs["folder-named-oddly"] == ["folder-named-oddly:caf----", "folder-named-oddly:my-tool"]


def test_claude_code_calls_a_plugins_skills_by_its_plugin_json_name(claude, tmp_path, make_repo):
    """Installed by its entry's name, a plugin's skills are called by its plugin.json's: Skillport warns, and
    gives the name Claude Code offers."""
    repo = make_repo({CATALOG: market({"name": "tools", "source": "./plugins/tools"}),
                      "plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "toolkit"}),
                      "plugins/tools/skills/alpha/SKILL.md": SKILL})
    assert skills_loaded(claude, repo, ["tools"], tmp_path / "home") == {"tools": []}
    offered = skills_offered(claude, claude_env(tmp_path / "home"), tmp_path / "home")
    plugin = Reader(repo.url).read().plugins[0]
    assert [skill.command for skill in plugin.skills] == [name for name in offered if ":alpha" in name] == [
        "toolkit:alpha"]
    assert [problem.code for problem in plugin.problems] == ["plugin-name-differs"]


# Plugins whose source is the marketplace's root, as anthropics/skills lists its own: each an entry's fields.
ROOT_LAYOUTS = {
    "listed-one-by-one": {"strict": False, "skills": ["./skills/xlsx", "./skills/pdf"]},
    "listed-strict": {"skills": ["./skills/art"]},
    "without-a-list": {"strict": False},
    "listed-missing": {"strict": False, "skills": ["./nowhere"]},
    "listed-skills-folder": {"strict": False, "skills": ["./skills/", "./other/extra"]},
    "listed-root": {"strict": False, "skills": ["./", "./other/extra"]},
    "listed-elsewhere": {"strict": False, "skills": ["./other/extra", "./nowhere"]},
    "listed-outside": {"strict": False, "skills": ["./../elsewhere"]},
}


def test_the_skills_claude_code_loads_from_a_marketplace_root_are_the_skills_skillport_reads(claude, tmp_path,
                                                                                             make_repo):
    """An entry's `skills` list replaces the scan for a plugin at the marketplace's root, strict or not (Skillport
    had it for `strict: false` alone)."""
    repo = make_repo({
        CATALOG: market(*({"name": name, "source": "./", **fields} for name, fields in ROOT_LAYOUTS.items())),
        **{f"skills/{name}/SKILL.md": described(name) for name in ("xlsx", "pdf", "art")},
        "other/extra/SKILL.md": described("extra"),
    })
    theirs = skills_loaded(claude, repo, ROOT_LAYOUTS, tmp_path / "home", alone=True)
    assert {plugin.name: sorted(skill.command for skill in plugin.skills)
            for plugin in Reader(repo.url).read().plugins} == theirs
    assert theirs["listed-strict"] == ["listed-strict:art"] and theirs["listed-outside"] == []


def test_a_skills_path_out_of_the_plugins_folder_loads_nothing(claude, tmp_path, make_repo):
    """Claude Code installs a plugin's folder alone: a skills path climbing out of it into the repository (an entry's
    or a plugin.json's) finds nothing there. Skillport read the skills it leads to."""
    layouts = {"entry-up": {"source": "./plugins/entry-up", "strict": False, "skills": ["./../shared/skills"]},
               "json-up": {"source": "./plugins/json-up"}}
    repo = make_repo({
        CATALOG: market(*({"name": name, **fields} for name, fields in layouts.items())),
        "plugins/entry-up/README.md": "Its skills are elsewhere.\n",
        "plugins/json-up/.claude-plugin/plugin.json": json.dumps({"name": "json-up", "skills": ["./../shared/skills/"]}),
        "plugins/shared/skills/far/SKILL.md": described("far"),
    })
    theirs = skills_loaded(claude, repo, layouts, tmp_path / "home", alone=True)
    plugins = Reader(repo.url).read().plugins
    assert {plugin.name: [skill.command for skill in plugin.skills] for plugin in plugins} == theirs == {
        "entry-up": [], "json-up": []}
    assert all([problem.code for problem in plugin.problems] == ["path-traversal"] for plugin in plugins)


# Frontmatter that decides whether Claude Code offers a loaded skill to Claude, or only runs it when typed.
OFFERED = {
    "described": "description: Does it.",
    "undescribed": "name: x",
    "blank-description": 'description: "  "',
    "list-description": "description: [a, b]",
    "number-description": "description: 12",
    "false-description": "description: false",
    "when-to-use": "when_to_use: Use when asked.",
    "when-to-use-zero": "when_to_use: 0",
    "when-to-use-empty": 'when_to_use: ""',
    "model-invocation-off": "description: Does it.\ndisable-model-invocation: true",
    "model-invocation-off-yes": "description: Does it.\ndisable-model-invocation: yes",
    "model-invocation-off-one": "description: Does it.\ndisable-model-invocation: 1",
    "model-invocation-on": "description: Does it.\ndisable-model-invocation: false",
    "model-invocation-maybe": "description: Does it.\ndisable-model-invocation: maybe",
    "user-invocable-off": "description: Does it.\nuser-invocable: false",
    # A tag the core schema does not know is passed over: a description starting with `!` loses its first word.
    "tagged": "description: !Use this when asked.",
    "tagged-alone": "description: !important",
    "tagged-null": "description: !x null",
    "tagged-list": "description: !x [a, b]",
    "tagged-binary": "description: !!binary aGVsbG8=",
    "tagged-wrongly": "description: !!int abc",
}


def offered(skill) -> bool:
    """Whether Skillport says Claude Code offers the skill it read to Claude."""
    return not any("does not offer it to Claude" in reason for reason in skill.verdicts["claude_code"]["reasons"])


def test_the_skills_claude_code_offers_claude_are_those_skillport_says_it_offers(claude, tmp_path, make_repo):
    """A skill without a description (or a `when_to_use`), or that turns model invocation off, loads but is not
    offered to Claude: Skillport says so on its verdict (and warns of a missing description)."""
    repo = make_repo({
        CATALOG: market(*({"name": name, "source": f"./plugins/{name}"} for name in OFFERED)),
        **{f"plugins/{name}/skills/a/SKILL.md": f"---\n{fields}\n---\nBody.\n" for name, fields in OFFERED.items()},
    })
    home = tmp_path / "home"
    assert all(skills in ([f"{name}:a"], []) for name, skills in skills_loaded(claude, repo, OFFERED, home).items())
    offered_now = skills_offered(claude, claude_env(home), home)
    theirs = {name: offered_now.get(f"{name}:a") for name in OFFERED}
    plugins = Reader(repo.url).read().plugins
    # Offered, and where the frontmatter has a description (not the body's, nor one a when_to_use adds to), as it.
    ours = {plugin.name: (plugin.skills[0].description if "description:" in OFFERED[plugin.name] else True)
            if offered(plugin.skills[0]) else None for plugin in plugins}
    assert ours == {name: (description if "description:" in OFFERED[name] else True) if description is not None
                    else None for name, description in theirs.items()}
    theirs = {name: description is not None for name, description in theirs.items()}
    assert not theirs["undescribed"] and theirs["number-description"] and theirs["when-to-use-zero"]
    assert not theirs["model-invocation-off-yes"] and theirs["model-invocation-maybe"]
    assert ours["tagged"] == "this when asked." and ours["tagged-null"] == "null" and not theirs["tagged-alone"]
    assert all(plugin.skills[0].verdicts["claude_code"]["ok"] for plugin in plugins)  # each loads all the same


def words(chars, word="word"):
    """Text of exactly `chars` characters, words and spaces."""
    return ((word + " ") * chars)[:chars - 1] + "."


# What Claude Code offers Claude of a skill (its description, " - " and its when_to_use), against its cap of 1,536.
LISTED = {
    "short": f"description: {words(200)}",
    "at-the-cap": f"description: {words(1536)}",
    "one-over": f"description: {words(1537)}",
    "when-to-use-adds": f"description: {words(1000)}\nwhen_to_use: {words(600)}",
    "when-to-use-fits": f"description: {words(1000)}\nwhen_to_use: {words(500)}",
    "escaped": f"description: \"{words(1300, 'a<b>')}\"",  # `<` and `>` are sent as `&lt;` and `&gt;`
    "astral": f"description: {words(1300, '😀')}",  # two UTF-16 units each, as JavaScript counts
    "lines": "description: |\n" + "".join(f"  {words(90)}\n\n" for _ in range(17)),  # each blank line one space
    "list-when-to-use": f"description: {words(1000)}\nwhen_to_use: [{words(300)}, {words(300)}]",
    # Under the cap, each counted as the session counts it.
    "escaped-fits": f"description: \"{words(600, 'a<b>')}\"",
    "astral-fits": f"description: {words(1000, '😀')}",
    "lines-fits": "description: |\n" + "".join(f"  {words(90)}\n\n" for _ in range(12)),
    "list-when-to-use-fits": f"description: {words(500)}\nwhen_to_use: [{words(300)}, {words(300)}]",
}


def test_a_description_claude_code_cuts_for_claude_is_a_warning(claude, tmp_path, make_repo):
    """Claude Code offers Claude each skill's description and when_to_use together, cut to 1,536 characters and "…"
    (`skillListingMaxDescChars`): Skillport warns where a session cuts one, and counts as it counts (UTF-16 units,
    `<` and `>` escaped, a run of line breaks one space)."""
    repo = make_repo({
        CATALOG: market(entry()),
        **{f"plugins/tools/skills/{name}/SKILL.md": f"---\n{fields}\n---\nBody.\n" for name, fields in LISTED.items()},
    })
    home = tmp_path / "home"
    # Past 1% of the context window in all, a session shortens every description to fit, whatever its own length.
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"skillListingBudgetFraction": 0.5}))
    skills_loaded(claude, repo, ["tools"], home)
    theirs = {name.removeprefix("tools:"): description
              for name, description in skills_offered(claude, claude_env(home), home).items()
              if name.startswith("tools:")}
    assert set(theirs) == set(LISTED)
    skills = {skill.folder_name: skill for skill in Reader(repo.url).read().plugins[0].skills}
    cut = {name for name, description in theirs.items() if description.endswith("…")}
    assert cut == {name for name, skill in skills.items() if "description-cut" in [p.code for p in skill.problems]}
    assert cut == {"one-over", "when-to-use-adds", "escaped", "astral", "lines", "list-when-to-use"}
    for name, skill in skills.items():
        counted = len(theirs[name].encode("utf-16-le")) // 2
        assert counted == (1536 if name in cut else skillmd.listing_length(skill.description, skill.frontmatter)), name
