"""A skill's provenance: the files Skillport serves of it, each with its SHA-256, and one digest of them all.

The manifest has the shape of the MCP Skills extension's (SEP-2640) `resources`: for each file,
`{uri, digest: "sha256:<hex>", size}`, the URI named as the connector names its resources
(`skill://<marketplace>/<plugin>/<skill>/<path>`), plus `path` inside the skill folder. The files
are those every surface serves: stored content (not files left out by size limits), without junk
and unsafe names, as the `.skill` package and published copies hold them.

The extension defines no digest of a whole skill, so ours is defined to be checkable with
coreutils alone (docs/provenance.md): "sha256:" and the SHA-256 of the lines `<hex>  <path>\\n`,
one per file, sorted by path bytewise, which is what `sha256sum` prints for those files run from
the skill folder. It depends only on paths and bytes, not on where the skill is served, so a skill
folder has one digest in every marketplace, package and copy. Paths never hold the backslashes or
newlines that make `sha256sum` escape a line: syncs refuse such names (tree.is_clean_path).
"""
import hashlib
import os
from pathlib import Path

from django.db import connection

from .models import Blob, SkillFile
from .snapshot import is_junk
from .tree import is_clean_path

PREFIX = "sha256:"


def uri(skill, path: str) -> str:
    return f"skill://{skill.identifier}/{path}"


def manifest(skill) -> list[dict]:
    """[{path, uri, digest, size}] of the files served for `skill`, sorted by path."""
    return of(skill)["files"]


def of(skill, files=None) -> dict:
    """{digest, files}: the digest and the manifest, from one query (the skill page, the API, the connector).

    `files`: the skill's SkillFile rows with their blob's `blob_size` and `blob_sha256` (rows.skill_files),
    when the caller reads them anyway: then no query of its own."""
    if files is None:
        files = served(skill.pk)[skill.pk]
    else:
        files = _by_skill([(skill.pk, f.path, f.blob_size, f.blob_id, f.blob_sha256) for f in files if f.blob_id],
                          [skill.pk])[skill.pk]
    return {"digest": digest_of((path, sha256) for path, _size, sha256 in files),
            "files": [{"path": path, "uri": uri(skill, path), "digest": PREFIX + sha256, "size": size}
                      for path, size, sha256 in files]}


def digest(skill) -> str:
    return digests([skill.pk])[skill.pk]


def digests(skill_ids) -> dict[int, str]:
    """{skill id: digest} for many skills, in one query."""
    return {pk: digest_of((path, sha256) for path, _size, sha256 in files) for pk, files in served(*skill_ids).items()}


def digest_of(files) -> str:
    """The digest of (path, sha256 hex) pairs: the SHA-256 of `sha256sum`'s lines for them, sorted by path."""
    lines = "".join(f"{sha256}  {path}\n" for path, sha256 in sorted(files, key=lambda item: item[0]))
    # surrogateescape: a name read from a disk that is not UTF-8 still hashes (and mismatches).
    return PREFIX + hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def served(*skill_ids) -> dict[int, list[tuple[str, int, str]]]:
    """{skill id: [(path, size, sha256 hex)]} sorted by path, for every id asked (a skill without files: [])."""
    # Written out: on a skill page the ORM's compiling of this join cost three times its running.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT f.skill_id, f.path, b.size, b.sha, b.sha256 FROM {SkillFile._meta.db_table} f "
                       f"JOIN {Blob._meta.db_table} b ON b.sha = f.blob_id WHERE f.skill_id = ANY(%s)",
                       [list(skill_ids)])
        rows = cursor.fetchall()
    return _by_skill(rows, skill_ids)


def _by_skill(rows, skill_ids) -> dict[int, list[tuple[str, int, str]]]:
    """`served`'s answer from (skill id, path, blob size, blob sha, blob sha256) rows of stored files."""
    missing = {sha for _skill, _path, _size, sha, sha256 in rows if not sha256}
    filled = _fill(missing) if missing else {}
    found = {pk: [] for pk in skill_ids}
    for skill_id, path, size, sha, sha256 in sorted(rows, key=lambda row: row[1]):
        if is_clean_path(path) and not is_junk(path):
            found[skill_id].append((path, size, sha256 or filled[sha]))
    return found


def _fill(shas) -> dict[str, str]:
    """Hash blobs stored before Blob.sha256 existed (migration 0016 fills them; a sync of old code
    during an upgrade may still write some): PostgreSQL hashes them in place, once."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Blob._meta.db_table} SET sha256 = encode(sha256(content), 'hex') "
                       "WHERE sha = ANY(%s) RETURNING sha, sha256", [list(shas)])
        return dict(cursor.fetchall())


def folder(root: Path) -> dict[str, tuple[int, str]]:
    """{path: (size, sha256 hex)} of the files under `root` (an installed skill), junk left out.

    A symlink to a file is read as that file, as `sha256sum` reads it; symlinked folders are not
    entered (a link loop would never end)."""
    found = {}
    for current, _dirs, names in os.walk(root):
        for name in names:
            full = Path(current, name)
            path = full.relative_to(root).as_posix()
            if full.is_file() and not is_junk(path):
                content = full.read_bytes()
                found[path] = (len(content), hashlib.sha256(content).hexdigest())
    return found
