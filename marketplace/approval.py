"""An admin's decision on what a sync read, for marketplaces whose new skills need approval.

With `Marketplace.requires_approval` on, sync.py creates new skills unapproved, and leaves a
changed approved skill's row as it was, putting what it read into a pending SkillRevision. The
Skill row therefore always holds the content members may see, and the web pages, the connector,
packages and the API serve it without knowing approvals exist.

Approving makes the pending content the row's; rejecting keeps it out until the repository
changes it again. Both are audit events with before and after, and both settle the marketplace
again (`sync.settle_approvals`).
"""
from django.db import transaction
from django.utils import timezone

from audit import record
from audit.models import Action

from .models import SkillFile, SkillRevision
from .sync import apply_readers, settle_approvals, try_lock_for_transaction

PENDING = SkillRevision.Status.PENDING


class SyncRunning(Exception):
    """A sync of the marketplace holds its lock; decide again when it has finished."""


def approve(revisions, request) -> int:
    """Publish pending revisions; return how many. Raises SyncRunning."""
    return _decide(revisions, request, approve=True)


def reject(revisions, request) -> int:
    """Refuse pending revisions: members keep what they see; the same content is not proposed again."""
    return _decide(revisions, request, approve=False)


def _decide(revisions, request, approve):
    pending = list(revisions.filter(status=PENDING).select_related("skill__plugin", "skill__marketplace"))
    marketplaces = {revision.skill.marketplace for revision in pending}
    with transaction.atomic():
        for marketplace in sorted(marketplaces, key=lambda m: m.pk):
            # Without waiting: a sync may hold the lock for minutes, and it reads `approved`.
            if not try_lock_for_transaction(marketplace.pk):
                raise SyncRunning(f"A sync of {marketplace.slug} is running; decide again when it has finished.")
        decided = 0
        for revision in pending:
            revision.refresh_from_db(fields=["status"])
            if revision.status != PENDING:
                continue  # the sync that ran before we took the lock replaced it
            skill = revision.skill
            before = {"approved": skill.approved, "content_hash": skill.content_hash}
            if approve:
                _publish(skill, revision)
            revision.status = SkillRevision.Status.APPROVED if approve else SkillRevision.Status.REJECTED
            revision.content = {}  # the row now holds it, or nobody will
            revision.save(update_fields=["status", "content"])
            record(Action.SKILL_APPROVED if approve else Action.SKILL_REJECTED, request=request, target=skill, extra={
                "before": before,
                "after": {"approved": skill.approved, "content_hash": skill.content_hash},
                "revision": {"content_hash": revision.content_hash, "version": revision.version,
                             "commit": revision.commit},
            })
            decided += 1
        for marketplace in marketplaces:
            apply_readers(marketplace)  # access.json names skills, and an approved change may rename one
            settle_approvals(marketplace)
    return decided


def _publish(skill, revision):
    if revision.content:
        for key, value in revision.content.items():
            setattr(skill, key, value)
        skill.updated_at = timezone.now()
        skill.files.all().delete()
        SkillFile.objects.bulk_create(
            SkillFile(skill=skill, path=f["path"], size=f["size"], mode=f["mode"], is_binary=f["is_binary"],
                      blob_id=None if f["omitted"] else f["sha"], omitted=f["omitted"])
            for f in revision.files
        )
    skill.approved = True
    skill.save()
