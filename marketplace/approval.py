"""An admin's decision on what a sync read, for marketplaces whose new skills need approval.

With `Marketplace.requires_approval` on, sync.py creates new skills unreleased (`Skill.released`
off), and leaves a changed released skill's row as it was, staging what it read in a pending SkillRevision. The
Skill row therefore always holds the content members may see, and the web pages, the connector,
packages and the API serve it without knowing approvals exist.

Approving makes the pending content the row's; rejecting keeps it out until the repository
changes it again. Both are audit events with before and after, and both settle the marketplace
again (`settle`). sync.py calls this module, never the reverse.
"""
import json

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit import record_many
from audit.models import Action, Surface

from . import bulk, locks, scans
from .models import Plugin, Skill, SkillFile, SkillRevision

PENDING = SkillRevision.Status.PENDING
# A change refused by an admin or blocked by the security scan: while it is a skill's newest revision,
# the repository holds content members are not served.
REFUSED = [SkillRevision.Status.REJECTED, SkillRevision.Status.BLOCKED]
# A plugin whose commit holds names the sync refused to read (reader._report_unread): its problems say so.
UNREAD = json.dumps([{"code": "unread-files"}])
REVISION_FIELDS = ["skill", "version", "commit", "content_hash", "files", "status", "content", "created_at",
                   "scan_state", "scan_override"]


class SyncRunning(Exception):
    """A sync of the marketplace holds its lock; decide again when it has finished."""


class NeedsReason(Exception):
    """Approving these overrides what the security scan found (or has not found yet): an admin must
    say why. `concerned` are the revisions, or the plugins whose content besides skills, concerned."""

    def __init__(self, concerned):
        super().__init__(f"{len(concerned)} change(s) failed or have not passed the security scan; "
                         "approving them overrides the findings, so give a reason.")
        self.concerned = concerned


def approve(revisions, request, *, reason="", via="") -> int:
    """Publish pending revisions; return how many. Raises SyncRunning, and NeedsReason when one
    fails the security scan gate and no `reason` overrides it (a blocked revision may be approved so).
    `via` names what approved them when no person did (the security scan releasing what passed)."""
    return _decide(revisions, request, approve=True, reason=reason, via=via)


def reject(revisions, request) -> int:
    """Refuse pending revisions: members keep what they see; the same content is not proposed again."""
    return _decide(revisions, request, approve=False)


def gated(marketplace) -> bool:
    """Must a sync stage what it reads, because an admin or the security scan decides what is served?"""
    return marketplace.requires_approval or scans.gated(marketplace)


def publish_waiting(marketplace, request) -> int | None:
    """After an admin turned the approval policy (or the scan gate) off: nothing waits any more, so
    what did is published, as this admin's approval. Return how many, None when nothing waited.
    Raises SyncRunning."""
    waiting = SkillRevision.objects.filter(skill__marketplace=marketplace, status=PENDING)
    if gated(marketplace):
        return None
    if not waiting.exists():
        resettle(marketplace)  # what plugins install besides skills, held by the gate, is approved as synced
        return None
    return approve(waiting, request)  # which settles the plugins too


