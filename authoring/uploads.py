"""A skill uploaded in the browser, as a `.skill` package (ZIP) or a chosen folder, read into its files.

Everything here comes from someone's upload, so nothing in it is trusted: a ZIP's sizes and counts
are headers anyone can write, names can climb out of the folder (`..`, `/etc`, `C:`, backslashes),
hold NULs, repeat, or be symlinks. Each is refused with a sentence naming the file; sizes are
counted while reading, against the limits a sync applies to a skill folder (the settings
SKILLPORT_MAX_FILE_BYTES, SKILLPORT_MAX_SKILL_BYTES and SKILLPORT_MAX_SKILL_FILES).

1. Collect (path, read) pairs: a ZIP's file entries, or each uploaded file with the relative path
   the browser gave it (the page's script sends them, as Django keeps only a file's last name).
2. Check every path (`tree.is_clean_path`, depth, length, duplicates, a file that is also a folder,
   names macOS and Windows take for one: `tree.name_clashes`)
   and leave out litter (`snapshot.is_junk`, macOS's `__MACOSX/`).
3. Find the skill folder: SKILL.md at the top, or one folder at the top holding it (how a package,
   and every chosen folder, arrive); its name is the skill's suggested name.
4. Read each file, counting bytes as they come, within the per-file and total limits.
"""
import json
import lzma
import stat
import zipfile
import zlib
from dataclasses import dataclass

from django.conf import settings

from marketplace.snapshot import is_junk
from marketplace.tree import MAX_DEPTH, is_clean_path, name_clashes, unsafe_reason

CHUNK = 64 * 1024
# Filesystems (and so git checkouts) refuse longer names.
MAX_NAME_BYTES = 255
# A ZIP's central directory lists every entry; ZipFile reads it all before anything can be counted,
# so its size is checked first. Generous: an entry takes 46 bytes plus its name and extras.
MAX_DIRECTORY_BYTES_PER_ENTRY = 1024
# macOS's Archive Utility adds resource forks under this folder to every ZIP it makes.
MACOS_FORKS = "__MACOSX"


class Unreadable(ValueError):
    """The upload cannot be read as a skill; str(e) tells the person who sent it why."""


@dataclass
class Folder:
    name: str  # the skill folder's name as uploaded ("" when SKILL.md was at the top of a ZIP)
    files: dict[str, bytes]  # path relative to the skill folder -> content
    # The paths a ZIP marks executable (a browser sends no file modes: a folder's files are not).
    executable: frozenset = frozenset()


def read_package(upload) -> Folder:
    """The skill in a `.skill` package (or any ZIP of one skill folder), `upload` a Django UploadedFile."""
    if upload.size > settings.SKILLPORT_MAX_UPLOAD_BYTES:
        raise Unreadable(f"{upload.name} is {upload.size:,} bytes; a skill package may be at most "
                         f"{settings.SKILLPORT_MAX_UPLOAD_BYTES:,}.")
    try:
        directory = zipfile._EndRecData(upload)  # the record ZipFile reads first; private but long stable
        if directory is None:
            raise zipfile.BadZipFile
        if directory[zipfile._ECD_SIZE] > _max_entries() * MAX_DIRECTORY_BYTES_PER_ENTRY:
            raise Unreadable(f"{upload.name} lists more entries than a skill may have "
                             f"(at most {settings.SKILLPORT_MAX_SKILL_FILES:,} files).")
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            return _read(list(_package_entries(archive)))
    except Unreadable:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, zlib.error,
            lzma.LZMAError) as exc:
        # A lying header or damaged data shows while reading (a CRC or size that does not match).
        raise Unreadable(f"{upload.name} could not be read as a ZIP file (a .skill package is one): "
                         "it is damaged or not a ZIP.") from exc


def read_folder(uploads, paths_json: str) -> Folder:
    """The skill in a chosen folder: `uploads` its files (Django UploadedFiles, in the order sent) and
    `paths_json` the JSON list of their paths inside the chosen folder, as the page's script sends it."""
    try:
        paths = json.loads(paths_json or "null")
    except ValueError:
        paths = None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths) or len(paths) != len(uploads):
        raise Unreadable("The folder's file names did not arrive with its files. Uploading a folder needs "
                         "JavaScript in this page; choose the folder again, or upload a .skill package.")
    if not uploads:
        raise Unreadable("The chosen folder holds no files.")
    entries = []
    for path, upload in zip(paths, uploads):
        # Django counted what arrived, so the size is real, not a claim.
        entries.append(_Entry(path, upload.size, _chunks_of(upload)))
    return _read(entries)


@dataclass
class _Entry:
    path: str
    declared_size: int  # for an early refusal only; reading counts again
    read: object  # () -> iterator of byte chunks
    executable: bool = False


def _chunks_of(file):
    def chunks():
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk
    return chunks


