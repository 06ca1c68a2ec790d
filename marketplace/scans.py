"""The security scan of what Skillport serves, and each marketplace's gate on what fails it.

scanners.py runs the scanners. This module decides what to scan (every skill content a marketplace
serves or has waiting, each content hash once per scanner version, so identical content is never
scanned twice and a new scanner version scans again), keeps the results (ContentScan), and applies
the marketplace's gate:

- off: nothing is scanned; report: findings are shown, nothing waits for them;
- hold and block: a sync stages every new or changed skill (as the approval policy does), and the
  scan decides. Nothing at or above the threshold: the revision is released, unless the approval
  policy also wants an admin. Something at or above it: held for an admin (hold), or blocked
  (block). Not scanned yet: still waiting. Either way members keep the last revision that passed,
  on every surface, because the Skill row is what every surface serves.

What a plugin installs besides its skills (hooks, commands, servers and the files they run) is
scanned and gated alike: under hold and block it is approved as synced once it passed
(approval.settle), and otherwise stays unapproved.

An admin may override findings with a reason (approval.approve, approval.approve_plugin_content);
the hold, the block, the release and the override are audit events, each recorded once as a
revision or a plugin's content moves.
"""
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from audit import record_many
from audit.models import Action, Outcome, Surface

from . import bulk, pluginfiles, rows, scanners
from .gitrepo import GitError
from .models import Blob, ContentScan, Marketplace, Plugin, ScanGate, Skill, SkillFile, SkillRevision

log = logging.getLogger(__name__)

GATING = (ScanGate.HOLD, ScanGate.BLOCK)
# How many findings a skill's verdict lists (the skill page reads them all from ContentScan).
LISTED_FINDINGS = 20


@dataclass
class Judgement:
    scanned: bool  # every available scanner has a result for the content
    severity: str  # the highest found, "none" when nothing was, "" when not scanned
    failing: bool  # at or above the marketplace's threshold
    findings: list = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        if not self.scanned:
            return ["Not scanned yet"]
        return [_describe(f) for f in self.findings[:LISTED_FINDINGS]] + (
            [f"{len(self.findings) - LISTED_FINDINGS} more findings"] if len(self.findings) > LISTED_FINDINGS else [])


def gated(marketplace) -> bool:
    """Does the scan decide what members are served (so syncs must stage what they read)?"""
    return marketplace.scan_gate in GATING


def scan_marketplace(marketplace_id: int) -> dict:
    """Scan what the marketplace serves or has waiting that no current scanner has judged, then
    apply its gate. Return counts. Raises Marketplace.DoesNotExist."""
    marketplace = Marketplace.objects.get(pk=marketplace_id)
    counts = {"scanned": 0, "failed": 0}
    if marketplace.scan_gate == ScanGate.OFF:
        return counts
    wanted = _wanted(marketplace)
    for scanner in scanners.available():
        identity = scanner.identity()
        done = set(ContentScan.objects.filter(scanner=identity, content_hash__any=list(wanted))
                   .values_list("content_hash", flat=True))
        todo = sorted(set(wanted) - done)
        for start in range(0, len(todo), settings.SKILLPORT_SCAN_BATCH):
            batch, written_here = [], set()
            for content_hash in todo[start:start + settings.SKILLPORT_SCAN_BATCH]:
                try:
                    files, generated = _files(wanted[content_hash])
                except (pluginfiles.Unscannable, GitError, ValueError) as exc:
                    log.info("the content %s of %s is not scanned: %s", content_hash[:12], marketplace.slug, exc)
                    counts["failed"] += 1
                    continue
                batch.append((content_hash, files))
                if generated:
                    written_here.add(content_hash)
            if not batch:
                continue
            try:
                results = scanners.scan(scanner, batch)
            except scanners.ScanError as exc:
                log.error("scan of %s with %s failed: %s", marketplace.slug, identity, exc)
                counts["failed"] += len(batch)
                continue
            # A result with an error was not scanned: it is left to the next scan, never taken as a pass.
            done = {content_hash: result for content_hash, result in results.items() if not result.error}
            ContentScan.objects.bulk_create([
                ContentScan(content_hash=content_hash, scanner=identity, **_found(result, content_hash in written_here))
                for content_hash, result in done.items()
            ], ignore_conflicts=True)
            counts["scanned"] += len(done)
            counts["failed"] += len(batch) - len(done)
    apply_gate(marketplace)
    return counts


