"""How a skill is installed: the commands and steps every surface shows (one-time links: connector.package_links)."""
from urllib.parse import urlsplit

from django.conf import settings

from . import packaging
from .gitrepo import is_local


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