def _package_entries(archive):
    if len(archive.infolist()) > _max_entries():
        raise Unreadable(f"The package holds more than {settings.SKILLPORT_MAX_SKILL_FILES:,} files, the most a "
                         "skill may have.")
    for info in archive.infolist():
        name = info.orig_filename  # ZipInfo.filename is cut at a NUL; the original shows it
        if info.is_dir():
            continue
        if "\x00" in name:
            raise Unreadable(f"{name.split(chr(0))[0]!r} has a NUL character in its name in the package.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise Unreadable(f"{name!r} is a symbolic link; a skill package may hold only files and folders.")
        if info.flag_bits & 0x1:
            raise Unreadable(f"{name!r} is encrypted in the package; upload it without a password.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                      zipfile.ZIP_LZMA):
            raise Unreadable(f"{name!r} is compressed in a way this ZIP reader does not know; "
                             "make the package with zip's usual compression (deflate).")
        yield _Entry(name, info.file_size, lambda info=info: _zip_chunks(archive, info),
                     executable=bool((info.external_attr >> 16) & 0o111))


def _zip_chunks(archive, info):
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            yield chunk


def _read(entries: list[_Entry]) -> Folder:
    kept = []
    for entry in entries:
        path = entry.path
        parts = path.split("/")
        if is_junk(path) or parts[0] == MACOS_FORKS:
            continue  # litter, such as the .git folder of a zipped checkout: never read, whatever its names
        if not is_clean_path(path):  # an absolute path starts with an empty name, refused too
            bad = next(part for part in parts if not is_clean_path(part))
            raise Unreadable(f"{path!r} is not a safe file name: {unsafe_reason(bad)}.")
        if len(parts) > MAX_DEPTH:
            raise Unreadable(f"{path!r} is nested more than {MAX_DEPTH} folders deep.")
        if any(len(part.encode()) > MAX_NAME_BYTES for part in parts):
            raise Unreadable(f"{path!r} has a name longer than {MAX_NAME_BYTES} bytes.")
        kept.append(entry)
    root = _skill_root([entry.path for entry in kept])
    entries = [e for e in kept if e.path.startswith(root)]
    if len(entries) > settings.SKILLPORT_MAX_SKILL_FILES:
        raise Unreadable(f"The skill holds {len(entries):,} files; a skill may have at most "
                         f"{settings.SKILLPORT_MAX_SKILL_FILES:,}.")
    if clashes := name_clashes(entry.path.removeprefix(root) for entry in entries):
        raise Unreadable(f"{clashes[0]}.")
    files, executable, total = {}, set(), 0
    for entry in entries:
        path = entry.path.removeprefix(root)
        if path in files:
            raise Unreadable(f"{path!r} appears twice in the upload.")
        if entry.declared_size > settings.SKILLPORT_MAX_FILE_BYTES:  # said so before reading it
            raise Unreadable(f"{path!r} is larger than {settings.SKILLPORT_MAX_FILE_BYTES:,} bytes, "
                             "the most one file of a skill may hold.")
        content = bytearray()
        for chunk in entry.read():
            content += chunk
            if len(content) > settings.SKILLPORT_MAX_FILE_BYTES:
                raise Unreadable(f"{path!r} is larger than {settings.SKILLPORT_MAX_FILE_BYTES:,} bytes, "
                                 "the most one file of a skill may hold.")
            if total + len(content) > settings.SKILLPORT_MAX_SKILL_BYTES:
                raise Unreadable(f"The skill's files add up to more than {settings.SKILLPORT_MAX_SKILL_BYTES:,} "
                                 "bytes, the most a skill may hold.")
        files[path] = bytes(content)
        total += len(content)
        if entry.executable:
            executable.add(path)
    _refuse_file_and_folder(files)
    return Folder(name=root.rstrip("/"), files=files, executable=frozenset(executable))


def _skill_root(paths: list[str]) -> str:
    """"" when SKILL.md is at the top, "<folder>/" when one folder at the top holds it."""
    if "SKILL.md" in paths:
        return ""
    tops = {path.split("/", 1)[0] for path in paths if "/" in path}
    if len(tops) == 1 and f"{(top := tops.pop())}/SKILL.md" in paths and all("/" in path for path in paths):
        return f"{top}/"
    if not paths:
        raise Unreadable("The upload holds no files.")
    raise Unreadable("The upload has no SKILL.md at the top of its skill folder: upload the folder that holds "
                     "SKILL.md (or a package of it), not the folder above it.")


def _refuse_file_and_folder(files):
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in files:
                raise Unreadable(f"{'/'.join(parts[:depth])!r} is both a file and a folder in the upload.")


def _max_entries() -> int:
    # Folders and litter are entries too; past this, the package is refused before anything is read.
    return 4 * settings.SKILLPORT_MAX_SKILL_FILES
