"""Security scanners run on skill content: commands outside the application, run in batches.

A scanner is a command from SKILLPORT_SCANNERS that scans a folder of skill folders ("{dir}") and
prints cisco-ai-skill-scanner's JSON or SARIF 2.1.0. Each batch is written into a private
temporary folder, one folder per skill named from its key, and the scanner runs there with an
environment of its own (no secret of ours; switches that keep its libraries off the network), in
a session of its own that a timeout kills whole. Its report is mapped back to the keys by path: a skill the report
does not cover is an error for that skill, never taken as safe.
"""
import functools
import hashlib
import itertools
import json
import os
import posixpath
import re
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import storable
from .processes import run_in_session
from .tree import is_clean_path

SEVERITIES = ["info", "low", "medium", "high", "critical"]
RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# The scanners' words for them: cisco-ai-skill-scanner's own, and SARIF's levels. A severity this
# module does not know is read as high: a scanner's new word must not let a finding through.
SEVERITY_WORDS = {
    **{severity: severity for severity in SEVERITIES},
    "safe": "info",
    "error": "high", "warning": "medium", "note": "low", "none": "info",
}
FORMATS = ("cisco-json", "sarif")
# Libraries inside scanners that reach the network unless told not to: litellm fetches its model
# price list when imported; onnxruntime (magika's file-type model) uploads usage telemetry.
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "ORT_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}
MAX_MESSAGE = 500
MAX_RULE = 200
# Findings kept per skill, most severe first; the rest are counted in a last, informational one.
MAX_FINDINGS = 500
TRUNCATED_RULE = "findings-truncated"
NO_REPORT = "the scanner reported nothing for this skill, so it was not scanned"
VERSION = re.compile(r"\d+(?:\.\d+)+[\w.+-]*")


class ScanError(Exception):
    """A scanner that could not run, failed, timed out or printed what cannot be read. The message
    is short and names no file of ours, for admins."""


@dataclass(frozen=True)
class Result:
    scanner: str  # Scanner.identity(): a new version (its rules ship with it) is a new identity
    max_severity: str | None  # the highest of the findings' severities; None without findings
    findings: list[dict] = field(default_factory=list)  # {rule, severity, file, line, message}
    error: str = ""  # the skill was not scanned (the scanner's report left it out); not a pass


@dataclass(frozen=True)
class Scanner:
    name: str
    command: tuple[str, ...]
    format: str
    version_command: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, entry) -> "Scanner":
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ImproperlyConfigured("SKILLPORT_SCANNERS: each scanner is an object with a name")
        name = entry["name"]
        command, version_command = entry.get("command"), entry.get("version_command") or []
        if not _argv(command) or not any("{dir}" in arg for arg in command):
            raise ImproperlyConfigured(f"SKILLPORT_SCANNERS: {name}'s command must be a list of strings with {{dir}}")
        if entry.get("format") not in FORMATS:
            raise ImproperlyConfigured(f"SKILLPORT_SCANNERS: {name}'s format must be one of {', '.join(FORMATS)}")
        if version_command and not _argv(version_command):
            raise ImproperlyConfigured(f"SKILLPORT_SCANNERS: {name}'s version_command must be a list of strings")
        return cls(name, tuple(command), entry["format"], tuple(version_command))

    def identity(self) -> str:
        """"cisco-ai-skill-scanner 2.3.2": the name, and the version its version_command prints."""
        return f"{self.name} {_version(self.name, self.version_command)}" if self.version_command else self.name


def available() -> list[Scanner]:
    """The scanners SKILLPORT_SCANNERS configures; none means scanning is unavailable."""
    return [Scanner.from_setting(entry) for entry in settings.SKILLPORT_SCANNERS]


def at_least(severity: str | None, threshold: str) -> bool:
    """True when `severity` (None: no finding) is `threshold` or more severe."""
    return severity is not None and RANK[severity] >= RANK[threshold]


def scan(scanner: Scanner, skills) -> dict[str, Result]:
    """Scan `skills`, (key, {relative path: bytes}) pairs with opaque string keys,
    SKILLPORT_SCAN_BATCH to a run of the scanner; return each key's Result. Raises ScanError when
    a run fails (the results of earlier runs are lost with it: pass one batch for each call to
    keep them)."""
    identity = scanner.identity()
    results = {}
    skills = iter(skills)
    while batch := dict(itertools.islice(skills, settings.SKILLPORT_SCAN_BATCH)):
        results.update(_scan_batch(scanner, identity, batch))
    return results


