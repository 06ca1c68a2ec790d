"""A skill uploaded in the browser, as a `.skill` package or a folder: read into files, and every
hostile upload refused with a sentence naming what is wrong (issue 20)."""
import io
import json
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from authoring.uploads import Unreadable, read_folder, read_package
from marketplace import packaging
from marketplace.models import Skill

from .builders import skill_md

SKILL = skill_md("kit", "Does kit things.").encode()


def package(entries, name="kit.skill") -> SimpleUploadedFile:
    """A ZIP of `entries`: {name: bytes}, or a list of (ZipInfo or name, bytes) for repeated or odd entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, content in (entries.items() if isinstance(entries, dict) else entries):
            archive.writestr(entry, content)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def patched(upload, old: bytes, new: bytes) -> SimpleUploadedFile:
    """`upload` with `old` replaced by `new` everywhere (in the local and central headers alike)."""
    data = upload.read()
    assert data.count(old) >= 2
    return SimpleUploadedFile(upload.name, data.replace(old, new))


def refused(read, *args) -> str:
    with pytest.raises(Unreadable) as caught:
        read(*args)
    return str(caught.value)


def folder(files: dict, root="kit"):
    """What the contribute page sends for a chosen folder: its files, and their paths as the page's script lists them."""
    uploads = [SimpleUploadedFile(path.rsplit("/", 1)[-1], content) for path, content in files.items()]
    return uploads, json.dumps([f"{root}/{path}" if root else path for path in files])


# Packages that are fine


@pytest.mark.django_db
def test_a_package_skillport_built_reads_back_as_the_skill(simple_repo, synced_marketplace):
    synced_marketplace(simple_repo)
    alpha = Skill.objects.get(slug="alpha")
    upload = SimpleUploadedFile("alpha.skill", packaging.build_package(alpha))
    found = read_package(upload)
    assert found.name == "alpha"
    # The plugin manifest packaging adds comes back too; proposals leave it out of the change (changes.py).
    assert json.loads(found.files.pop(packaging.PLUGIN_JSON))["skillport"]["skill"] == "alpha"
    assert found.files == {"SKILL.md": skill_md("alpha", "Alpha does A.").encode(),
                           "scripts/run.py": b"print('alpha')\n"}


def test_a_zip_with_skill_md_at_the_top_and_litter_left_out():
    found = read_package(package({"SKILL.md": SKILL, "notes/a.txt": b"a", "__MACOSX/._SKILL.md": b"fork",
                                  ".DS_Store": b"x", "scripts/__pycache__/x.pyc": b"\x00", "bin/tool": b"\x00\x01"}))
    assert found.name == "" and found.files == {"SKILL.md": SKILL, "notes/a.txt": b"a", "bin/tool": b"\x00\x01"}


# Packages that are refused


def test_not_a_zip():
    assert "could not be read as a ZIP" in refused(read_package, SimpleUploadedFile("kit.skill", b"PK\x03\x04 not really"))


def test_no_skill_md_or_the_folder_above_it():
    assert "no SKILL.md at the top" in refused(read_package, package({"kit/README.md": b"x"}))
    assert "not the folder above it" in refused(read_package, package({"skills/kit/SKILL.md": SKILL,
                                                                       "skills/other/SKILL.md": SKILL}))
    assert "holds no files" in refused(read_package, package({"__MACOSX/x": b"x"}))


@pytest.mark.parametrize("name", ["../evil.sh", "kit/../../evil.sh", "/etc/cron.d/evil", "kit\\..\\evil.sh",
                                  "C:/evil.sh", "kit/./SKILL.md", "kit//x", "kit/bad\x01name",
                                  # A folder git reads as its own, but not the one litter of a checkout is in.
                                  "kit/.GIT/config", "kit/scripts/git~1/config", "kit/.git. /config"])