def _decide(revisions, request, approve, reason="", via=""):
    # An admin's override with a reason may also approve what the scan blocked.
    statuses = [PENDING, SkillRevision.Status.BLOCKED] if approve and reason else [PENDING]
    # Unordered: the default order (by skill) joins what a skill is ordered by, for nothing here.
    revisions = revisions.filter(status__in=statuses).order_by()
    pending = list(revisions.with_skill())
    overridden = {}
    if approve and not via:
        overridden = {r.pk: verdict for r in pending if (verdict := scans.needs_override(r)) is not None}
        if overridden and not reason:
            raise NeedsReason([r for r in pending if r.pk in overridden])
    marketplaces = {revision.skill.marketplace for revision in pending}
    with transaction.atomic():
        _lock(marketplaces)
        # A sync that ran before we took the lock may have replaced some of them.
        still = set(revisions.values_list("pk", flat=True))
        # Oldest first, on one row per skill: where two changes of a skill are decided at once, its newest wins.
        decided = sorted((r for r in pending if r.pk in still), key=lambda r: (r.created_at, r.pk))
        skills, replaced, fields, events, now = {}, {}, {"released"}, [], timezone.now()
        for revision in decided:
            skill = revision.skill = skills.setdefault(revision.skill_id, revision.skill)
            described = {"content_hash": revision.content_hash, "version": revision.version, "commit": revision.commit}
            if revision.pk in overridden:
                verdict = overridden[revision.pk]
                revision.scan_override = {"by": _login(request), "reason": reason, "at": now.isoformat()}
                events.append((Action.SCAN_OVERRIDDEN, skill, {
                    "revision": described, "reason": reason, "severity": verdict.severity,
                    "scanned": verdict.scanned, "findings": verdict.findings[:scans.LISTED_FINDINGS],
                }))
            before = {"released": skill.released, "content_hash": skill.content_hash}
            if approve:
                skill.released = True
                if revision.content:  # else the row holds it already (a new skill)
                    for key, value in revision.content.items():
                        setattr(skill, key, value)
                    skill.updated_at = now
                    fields.update([*revision.content, "updated_at"])
                    replaced[skill.pk] = revision.files
            revision.status = SkillRevision.Status.APPROVED if approve else SkillRevision.Status.REJECTED
            revision.content = {}  # the row now holds it, or nobody will
            events.append((Action.SKILL_APPROVED if approve else Action.SKILL_REJECTED, skill, {
                "before": before,
                "after": {"released": skill.released, "content_hash": skill.content_hash},
                "revision": described,
                **({"via": via} if via else {}),
            }))
        if approve:
            _publish(skills.values(), sorted(fields), replaced)
        bulk.update(decided, ["status", "content", "scan_override"])
        # The scan's own release is Skillport's act (it never overrides findings: only people do).
        record_many(events, request=request, surface=Surface.SKILLPORT if via else None)
        for marketplace in marketplaces:
            # access.json names skills, and an approved change may rename one.
            Skill.objects.filter(marketplace=marketplace).apply_access_rules(marketplace.access_rules)
            settle(marketplace)
            scans.refresh_served(marketplace)
    return len(decided)


def approve_plugin_content(plugins, request, *, reason="") -> int:
    """Approve what `plugins` install besides their skills (plugincontent), as their last sync read it;
    return how many waited. Raises SyncRunning, and NeedsReason when the security scan gate holds
    some of it (failed, or not scanned yet) and no `reason` overrides it."""
    plugins = list(plugins.select_related("marketplace"))
    overridden = {plugin.pk: verdict for plugin in plugins if plugin.own_hash != plugin.approved_own_hash
                  and (verdict := scans.content_needs_override(plugin)) is not None}
    if overridden and not reason:
        raise NeedsReason([plugin for plugin in plugins if plugin.pk in overridden])
    marketplaces = {plugin.marketplace for plugin in plugins}
    with transaction.atomic():
        _lock(marketplaces)
        # As they are now: a sync may have read new content since they were judged.
        current = {pk: row for pk, *row in Plugin.objects.filter(pk__any=[plugin.pk for plugin in plugins])
                   .values_list("pk", "own_hash", "approved_own_hash", "commit")}
        decided, events = [], []
        for plugin in plugins:
            synced = plugin.own_hash
            # (One removed with its marketplace since then waits for nothing.)
            plugin.own_hash, before, plugin.commit = current.get(plugin.pk, (synced, synced, plugin.commit))
            if plugin.own_hash == before or plugin.own_hash != synced:
                continue  # nothing waits, or a sync read new content since: not what the scan was judged on
            plugin.approved_own_hash = plugin.own_hash
            decided.append(plugin)
            if plugin.pk in overridden:
                verdict = overridden[plugin.pk]
                events.append((Action.SCAN_OVERRIDDEN, plugin, {
                    "content": {"own_hash": plugin.own_hash, "commit": plugin.commit}, "reason": reason,
                    "severity": verdict.severity, "scanned": verdict.scanned,
                    "findings": verdict.findings[:scans.LISTED_FINDINGS],
                }))
            events.append((Action.PLUGIN_CONTENT_APPROVED, plugin, {"before": before, "after": plugin.own_hash}))
        bulk.update(decided, ["approved_own_hash"])
        record_many(events, request=request)
        for marketplace in marketplaces:
            settle(marketplace)
    return len(decided)


