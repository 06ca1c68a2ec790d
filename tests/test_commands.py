"""The management commands scripts rely on: names, arguments, JSON keys and exit codes."""
import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from marketplace.models import Marketplace, Skill

from .builders import catalog, run_command

EXAMPLE = settings.BASE_DIR / "examples" / "marketplace"
PROBLEM_KEYS = {"severity", "code", "message", "location"}


def test_example_marketplace_validates_without_errors():
    code, out = run_command("validate_marketplace", str(EXAMPLE), "--json")
    result = json.loads(out)
    assert code == 0
    assert result["status"] == "ok"
    assert [p for p in result["problems"] if p["severity"] == "error"] == []
    assert result["counts"]["plugins"] >= 3 and result["counts"]["skills"] >= 8
    assert result["counts"]["unreachable_skill_files"] == 0


def test_example_marketplace_has_what_the_docs_promise():
    from marketplace.reader import Reader

    snapshot = Reader(str(EXAMPLE)).read()
    kinds = {p.entry.get("strict", True) is False and bool(p.entry.get("skills")) for p in snapshot.plugins}
    assert True in kinds  # a strict: false entry with a skills list
    skills = {s.name: s for p in snapshot.plugins for s in p.skills}
    assert "skillport" in skills
    folders = {f.path.split("/")[0] for s in skills.values() for f in s.files}
    assert {"scripts", "references"} <= folders
    assert any(f.is_binary for s in skills.values() for f in s.files)
    assert all(s.verdicts["claude_ai"]["ok"] and s.verdicts["agent_skills_spec"]["ok"] for s in skills.values())


def test_validate_reports_errors_with_exit_1(make_repo):
    repo = make_repo({".claude-plugin/marketplace.json": catalog({"name": "bad plugin", "source": "../x"})})
    code, out = run_command("validate_marketplace", repo.url, "--json")
    result = json.loads(out)
    assert code == 1
    assert {p["code"] for p in result["problems"]} == {"plugin-name-invalid"}
    assert all(set(p) == PROBLEM_KEYS for p in result["problems"])

    code, out = run_command("validate_marketplace", str(repo.path / "missing"), "--json")
    assert code == 1 and json.loads(out)["problems"][0]["code"] == "fetch-failed"


@pytest.mark.django_db
def test_add_then_sync_with_json(simple_repo):
    code, out = run_command("add_marketplace", simple_repo.url, "--slug", "tools-market")
    assert code == 0 and "tools-market" in out
    code, out = run_command("sync_marketplace", "tools-market", "--json")
    result = json.loads(out)
    assert code == 0
    assert result["status"] == "ok"
    assert result["commit"] == simple_repo.head
    assert result["counts"]["plugins"] == 1 and result["counts"]["skills"] == 2
    assert result["counts"]["files"] == 3 and result["counts"]["unreachable_skill_files"] == 0
    assert result["problems"] == []
    assert Skill.objects.filter(marketplace__slug="tools-market").count() == 2

    # Adding again updates instead of duplicating.
    run_command("add_marketplace", simple_repo.url, "--slug", "tools-market", "--ref", "main")
    assert Marketplace.objects.get(slug="tools-market").ref == "main"
    assert Marketplace.objects.count() == 1


@pytest.mark.django_db
def test_sync_failure_exits_1_and_all_syncs_each(simple_repo, make_repo, make_marketplace):
    make_marketplace(simple_repo, slug="good")
    broken = make_repo({".claude-plugin/marketplace.json": "{not json"})
    make_marketplace(broken, slug="broken")
    code, out = run_command("sync_marketplace", "broken", "--json")
    assert code == 1
    result = json.loads(out)
    assert result["status"] == "failed" and result["problems"][0]["code"] == "catalog-invalid-json"

    code, out = run_command("sync_marketplace", "--all", "--json")
    statuses = {r["marketplace"]: r["status"] for r in json.loads(out)}
    assert code == 1 and statuses == {"good": "ok", "broken": "failed"}

    code, out = run_command("sync_marketplace", "good")
    assert code == 0 and "good: unchanged" in out


@pytest.mark.django_db
def test_unknown_slug_lists_the_slugs_that_exist(simple_repo, make_marketplace):
    make_marketplace(simple_repo, slug="beta")
    make_marketplace(simple_repo, slug="alpha")
    with pytest.raises(CommandError, match=r"No marketplace 'nosuch'\. Marketplaces: alpha, beta\."):
        call_command("sync_marketplace", "nosuch")


def test_validate_prints_each_problem_once_most_severe_first(make_repo):
    # Two entries share a folder, so its skill's frontmatter repair is found twice; the unknown
    # top-level field is found before the bad plugin name.
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            {"name": "tools", "source": "./plugins/tools"},
            {"name": "tools-too", "source": "./plugins/tools"},
            {"name": "bad tools", "source": "./plugins/tools"},
            homepage="https://example.com",
        ),
        "plugins/tools/skills/a/SKILL.md": "---\nname: a\ndescription: Use when: asked\n---\nA.\n",
    })
    code, out = run_command("validate_marketplace", repo.url)
    printed = [line.split()[:2] for line in out.splitlines()[:-1]]
    assert code == 1
    assert printed == [["error", "plugin-name-invalid:"], ["warning", "unknown-field:"],
                       ["warning", "frontmatter-repaired:"]], out


@pytest.mark.django_db
def test_command_errors_are_clear():
    with pytest.raises(CommandError, match="No marketplace 'nope'"):
        call_command("sync_marketplace", "nope")
    with pytest.raises(CommandError, match="slug or --all"):
        call_command("sync_marketplace")
    with pytest.raises(CommandError, match="access token"):
        call_command("add_marketplace", "https://user:ghp_x@github.com/acme/skills.git")
    assert not Marketplace.objects.exists()


@pytest.mark.django_db
def test_terminal_output_shows_control_characters_escaped(make_repo):
    # A name carrying an escape sequence (here: clear the screen) reaches the message quoted.
    repo = make_repo({".claude-plugin/marketplace.json": catalog({"name": "bad\x1b[2Jname", "source": "./x"})})
    code, out = run_command("validate_marketplace", repo.url)
    assert code == 1
    assert "\x1b" not in out and "\\x1b[2J" in out, out
