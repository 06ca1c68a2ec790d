"""Nothing a person may not see reaches them on any surface: every page and API route the URL configuration holds,
asked about skills kept from them in each way there is (an access.json rule, a skill's, a plugin's or a marketplace's
audience, an admin hiding it), every connector tool and listing, and the curated catalogue Claude Code reads. Each kept skill's description holds the word
"zebracorn", and one plugin and one marketplace are named with it: no answer to them may hold it, and a kept skill's
pages answer as a made-up one's do, so that not even its existence shows."""
import json

import pytest
from django.urls import reverse

from marketplace.models import Marketplace, Plugin, Skill

from .builders import catalog, plugin_entry, skill_md
from .url_routes import named_routes, routes

WORD = "zebracorn"
SKILL_KEYS = {"marketplace", "plugin", "skill", "path"}


@pytest.fixture
def kept(make_repo, synced_marketplace):
    """The kept skills' full names: acme/tools/open is everyone's; the rest only the core team's, or nobody's."""
    acme = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry(f"{WORD}-vault"), name="acme"),
        ".skillport/access.json": json.dumps({"skills": {"by-rule": {"read": ["github:@acme/core"]}}}),
        "plugins/tools/skills/open/SKILL.md": skill_md("open", "Everyone may read this."),
        **{f"plugins/tools/skills/{name}/SKILL.md": skill_md(name, f"The {WORD} way, kept: {name}.")
           for name in ("by-rule", "by-audience", "hidden")},
        f"plugins/{WORD}-vault/skills/in-vault/SKILL.md": skill_md("in-vault", f"The {WORD} vault's own skill."),
    }), slug="acme")
    labs = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name=f"{WORD}-labs"),
        "plugins/kit/skills/lab-note/SKILL.md": skill_md("lab-note", f"A {WORD} lab note."),
    }), slug="labs")
    Skill.objects.filter(marketplace=acme, name="by-audience").update(audience=["github:@acme/core"])
    Skill.objects.filter(marketplace=acme, name="hidden").update(curation="hidden")
    Plugin.objects.filter(marketplace=acme, name=f"{WORD}-vault").update(audience=["github:@acme/core"])
    Marketplace.objects.filter(pk=labs.pk).update(audience=["github:@acme/core"])
    return ["acme/tools/by-rule", "acme/tools/by-audience", "acme/tools/hidden", f"acme/{WORD}-vault/in-vault",
            "labs/kit/lab-note"]


def skill_pages(full_name):
    """Every route taking a skill's parts (or fewer of them), filled with `full_name`'s."""
    values = dict(zip(("marketplace", "plugin", "skill"), full_name.split("/")), path="SKILL.md")
    return [reverse(name, kwargs={argument: values[argument] for argument in arguments})
            for name, arguments in named_routes() if set(arguments) <= SKILL_KEYS]


def listings(word=WORD, marketplace="labs"):
    """Every route taking nothing, outside the admin, asked for `word` as each list's query and filter."""
    query = f"q={word}&tag={word}&category={word}&marketplace={marketplace}&plugin={word}-vault"
    return [f"{route}?{query}" for route in routes() if "{}" not in route and not route.startswith("/admin/")]


@pytest.mark.parametrize("who", ["anonymous", "member", "outsider", "design"])
def test_no_page_or_api_answer_shows_what_a_person_may_not_see(client, people, kept, who):
    if who != "anonymous":
        client.force_login(people[who])
    shown = []
    for full_name in kept:
        made_up = full_name.rsplit("/", 1)[0] + "/never-was"
        for page, control in zip(skill_pages(full_name), skill_pages(made_up)):
            response = client.get(page)
            if WORD.encode() in response.content or response.status_code != client.get(control).status_code:
                shown.append((page, response.status_code))
    # A list may say what it was asked for ("zebracorn-vault is not one of the choices"), as it would of a name made up.
    for page, control in zip(listings(), listings("quaggaxyz", "nolabs")):
        response = client.get(page)
        if response.content.count(WORD.encode()) > client.get(control).content.count(b"quaggaxyz"):
            shown.append((page, response.status_code))
    assert shown == []