def test_names_that_leave_the_folder_or_cannot_be_stored(name):
    message = refused(read_package, package([("kit/SKILL.md", SKILL), (name, b"x")]))
    assert "is not a safe file name" in message and repr(name) in message


@pytest.mark.parametrize("names", [("kit/skill.md",), ("kit/scripts/a", "kit/Scripts/b"),
                                   ("kit/caf\u00e9.md", "kit/cafe\u0301.md")])
def test_names_macos_and_windows_take_for_one_another(names):
    message = refused(read_package, package([("kit/SKILL.md", SKILL), *((name, b"x") for name in names)]))
    assert "are one name on macOS and Windows" in message


def test_a_name_windows_may_take_for_a_long_names_short_one():
    names = ["kit/references/guide-to-everything.md", "kit/references/GUIDE-~1.MD"]
    message = refused(read_package, package([("kit/SKILL.md", SKILL), *((name, b"x") for name in names)]))
    assert message == ("'references/GUIDE-~1.MD' has the form of the short name Windows gives a long name beside it, "
                       "and may be taken there for it: rename it.")


def test_a_nul_in_a_name_is_seen_though_zipfile_cuts_the_name_there():
    upload = patched(package({"kit/SKILL.md": SKILL, "kit/runX.sh": b"x"}), b"kit/runX.sh", b"kit/run\x00.sh")
    assert "'kit/run' has a NUL character in its name" in refused(read_package, upload)


def test_a_symlink():
    link = zipfile.ZipInfo("kit/secrets")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert "'kit/secrets' is a symbolic link" in refused(read_package, package([("kit/SKILL.md", SKILL),
                                                                               (link, b"/etc/passwd")]))


def test_a_name_twice():
    with pytest.warns(UserWarning, match="Duplicate name"):
        upload = package([("kit/SKILL.md", SKILL), ("kit/run.sh", b"one"), ("kit/run.sh", b"two")])
    assert "'run.sh' appears twice" in refused(read_package, upload)


def test_a_file_that_is_also_a_folder():
    assert "'tools' is both a file and a folder" in refused(
        read_package, package({"kit/SKILL.md": SKILL, "kit/tools": b"x", "kit/tools/run.sh": b"y"}))


def test_an_encrypted_entry():
    data = bytearray(package({"kit/SKILL.md": SKILL}).read())
    # zipfile writes no encrypted entries: set the flag in the local (offset 6) and central (8) headers.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    assert "'kit/SKILL.md' is encrypted" in refused(read_package, SimpleUploadedFile("kit.skill", bytes(data)))


def test_a_zip_bomb_is_stopped_at_the_file_limit_while_reading(settings):
    settings.SKILLPORT_MAX_FILE_BYTES = 1024 * 1024
    bomb = package({"kit/SKILL.md": SKILL, "kit/zeros": bytes(8 * 1024 * 1024)})
    assert bomb.size < 20_000  # eight megabytes of zeros deflate to almost nothing
    assert "'zeros' is larger than 1,048,576 bytes" in refused(read_package, bomb)


def test_a_header_that_understates_a_size_is_not_believed(settings):
    settings.SKILLPORT_MAX_FILE_BYTES = 1024 * 1024
    bomb = package({"kit/SKILL.md": SKILL, "kit/zeros": bytes(2 * 1024 * 1024)})
    # Both headers claim 100 bytes: zipfile stops there, and the CRC of those bytes does not match.
    lying = patched(bomb, (2 * 1024 * 1024).to_bytes(4, "little"), (100).to_bytes(4, "little"))
    assert "damaged or not a ZIP" in refused(read_package, lying)


def test_files_under_the_file_limit_that_add_up_past_the_skill_limit(settings):
    settings.SKILLPORT_MAX_SKILL_BYTES = 1024 * 1024
    upload = package({"kit/SKILL.md": SKILL, **{f"kit/part{i}": bytes(400 * 1024) for i in range(3)}})
    assert "add up to more than 1,048,576 bytes" in refused(read_package, upload)


