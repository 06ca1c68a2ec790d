"""Read the skills of a plugin: list and hash each skill folder, then read and judge the new ones.

1. `scan` lists a folder's files from the tree and hashes them, with the size and count limits
   applied; a hash the caller already knows is not read further.
2. `read_new` reads the blobs of every new skill once (handing new content to the blob sink),
   parses its SKILL.md, and gives it three verdicts with reasons.
"""
import bisect
import hashlib
import posixpath
from contextlib import closing

from django.conf import settings
from django.utils.text import slugify

from . import discovery, skillmd, verdicts
from .discovery import CLAUDE_CODE_SKILL_MD_BYTES
from .problems import Problem, Problems
from .snapshot import LFS_HEADER, LINKS_OUT, REWRITES, FileData, SkillData, is_junk
from .spoofing import spoofing_problem
from .tree import MAX_DEPTH, SHORT_NAME_REASON, span, unsafe_reason

# Claude Code (2.1.332) ignores a longer frontmatter `name`: "is over 256 characters - ignoring it".
CLAUDE_CODE_NAME_CHARS = 256


def scan(tree, folder, plugin, known_skills) -> SkillData:
    """List a skill folder's files and hash them; no file content is read here. A hash in
    `known_skills` (content hash -> name, slug and problems) is taken as read: nothing else is."""
    problems = Problems()
    where = plugin.where(folder or ".")

    def on_problem(kind, rel):
        messages = {
            "escape": ("symlink-escape", error, f"Symlink '{rel}' points outside the repository; not read"),
            "broken": ("symlink-broken", warning, f"Symlink '{rel}' points to nothing"),
            "submodule": ("submodule", warning, f"'{rel}' is a git submodule; its content is not in this repository"),
            "unsafe-name": ("unsafe-file-name", error,
                            f"{rel!r} is not a safe file name ({unsafe_reason(rel.rpartition('/')[2])}); not read"),
            "same-name": ("unsafe-file-name", error,
                          f"{rel!r} is the same name as another in its folder on macOS and Windows, which do not tell "
                          "letters' case (or accents' composition) apart: one would overwrite the other there; "
                          "neither is read"),
            "short-name": ("unsafe-file-name", error, f"{rel!r} {SHORT_NAME_REASON}; not read"),
            "too-deep": ("folder-too-deep", error,
                         f"'{rel}' is nested more than {MAX_DEPTH} folders deep; nothing below it is read"),
        }
        code, add, message = messages[kind]
        add(code, message, where)
        skipped.append(f"{kind} {rel}")

    error, warning = problems.error, problems.warning
    skipped = []  # escaping or broken links and submodules change what the skill is too
    files = []
    for rel, entry in tree.walk(folder, on_problem):
        if is_junk(rel):
            continue  # never part of a skill package (FORMAT.md §5)
        files.append(FileData(rel, entry.mode, entry.size, entry.sha))
    files.sort(key=lambda f: (f.path != "SKILL.md", f.path))
    _apply_limits(files, problems, where)
    folder_name = posixpath.basename(folder) or plugin.name
    material = "\n".join([folder_name, *skipped, *(f"{f.mode} {f.sha} {f.size} {f.omitted} {f.path}" for f in files)])
    if plugin.refusal:  # the same files in a plugin Claude Code refuses are a skill that does not load
        material += f"\nrefused {plugin.refusal}"
    # The plugin's links out of its folder that lead to the skill or lie in it: installed with the plugin through
    # Skillport, it comes without them (reader._report_links_out), and its install steps say to take it on its own.
    links_out = _links_out(plugin.links_out, folder)
    if links_out:
        material += "\nlinks out " + "\n".join(links_out)
    # And the files of it a checkout rewrites (reader._find_rewritten): its installed copy differs from what was read.
    rewrites = plugin.rewritten.listed(folder) if plugin.rewritten is not None else ""
    if rewrites:
        material += f"\nrewritten {rewrites}"
    content_hash = hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()
    skill = SkillData(folder, folder_name, content_hash, files, problems,
                      direct=plugin.skill_folders.get(folder, False))
    known = known_skills.get(content_hash)
    if known is not None:
        skill.known = True
        skill.name, skill.slug = known["name"], known["slug"]
        skill.command = discovery.command(plugin.claude_code_name, folder_name, skill.name if skill.direct else None)
        skill.problems = [Problem(**p) for p in known["problems"]]
    skill.tree, skill.plugin, skill.where, skill.links_out, skill.rewrites = tree, plugin, where, links_out, rewrites
    return skill


def _links_out(links, folder) -> list[str]:
    """Those of `links` (sorted) that are `folder`, or a folder it lies in, or lie in it: looked up, as a hostile
    plugin may hold thousands of links and skills."""
    if not links:
        return []
    found, path = [], folder
    while path:
        if (at := bisect.bisect_left(links, path)) < len(links) and links[at] == path:
            found.append(path)
        path = posixpath.dirname(path)
    return found + links[span(links, folder)]


