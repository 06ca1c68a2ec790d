"""The .skill package: layout, plugin.json, exclusions, determinism and the on-disk cache."""
import io
import json
import os
import shutil
import zipfile

import pytest
from django.conf import settings as django_settings

from marketplace.models import Blob, Marketplace, Skill, SkillFile, Status
from marketplace.packaging import build_package, package_name, package_path
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md

EXAMPLE = django_settings.BASE_DIR / "examples" / "marketplace"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
ALPHA = "plugins/tools/skills/alpha"
ALPHA_FILES = {
    f"{ALPHA}/SKILL.md": skill_md("alpha", "Alpha does A."),
    f"{ALPHA}/scripts/run.py": "print('alpha')\n",
    f"{ALPHA}/scripts/run.sh": "#!/bin/sh\necho alpha\n",
    f"{ALPHA}/references/guide.md": "# Guide\n",
    f"{ALPHA}/assets/logo.png": PNG,
    # Junk that must never reach an upload.
    f"{ALPHA}/scripts/__pycache__/run.cpython-311.pyc": b"\x00junk",
    f"{ALPHA}/scripts/stale.pyc": b"\x00junk",
    f"{ALPHA}/node_modules/left-pad/index.js": "module.exports = 1;\n",
    f"{ALPHA}/.DS_Store": b"\x00\x00\x00\x01Bud1",
}
ALPHA_PACKAGED = ["SKILL.md", "assets/logo.png", "references/guide.md", "scripts/run.py", "scripts/run.sh"]