def test_more_files_than_a_skill_may_have(settings):
    settings.SKILLPORT_MAX_SKILL_FILES = 5
    upload = package({"kit/SKILL.md": SKILL, **{f"kit/f{i}": b"x" for i in range(5)}})
    assert "holds 6 files; a skill may have at most 5" in refused(read_package, upload)
    many = package({"kit/SKILL.md": SKILL, **{f"kit/litter/.DS_Store{i}/.DS_Store": b"" for i in range(25)}})
    assert "more than 5 files" in refused(read_package, many)  # counted before anything is read


def test_a_central_directory_too_long_for_the_file_count_is_not_parsed(settings):
    settings.SKILLPORT_MAX_SKILL_FILES = 2  # 8 entries' worth of directory
    upload = package({"kit/SKILL.md": SKILL, **{f"kit/{'n' * 900}{i}": b"" for i in range(10)}})
    assert "lists more entries than a skill may have" in refused(read_package, upload)


def test_a_package_larger_than_an_upload_may_be(settings):
    settings.SKILLPORT_MAX_UPLOAD_BYTES = 1000
    upload = SimpleUploadedFile("kit.skill", bytes(1001))
    assert "is 1,001 bytes; a skill package may be at most 1,000" in refused(read_package, upload)


# Folders


def test_a_folder_loses_the_chosen_folder_s_name_and_its_litter():
    uploads, paths = folder({"SKILL.md": SKILL, "scripts/run.py": b"print(1)\n", ".git/config": b"x",
                             "node_modules/a/index.js": b"x"})
    found = read_folder(uploads, paths)
    assert found.name == "kit" and found.files == {"SKILL.md": SKILL, "scripts/run.py": b"print(1)\n"}


def test_a_folder_without_its_paths_needs_the_page_s_script():
    uploads, paths = folder({"SKILL.md": SKILL, "a.txt": b"a"})
    for sent in ("", "not json", json.dumps(["kit/SKILL.md"]), json.dumps([1, 2])):
        assert "needs JavaScript" in refused(read_folder, uploads, sent)


@pytest.mark.parametrize("path", ["kit/../../etc/passwd", "/kit/a", "kit/a\\b", "kit/a\x00b"])
def test_a_folder_path_that_leaves_the_folder(path):
    uploads, paths = folder({"SKILL.md": SKILL, "a": b"x"})
    paths = json.loads(paths)
    paths[1] = path
    assert "is not a safe file name" in refused(read_folder, uploads, json.dumps(paths))


def test_a_folder_path_twice_and_a_folder_too_large(settings):
    uploads, paths = folder({"SKILL.md": SKILL, "a": b"x", "b": b"y"})
    assert "'a' appears twice" in refused(read_folder, uploads, paths.replace("kit/b", "kit/a"))
    settings.SKILLPORT_MAX_FILE_BYTES = 10
    uploads, paths = folder({"SKILL.md": b"short", "big": bytes(11)})
    assert "'big' is larger than 10 bytes" in refused(read_folder, uploads, paths)


def test_a_folder_chosen_one_level_too_high():
    uploads, paths = folder({"kit/SKILL.md": SKILL, "other/SKILL.md": SKILL}, root="skills")
    assert "not the folder above it" in refused(read_folder, uploads, paths)


def test_a_zip_s_executable_files_are_named():
    script = zipfile.ZipInfo("kit/scripts/run.sh")
    script.external_attr = 0o100755 << 16
    plain = zipfile.ZipInfo("kit/scripts/data.txt")
    plain.external_attr = 0o100644 << 16
    read = read_package(package([("kit/SKILL.md", skill_md("kit").encode()), (script, b"#!/bin/sh\necho hi\n"),
                                 (plain, b"data\n")]))
    assert read.executable == {"scripts/run.sh"}
    assert read_folder(*folder({"SKILL.md": skill_md("kit").encode()})).executable == frozenset()  # browsers send no modes
