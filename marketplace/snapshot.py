"""A marketplace repository as read: the Snapshot of its plugins, skills and files, and the constants its readers share."""
from dataclasses import dataclass, field

from . import manifest
from .problems import Problem, Problems
from .spoofing import spoofing_problem
from .tree import Tree

DEFAULT_CATALOG_PATH = ".claude-plugin/marketplace.json"
JUNK_DIRS = {"__pycache__", "node_modules", ".git"}
LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"
# The other plugins a plugin's folder may hold (PluginData.holds) before the reader names none of them, only
# HOLDS_TOO_MANY (no plugin is named so), and curated catalogues leave it out unchecked.
MOST_HELD = 100
HOLDS_TOO_MANY = "*"
# The problem a plugin, and each skill of it, has where links lead out of its folder (reader._report_links_out).
LINKS_OUT = "links-out-of-plugin"
# The problem a plugin, and each skill of it, has where a checkout rewrites some of its files (gitattributes.py).
REWRITES = "checkout-rewrites"
ALL_SURFACES = ["claude_code", "claude_desktop", "claude_ai"]
# Problems that leave part of a plugin unread or unloaded (the rest say how it is named or described).
NOT_READ_CODES = {
    "skill-md-unreadable", "symlink-escape", "submodule", "path-traversal", "duplicate-skill-name",
    "access-json-invalid", "unsafe-file-name", "folder-too-deep", "json-too-deep", "name-too-long", "path-too-long",
    "unstorable-text", "unread-files",
}



def is_junk(path: str) -> bool:
    """Build output, dependencies and OS litter: never read into a skill, packaged or published."""
    parts = path.split("/")
    return bool(JUNK_DIRS & set(parts[:-1])) or parts[-1] == ".DS_Store" or path.endswith(".pyc")


@dataclass
class FileData:
    path: str  # relative to the skill folder
    mode: str
    size: int
    sha: str
    omitted: str = ""  # why the content was not stored, if it was not
    is_binary: bool = False


@dataclass
class SkillData:
    folder: str  # path of the skill folder inside its source repository
    folder_name: str
    content_hash: str
    files: list
    problems: list
    known: bool = False  # the caller already has this exact content; nothing else was read
    name: str = ""
    slug: str = ""
    direct: bool = False  # a skills path points at its folder, not at a folder of skill folders
    command: str = ""  # what Claude Code calls it, `<plugin>:<skill>` (discovery.command)
    description: str = ""
    frontmatter: dict = field(default_factory=dict)
    frontmatter_raw: str = ""
    body: str = ""
    verdicts: dict = field(default_factory=dict)
    tree: Tree | None = field(default=None, repr=False)  # where the files are read from
    plugin: "PluginData | None" = field(default=None, repr=False)
    where: str = ""  # the location its problems name
    links_out: list = field(default_factory=list)  # its plugin's links_out that lead to it, or lie in it
    rewrites: str = ""  # what a checkout rewrites of its files, in words (gitattributes.Rewritten.listed)


@dataclass
class PluginData:
    name: str
    index: int
    entry: dict
    source: manifest.Source | None
    manifest: dict | None = None
    display: dict = field(default_factory=dict)
    version: str = ""
    commit: str = ""
    root: str = ""  # the plugin folder inside its source repository
    readme: str = ""  # its README.md, as Markdown
    failed: bool = False  # could not be read this time: keep whatever was synced before
    loads: bool = True  # would Claude Code load it at all?
    refusal: str = ""  # why it would not, in words for the skills' verdicts
    installs: bool = True  # would `claude plugin install` take it (it may still not load)? Its dependents ask
    own_content: dict = field(default_factory=dict)  # what it installs besides its skills (plugincontent)
    own_hash: str = ""  # its digest
    holds: list = field(default_factory=list)  # the other plugins its folder holds, or holds a skill of
    links_out: list = field(default_factory=list)  # its links leading out of its folder (Tree.links_leaving)
    rewritten: object = field(default=None, repr=False)  # what a checkout rewrites (gitattributes.Rewritten), if known
    tree: object = field(default=None, repr=False)  # the tree it was read from (None: not read)
    skill_folders: dict = field(default_factory=dict)  # its skills' folders in `tree` (discovery), read into `skills`
    surfaces: list = field(default_factory=lambda: list(ALL_SURFACES))
    skills: list = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)

    @property
    def claude_code_name(self) -> str:
        """The name Claude Code gives the plugin's skills and commands: its plugin.json's, else its entry's. Not one
        that hides or imitates characters, which Skillport's pages would show as the command to type (the
        plugin-name-differs warning names it)."""
        name = (self.manifest or {}).get("name")
        if not isinstance(name, str) or not name or name == self.name:
            return self.name
        refused = " " in name or manifest.MANIFEST_NAME_CONTROLS.search(name) or spoofing_problem(name, "")
        return self.name if refused else name

    def where(self, path: str) -> str:
        """The location problems name for `path` inside the plugin's source repository."""
        if self.source and self.source.fetched:
            return f"{self.source.url}@{self.commit[:12]}:{path}"
        return path


@dataclass
class Snapshot:
    commit: str
    catalog: manifest.Catalog
    plugins: list
    access: dict | None  # None: present but unreadable
    fingerprint: str
    unreachable_skill_files: int = 0

    @property
    def incomplete(self) -> bool:
        """Something the repository holds was not read, or does not load in Claude Code: a sync of
        it is `partial` (README, "Sync statuses"). Naming and metadata errors alone are not."""
        return (
            self.catalog.dropped > 0
            or self.access is None
            or any(plugin.failed or not plugin.loads for plugin in self.plugins)
            or any(problem.code in NOT_READ_CODES for problem in self.problems)
        )

    @property
    def problems(self) -> list[Problem]:
        found = list(self.catalog.problems)
        for plugin in self.plugins:
            found += plugin.problems
            for skill in plugin.skills:
                found += skill.problems
        return found