def unzip(data: bytes) -> dict:
    """{archive name: bytes} of a package, after checking it is a sound deflated ZIP."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
        return {info.filename: archive.read(info) for info in archive.infolist()}


def infos(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: info for info in archive.infolist()}


def skill(marketplace, slug) -> Skill:
    return Skill.objects.select_related("plugin__marketplace").get(marketplace=marketplace, slug=slug)


@pytest.fixture
def tools_repo(make_repo):
    """Plugin `tools` (no plugin.json) with skill alpha (scripts, a binary, junk) and skill own
    (which ships its own plugin.json); plugin `kit` has a plugin.json without a version."""
    repo = make_repo()
    repo.write({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("tools", version="1.0.0", description="Handy tools.", author={"name": "Ann"}),
            plugin_entry("kit", version="2.0.0", description="Entry text."),
        ),
        **ALPHA_FILES,
        "plugins/tools/skills/own/SKILL.md": skill_md("own", "Own manifest."),
        "plugins/tools/skills/own/.claude-plugin/plugin.json": '{"name": "own-thing", "version": "9.9.9"}\n',
        "plugins/kit/.claude-plugin/plugin.json": json.dumps({"name": "kit", "license": "MIT", "description": "Kit."}),
        "plugins/kit/skills/gamma/SKILL.md": skill_md("gamma", "Gamma does G."),
    })
    os.chmod(repo.path / ALPHA / "scripts/run.sh", 0o755)
    repo.commit(message="initial")
    return repo


@pytest.fixture
def synced(tools_repo, synced_marketplace):
    m = synced_marketplace(tools_repo)
    assert m.first_run.status == Status.OK
    return m


def test_package_is_one_skill_folder_with_every_file_byte_for_byte(synced, tools_repo):
    alpha = skill(synced, "alpha")
    assert package_name(alpha) == "alpha.skill"
    files = unzip(build_package(alpha))
    assert {name.split("/")[0] for name in files} == {"alpha"}
    assert sorted(files) == sorted([f"alpha/{p}" for p in ALPHA_PACKAGED] + ["alpha/.claude-plugin/plugin.json"])
    for rel in ALPHA_PACKAGED:
        assert files[f"alpha/{rel}"] == (tools_repo.path / ALPHA / rel).read_bytes(), rel
    assert files["alpha/assets/logo.png"] == PNG


def test_junk_rows_are_left_out_even_when_stored(synced):
    """The reader skips junk; rows stored some other way must still stay out of the package."""
    alpha = skill(synced, "alpha")
    blob = Blob.objects.get(sha=alpha.files.get(path="scripts/run.py").blob_id)
    for path in ["scripts/__pycache__/x.cpython-311.pyc", "lib/old.pyc", "web/node_modules/a.js", "assets/.DS_Store"]:
        SkillFile.objects.create(skill=alpha, path=path, size=blob.size, mode="100644", blob=blob)
    names = sorted(unzip(build_package(alpha)))
    assert names == sorted([f"alpha/{p}" for p in ALPHA_PACKAGED] + ["alpha/.claude-plugin/plugin.json"])


def test_plugin_json_is_built_from_the_plugin_row(synced, tools_repo):
    alpha = skill(synced, "alpha")
    manifest = json.loads(unzip(build_package(alpha))["alpha/.claude-plugin/plugin.json"])
    assert manifest == {
        "name": "tools",
        "version": "1.0.0",
        "description": "Handy tools.",
        "author": {"name": "Ann"},
        "skillport": {
            "marketplace": "test",
            "plugin": "tools",
            "skill": "alpha",
            "commit": tools_repo.head,
            "content_hash": alpha.content_hash,
        },
    }


def test_plugin_json_is_the_plugins_manifest_with_its_effective_version(synced):
    gamma = skill(synced, "gamma")
    manifest = json.loads(unzip(build_package(gamma))["gamma/.claude-plugin/plugin.json"])
    # The plugin's own plugin.json (its license and description), plus the version Claude Code
    # would use: plugin.json has none, so the entry's.
    assert manifest["license"] == "MIT" and manifest["description"] == "Kit."
    assert manifest["version"] == "2.0.0"
    assert manifest["skillport"]["plugin"] == "kit" and manifest["skillport"]["skill"] == "gamma"


def test_a_skills_own_plugin_json_wins(synced, tools_repo):
    files = unzip(build_package(skill(synced, "own")))
    assert sorted(files) == ["own/.claude-plugin/plugin.json", "own/SKILL.md"]
    own = (tools_repo.path / "plugins/tools/skills/own/.claude-plugin/plugin.json").read_bytes()
    assert files["own/.claude-plugin/plugin.json"] == own


def test_executable_bit_and_fixed_metadata(synced):
    entries = infos(build_package(skill(synced, "alpha")))
    assert entries["alpha/scripts/run.sh"].external_attr >> 16 == 0o100755
    assert {info.external_attr >> 16 for name, info in entries.items() if name != "alpha/scripts/run.sh"} == {0o100644}
    assert {info.date_time for info in entries.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert all(info.extra == b"" and info.comment == b"" for info in entries.values())
    assert list(entries) == sorted(entries)


def test_same_content_gives_the_same_bytes(synced, tools_repo, settings):
    alpha = skill(synced, "alpha")
    first = build_package(alpha)
    shutil.rmtree(settings.SKILLPORT_DATA_DIR / "packages")  # force a real rebuild
    assert build_package(alpha) == first

    assert sync_marketplace(synced.pk).status == Status.UNCHANGED
    shutil.rmtree(settings.SKILLPORT_DATA_DIR / "packages")
    assert build_package(skill(synced, "alpha")) == first

    tools_repo.commit({f"{ALPHA}/references/guide.md": "# Guide, revised\n"})
    assert sync_marketplace(synced.pk).status == Status.OK
    changed = build_package(skill(synced, "alpha"))
    assert changed != first
    assert unzip(changed)["alpha/references/guide.md"] == b"# Guide, revised\n"


def test_a_new_plugin_version_is_not_served_from_the_old_package(synced, tools_repo):
    before = build_package(skill(synced, "alpha"))
    tools_repo.commit({".claude-plugin/marketplace.json": catalog(
        plugin_entry("tools", version="1.1.0", description="Handy tools.", author={"name": "Ann"}),
        plugin_entry("kit", version="2.0.0", description="Entry text."),
    )})
    sync_marketplace(synced.pk)
    alpha = skill(synced, "alpha")
    after = unzip(build_package(alpha))
    assert json.loads(after["alpha/.claude-plugin/plugin.json"])["version"] == "1.1.0"
    assert {k: v for k, v in after.items() if not k.endswith("plugin.json")} == {
        k: v for k, v in unzip(before).items() if not k.endswith("plugin.json")
    }


def test_the_plugin_json_is_the_one_approved_while_a_new_one_waits(synced, tools_repo):
    """A plugin.json adding a server waits for an admin; meanwhile a package carries the one members get, not the
    server (its arguments may hold anything)."""
    Marketplace.objects.filter(pk=synced.pk).update(requires_approval=True)
    tools_repo.commit({"plugins/kit/.claude-plugin/plugin.json": json.dumps({
        "name": "kit", "license": "MIT", "description": "Kit.",
        "mcpServers": {"db": {"command": "psql", "args": ["postgres://svc:Pa55w0rd@db.internal/prod"]}}})})
    assert sync_marketplace(synced.pk).status == Status.OK
    gamma = skill(synced, "gamma")
    assert gamma.plugin.approved_commit != gamma.plugin.commit and "mcpServers" in gamma.plugin.manifest
    manifest = json.loads(unzip(build_package(gamma))["gamma/.claude-plugin/plugin.json"])
    assert manifest["description"] == "Kit." and "mcpServers" not in manifest
    assert "Pa55w0rd" not in json.dumps(manifest)


def test_files_over_the_size_limit_are_left_out(make_repo, make_marketplace, settings):
    settings.SKILLPORT_MAX_FILE_BYTES = 200
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
        f"{ALPHA}/SKILL.md": skill_md("alpha", "Alpha does A."),
        f"{ALPHA}/small.txt": "small\n",
        f"{ALPHA}/big.txt": "x" * 1000,
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    alpha = skill(m, "alpha")
    assert alpha.files.get(path="big.txt").blob is None
    files = unzip(build_package(alpha))
    assert sorted(files) == ["alpha/.claude-plugin/plugin.json", "alpha/SKILL.md", "alpha/small.txt"]


def test_package_is_built_once_with_one_query_then_read_from_disk(synced, settings, django_assert_num_queries):
    alpha = skill(synced, "alpha")
    with django_assert_num_queries(1):  # every file with its content at once
        first = build_package(alpha)
    with django_assert_num_queries(0):
        again = build_package(alpha)
    assert again == first
    cached = list((settings.SKILLPORT_DATA_DIR / "packages").iterdir())
    assert cached == [package_path(alpha)] and cached[0].suffix == ".skill"
    # The cached file is what is served: blob rows are not read again.
    Blob.objects.filter(sha__in=alpha.files.values("blob_id")).update(content=b"changed")
    assert build_package(skill(synced, "alpha")) == first


def test_every_example_skill_packages_with_exactly_one_skill_md(db):
    m = Marketplace.objects.create(slug="examples", git_url=str(EXAMPLE))
    assert sync_marketplace(m.pk).status == Status.OK
    skills = list(Skill.objects.filter(marketplace=m, removed_at=None).select_related("plugin__marketplace"))
    assert len(skills) >= 8
    for s in skills:
        files = unzip(build_package(s))
        assert {name.split("/")[0] for name in files} == {s.slug}
        assert [name for name in files if name.rsplit("/", 1)[-1] == "SKILL.md"] == [f"{s.slug}/SKILL.md"]
        manifest = json.loads(files[f"{s.slug}/.claude-plugin/plugin.json"])
        assert manifest["name"] == s.plugin.name and manifest["version"] == s.plugin.version
        for name, content in files.items():
            if not name.endswith("/.claude-plugin/plugin.json"):
                assert content == (EXAMPLE / s.path / name.split("/", 1)[1]).read_bytes(), name
