"""One publish of one target, recorded as a PublishRun and an audit event.

Build the vendored marketplace (in memory), then hand it to the target's kind: a git
commit or pull request, a ZIP kept for download, or new skill versions in an API workspace.
A failure leaves what was published before exactly as it was: the target's record of what it
published changes only after the channel took the new content.
"""
import hashlib
import logging
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from audit import record
from audit.models import Action, AuditEvent, Outcome, Surface
from marketplace import locks, pulls
from marketplace.models import CatalogueVersion, SkillFile
from marketplace.gitrepo import GitError

from . import archive, pushing, vendor, workspaces
from .models import Kind, PublishRun, PublishTarget, Status, Trigger

log = logging.getLogger(__name__)

# Claude.ai's GitHub sync of an organisation marketplace reads at most this many plugins.
GITHUB_SYNC_LIMIT = 500
SURFACES = {Trigger.CLI: Surface.CLI, Trigger.API: Surface.API, Trigger.MANUAL: Surface.WEB,
            Trigger.SCHEDULE: Surface.SCHEDULE, Trigger.CHANGE: Surface.SKILLPORT}


def publish(target, trigger=Trigger.MANUAL, *, run=None, actor=None, replace_edits=False, progress=None) -> PublishRun:
    """Publish `target` now; return its run (failed runs included: they say why)."""
    run = run or PublishRun.objects.create(target=target, trigger=trigger)
    if not locks.try_take(locks.PUBLISH_TARGET, target.pk):
        return _finish(run, Status.FAILED, error="Another publish of this target is running; it will carry these changes.",
                       actor=actor)
    try:
        # Read first: what changes while this publish runs moves the version past it, and publishes again.
        version = CatalogueVersion.current()
        run.status, run.started_at, run.progress = Status.RUNNING, timezone.now(), {"phase": "build"}
        run.save(update_fields=["status", "started_at", "progress"])
        # A failure too is not retried until something changes, the schedule says so, or an admin asks.
        PublishTarget.objects.filter(pk=target.pk).update(catalogue_version=version)
        if not target.enabled:
            return _finish(run, Status.FAILED, error="The target is turned off.", actor=actor)
        if target.kind == Kind.MANAGED_SETTINGS:
            return _finish(run, Status.FAILED, actor=actor,
                           error="Managed settings are not published: device management fetches them from the API.")
        return _publish(target, run, actor, replace_edits, _reporter(run, progress))
    except Exception as exc:  # a failed publish is recorded, whatever failed
        log.exception("publish of target %s failed", target.pk)
        return _finish(run, Status.FAILED, error=_safe(exc), actor=actor, detail=getattr(exc, "detail", ""))
    finally:
        locks.release(locks.PUBLISH_TARGET, target.pk)


def _publish(target, run, actor, replace_edits, progress) -> PublishRun:
    build = vendor.build(marketplaces=target.marketplaces.all(), audience=target.audience,
                         name=target.marketplace_name, owner=owner(target), progress=progress)
    run.plugins, run.skills, run.size = len(build.plugins), len(build.skills), build.size
    run.problems = [p.as_dict() for p in build.problems]
    # What the channel holds now: for a repository, its branch (a pull request may never have been merged).
    before = pushing.on_branch(target) if target.kind == Kind.GIT else target.published
    run.changes = changes(before, build.summary())
    run.approvals = approvals(build.skills)
    progress("publish", 0, 1)
    if target.kind == Kind.GIT:
        return _to_git(target, run, build, actor, replace_edits)
    if target.kind == Kind.ZIP:
        return _to_zip(target, run, build, actor)
    return _to_workspace(target, run, build, actor)


def _to_git(target, run, build, actor, replace_edits) -> PublishRun:
    if len(build.plugins) > GITHUB_SYNC_LIMIT:
        run.problems.append({"severity": "warning", "code": "over-sync-limit", "location": "", "message":
                             f"{len(build.plugins)} plugins: Claude.ai's GitHub sync reads at most {GITHUB_SYNC_LIMIT}"})
    try:
        pushed = pushing.publish(target, build.files, commit_message(target, run), replace_edits=replace_edits)
    except pushing.PublishRefused as exc:
        return _finish(run, Status.FAILED, error=str(exc), actor=actor)
    if not pushed.commit and not pushed.pull_request:
        return _finish(run, Status.UNCHANGED, actor=actor)
    if pushed.pull_request and not pushed.commit:
        run.pull_request_url = pushed.pull_request["url"]
        return _finish(run, Status.UNCHANGED, actor=actor)  # the open pull request already proposes this
    run.commit = pushed.commit
    if pushed.pull_request:
        run.pull_request_url = pushed.pull_request["url"]
        target.open_pull_request = pushed.pull_request
    else:
        target.published_commit = pushed.commit
    target.published = build.summary()
    target.save(update_fields=["published", "published_commit", "open_pull_request", "updated_at"])
    return _finish(run, Status.PROPOSED if pushed.pull_request else Status.PUBLISHED, actor=actor)