def _scan_batch(scanner, identity, batch) -> dict[str, Result]:
    with _workspace() as root:
        skills_dir = root / "skills"
        skills_dir.mkdir(mode=0o700)
        folders, written = {}, {}
        for key, files in batch.items():
            folder = _folder_name(key)
            folders[folder] = key
            written[folder] = _write_skill(skills_dir / folder, files)
        argv = [arg.replace("{dir}", str(skills_dir)) for arg in scanner.command]
        stdout = _run(scanner.name, argv, root=root, cwd=skills_dir, timeout=settings.SKILLPORT_SCAN_TIMEOUT)
        try:
            reported = PARSERS[scanner.format](json.loads(stdout), _locator(skills_dir), set(folders))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ScanError(f"{scanner.name} printed output that is not {scanner.format}: "
                            f"{type(exc).__name__}") from None
        scrub = _scrubber(root)
        return {
            key: _result(identity, reported[folder], written[folder], scrub) if folder in reported
            else Result(identity, None, [], error=NO_REPORT)
            for folder, key in folders.items()
        }


@contextmanager
def _workspace():
    """A private temporary folder (0700: nothing in it is anyone else's to read) with the
    scanner's home in it; resolved, as scanners print resolved paths (/tmp may be a symlink)."""
    with tempfile.TemporaryDirectory(prefix="skillport-scan-") as temp:
        root = Path(temp).resolve()
        (root / "home").mkdir(mode=0o700)
        yield root


def _folder_name(key: str) -> str:
    # From the key, never from content: a hash is a safe, fixed-length name whatever the key holds.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _write_skill(folder: Path, files: dict) -> set[str]:
    """Write the files whose paths are clean into `folder`, owner-only; return the paths written.

    Only regular files and folders are made, so nothing here is a symlink to follow; O_NOFOLLOW
    and O_EXCL hold that for each file. A path that clashes with another (a file where a folder
    must be) or that the filesystem refuses (too long) is skipped, as unclean ones are."""
    folder.mkdir(mode=0o700)
    written = set()
    for path, content in files.items():
        if not is_clean_path(path):
            continue
        target = folder / path
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        written.add(path)
    return written


def _environment(root: Path) -> dict:
    """The scanner's whole environment: not ours, which holds secrets (SECRET_KEY, DATABASE_URL,
    tokens) and switches scanners read (ENABLE_LLM_ANALYZER, SKILL_SCANNER_LLM_API_KEY)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "home"),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "PYTHONUTF8": "1",
        **OFFLINE,
    }


def _run(name, argv, *, root, cwd, timeout) -> bytes:
    """Run `argv` in a session of its own (a timeout kills every process it started); its stdout."""
    try:
        returncode, stdout, stderr = run_in_session(argv, env=_environment(root), timeout=timeout, cwd=cwd)
    except OSError as exc:
        raise ScanError(f"{name} could not be started: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ScanError(f"{name} timed out after {timeout:.0f}s") from None
    if returncode != 0:
        lines = _scrubber(root)(stderr.decode("utf-8", "replace")).strip().splitlines()
        said = f": {lines[-1].strip()[:300]}" if lines else ""
        raise ScanError(f"{name} exited with status {returncode}{said}")
    return stdout


def learn_versions():
    """Run each scanner's version command now, so the first skill page a web worker serves (every
    page names the scanners, scans.report) does not wait half a second for it: web workers call
    this in a thread as they start (asgi.py). A scanner that fails is reported where it is used."""
    for scanner in available():
        try:
            scanner.identity()
        except ScanError:
            pass


_learning = threading.Lock()


def _version(name, version_command) -> str:
    # One run per process: a request arriving while learn_versions runs waits for its answer.
    with _learning:
        return _learned_version(name, version_command)


@functools.cache
def _learned_version(name, version_command) -> str:
    with _workspace() as root:
        out = _run(name, list(version_command), root=root, cwd=root, timeout=60)
    text = out.decode("utf-8", "replace").strip()
    found = VERSION.search(text)
    if not found:
        raise ScanError(f"{name}'s version command printed no version")
    return found.group()


def _locator(skills_dir: Path):
    """A function from a path the scanner printed (absolute, file:// URI, or relative to the
    folder scanned) to (skill folder, path inside it), or None when it is not in a skill folder."""
    base = str(skills_dir)

    def locate(printed):
        if not isinstance(printed, str) or not printed:
            return None
        path = unquote(urlsplit(printed).path) if printed.startswith("file:") else printed
        relative = os.path.relpath(os.path.realpath(os.path.join(base, path)), base)
        if relative == "." or relative.startswith(".."):
            return None
        folder, _, inside = relative.partition(os.sep)
        return folder, inside.replace(os.sep, "/")

    return locate


def _parse_cisco(doc, locate, folders) -> dict[str, list[dict]]:
    """cisco-ai-skill-scanner's JSON: a result per skill it found, by skill_path."""
    reported = {}
    for result in doc["results"]:
        where = locate(result["skill_path"])
        if where is None or where[1] or where[0] not in folders:
            continue
        folder = where[0]
        findings = reported.setdefault(folder, [])
        for finding in result.get("findings") or []:
            file = finding.get("file_path") or ""
            if file.startswith("/"):
                inside = locate(file)
                file = inside[1] if inside and inside[0] == folder else ""
            title, description = finding.get("title") or "", finding.get("description") or ""
            findings.append({
                "rule": finding.get("rule_id") or finding.get("id") or "",
                "severity": finding.get("severity") or "",
                "file": file,
                "line": finding.get("line_number"),
                "message": f"{title}: {description}" if title and description else title or description,
            })
    return reported