def _passing_plugin_content(marketplace) -> list[str]:
    """The digests of what the marketplace's plugins install besides their skills, as synced and not yet
    approved, that every current scanner judged and found nothing in at or above the threshold."""
    waiting = list(Plugin.objects.filter(marketplace=marketplace).exclude(own_hash="")
                   .exclude(own_hash=F("approved_own_hash")).values_list("own_hash", flat=True))
    return scans.passing(waiting, marketplace) if waiting else []


def resettle(marketplace):
    """`settle` under the marketplace's lock, for what changes outside a sync or a decision (a scan that
    finished). Raises SyncRunning: the sync running settles it when it ends."""
    with transaction.atomic():
        _lock([marketplace])
        settle(marketplace)


def _lock(marketplaces):
    """Take each marketplace's sync lock for this transaction, in one order, or raise SyncRunning:
    without waiting, as a sync may hold it for minutes, and it reads what a decision writes."""
    for marketplace in sorted(marketplaces, key=lambda m: m.pk):
        if not locks.try_take_for_transaction(locks.MARKETPLACE, marketplace.pk):
            raise SyncRunning(f"A sync of {marketplace.slug} is running; decide again when it has finished.")


def _login(request) -> str:
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else ""


def _publish(skills, fields, replaced):
    """Save approved skills' `fields`; `replaced` ({skill id: files}) are those whose content changed, whose
    files are written again."""
    bulk.update([skill for skill in skills if skill.pk in replaced], fields)
    Skill.objects.filter(pk__any=[skill.pk for skill in skills if skill.pk not in replaced]).update(released=True)
    SkillFile.objects.filter(skill__any=list(replaced)).delete()
    bulk.copy_rows(SkillFile, ["skill", "path", "size", "mode", "is_binary", "blob", "omitted"], (
        (pk, f["path"], f["size"], f["mode"], f["is_binary"], None if f["omitted"] else f["sha"], f["omitted"])
        for pk, files in replaced.items() for f in files
    ))


def record_revisions(written, now):
    """A revision of each skill row a sync wrote, `written` as (Skill, PluginData, SkillData): approved
    when members see the row, else pending (a new skill under the policy, its content in the row)."""
    status = SkillRevision.Status
    bulk.copy_rows(SkillRevision, REVISION_FIELDS, [
        (row.pk, data.version[:100], data.commit, skill.content_hash, _files(skill),
         status.APPROVED if row.released else status.PENDING, {}, now, "", {})
        for row, data, skill in written
    ])


def stage(changes, now, content, rejudging=False):
    """Under the policy, a changed skill members see keeps its row (brought back if it was gone): what
    a sync read waits in a pending revision, which keeps `content(skill)` until approved.

    `changes` are (skill id, PluginData, SkillData). Content already waiting, or already rejected, is
    not staged again: a sync re-reads it often. `rejudging`: a newer reader read it, and what it made
    of content still waiting replaces what the older one did.
    """
    ids = [pk for pk, _data, _skill in changes]
    Skill.objects.filter(pk__any=ids, removed_at__isnull=False).update(removed_at=None)
    rows = SkillRevision.objects.filter(
        skill_id__any=ids, status__in=[PENDING, SkillRevision.Status.REJECTED, SkillRevision.Status.BLOCKED],
    ).values_list("pk", "skill_id", "content_hash", "status")
    waiting = {(pk, content_hash): (revision, status) for revision, pk, content_hash, status in rows}
    bulk.copy_rows(SkillRevision, REVISION_FIELDS, [
        (pk, data.version[:100], data.commit, skill.content_hash, _files(skill), PENDING, content(skill), now, "", {})
        for pk, data, skill in changes
        if (pk, skill.content_hash) not in waiting
    ])
    if rejudging:
        judged = []
        for pk, _data, skill in changes:
            revision, status = waiting.get((pk, skill.content_hash), (None, None))
            if status == PENDING:
                judged.append(SkillRevision(pk=revision, content=content(skill)))
        bulk.update(judged, ["content"])