def curated(client, person, slug):
    """The curated catalogue of `slug` as Claude Code reads it with `person`'s catalogue token."""
    from connector.tokens import CATALOGUE_CLIENT_NAME, CATALOGUE_SCOPE, catalogue_resource, issue

    _, raw = issue(person, scope=CATALOGUE_SCOPE, ttl=3600, resource=[catalogue_resource()],
                   client_name=CATALOGUE_CLIENT_NAME)
    return client.get(reverse("marketplace:curated", args=[slug]), HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.mark.parametrize("who", ["member", "outsider", "design"])
def test_no_curated_catalogue_read_with_a_persons_token_shows_what_they_may_not_see(client, people, kept, who):
    """What Claude Code reads: a marketplace's catalogue leaves out the plugins holding kept skills, and one the
    person may not see answers as one that never was."""
    assert WORD.encode() not in curated(client, people[who], "acme").content
    kept_market, made_up = curated(client, people[who], "labs"), curated(client, people[who], "never-was")
    assert WORD.encode() not in kept_market.content and kept_market.status_code == made_up.status_code


def test_the_core_team_sees_what_the_rule_gives_them(client, people, kept):
    """The sweep above can fail: the same pages show the core team their skills (an admin's hidden one to no one)."""
    client.force_login(people["core"])
    for full_name in kept:
        marketplace, plugin, skill = full_name.split("/")
        response = client.get(reverse("marketplace:skill", args=[marketplace, plugin, skill]))
        assert (response.status_code, WORD.encode() in response.content) == (
            (404, False) if skill == "hidden" else (200, True)), full_name
    assert f"{WORD}-vault" in [plugin["name"] for plugin in curated(client, people["core"], "acme").json()["plugins"]]
    assert curated(client, people["core"], "labs").status_code == 200
    found = client.get(f"/skills/?q={WORD}").content.decode()
    assert "by-rule" in found and "lab-note" in found and "in-vault" in found


def test_no_connector_answer_shows_what_a_person_may_not_see(transactional_db, people, kept):
    """Through the official MCP client. What answers a question echoing it (a search's hint, an unknown name) is
    compared with the answer to the same question about something that never was."""
    from mcp.shared.exceptions import MCPError

    from .mcp_client import session
    from .test_connector_skills_extension import RAW, every_entry, get_request

    made_up = {name: name.rsplit("/", 1)[0].replace(WORD, "quaggaxyz") + "/never-was" for name in kept}

    async def ask(client):
        for word in (WORD, "quaggaxyz"):
            assert (await client.call_tool("search_skills", {"query": word})).structured_content["skills"] == []
        updates, control = [(await client.call_tool("check_updates", {"installed": [{"name": name} for name in names]}))
                            .model_dump_json() for names in (kept, made_up.values())]
        for name, other in made_up.items():
            updates = updates.replace(name, other)
        assert updates == control
        for full_name in kept:
            for tool, arguments in (("get_skill", {}), ("read_skill_file", {"path": "SKILL.md"}), ("install_skill", {})):
                asked, control = [await client.call_tool(tool, {"name": name, **arguments})
                                  for name in (full_name, made_up[full_name])]
                assert asked.is_error and control.is_error
                assert asked.content[0].text.replace(full_name, made_up[full_name]) == control.content[0].text
        for full_name in kept:  # the Skills extension's skills/get, refused as for a skill that never was
            refusals = []
            for name in (full_name, made_up[full_name]):
                with pytest.raises(MCPError) as refused:
                    await client.session.send_request(get_request(f"skill://{name}/SKILL.md"), RAW)
                refusals.append(str(refused.value).replace(name, "NAME"))
            assert refusals[0] == refusals[1]
        assert [entry["uri"] for entry in await every_entry(client)] == ["skill://acme/tools/open/SKILL.md"]  # skills/list
        listed = await client.call_tool("list_skills", {"limit": 50})
        assert [skill["name"] for skill in listed.structured_content["skills"]] == ["acme/tools/open"]
        return [listed.model_dump_json(), (await client.call_tool("whoami", {})).model_dump_json(),
                (await client.list_resources()).model_dump_json()]

    for answer in session(people["member"], ask):
        assert WORD not in answer