def judge(content_hash: str, marketplace, scans=None) -> Judgement:
    """What the current scanners found in `content_hash`, against `marketplace`'s threshold."""
    identities = [scanner.identity() for scanner in scanners.available()]
    if scans is None:
        scans = list(ContentScan.objects.filter(content_hash=content_hash, scanner__in=identities))
    found = {scan.scanner: scan for scan in scans if scan.content_hash == content_hash}
    if not identities or any(identity not in found for identity in identities):
        return Judgement(False, "", marketplace.scan_gate in GATING)
    findings = sorted((f for scan in found.values() for f in scan.findings),
                      key=lambda f: -scanners.SEVERITIES.index(f["severity"]))
    severity = _highest(findings) or "none"
    failing = bool(findings) and scanners.at_least(severity, marketplace.scan_threshold)
    return Judgement(True, severity, failing, findings)


def passing(content_hashes, marketplace) -> list[str]:
    """Those of `content_hashes` every current scanner judged and found nothing in at or above the
    marketplace's threshold: none when no scanner is installed, or one cannot tell its version (and so
    cannot scan either), since the sync that asks must not fail for it."""
    try:
        identities = [scanner.identity() for scanner in scanners.available()]
    except scanners.ScanError:
        return []
    found = _scans(content_hashes, identities)
    return [content_hash for content_hash in content_hashes
            if (verdict := judge(content_hash, marketplace, found.get(content_hash, []))).scanned
            and not verdict.failing]


def needs_override(revision) -> Judgement | None:
    """The judgement an admin must override (with a reason) to approve `revision`; None when the
    gate lets it through."""
    return _overridden(revision.content_hash, revision.skill.marketplace,
                       blocked=revision.status == SkillRevision.Status.BLOCKED)


def content_needs_override(plugin) -> Judgement | None:
    """The judgement an admin must override (with a reason) to approve what `plugin` installs besides
    its skills as synced; None when the gate lets it through."""
    return _overridden(plugin.own_hash, plugin.marketplace) if plugin.own_hash else None


def _overridden(content_hash, marketplace, blocked=False) -> Judgement | None:
    if not gated(marketplace) and not blocked:
        return None
    verdict = judge(content_hash, marketplace)
    return verdict if verdict.failing or not verdict.scanned else None


def apply_gate(marketplace):
    """Bring the marketplace's served verdicts, waiting revisions and plugins' waiting content (approval.settle)
    in line with the scans."""
    identities = [scanner.identity() for scanner in scanners.available()]
    with transaction.atomic():
        _refresh_served(marketplace, identities)
        if gated(marketplace):
            _gate_waiting(marketplace, identities)
            _hold_plugin_content(marketplace, identities)
    if gated(marketplace) and Plugin.objects.filter(marketplace=marketplace).exclude(
            own_hash=F("approved_own_hash")).exists():
        from .approval import SyncRunning, resettle  # approval.py reads judgements from this module

        try:
            resettle(marketplace)
        except SyncRunning:
            pass  # the sync running settles it as it ends


def refresh_served(marketplace):
    """Recompute the scan verdict of every skill the marketplace serves (after an approval changed content)."""
    _refresh_served(marketplace, [scanner.identity() for scanner in scanners.available()])


def _refresh_served(marketplace, identities):
    skills = list(Skill.objects.filter(marketplace=marketplace).values_list("content_hash", flat=True).distinct())
    scans = _scans(skills, identities)
    verdicts = []
    for content_hash in skills:
        verdict = judge(content_hash, marketplace, scans.get(content_hash, []))
        if marketplace.scan_gate == ScanGate.OFF:
            verdict = Judgement(False, "", False)
            reasons = ["Not scanned: scanning is off for this marketplace"]
        elif not identities:
            reasons = ["Not scanned: no scanner is installed"]
        else:
            reasons = verdict.reasons
        verdicts.append((content_hash, verdict.scanned and not verdict.failing, verdict.severity, json.dumps(reasons)))
    if not verdicts:
        return
    # One statement for every skill: a verdict per content hash, merged into the stored reasons. Each column
    # is one array: a parameter per value would pass PostgreSQL's 65,535 at 16,384 skills.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Skill._meta.db_table} AS s SET scan_passed = v.passed, scan_severity = v.severity, "
            f"verdict_reasons = s.verdict_reasons || jsonb_build_object('security_scan', v.reasons) "
            f"FROM unnest(%s::text[], %s::boolean[], %s::text[], %s::jsonb[]) "
            f"AS v(content_hash, passed, severity, reasons) "
            f"WHERE s.marketplace_id = %s AND s.content_hash = v.content_hash AND (s.scan_passed <> v.passed "
            f"OR s.scan_severity <> v.severity OR s.verdict_reasons->'security_scan' IS DISTINCT FROM v.reasons)",
            [*map(list, zip(*verdicts)), marketplace.pk],
        )


