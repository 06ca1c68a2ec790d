"""Apps do not reach into each other: each imports only the apps it builds on (issue 16)."""
import ast
from pathlib import Path

import pytest
from django.conf import settings

APPS = ["marketplace", "connector", "audit", "api", "publishing", "authoring"]


def imported_apps(app: str) -> dict[str, set[str]]:
    """Which of our apps each module of `app` imports (at the top or inside a function), by module path."""
    found = {}
    for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        apps = {name.split(".")[0] for name in names} & (set(APPS) - {app})
        if apps:
            found[path.relative_to(settings.BASE_DIR).as_posix()] = apps
    return found


# Who may not import whom. Every app may import audit (its one writer, its admin classes) and the
# catalogue; the connector and the API build on both, and only the site's URL map routes the API.
# Authoring builds on the catalogue and audit alone; the connector offers its tools.
FORBIDDEN = {"marketplace": {"connector", "api", "publishing", "authoring"},
             "audit": {"connector", "api", "publishing", "authoring"},
             "connector": {"api", "publishing"}, "publishing": {"connector", "api", "authoring"},
             "authoring": {"connector", "api", "publishing"}}


@pytest.mark.parametrize("app", FORBIDDEN)
def test_apps_import_only_what_they_build_on(app):
    # Bearer tokens reach the marketplace's curated catalogue as `request.bearer` (connector.authentication).
    assert {path: apps for path, apps in imported_apps(app).items() if apps & FORBIDDEN[app]} == {}
