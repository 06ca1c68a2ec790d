"""How a skill is installed: the commands and steps every surface shows, and the one-time links to its package."""
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from audit import record
from audit.models import Action
from connector.models import InstallLink
from skillport_site.links import absolute_url

from . import packaging, policy
from .gitrepo import is_local


class Refused(Exception):
    """The organisation prohibits the skill: no link is issued. The message says why, for the person asking."""


def claude_code_commands_for(marketplace):
    """How Claude Code users add this marketplace: owner/repo for GitHub, else the git URL.

    A marketplace read from a folder on this server has no address Claude Code could use
    (and its path is nobody's business), so there is no command for it.
    """
    url = marketplace.git_url
    parts = urlsplit(url)
    if is_local(url):
        add = ""
    elif parts.hostname == "github.com":
        add = f"/plugin marketplace add {parts.path.strip('/').removesuffix('.git')}"
    elif url.startswith("git@github.com:"):
        add = f"/plugin marketplace add {url.removeprefix('git@github.com:').removesuffix('.git')}"
    else:
        add = f"/plugin marketplace add {url}"
    return {"add": add, "name": marketplace.name or marketplace.slug}


def claude_code_commands(plugin):
    commands = claude_code_commands_for(plugin.marketplace)
    return {**commands, "install": f"/plugin install {plugin.name}@{commands['name']}"}


def steps(skill, download_url="") -> dict[str, list[str]]:
    """What to do in Claude Code (CC), Claude Desktop (CD) and Claude.ai (CAI), in the words every surface shows.

    With a one-time `download_url` (install_skill's), the steps say how long it works, and Claude.ai's
    sandbox may fetch it; the skill page's download button needs neither.
    """
    commands = claude_code_commands(skill.plugin)
    package = packaging.package_name(skill)
    if commands["add"]:
        claude_code = [commands["add"], commands["install"]]
    else:
        claude_code = [
            "This marketplace is read from a folder on the Skillport server, so Claude Code cannot add it "
            f"directly; install the .skill package instead: unzip {package} into ~/.claude/skills/."
        ]
    claude_code.append(f"Restart Claude Code; the skill is then available as {skill.plugin.name}:{skill.slug}.")
    where = f" from the link (it works once, for {settings.SKILLPORT_INSTALL_LINK_SECONDS // 60} minutes)"
    upload = [
        f"Download {package}{where if download_url else ''}. Do not unzip it.",
        "Open Settings › Capabilities › Skills, and turn on code execution if it is off.",
        f"Upload {package}, check that the skill is switched on, then start a new conversation.",
    ]
    sandbox = [f"Or, in a conversation with code execution, fetch it into the sandbox with: "
               f"curl -fsSL -o {package} '{download_url}'"] if download_url else []
    return {"CC": claude_code, "CD": upload, "CAI": upload + sandbox}


def issue_link(skill, user, *, surface, client=None, request=None, extra=None):
    """A one-time link to `skill`'s package for `user`, and its InstallLink; raises Refused when policy prohibits it.

    Both the refusal and the issued link are audited, naming the caller by `request` (the API) or by
    `surface` and `client` (the connector); `extra` goes into both events.
    """
    who = {"request": request, "actor": user, "surface": surface, "client": client}
    refused = policy.refusal(skill, extra=extra, **who)
    if refused:
        raise Refused(refused)
    link, token = InstallLink.issue(user, skill, surface=surface, client=client or ("", ""))
    record(Action.INSTALL_LINK_ISSUED, target=skill, extra={"expires_at": link.expires_at.isoformat(), **(extra or {})},
           **who)
    return absolute_url(reverse("connector:download", args=[token])), link