def _to_zip(target, run, build, actor) -> PublishRun:
    data = archive.zip_files(build.files)
    refusals = archive.over_limits(len(data), len(build.plugins))
    if refusals:
        return _finish(run, Status.FAILED, actor=actor,
                       error="Claude.ai would refuse this upload: " + "; ".join(refusals) + ".")
    digest = hashlib.sha256(data).hexdigest()
    path = zip_path(target, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    run.artifact, run.size = path.name, len(data)
    unchanged = target.published == build.summary() and target.runs.filter(artifact=path.name).exclude(pk=run.pk).exists()
    target.published = build.summary()
    target.save(update_fields=["published", "updated_at"])
    return _finish(run, Status.UNCHANGED if unchanged else Status.PUBLISHED, actor=actor)


def _to_workspace(target, run, build, actor) -> PublishRun:
    skills, not_uploadable = _workspace_skills(build)
    # Within the task's time limit, so a workspace that stops answering still leaves a recorded run. A skill this
    # target published before and no longer carries (prohibited since, kept from its audience, removed) is deleted,
    # as a git target's copy drops it: kept, every API call in the workspace could still load it.
    state, found, refused = workspaces.push(target.api_url, target.api_key, skills, target.workspace_state,
                                            delete_removed=True, deadline=settings.SKILLPORT_SYNC_TIME_LIMIT // 2)
    run.problems += [{"severity": "error", "code": "workspace-refused", "message": message, "location": key}
                     for key, message in not_uploadable + refused]
    run.changes = {**run.changes, "workspace": found}
    target.workspace_state, target.published = state, build.summary()
    target.save(update_fields=["workspace_state", "published", "updated_at"])
    if found.get("removed"):  # still in the workspace though no longer published: that is not done
        why = next((message for key, message in refused if key in found["removed"]), "")
        return _finish(run, Status.FAILED, actor=actor, error=f"Not deleted from the workspace: "
                       f"{', '.join(found['removed'][:5])}" + (f" ({why})" if why else ""))
    if found.get("added") or found.get("updated") or found.get("recreated") or found.get("deleted"):
        return _finish(run, Status.PUBLISHED, actor=actor)
    if refused and not found.get("unchanged"):
        return _finish(run, Status.FAILED, actor=actor, error="; ".join(message for _key, message in refused[:5]))
    return _finish(run, Status.UNCHANGED, actor=actor)


def _workspace_skills(build) -> tuple[list[dict], list[tuple[str, str]]]:
    """The published skills as the Skills API takes them, and those it would refuse."""
    skills, refused = [], []
    for skill in build.skills:
        if not skill.claude_ai_uploadable:
            refused.append((skill.identifier, f"{skill.identifier} is not uploadable to Claude (see its Claude.ai verdict)"))
            continue
        files = SkillFile.objects.filter(skill=skill, blob__isnull=False).values_list("path", "blob__content")
        skills.append({"key": skill.identifier, "title": skill.title, "folder": skill.slug,
                       "files": {path: bytes(content) for path, content in files}, "digest": skill.content_hash})
    return skills, refused


def zip_path(target, digest: str) -> Path:
    return Path(settings.SKILLPORT_DATA_DIR) / "published" / target.name / f"{target.marketplace_name}-{digest[:16]}.zip"


def changes(before: dict, after: dict) -> dict:
    """Plugins added, updated (with their old and new versions) and removed between two summaries."""
    return {
        "added": [{"plugin": name, "version": after[name]["version"]} for name in sorted(after.keys() - before.keys())],
        # Versions carry a digest of the published content (vendor.published_version): equal means unchanged.
        "updated": [{"plugin": name, "from": before[name].get("version"), "to": after[name]["version"]}
                    for name in sorted(after.keys() & before.keys())
                    if before[name].get("version") != after[name]["version"]],
        "removed": [{"plugin": name, "version": before[name].get("version")}
                    for name in sorted(before.keys() - after.keys())],
    }


def approvals(skills) -> list[dict]:
    """The admins' approvals behind what is published: for each published skill of a marketplace
    under the approval policy, who approved the content served, and when."""
    governed = [s for s in skills if s.marketplace.requires_approval]
    if not governed:
        return []
    found = {}
    events = AuditEvent.objects.filter(
        action=Action.SKILL_APPROVED, marketplace__in={s.marketplace.slug for s in governed},
    ).order_by("created_at").values_list("marketplace", "plugin", "skill", "extra", "actor_login", "created_at")
    for marketplace, plugin, skill, extra, login, at in events:
        content_hash = ((extra or {}).get("after") or {}).get("content_hash")
        found[(marketplace, plugin, skill, content_hash)] = (login, at)  # the latest approval wins
    result = []
    for skill in governed:
        login, at = found.get((skill.marketplace.slug, skill.plugin.name, skill.slug, skill.content_hash), ("", None))
        result.append({"skill": skill.identifier, "content_hash": skill.content_hash,
                       "approved_by": login, "approved_at": at.isoformat() if at else None})
    return result


def commit_message(target, run) -> str:
    """The commit's (or pull request's) title and body: what changed, and the approvals behind it."""
    found = run.changes
    counts = [f"{len(found[key])} {key}" for key in ("added", "updated", "removed") if found.get(key)]
    lines = [f"Publish {target.marketplace_name} from Skillport" + (f": {', '.join(counts)}" if counts else ""), ""]
    for item in found.get("added", []):
        lines.append(f"- added {item['plugin']} {item['version']}")
    for item in found.get("updated", []):
        lines.append(f"- updated {item['plugin']} {item['from']} -> {item['to']}")
    for item in found.get("removed", []):
        lines.append(f"- removed {item['plugin']}")
    if run.approvals:
        lines += ["", "Approvals behind this content:"]
        for item in run.approvals:
            by = f"approved by {item['approved_by']} on {item['approved_at'][:10]}" if item["approved_at"] else \
                "approved before the audit log recorded approvals"
            lines.append(f"- {item['skill']} ({item['content_hash'][:12]}): {by}")
    lines += ["", f"Audience: {', '.join(target.audience) or 'every member'}", f"Skillport-Run: {run.uid}"]
    return "\n".join(lines) + "\n"


def _finish(run, status, *, error="", actor=None, detail="") -> PublishRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.progress = {}
    run.save()
    if status == Status.UNCHANGED:
        return run
    ok = status != Status.FAILED
    record(Action.PUBLISHED if ok else Action.PUBLISH_FAILED, actor=actor, surface=SURFACES.get(run.trigger),
           outcome=Outcome.OK if ok else Outcome.ERROR, extra={
               "target": run.target.name, "kind": run.target.kind, "run": str(run.uid), "status": status,
               "commit": run.commit, "pull_request": run.pull_request_url, "changes": run.changes,
               "error": error, **({"detail": detail} if detail else {}),
           })
    return run


# How often a run's progress is written while a phase goes on: a write per plugin cost 0.5 s of a 2.5 s publish of
# 500 plugins, for a page that polls once a second.
PROGRESS_SECONDS = 0.5


def _reporter(run, callback):
    written = {"phase": None, "at": 0.0}

    def report(phase, done, total):
        run.progress = {"phase": phase, "done": done, "total": total}
        now = time.monotonic()
        if phase != written["phase"] or done >= total or now - written["at"] >= PROGRESS_SECONDS:
            PublishRun.objects.filter(pk=run.pk).update(progress=run.progress)
            written.update(phase=phase, at=now)
        if callback:
            callback(phase, done, total)
    return report


def owner(target) -> dict:
    """The published marketplace.json's owner: the target's, as Claude shows it."""
    named = {"name": target.owner_name or "Skillport"}
    return named | ({"email": target.owner_email} if target.owner_email else {})


def _safe(exc) -> str:
    """What admins read of an unexpected failure: git's and GitHub's messages hold no secret."""
    if isinstance(exc, (GitError, pulls.PullRequestError, workspaces.WorkspaceError, pushing.PublishRefused)):
        return str(exc)
    return f"Publishing failed unexpectedly ({exc.__class__.__name__}); the server log has the details."