def _gate_waiting(marketplace, identities):
    waiting = list(SkillRevision.objects.filter(skill__marketplace=marketplace, status=SkillRevision.Status.PENDING)
                   .with_skill())
    scans = _scans([r.content_hash for r in waiting], identities)
    release, moved, denied = [], [], []
    for revision in waiting:
        if revision.scan_override:
            continue  # an admin decided
        verdict = judge(revision.content_hash, marketplace, scans.get(revision.content_hash, []))
        if not verdict.scanned:
            continue  # waits for its scan
        if verdict.failing and marketplace.scan_gate == ScanGate.BLOCK:
            revision.status, revision.scan_state = SkillRevision.Status.BLOCKED, "blocked"
            denied.append(_event(Action.SCAN_BLOCKED, revision, verdict))
        elif verdict.failing and revision.scan_state != "held":
            revision.scan_state = "held"
            denied.append(_event(Action.SCAN_HELD, revision, verdict))
        elif not verdict.failing and revision.scan_state != "passed":
            revision.scan_state = "passed"
            if not marketplace.requires_approval:
                release.append(revision.pk)
        else:
            continue  # where an earlier scan left it: no event again
        moved.append(revision)
    # In bulk: a first sync of a large marketplace leaves thousands waiting for this scan.
    bulk.update(moved, ["status", "scan_state"])
    record_many(denied, surface=Surface.SKILLPORT, outcome=Outcome.DENIED)
    if release:
        # Imported here: approval.py reads judgements from this module to ask admins for overrides.
        from .approval import SyncRunning, approve

        released = SkillRevision.objects.filter(pk__any=release)
        try:
            approve(released, None, via="security scan")
        except SyncRunning:
            # Marked passed, so not released: the next scan (after that sync) releases them.
            released.update(scan_state="")
            return
        record_many([_event(Action.SCAN_RELEASED, revision, judge(revision.content_hash, marketplace))
                     for revision in released.with_skill()],
                    surface=Surface.SKILLPORT)


def _hold_plugin_content(marketplace, identities):
    """Record, once per content, that the scan held (under the block gate, blocked) what a plugin
    installs besides its skills as synced: approval.settle leaves it unapproved, and members get the
    plugin at its approved commit, until a later sync brings content that passes or an admin
    overrides the findings. Content that passed is approved by settle."""
    waiting = list(Plugin.objects.filter(marketplace=marketplace).exclude(own_hash="")
                   .exclude(own_hash=F("approved_own_hash")).exclude(scan_held_hash=F("own_hash"))
                   .select_related("marketplace"))
    found = _scans([plugin.own_hash for plugin in waiting], identities)
    action = Action.SCAN_BLOCKED if marketplace.scan_gate == ScanGate.BLOCK else Action.SCAN_HELD
    held, events = [], []
    for plugin in waiting:
        verdict = judge(plugin.own_hash, marketplace, found.get(plugin.own_hash, []))
        if not (verdict.scanned and verdict.failing):
            continue  # waits for its scan, or passed
        plugin.scan_held_hash = plugin.own_hash
        held.append(plugin)
        events.append((action, plugin, {
            "content": {"own_hash": plugin.own_hash, "commit": plugin.commit},
            "severity": verdict.severity, "threshold": marketplace.scan_threshold,
            "findings": verdict.findings[:LISTED_FINDINGS],
        }))
    bulk.update(held, ["scan_held_hash"])
    record_many(events, surface=Surface.SKILLPORT, outcome=Outcome.DENIED)


def _event(action, revision, verdict):
    """The audit event (for audit.record_many) of the scan gate moving `revision`."""
    return (action, revision.skill, {
        "revision": {"content_hash": revision.content_hash, "version": revision.version, "commit": revision.commit},
        "severity": verdict.severity, "threshold": revision.skill.marketplace.scan_threshold,
        "findings": verdict.findings[:LISTED_FINDINGS],
    })