def withdraw(skill_ids):
    """The repository holds these skills' approved content (again): what waited for a decision is
    superseded, and so is a refused change that was their newest revision, which would otherwise
    keep their plugin's approved commit (settle) behind for good."""
    revisions = SkillRevision._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {revisions} AS r SET status = %s WHERE r.skill_id = ANY(%s) AND (r.status = %s OR ("
            f"  r.status = ANY(%s) AND r.id = (SELECT max(n.id) FROM {revisions} AS n WHERE n.skill_id = r.skill_id)))",
            [SkillRevision.Status.SUPERSEDED, list(skill_ids), PENDING, REFUSED],
        )


def _files(skill) -> list[dict]:
    return [{"path": f.path, "sha": f.sha, "size": f.size, "mode": f.mode, "is_binary": f.is_binary,
             "omitted": f.omitted} for f in skill.files]


def settle(marketplace):
    """After a sync or an admin's decision: point each skill at its newest pending revision, supersede
    older ones and those matching the approved content again, and move a plugin's `approved_commit`
    (what the curated catalogue pins) only when nothing in it waits."""
    skills, revisions, plugins = Skill._meta.db_table, SkillRevision._meta.db_table, Plugin._meta.db_table
    with connection.cursor() as cursor:
        # Retire pending revisions that a newer read replaced, or that match the approved content again.
        cursor.execute(
            f"UPDATE {revisions} AS r SET status = %s FROM {skills} AS s "
            f"WHERE r.skill_id = s.id AND s.marketplace_id = %s AND r.status = %s "
            f"AND ((s.released AND r.content_hash = s.content_hash) "
            f"OR EXISTS (SELECT 1 FROM {revisions} AS n WHERE n.skill_id = r.skill_id AND n.id > r.id))",
            [SkillRevision.Status.SUPERSEDED, marketplace.pk, PENDING],
        )
        # Now each skill has at most one pending revision, its newest: point at it, or at nothing.
        cursor.execute(
            f"UPDATE {skills} AS s SET pending_revision_id = NULL FROM {revisions} AS r "
            f"WHERE r.id = s.pending_revision_id AND s.marketplace_id = %s AND r.status <> %s",
            [marketplace.pk, PENDING],
        )
        # The pending revisions are read once: joined to each skill, PostgreSQL walked the whole pending index
        # per skill, and after a decision on 2,000 skills in the same transaction, each walk checked their
        # 2,000 dead entries (1.8 s).
        cursor.execute(
            f"WITH pending AS MATERIALIZED (SELECT r.id, r.skill_id FROM {revisions} AS r "
            f"  JOIN {skills} AS m ON m.id = r.skill_id WHERE m.marketplace_id = %s AND r.status = %s) "
            f"UPDATE {skills} AS s SET pending_revision_id = r.id FROM pending AS r "
            f"WHERE r.skill_id = s.id AND s.pending_revision_id IS DISTINCT FROM r.id",
            [marketplace.pk, PENDING],
        )
        # What a plugin installs besides its skills (plugincontent): approved as synced where no admin
        # decides, once it passed the security scan where the scan gate holds or blocks; and, under the
        # policy, as it is at the commit and entry already approved (so the content of plugins synced before
        # it was followed counts as approved, and an unchanged commit stays so). The entry too: a plugin of
        # another repository keeps its commit while a push to this one gives its entry a server.
        scan_gated = scans.gated(marketplace)
        cursor.execute(
            f"UPDATE {plugins} AS p SET approved_own_hash = p.own_hash "
            f"WHERE p.marketplace_id = %s AND p.approved_own_hash <> p.own_hash "
            f"AND ((%s AND (NOT %s OR p.own_hash = '' OR p.own_hash = ANY(%s))) "
            f"OR (p.approved_commit = p.commit AND p.approved_entry = p.entry)) "
            f"RETURNING p.id, p.name, p.own_hash",
            [marketplace.pk, not marketplace.requires_approval, scan_gated,
             _passing_plugin_content(marketplace) if scan_gated else []],
        )
        if scan_gated:
            record_many([(Action.PLUGIN_CONTENT_APPROVED, {"marketplace": marketplace.slug, "plugin": name},
                          {"after": own_hash, "via": "security scan"}) for _pk, name, own_hash in cursor.fetchall()],
                        surface=Surface.SKILLPORT)
        # The approved content is the content of the approved digest: whatever set the digest (above, an
        # admin's decision, or a sync from before the content was kept) leaves it to this statement.
        cursor.execute(
            f"UPDATE {plugins} AS p SET approved_own_content = p.own_content "
            f"WHERE p.marketplace_id = %s AND p.approved_own_hash = p.own_hash "
            f"AND p.approved_own_content <> p.own_content",
            [marketplace.pk],
        )
        # A commit approved before the sync refused names it holds (a rule added since) is one nobody could
        # review after all: the plugin has no approved commit until one without them is synced.
        cursor.execute(
            f"UPDATE {plugins} SET approved_commit = '' "
            f"WHERE marketplace_id = %s AND approved_commit = commit AND problems @> %s::jsonb",
            [marketplace.pk, UNREAD],
        )
        # The repository at a plugin's commit, with its entry, holds exactly what members see only when none
        # of its skills waits for approval (or was refused it), nor the rest of it, and it holds no name the
        # sync refused to read (reader._report_unread); otherwise keep pinning the last such commit, entry and
        # plugin.json, and judging whether it loads, and what it installs besides skills, as then. Nor may another
        # plugin's skill whose folder lies in the plugin's, in the repository read at the same commit (plugins at
        # the top of a repository, or two entries of one fetched repository, hold each other's): installed from that
        # commit, its files come along, and the plugin's hooks could run them.
        # The marketplace's skills are read once (a lookup per plugin ANDed two indexes, one of them
        # holding every live skill of the catalogue), and kept (MATERIALIZED): inlined into the NOT
        # EXISTS, they were read again for each plugin, and a sync that moved 500 plugins' commits spent
        # 1.1 s here instead of 14 ms. The plugin's own skills are a test apart, which PostgreSQL hashes.
        cursor.execute(
            f"WITH waiting AS MATERIALIZED ("
            f"  SELECT s.plugin_id, s.path, o.commit "
            f"  FROM {skills} AS s JOIN {plugins} AS o ON o.id = s.plugin_id "
            f"  WHERE s.marketplace_id = %s AND s.removed_at IS NULL "
            f"  AND (s.pending_revision_id IS NOT NULL OR NOT s.released OR ("
            f"    SELECT r.status FROM {revisions} AS r WHERE r.skill_id = s.id ORDER BY r.id DESC LIMIT 1"
            f"  ) = ANY(%s))), "
            f"moved AS (UPDATE {plugins} AS p "
            f"SET approved_commit = p.commit, approved_entry = p.entry, approved_manifest = p.manifest, "
            f"approved_root = p.root, approved_loads = p.loads, approved_refusal = p.refusal, "
            f"served_own_hash = p.own_hash, served_own_content = p.own_content "
            f"WHERE p.marketplace_id = %s AND (p.approved_commit <> p.commit OR p.approved_entry <> p.entry "
            f"OR p.approved_manifest IS DISTINCT FROM p.manifest OR p.approved_root IS DISTINCT FROM p.root "
            f"OR p.approved_loads <> p.loads "
            f"OR p.approved_refusal <> p.refusal OR p.served_own_hash <> p.own_hash "
            f"OR p.served_own_content <> p.own_content) "
            f"AND p.own_hash = p.approved_own_hash "
            f"AND NOT p.problems @> %s::jsonb "
            f"AND NOT EXISTS (SELECT 1 FROM waiting AS w WHERE w.plugin_id = p.id) "
            f"AND NOT EXISTS (SELECT 1 FROM waiting AS w WHERE w.commit = p.commit AND p.root IS NOT NULL "
            f"  AND (p.root = '' OR w.path = p.root OR starts_with(w.path, p.root || '/'))) "
            f"RETURNING p.id) "
            # The skills a moved plugin's approved commit holds: its live ones, every one approved. A skill removed
            # since stays held until then: members it is kept from must not get the commit that holds it.
            f"UPDATE {skills} AS s SET in_approved_commit = s.removed_at IS NULL FROM moved "
            f"WHERE s.plugin_id = moved.id AND s.in_approved_commit <> (s.removed_at IS NULL)",
            [marketplace.pk, REFUSED, marketplace.pk, UNREAD],
        )
