"""How to install from a marketplace in Claude Code: the commands every surface shows."""
from urllib.parse import urlsplit

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