def _apply_limits(files, problems, where):
    total, kept = 0, 0
    for f in files:
        if kept >= settings.SKILLPORT_MAX_SKILL_FILES:
            f.omitted = "too-many-files"
        elif f.size > settings.SKILLPORT_MAX_FILE_BYTES:
            f.omitted = "file-too-large"
            problems.warning(
                "file-too-large",
                f"'{f.path}' is {f.size} bytes, over the {settings.SKILLPORT_MAX_FILE_BYTES}-byte file limit; not stored",
                where,
            )
        elif total + f.size > settings.SKILLPORT_MAX_SKILL_BYTES:
            f.omitted = "skill-too-large"
        else:
            total += f.size
            kept += 1
    over_count = sum(f.omitted == "too-many-files" for f in files)
    if over_count:
        problems.warning(
            "too-many-files",
            f"Skill has more than {settings.SKILLPORT_MAX_SKILL_FILES} files; {over_count} not stored",
            where,
        )
    over_size = sum(f.omitted == "skill-too-large" for f in files)
    if over_size:
        problems.warning(
            "skill-too-large",
            f"Skill is over the {settings.SKILLPORT_MAX_SKILL_BYTES}-byte skill limit; {over_size} file(s) not stored",
            where,
        )


def read_new(plugins, blob_sink, progress):
    """Read blobs and parse SKILL.md for every skill whose content hash is new."""
    new = [s for p in plugins for s in p.skills if not s.known]
    shas = list({f.sha for s in new for f in s.files if not f.omitted})
    known_blobs = blob_sink.known(shas)
    by_tree = {}  # one request to git per repository for all the blobs read below
    for skill in new:
        by_tree.setdefault(id(skill.tree), []).append(skill)
    done = 0
    for skills in by_tree.values():
        with closing(skills[0].tree.read_blobs(_to_read(skills, known_blobs))) as contents:
            for skill in skills:
                if done % 50 == 0:
                    progress("skills", done, len(new))
                _read_skill(skill, known_blobs, blob_sink, contents)
                done += 1
    blob_sink.flush()
    progress("skills", len(new), len(new))
    for plugin in plugins:
        _dedupe(plugin)


def _to_read(skills, known_blobs):
    """The blobs _read_skill will ask `contents` for, in its order: each SKILL.md, and any other file
    whose content is not stored yet, once."""
    known = set(known_blobs)
    for skill in skills:
        for f in skill.files:
            if not f.omitted and (f.path == "SKILL.md" or f.sha not in known):
                known.add(f.sha)
                yield f.sha


