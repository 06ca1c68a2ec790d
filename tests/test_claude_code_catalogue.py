"""Claude Code itself reads a member's curated catalogue with their catalogue token, declared as the pages say
(~/.claude/settings.json, extraKnownMarketplaces with headers), and installs a plugin from it: the pinned CLI.
Once the token is revoked, Claude Code can no longer refresh the catalogue."""
import subprocess

import pytest
from oauth2_provider.models import AccessToken

from connector.tokens import CATALOGUE_CLIENT_NAME, CATALOGUE_SCOPE, catalogue_resource, issue
from marketplace import install

from .builders import catalog, plugin_entry, skill_md
from .gitservers import Listener
from .test_claude_code_oracle import CLAUDE, claude_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_claude_code_installs_a_plugin_from_the_curated_catalogue_with_the_token(live_server, make_repo,
                                                                                  synced_marketplace, people, tmp_path,
                                                                                  settings):
    assert CLAUDE.exists(), f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it"
    settings.SKILLPORT_BASE_URL = live_server.url
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = True  # Claude Code on this machine clones the repository's folder
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="acme-skills"),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
    })
    market = synced_marketplace(repo, slug="acme")  # read from a folder, which the catalogue gives as a file:// URL
    _, raw = issue(people["member"], scope=CATALOGUE_SCOPE, ttl=3600, resource=[catalogue_resource()],
                   client_name=CATALOGUE_CLIENT_NAME)
    home = tmp_path / "home"
    env = claude_env(home)
    (home / ".claude").mkdir(parents=True)
    (home / ".claude/settings.json").write_text(install.claude_code_settings([market], raw))

    def claude(*args):
        return subprocess.run([CLAUDE, *args], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=180)

    # Claude Code registers the marketplaces its settings declare as it starts, in the background, fetching the
    # catalogue with the declared headers. A -p run whose model never answers (a port that says nothing) gives it
    # the time; it is then stopped.
    silent = Listener()
    env.update(ANTHROPIC_API_KEY="not-a-key", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{silent.port}")
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([CLAUDE, "-p", "hi"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20)
    finally:
        silent.close()
    listed = claude("plugin", "marketplace", "list")
    assert f"{live_server.url}/m/acme/marketplace.json" in listed.stdout, listed.stdout + listed.stderr
    done = claude("plugin", "install", "kit@acme-skills")
    assert done.returncode == 0, done.stdout + done.stderr
    installed = list(home.glob(".claude/plugins/**/skills/postmortem/SKILL.md"))
    assert installed and "Write a blameless incident review." in installed[0].read_text()

    AccessToken.objects.all().delete()  # revoked
    refreshed = claude("plugin", "marketplace", "update", "acme-skills")
    assert refreshed.returncode != 0 and "401" in refreshed.stdout + refreshed.stderr, refreshed.stdout + refreshed.stderr