def _parse_sarif(doc, locate, folders) -> dict[str, list[dict]]:
    """SARIF 2.1.0: findings only, so every skill of a run that succeeded is reported, clean
    unless a result's first location is in its folder."""
    reported = {folder: [] for folder in folders}
    for run in doc["runs"]:
        if any(invocation.get("executionSuccessful") is False for invocation in run.get("invocations") or []):
            raise ScanError("the scanner's SARIF says its run did not succeed")
        for result in run.get("results") or []:
            location = ((result.get("locations") or [{}])[0] or {}).get("physicalLocation") or {}
            where = locate((location.get("artifactLocation") or {}).get("uri"))
            if where is None or where[0] not in folders:
                continue
            reported[where[0]].append({
                "rule": result.get("ruleId") or (result.get("rule") or {}).get("id") or "",
                "severity": result.get("level") or "warning",  # SARIF's default level
                "file": where[1],
                "line": (location.get("region") or {}).get("startLine"),
                "message": (result.get("message") or {}).get("text") or "",
            })
    return reported


PARSERS = {"cisco-json": _parse_cisco, "sarif": _parse_sarif}


def _scrubber(root):
    """Remove our temporary paths from text the scanner wrote (they mean nothing to an admin)."""
    pattern = re.compile(re.escape(str(root)) + r"(?:/skills)?(?:/[0-9a-f]{32})?/?")
    return lambda text: pattern.sub("", text)


def _result(identity, raw_findings, written, scrub) -> Result:
    """One skill's Result: severities in our words, files only where they are the skill's own,
    lines as numbers, bounded storable text, most severe first."""
    findings = []
    for raw in raw_findings:
        severity = SEVERITY_WORDS.get(str(raw["severity"]).lower(), "high")
        file = posixpath.normpath(raw["file"]) if raw["file"] else ""
        line = raw["line"]
        findings.append({
            "rule": _cap(str(raw["rule"]), MAX_RULE),
            "severity": severity,
            "file": file if file in written else "",
            "line": line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None,
            "message": _cap(scrub(str(raw["message"])), MAX_MESSAGE),
        })
    findings.sort(key=lambda f: (-RANK[f["severity"]], f["file"], f["line"] or 0, f["rule"]))
    highest = findings[0]["severity"] if findings else None
    if len(findings) > MAX_FINDINGS:
        omitted = len(findings) - MAX_FINDINGS + 1
        findings[MAX_FINDINGS - 1:] = [{"rule": TRUNCATED_RULE, "severity": "info", "file": "", "line": None,
                                        "message": f"{omitted} less severe findings are not kept"}]
    return Result(identity, highest, storable.clean(findings)[0])


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _argv(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(arg, str) for arg in value)
