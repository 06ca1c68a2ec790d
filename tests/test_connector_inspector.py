"""A client nobody here wrote: the MCP Inspector CLI lists and calls tools against a live Skillport.

`make test` (and so .ci/run) installs the Inspector with npm into .data/tools/inspector. If it is
missing or cannot run, these tests fail: they are never skipped.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from connector.tokens import mint

INSPECTOR_DIR = Path(__file__).resolve().parent.parent / ".data" / "tools" / "inspector"


def inspector(server, token, tmp_path, *arguments):
    assert (INSPECTOR_DIR / "node_modules" / "@modelcontextprotocol" / "inspector").is_dir(), (
        f"The MCP Inspector is not installed in {INSPECTOR_DIR}: run `make test`, which installs it."
    )
    done = subprocess.run(
        ["npx", "--no-install", "@modelcontextprotocol/inspector", "--cli", f"{server.url}/mcp",
         "--transport", "http", "--header", f"Authorization: Bearer {token}", *arguments],
        cwd=INSPECTOR_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HOME": str(tmp_path), "MCP_CATALOG_PATH": str(tmp_path / "catalog.json")},
    )
    assert done.returncode == 0, f"inspector failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
    return json.loads(done.stdout)


@pytest.fixture
def token(two_markets, people):
    return mint(people["member"])


def test_inspector_lists_the_tools(skillport, token, tmp_path):
    tools = {tool["name"]: tool for tool in inspector(skillport, token, tmp_path, "--method", "tools/list")["tools"]}
    proposing = {"propose_skill", "propose_removal"}  # they open pull requests: not read-only
    assert set(tools) == {"search_skills", "list_skills", "get_skill", "read_skill_file", "install_skill",
                          "check_updates", "whoami", "my_proposals", *proposing}
    assert all(tool["annotations"]["readOnlyHint"] is (name not in proposing) for name, tool in tools.items())


def test_inspector_calls_a_tool_and_sees_only_visible_skills(skillport, token, tmp_path):
    result = inspector(skillport, token, tmp_path, "--method", "tools/call", "--tool-name", "search_skills",
                       "--tool-arg", "query=runbook")
    assert result["structuredContent"]["skills"] == []  # core-runbook is for the core team only
    result = inspector(skillport, token, tmp_path, "--method", "tools/call", "--tool-name", "get_skill",
                       "--tool-arg", "name=postmortem")
    assert result["structuredContent"]["name"] == "acme/ops-kit/postmortem"


def test_inspector_reads_a_resource(skillport, token, tmp_path):
    listed = inspector(skillport, token, tmp_path, "--method", "resources/list")["resources"]
    assert "skill://acme/ops-kit/postmortem/SKILL.md" in {r["uri"] for r in listed}
    read = inspector(skillport, token, tmp_path, "--method", "resources/read",
                     "--uri", "skill://acme/ops-kit/postmortem/scripts/timeline.py")
    assert read["contents"][0]["text"] == "print('timeline')\n"