def _wanted(marketplace) -> dict:
    """{content hash: where its files are} for the content served and waiting in the marketplace: each
    skill's, and what each plugin installs besides its skills (hooks, commands, servers and the files
    they run), as served, approved and synced, keyed by its digest."""
    wanted = {}
    for pk, content_hash in Skill.objects.filter(marketplace=marketplace, removed_at=None).values_list(
            "pk", "content_hash"):
        wanted.setdefault(content_hash, ("skill", pk))
    for pk, content_hash in SkillRevision.objects.filter(
            skill__marketplace=marketplace, status=SkillRevision.Status.PENDING).values_list("pk", "content_hash"):
        wanted.setdefault(content_hash, ("revision", pk))
    for pk, own, approved, served in Plugin.objects.filter(marketplace=marketplace, removed_at=None).values_list(
            "pk", "own_hash", "approved_own_hash", "served_own_hash"):
        for content_hash, which in ((served, "served"), (approved, "approved"), (own, "synced")):
            if content_hash:
                wanted.setdefault(content_hash, ("plugin", pk, which))
    return wanted


def _files(where) -> tuple[dict[str, bytes], bool]:
    """The files of the content at `where`, and whether their SKILL.md was written for the scan."""
    kind, pk = where[:2]
    if kind == "skill":
        stored = SkillFile.objects.filter(skill_id=pk, blob__isnull=False).values_list("path", "blob__content")
        return {path: bytes(content) for path, content in stored}, False
    if kind == "plugin":
        plugin = Plugin.objects.select_related("marketplace").get(pk=pk)
        if where[2] == "served":
            return pluginfiles.for_scan(plugin, plugin.served_own_content, plugin.approved_commit,
                                        plugin.approved_entry)
        if where[2] == "approved":
            # No entry was approved while no commit was: the content's source is then the one synced.
            return pluginfiles.for_scan(plugin, plugin.approved_own_content, plugin.approved_commit,
                                        plugin.approved_entry or plugin.entry)
        return pluginfiles.for_scan(plugin, plugin.own_content, plugin.commit, plugin.entry)
    files = SkillRevision.objects.get(pk=pk).files
    contents = dict(Blob.objects.filter(sha__in=[f["sha"] for f in files if not f["omitted"]])
                    .values_list("sha", "content"))
    return {f["path"]: bytes(contents[f["sha"]]) for f in files if f["sha"] in contents and not f["omitted"]}, False


def _found(result, skill_md_written_here: bool) -> dict:
    """What a ContentScan keeps of `result`: less the findings on a SKILL.md the scan itself wrote."""
    findings = [f for f in result.findings if not (skill_md_written_here and f.get("file") == "SKILL.md")]
    if len(findings) == len(result.findings):
        return {"max_severity": result.max_severity or "", "findings": findings}
    return {"max_severity": _highest(findings), "findings": findings}


def _scans(content_hashes, identities) -> dict:
    found = {}
    for scan in ContentScan.objects.filter(content_hash__any=list(content_hashes), scanner__in=identities):
        found.setdefault(scan.content_hash, []).append(scan)
    return found


def _highest(findings) -> str:
    return max((f["severity"] for f in findings), key=scanners.SEVERITIES.index, default="")


def _describe(finding) -> str:
    where = finding.get("file") or ""
    if where and finding.get("line"):
        where += f":{finding['line']}"
    return f"{finding['severity']}: {finding.get('rule', '')}{f' ({where})' if where else ''}: {finding.get('message', '')}"


@dataclass
class Report:
    """What the scan says of one content, for people (the skill page, the API, get_skill, the admin)."""

    state: str  # "off" (the marketplace does not scan), "unavailable" (no scanner), "pending" or "scanned"
    scanners: list[str]  # the identities of the scanners that judge it
    scanned_at: object  # when the last of them scanned it; None until all have
    judgement: Judgement

    @property
    def passed(self) -> bool:
        return self.state == "scanned" and not self.judgement.failing


def report(content_hash: str, marketplace) -> Report:
    """The current scanners' results on `content_hash`, judged against `marketplace`'s threshold."""
    unjudged = Judgement(False, "", False)
    if marketplace.scan_gate == ScanGate.OFF:
        return Report("off", [], None, unjudged)
    try:
        identities = [scanner.identity() for scanner in scanners.available()]
    except scanners.ScanError:
        identities = []  # a scanner that cannot tell its version cannot scan either
    if not identities:
        return Report("unavailable", [], None, unjudged)
    found = rows.content_scans(content_hash, identities)
    verdict = judge(content_hash, marketplace, found)
    if not verdict.scanned:
        return Report("pending", identities, None, verdict)
    return Report("scanned", identities, max(scan.scanned_at for scan in found), verdict)
