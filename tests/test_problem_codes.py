"""Every problem code a sync or a publish can report is in README's problem-code table, with its fix."""
import re

from django.conf import settings

# Where a code is written: problems.error("code", ...), CatalogError("code", ...), Problem(SEVERITY, "code", ...),
# a ("code", message) pair returned for a caller to record, and the codes a helper picks.
CODE_WRITTEN = re.compile(
    r'(?:\.(?:error|warning|info)\(\s*|CatalogError\(\s*|Problem\([A-Z]+, |wrong\(|code = |return \(\s*|\(\s*)'
    r'"([a-z]+(?:-[a-z0-9]+)+)"'
)
PUBLISH_CODE_WRITTEN = re.compile(r'(?:\.(?:error|warning|info)\(\s*|"code": )"([a-z]+(?:-[a-z0-9]+)+)"')
# Strings of the same shape that are not codes: a source kind, examples, names, encodings, walk events, a
# frontmatter key, the `engines` key of Claude Code.
NOT_CODES = {"git-subdir", "my-plugin", "my-skill", "skills-dir", "claude-plugin-test", "utf-8", "utf-16", "utf-16-le",
             "too-deep", "unsafe-name", "cisco-json", "allowed-tools", "claude-code", "disable-model-invocation"}


def test_readme_lists_every_problem_code():
    readme = (settings.BASE_DIR / "README.md").read_text()
    table = readme[readme.index("### Problem codes"):]
    listed = set(re.findall(r"`([a-z]+(?:-[a-z0-9]+)+)`", table.split("\n\n## ")[0]))
    written = set()
    for path in (settings.BASE_DIR / "marketplace").rglob("*.py"):
        written |= set(CODE_WRITTEN.findall(path.read_text()))
    # Publishing writes its problems through Problems or as {"code": ...} on a run, beside HTTP header names.
    for path in (settings.BASE_DIR / "publishing").rglob("*.py"):
        written |= set(PUBLISH_CODE_WRITTEN.findall(path.read_text()))
    assert written - NOT_CODES, "no code found: the pattern no longer matches how problems are written"
    assert sorted(written - NOT_CODES - listed) == []
