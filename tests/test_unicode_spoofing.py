"""Names that hide or imitate characters are problems wherever a name is read: bidi controls and
invisible characters are errors, and so are names spelled with look-alike letters of another script.
"""
import json

import pytest

from marketplace.models import Marketplace, Plugin, Skill

from .builders import catalog, plugin_entry, run_command, skill_md

CATALOG = ".claude-plugin/marketplace.json"
CYRILLIC_A = "\u0430"

HIDDEN = [
    ("ev\u202eil", "name-bidi-control", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("tools\u2066x\u2069", "name-bidi-control", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("tools\u200f", "name-bidi-control", "U+200F RIGHT-TO-LEFT MARK"),
    ("tools\u061c", "name-bidi-control", "U+061C ARABIC LETTER MARK"),
    ("to\u200bols", "name-invisible-character", "U+200B ZERO WIDTH SPACE"),
    ("tools\u200d", "name-invisible-character", "U+200D ZERO WIDTH JOINER"),
    ("\ufefftools", "name-invisible-character", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("tools\u2060", "name-invisible-character", "U+2060 WORD JOINER"),
    ("tools\ufe0f", "name-invisible-character", "U+FE0F VARIATION SELECTOR-16"),
    (f"cl{CYRILLIC_A}ude-tools", "name-confusable", "reads as 'claude-tools'"),
    ("\u0440\u0430\u0443", "name-confusable", "reads as 'pay'"),  # wholly Cyrillic, every letter passes for Latin
    (f"t{CYRILLIC_A}sks-\u043f\u043e\u043c\u043e\u0449\u044c", "name-confusable", "letters of another script"),
]
IDS = ["rlo", "isolate", "rlm", "alm", "zwsp", "zwj", "bom", "word-joiner", "variation-selector",
       "cyrillic-a", "whole-script", "mixed-script"]


def validate(repo):
    code, out = run_command("validate_marketplace", repo.url, "--json")
    return code, json.loads(out)


def errors(result):
    return [(p["code"], p["message"]) for p in result["problems"] if p["severity"] == "error"]


def market_repo(make_repo, plugin_name="tools", market_name="test-market", skill_name="alpha"):
    return make_repo({
        CATALOG: catalog(plugin_entry(plugin_name, "./plugins/tools"), name=market_name),
        "plugins/tools/skills/alpha/SKILL.md": skill_md(skill_name, "Does A."),
    })


@pytest.mark.parametrize("name, code, shown", HIDDEN, ids=IDS)
def test_plugin_name_that_hides_or_imitates_characters_is_an_error_and_never_listed(make_repo, name, code, shown):
    code_, result = validate(market_repo(make_repo, plugin_name=name))
    assert code_ == 1
    [(found, message)] = errors(result)
    assert found == code and shown in message
    # The message spells hidden characters out, so it cannot be spoofed itself.
    assert not any(c in message for c in "\u202e\u2066\u200f\u061c\u200b\u200d\ufeff\u2060\ufe0f")
    assert result["counts"]["plugins"] == 0


@pytest.mark.parametrize("name, code, shown", HIDDEN, ids=IDS)
def test_marketplace_name_that_hides_or_imitates_characters_is_an_error(make_repo, name, code, shown):
    code_, result = validate(market_repo(make_repo, market_name=name))
    assert code_ == 1
    [(found, message)] = errors(result)  # one failure, reported once
    assert found == code and shown in message
    assert result["counts"]["skills"] == 1


@pytest.mark.parametrize("name, code, shown", HIDDEN, ids=IDS)
def test_skill_name_that_hides_or_imitates_characters_is_an_error_on_every_verdict(make_repo, name, code, shown):
    code_, result = validate(market_repo(make_repo, skill_name=name))
    assert code_ == 1
    [(found, message)] = errors(result)
    assert found == code and shown in message


@pytest.mark.django_db
def test_synced_skill_with_a_spoofed_name_looks_valid_nowhere(make_repo, make_marketplace):
    from marketplace.sync import sync_marketplace

    repo = market_repo(make_repo, skill_name="ev\u202eil")
    run = sync_marketplace(make_marketplace(repo).pk)
    assert ("error", "name-bidi-control") in [(p["severity"], p["code"]) for p in run.problems]
    skill = Skill.objects.get(plugin__name="tools")
    assert "name-bidi-control" in [p["code"] for p in skill.problems]
    # Claude Code loads it, so the verdict says so, but never without the reason.
    assert skill.loads_in_claude_code
    assert any("U+202E" in reason for reason in skill.verdict_reasons["claude_code"])
    assert not skill.spec_valid and not skill.claude_ai_uploadable


@pytest.mark.django_db
def test_synced_plugin_with_a_look_alike_name_is_not_served(make_repo, make_marketplace):
    from marketplace.sync import sync_marketplace

    repo = make_repo({
        CATALOG: catalog(plugin_entry("tools"), plugin_entry(f"t{CYRILLIC_A}{CYRILLIC_A}ls", "./plugins/tools")),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Does A."),
    })
    market = make_marketplace(repo)
    run = sync_marketplace(market.pk)
    assert [(p["severity"], p["code"]) for p in run.problems] == [("error", "name-confusable")]
    assert list(Plugin.objects.filter(marketplace=market).values_list("name", flat=True)) == ["tools"]
    assert Marketplace.objects.get(pk=market.pk).name == "test-market"


@pytest.mark.parametrize("name", ["naïve-tools", "\u65e5\u672c\u8a9e", "\u043f\u043e\u043c\u043e\u0449\u044c", "stra\u00dfe"],
                         ids=["accented-latin", "cjk", "cyrillic-word", "eszett"])
def test_skill_names_in_one_script_are_not_spoofing(make_repo, name):
    _code, result = validate(market_repo(make_repo, skill_name=name))
    assert not [p for p in result["problems"] if p["code"].startswith("name-")]
