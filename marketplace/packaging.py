"""Build a skill's `.skill` package (FORMAT.md §5): a deterministic ZIP, cached on disk by content."""
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse

from . import updates
from .models import SkillFile
from .snapshot import is_junk
from .tree import is_clean_path

log = logging.getLogger(__name__)

# Bump whenever the bytes a package would hold change for the same content (layout, manifest,
# exclusions, zip settings), so packages cached under the old rules are never served again.
PACKAGE_FORMAT_VERSION = 2
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib's default: close to level 9's size at a fraction of its time. Fixed so output never drifts.
COMPRESS_LEVEL = 6
PLUGIN_JSON = ".claude-plugin/plugin.json"


def package_name(skill) -> str:
    return f"{skill.slug}.skill"


def build_package(skill) -> bytes:
    return package_path(skill).read_bytes()


def package_path(skill) -> Path:
    """The cached package file for `skill`, built first if needed; views can stream it as is.

    Packages can be megabytes, so they live on disk rather than in the cache backend. The key
    covers everything the bytes depend on: stored file content is fixed by the content hash,
    the rest (folder name, plugin.json) is hashed in directly.
    """
    manifest = plugin_manifest(skill)
    material = json.dumps([PACKAGE_FORMAT_VERSION, skill.slug, skill.content_hash, manifest], sort_keys=True)
    path = Path(settings.SKILLPORT_DATA_DIR) / "packages" / f"{hashlib.sha256(material.encode()).hexdigest()}.skill"
    if not path.exists():
        _write_atomically(path, _zip(skill, manifest))
    return path


def download(skill) -> FileResponse:
    """The package as a download, for every surface that hands one out."""
    return FileResponse(package_path(skill).open("rb"), as_attachment=True, filename=package_name(skill),
                        content_type="application/zip")


def plugin_manifest(skill) -> dict:
    """The plugin.json written beside the skill, so `check_updates` can read back what was installed.

    The plugin's own manifest when it has one, else one built from the plugin row. `version` is
    always the version Claude Code would use (manifest, else entry, else commit), because a
    manifest without one would leave the installed version unknowable. The `skillport` key ties
    the installed copy to its exact source; Claude Code ignores keys it does not know.
    """
    plugin = skill.plugin
    if plugin.served_manifest:  # not one whose servers or hooks still wait for an admin
        manifest = dict(plugin.served_manifest)
    else:
        manifest = {"name": plugin.name, "description": plugin.description}
        if plugin.author:
            manifest["author"] = plugin.author
    version, commit = updates.served(skill)  # not a version or commit that still waits for an admin
    if version:
        manifest["version"] = version
    manifest["skillport"] = {
        "marketplace": plugin.marketplace.slug,
        "plugin": plugin.name,
        "skill": skill.slug,
        "commit": commit,
        "content_hash": skill.content_hash,
    }
    return manifest


def _zip(skill, manifest) -> bytes:
    # One query for every file and its content; files without a blob were omitted by size limits.
    rows = SkillFile.objects.filter(skill=skill, blob__isnull=False).values_list("path", "mode", "blob__content")
    entries = {path: (mode == "100755", bytes(content)) for path, mode, content in rows if not is_junk(path)}  # rows stored before the reader skipped junk
    # A skill that ships its own plugin.json knows best; never write a second one.
    entries.setdefault(PLUGIN_JSON, (False, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(entries):
            executable, content = entries[path]
            name = f"{skill.slug}/{path}"
            if not is_clean_path(name):
                # Syncs refuse such names (tree.py); checked again where names are made, so no row,
                # whenever it was stored, can put an entry outside the skill folder when unpacked.
                log.warning("package of skill %s leaves out %r: not a clean relative path", skill.pk, name)
                continue
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so unzip honours the permission bits on every host
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes):
    # A download sees the whole package or none; two workers building one key write the same bytes.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