def _read_skill(skill, known_blobs, blob_sink, contents):
    """Read and judge one skill; `contents` yields (sha, content) of the files _to_read chose."""
    plugin = skill.plugin
    problems = Problems(skill.problems)
    where = plugin.where(skill.folder or ".")
    if skill.links_out:
        inside = f"{skill.folder}/"
        whole = any(not link.startswith(inside) for link in skill.links_out)  # the folder, or one it lies in
        problems.warning(
            LINKS_OUT,
            "Installed with its plugin through Skillport, the skill comes without "
            + ("its folder, reached through a symbolic link out of the plugin's" if whole else
               "these symbolic links out of the plugin's folder: " + ", ".join(
                   link.removeprefix(inside) for link in skill.links_out[:10]))
            + ". Its install steps for Claude Code give it on its own instead; put the files in the plugin's folder",
            where,
        )
    if skill.rewrites:
        problems.warning(
            REWRITES,
            f"The repository's .gitattributes make git rewrite the skill's files as Claude Code checks its plugin out "
            f"({skill.rewrites}): installed with the plugin, the skill is other bytes than Skillport read, scanned and "
            "approved, and its provenance digest does not match; its .skill package holds them as approved",
            where,
        )
    skill_md_raw, unreadable, unloaded = None, "", ""
    for f in skill.files:
        if f.omitted:
            if f.path == "SKILL.md":
                unreadable = "SKILL.md is over the file-size limit"
            continue
        info = known_blobs.get(f.sha)
        if info is not None and f.path != "SKILL.md":
            f.is_binary, is_lfs = info
        else:
            sha, content = next(contents)
            if sha != f.sha:
                raise RuntimeError(f"read {sha} for {f.sha}: _to_read and _read_skill disagree")
            f.is_binary = is_binary(content)
            is_lfs = content.startswith(LFS_HEADER) and f.size < 1024
            if info is None:
                blob_sink.put(f.sha, content, f.is_binary, is_lfs)
                known_blobs[f.sha] = (f.is_binary, is_lfs)
            if f.path == "SKILL.md":
                skill_md_raw = content
        if is_lfs:
            problems.warning(
                "lfs-pointer", f"'{f.path}' is a Git LFS pointer; its content is not in the repository", where
            )
            if f.path == "SKILL.md":
                unreadable = "SKILL.md is a Git LFS pointer"
        elif f.is_binary and f.path == "SKILL.md":
            unreadable = "SKILL.md is a binary file"
    if skill_md_raw is None and not unreadable:
        unreadable = "SKILL.md could not be read"
    if unreadable:
        problems.error("skill-md-unreadable", f"{unreadable}; the skill cannot load", where)
        skill_md_raw = b""
    elif len(skill_md_raw) > CLAUDE_CODE_SKILL_MD_BYTES:
        unloaded = (f"SKILL.md is {len(skill_md_raw):,} bytes, over the {CLAUDE_CODE_SKILL_MD_BYTES:,} Claude Code "
                    "reads, so it skips the skill")
        problems.error("skill-md-too-large", f"{unloaded}: move detail into files the SKILL.md links to", where)
    parsed = skillmd.parse(skill_md_raw)
    for code, message in parsed.repairs:
        problems.warning(code, message, f"{where}/SKILL.md")
    fm = parsed.frontmatter
    name = fm.get("name") if isinstance(fm.get("name"), str) and fm.get("name").strip() else skill.folder_name
    if len(name.encode("utf-16-le")) // 2 > CLAUDE_CODE_NAME_CHARS:  # JavaScript's length
        problems.warning("skill-name-ignored", f"name is over the {CLAUDE_CODE_NAME_CHARS} characters Claude Code "
                         f"reads, so it names the skill for its folder, '{skill.folder_name[:80]}'", where)
        name = skill.folder_name
    skill.name = name.strip()
    skill.command = discovery.command(plugin.claude_code_name, skill.folder_name, skill.name if skill.direct else None)
    spoofed = spoofing_problem(skill.name, "Skill name")
    if spoofed:
        problems.error(*spoofed, where)
    skill.slug = _slug(skill.name) or _slug(skill.folder_name) or skill.content_hash[:12]
    description = fm.get("description")
    silent = "" if unreadable or unloaded else skillmd.not_offered(fm)  # a skill that does not load says so
    if isinstance(description, str) and description.strip():
        skill.description = description.strip()
    elif isinstance(description, (bool, int, float)):  # Claude Code reads these as their text; a list or object not
        skill.description = skillmd.javascript_text(description)
    else:
        skill.description = skillmd.first_paragraph(parsed.body)
        if silent == skillmd.NO_DESCRIPTION:
            problems.warning("description-from-body", "No description in frontmatter, so Claude Code does not offer the "
                             "skill to Claude: it runs only when someone types its command. Add a description saying "
                             "what it does and when to use it" + (
                                 "; Skillport shows its first paragraph" if skill.description else ""), where)
        elif skill.description:
            problems.info("description-from-body", "No description in frontmatter; using the first paragraph", where)
    if not silent and (listed := skillmd.listing_length(skill.description, fm)) > skillmd.LISTING_CHARS:
        problems.warning("description-cut", (
            f"Claude Code offers Claude the description and when_to_use together, cut to {skillmd.LISTING_CHARS:,} "
            f"characters: the last {listed - skillmd.LISTING_CHARS + 1:,} of {listed:,} are never read when Claude "
            "chooses a skill. Say first what the skill does and when to use it, or shorten them"), where)
    skill.frontmatter, skill.frontmatter_raw, skill.body = fm, parsed.frontmatter_raw, parsed.body
    nested = [f.path for f in skill.files if f.path.endswith("/SKILL.md")]
    kept = [f for f in skill.files if not f.omitted]
    cc = verdicts.claude_code(parsed, unreadable or unloaded, spoofed[1] if spoofed else "", plugin.refusal, silent)
    spec = verdicts.agent_skills_spec(parsed, skill.folder_name)
    cai = verdicts.claude_ai(parsed, skill.folder_name, sum(f.size for f in kept), nested,
                             len(skill.files) - len(kept))
    if unreadable:
        spec, cai = (False, [unreadable]), (False, [unreadable])
    skill.verdicts = {
        "claude_code": {"ok": cc[0], "reasons": cc[1]},
        "agent_skills_spec": {"ok": spec[0], "reasons": spec[1]},
        "claude_ai": {"ok": cai[0], "reasons": cai[1]},
    }
    skill.problems = problems


def _dedupe(plugin):
    """Skillport knows a plugin's skills by name (their pages, approvals and installs); Claude Code (2.1.332) by
    folder (command), and loads both of two skills of one name. The second is read as the plugin's other files are
    (plugincontent), so it is still reviewed and scanned before it is served."""
    seen, kept = {}, []
    for skill in plugin.skills:
        if (first := seen.get(skill.slug)) is not None:
            plugin.problems.error(
                "duplicate-skill-name",
                f"Skill '{skill.name}' in '{skill.folder}' has the same name as the one in '{first.folder}'. "
                f"Claude Code loads both, as '{first.command}' and '{skill.command}'; "
                "Skillport lists the first alone (this one is reviewed with the plugin's other files): give each skill "
                "a name of its own",
                plugin.where(skill.folder),
            )
            continue
        seen[skill.slug] = skill
        kept.append(skill)
    plugin.skills = kept


def is_binary(content: bytes) -> bool:
    """Git's rule (a NUL byte early on), except for UTF-16 text, which is full of them."""
    return not content.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\0" in content[:8000]


def _slug(name: str) -> str:
    return slugify(name.replace("/", "-").replace(":", "-"))
