"""Sync one marketplace into the database.

1. Take the marketplace's advisory lock, so one sync runs at a time; a second one waits.
2. Fetch and parse the catalogue (`Reader.prepare`). Same fingerprint as the last good sync:
   record an "unchanged" run and stop.
3. Read plugins and skills (`Reader.read`), storing new file content as it is read.
4. Reconcile in one transaction, keyed by natural keys: add what is new, update what changed,
   tombstone what is gone. A plugin that could not be read keeps what it had.
5. Record the outcome on the SyncRun and the marketplace. A failure before step 4 changes
   nothing in the catalogue.

Every row passes through `storable` first: text PostgreSQL cannot hold is stored as U+FFFD, and a
plugin or skill whose name, slug or path is longer than its column is left out, with an error on
that item, so one hostile item never fails the whole sync.
"""
import hashlib
import json
import logging
import time
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import record
from audit.models import Action, Outcome, Surface

from . import access, approval, bulk, liveness, locks, rendering, storable
from .bulk import copy_rows, copy_rows_ignoring_conflicts
from .gitrepo import GitError
from .models import Blob, Marketplace, Plugin, Skill, SkillFile, Status, SyncRun
from .problems import ERROR, TRUNCATED, WARNING, CatalogError, Problem
from .reader import READER_VERSION, Reader
from .snapshot import HOLDS_TOO_MANY

log = logging.getLogger(__name__)

# Problems kept of a sync, and of a plugin or skill, whose page lists them all: one commit of a catalogue
# entry with 100,000 made-up keys made as many warnings.
MAX_STORED_PROBLEMS = 5000
MAX_ROW_PROBLEMS = 200
BLOB_FIELDS = ["sha", "size", "is_binary", "is_lfs_pointer", "content", "sha256"]
SKILL_FIELDS = [
    "name", "command", "path", "description", "frontmatter", "frontmatter_raw", "body", "body_html", "content_hash",
    "loads_in_claude_code", "spec_valid", "claude_ai_uploadable", "verdict_reasons", "problems",
    "updated_at", "removed_at", "released",
]
# What a reader makes of a skill's content, judged again by a newer one (_rejudge).
JUDGED_FIELDS = [
    "name", "command", "description", "frontmatter", "frontmatter_raw", "body", "body_html", "loads_in_claude_code",
    "spec_valid", "claude_ai_uploadable", "verdict_reasons", "problems",
]
# commit and version change with every push for plugins that live in the marketplace repo, so
# they are kept out of the fingerprint and set for all plugins in one statement (_set_commits).
PLUGIN_FIELDS = [
    "display_name", "description", "source_kind", "source", "category", "tags",
    "keywords", "surfaces", "author", "license", "homepage", "repository", "entry", "manifest", "readme",
    "readme_html", "loads", "refusal", "own_content", "own_hash", "root", "holds", "problems", "fingerprint",
    "removed_at", "last_seen_at", "updated_at",
]

# A sync renders each changed SKILL.md and README. At rendering.HIGHLIGHT_SECONDS each, 1,800 made to
# be slow to highlight would hold every sync of their marketplace past SKILLPORT_SYNC_TIME_LIMIT (900 s),
# so one author could stop it ever syncing again. A sync's documents share this long for highlighting,
# and this much more each (a real SKILL.md with five fences of Python takes 4 ms); past it, code is
# stored plain and the sync says so.
HIGHLIGHTING_SECONDS, HIGHLIGHTING_SECONDS_PER_DOCUMENT = 60, 0.01


def sync_marketplace(marketplace_id: int, trigger: str = SyncRun.Trigger.MANUAL, progress=None, run_id=None,
                     actor=None, surface=None) -> SyncRun:
    """Sync and return the finished SyncRun. Raises Marketplace.DoesNotExist if it is gone.

    `run_id` names a SyncRun created beforehand (by "Sync now", so the page can follow it); `actor`
    and `surface` say who asked for it and where, for the audit log (else the trigger's surface).
    """
    marketplace = Marketplace.objects.get(pk=marketplace_id)
    # The run is held for liveness (a run whose process dies is reaped), the marketplace for one sync at a time.
    with (
        liveness.claimed(marketplace, trigger, run_id) as run,
        locks.held(locks.MARKETPLACE, marketplace.pk, settings.SKILLPORT_SYNC_TIME_LIMIT,
                   busy=f"another sync of marketplace {marketplace.pk} is still running"),
    ):
        reporter = _Progress(run, progress)
        finish = partial(_finish, run, marketplace, actor=actor, surface=surface or liveness.SURFACES.get(trigger))
        marketplace.refresh_from_db()
        previous_status = marketplace.status
        Marketplace.objects.filter(pk=marketplace.pk).update(status=Status.RUNNING)
        reader = Reader(
            marketplace.git_url,
            ref=marketplace.ref,
            catalog_path=marketplace.catalog_path,
            token=marketplace.access_token or None,
            token_reach=marketplace.token_reach,
            # A newer reader reads every skill, so that its rules judge what an older one judged (_rejudge).
            known_skills=known_skills(marketplace) if marketplace.reader_version == READER_VERSION else {},
            blob_sink=DatabaseBlobSink(),
            progress=reporter,
        )
        try:
            fingerprint = reader.prepare()
            run.commit = reader.commit
            if fingerprint == marketplace.last_sync_fingerprint:
                _finish_unchanged(run, marketplace, previous_status)
            else:
                snapshot = reader.read()
                reporter("save", 0, 1)
                with (
                    transaction.atomic(),
                    rendering.budget(HIGHLIGHTING_SECONDS, HIGHLIGHTING_SECONDS_PER_DOCUMENT) as highlighting,
                ):
                    counts = reconcile(marketplace, snapshot)
                    problems = [p.as_dict() for p in snapshot.problems + _unhighlighted(highlighting)]
                    status = Status.PARTIAL if snapshot.incomplete else Status.OK
                    finish(status, problems, counts, fingerprint=fingerprint)
        except CatalogError as exc:
            finish(Status.FAILED, [exc.problem.as_dict()], {}, error=str(exc))
        except GitError as exc:
            finish(Status.FAILED, [], {}, error=str(exc))
        except Exception as exc:  # an unexpected bug must still be recorded, not leave "running"
            log.exception("sync of marketplace %s failed", marketplace.slug)
            finish(Status.FAILED, [], {}, error=f"Internal error: {exc.__class__.__name__}: {exc}")
        finally:
            reader.close()
    log.info("sync %s: %s commit=%s counts=%s", marketplace.slug, run.status, run.commit[:12], run.counts)
    return run


def _unhighlighted(highlighting) -> list[Problem]:
    if not highlighting.plain:
        return []
    return [Problem(WARNING, "highlighting-stopped", (
        f"Code in {highlighting.plain} skill or plugin document(s) is shown without highlighting: the sync "
        f"highlights for {HIGHLIGHTING_SECONDS} s, and {HIGHLIGHTING_SECONDS_PER_DOCUMENT * 1000:g} ms more a "
        f"document, and this marketplace's took longer. Each is highlighted again when it changes."))]


class _Progress:
    """Writes progress to the SyncRun at most twice a second (outside any transaction)."""

    def __init__(self, run, callback=None):
        self.run, self.callback, self.last = run, callback, 0.0

    def __call__(self, phase, done, total):
        if self.callback:
            self.callback(phase, done, total)
        now = time.monotonic()
        if now - self.last >= 0.5 or done == total:
            self.last = now
            self.run.progress = {"phase": phase, "done": done, "total": total}
            SyncRun.objects.filter(pk=self.run.pk).update(progress=self.run.progress)


class DatabaseBlobSink:
    """Stores file content as it is read, in batches, once per blob id.

    Blobs are content-addressed, so writing them before the catalogue transaction is safe:
    a failed sync leaves only unreferenced rows that a later sync may reuse.
    """

    BATCH_BYTES = 8 * 1024 * 1024

    def __init__(self):
        self.pending, self.pending_bytes = [], 0

    def known(self, shas):
        # One array parameter: `sha__in` binds one per blob, and psycopg reads every placeholder out of
        # the statement: looking up 6,100 blobs took 25-67 ms that way, 16-19 ms this way.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT sha, is_binary, is_lfs_pointer FROM {Blob._meta.db_table} WHERE sha = ANY(%s)",
                           [list(shas)])
            return {sha: (is_binary, is_lfs) for sha, is_binary, is_lfs in cursor.fetchall()}

    def put(self, sha, content, is_binary, is_lfs):
        # The SHA-256 is for provenance manifests (provenance.py): hashed here, while the bytes are at hand.
        self.pending.append((sha, len(content), is_binary, is_lfs, content, hashlib.sha256(content).hexdigest()))
        self.pending_bytes += len(content)
        if self.pending_bytes >= self.BATCH_BYTES or len(self.pending) >= 2000:
            self.flush()

    def flush(self):
        if self.pending:
            with transaction.atomic():
                copy_rows_ignoring_conflicts(Blob, BLOB_FIELDS, self.pending)
        self.pending, self.pending_bytes = [], 0


def known_skills(marketplace) -> dict:
    """What the last sync read of each skill content (content hash -> name, slug, problems): the reader
    reads no further a skill whose hash is here."""
    rows = Skill.objects.filter(marketplace=marketplace, removed_at=None).values_list(
        "content_hash", "name", "slug", "problems"
    )
    return {h: {"name": n, "slug": s, "problems": p} for h, n, s, p in rows}


def reconcile(marketplace, snapshot) -> dict:
    """Make the database match the snapshot; return the run's counts. Call inside a transaction."""
    now = timezone.now()
    catalog = snapshot.catalog
    fields = {
        "name": (catalog.name or marketplace.name or marketplace.slug)[:200], "description": catalog.description,
        "owner": catalog.owner, "metadata": catalog.metadata, "renames": catalog.renames,
        "cross_marketplace": catalog.cross_marketplace,
    }
    if snapshot.access is not None:
        fields["access_rules"] = snapshot.access
    for key, value in _storable(fields, catalog.problems, marketplace.catalog_path).items():
        setattr(marketplace, key, value)
    rejudging = marketplace.reader_version != READER_VERSION
    if not any(plugin.failed for plugin in snapshot.plugins):
        # Saved with the run's outcome. A plugin that could not be read keeps its skills as they were
        # judged, so the marketplace stays at the older reader until the sync that can read it.
        marketplace.reader_version = READER_VERSION

    plugins = _reconcile_plugins(marketplace, snapshot, now)
    added, updated, removed = _reconcile_skills(marketplace, snapshot, plugins, now, rejudging)
    Skill.objects.filter(marketplace=marketplace).apply_access_rules(marketplace.access_rules)
    approval.settle(marketplace)
    live_skills = Skill.objects.filter(marketplace=marketplace, removed_at=None)
    return {
        "plugins": Plugin.objects.filter(marketplace=marketplace, removed_at=None).count(),
        "skills": live_skills.count(),
        "files": SkillFile.objects.filter(skill__in=live_skills).count(),
        "added": added,
        "updated": updated,
        "removed": removed,
        "unreachable_skill_files": snapshot.unreachable_skill_files,
    }


def _plugin_values(data, where) -> dict:
    display = data.display
    author = display.get("author")
    own = data.own_content
    values = _storable({
        "display_name": _str(display.get("displayName")),
        "description": _str(display.get("description")),
        "version": data.version[:100],
        "commit": data.commit,
        "source_kind": data.source.kind if data.source else "invalid",
        "source": data.entry.get("source") if isinstance(data.entry.get("source"), dict) else {"path": data.entry.get("source")},
        "category": _str(display.get("category"))[:100],
        "tags": _list(display.get("tags")),
        "keywords": _list(display.get("keywords")),
        "surfaces": data.surfaces,
        "author": author if isinstance(author, dict) else {},
        "license": _str(display.get("license"))[:200],
        "homepage": _str(display.get("homepage"))[:1000],
        "repository": _str(display.get("repository"))[:1000],
        "entry": data.entry,
        "manifest": data.manifest,
        "readme": data.readme,
        "loads": data.loads,
        "refusal": data.refusal,
        "own_content": {key: value for key, value in own.items() if key != "files"},
        "own_hash": data.own_hash,
        "root": data.root if data.tree is not None else None,
        "holds": data.holds,
    }, data.problems, where)
    if "files" in own:
        # Paths of the tree, which holds no NUL or lone surrogate (tree.UNSAFE_CHARACTER), modes and blob ids: nothing
        # to clean, and each of thousands of plugins sharing a folder (`"./"`) cleaned its thousand files.
        values["own_content"] = {**values["own_content"], "files": own["files"]}
    values["problems"] = _problem_rows(data.problems)
    return values


def _reconcile_plugins(marketplace, snapshot, now) -> dict:
    """Upsert plugins by name, tombstone the missing; return {name: (Plugin, PluginData)}."""
    existing = {p.name: p for p in Plugin.objects.filter(marketplace=marketplace)}
    result, create, update, seen = {}, [], [], []
    named_too_long = {data.name: why for data in snapshot.plugins
                      if (why := storable.too_long(Plugin, "Plugin", name=data.name))}
    for data in snapshot.plugins:
        where = f"{marketplace.catalog_path}: plugins[{data.index}] ({data.name})"
        if data.name in named_too_long:
            data.problems.append(Problem(ERROR, "name-too-long", f"{named_too_long[data.name]}; the plugin is not stored",
                                         where))
            continue
        if named_too_long.keys() & set(data.holds):
            # Nobody here reviews a plugin that is not stored, and Claude Code would install its files with this one.
            data.holds = [HOLDS_TOO_MANY]
            data.problems.append(Problem(
                WARNING, "holds-unchecked", "The plugin's folder holds a plugin whose name is too long to store, which "
                "Claude Code would install with it: curated catalogues leave it out. Rename that plugin, or give this "
                "one a folder of its own", data.where(data.root or ".")))
        row = existing.get(data.name)
        if data.failed and row is not None and row.removed_at is None:
            # Could not be read this time: keep what it had, show why.
            row.problems = _problem_rows(data.problems)
            row.loads, row.refusal = data.loads, data.refusal
            row.last_seen_at = now
            update.append(row)
            result[data.name] = (row, data)
            continue
        # A skill too long to store is one nobody here reviews, which Claude Code would install with the plugin: it
        # holds the plugin's commit back as names the sync refused to read do (approval.settle).
        if unstored := [skill.folder or "." for skill in data.skills if _too_long(skill)]:
            data.problems.append(Problem(
                ERROR, "unread-files", f"{len(unstored)} skill(s) in the plugin cannot be stored "
                f"({', '.join(name[:80] for name in unstored[:5])}): Claude Code would install them unreviewed, so its "
                "catalogue and publishing keep the last commit without them. Shorten their names or paths",
                data.where(data.root or ".")))
        values = _plugin_values(data, where)
        data.version = values["version"]  # as stored: _set_commits and revisions write it too
        skills_material = [(s.slug, s.content_hash) for s in data.skills]
        # Not the content besides skills: its digest (own_hash) says whether it changed, and each of thousands of
        # plugins sharing a folder wrote its thousand files out again.
        fingerprint = _digest([{k: v for k, v in values.items() if k not in ("commit", "version", "own_content")},
                               skills_material])
        if row is None or row.fingerprint != fingerprint or row.removed_at is not None:
            if row is None:
                row = Plugin(marketplace=marketplace, name=data.name, first_seen_at=now)
                create.append(row)
            else:
                update.append(row)
            for key, value in values.items():
                setattr(row, key, value)
            row.fingerprint, row.removed_at, row.last_seen_at, row.updated_at = fingerprint, None, now, now
            # Rendered when it may have changed, as a skill's body is, not on each view of its page.
            row.readme_html = rendering.render(row.readme) if row.readme else ""
        if row.pk is not None:
            seen.append((row.pk, data.commit, data.version[:100]))
        result[data.name] = (row, data)
    bulk.create(create)
    bulk.update(update, PLUGIN_FIELDS)
    _set_commits(seen, now)
    Plugin.objects.filter(marketplace=marketplace, removed_at=None).exclude(name__any=list(result)).update(
        removed_at=now
    )
    return result


def _set_commits(rows, now):
    """commit, version and last_seen_at for many plugins in one statement.

    Django's bulk_update builds a CASE expression per field and row, which costs seconds
    for a few hundred plugins; an UPDATE ... FROM unnest(...) costs milliseconds. One array per
    column, as a parameter per value would pass PostgreSQL's 65,535 at 21,846 plugins.
    """
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Plugin._meta.db_table} AS p SET commit = v.commit, version = v.version, last_seen_at = %s "
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, commit, version) WHERE p.id = v.id",
            [now, *map(list, zip(*rows))],
        )


def _reconcile_skills(marketplace, snapshot, plugins, now, rejudging):
    """Add, update and tombstone skills; return (added, updated, removed).

    Under the marketplace's approval policy new skills start unreleased, and a changed skill
    that members can see keeps its row, so its approved content: what was read is staged in a
    pending revision instead (approval.stage), which `approval.settle` then points the skill at.
    `rejudging`: a newer reader read every skill, and its judgement replaces the stored one (_rejudge).
    """
    gated = approval.gated(marketplace)
    existing = {
        (row.plugin_id, row.slug): row
        for row in Skill.objects.filter(marketplace=marketplace).values_list(
            "pk", "plugin_id", "slug", "content_hash", "removed_at", "released", "pending_revision_id", "command",
            named=True
        )
    }
    kept_plugins = {row.pk for row, data in plugins.values() if data.failed}
    new, changed, staged, reverted, same, seen_ids = _sort_skills(plugins, existing, gated)
    _fill_known([s for _row, _data, s in new] + [s for _pk, _row, _data, s, _released in changed]
                + [s for _pk, _data, s in staged])

    written = _add_skills(marketplace, new, now, gated) + _update_skills(marketplace, changed, now, gated)
    _write_files(written)
    approval.record_revisions(written, now)
    approval.stage(staged, now, _content, rejudging)
    if rejudging:
        _rejudge(same)
    else:
        # What Claude Code calls a skill follows the plugin's name and skills paths as well as its content.
        commands = {row.pk: row.command for row in existing.values()}
        bulk.update([Skill(pk=pk, command=skill.command) for pk, skill in same if commands[pk] != skill.command],
                    ["command"])
    approval.withdraw(reverted)
    # Gone from the catalogue: tombstone, except skills of plugins that failed to read this time.
    gone = [
        row.pk for row in existing.values()
        if row.removed_at is None and row.pk not in seen_ids and row.plugin_id not in kept_plugins
    ]
    Skill.objects.filter(pk__any=gone).update(removed_at=now)
    return len(new), len(changed) + len(staged), len(gone)


def _sort_skills(plugins, existing, gated):
    """Sort what was read against the stored rows `existing` ({(plugin id, slug): row}):
    new (Plugin, PluginData, SkillData), changed (skill id, Plugin, PluginData, SkillData, released),
    staged for approval (skill id, PluginData, SkillData), the ids of released skills the repository
    holds as approved, the skills whose content is stored as read (skill id, SkillData), and the ids of
    the rows still in the repository."""
    new, changed, staged, reverted, same, seen_ids = [], [], [], [], [], set()
    for row, data in plugins.values():
        if data.failed:
            continue
        for skill in data.skills:
            found = existing.get((row.pk, skill.slug))
            too_long = _too_long(skill)
            if too_long:
                code, why = too_long
                kept = ", and keeps what was synced before" if found else ""
                skill.problems.append(Problem(ERROR, code, f"{why}; the skill is not stored{kept}", skill.where))
                if found is not None:
                    seen_ids.add(found.pk)
                continue
            if found is None:
                new.append((row, data, skill))
                continue
            seen_ids.add(found.pk)
            if gated and found.released and found.content_hash != skill.content_hash:
                staged.append((found.pk, data, skill))
            elif found.content_hash != skill.content_hash or found.removed_at is not None:
                changed.append((found.pk, row, data, skill, found.released))
            elif found.released:
                reverted.append(found.pk)  # at its approved content, perhaps back to it
            if found.content_hash == skill.content_hash and found.removed_at is None:
                same.append((found.pk, skill))
    return new, changed, staged, reverted, same, seen_ids


def _add_skills(marketplace, new, now, gated) -> list:
    """Create the new skills, unreleased under the approval policy; return (Skill, PluginData, SkillData)s."""
    created = []

    def rows():
        # Built as COPY takes them (rendering each body), while PostgreSQL indexes the rows before.
        for row, data, s in new:
            skill = _skill_row(Skill(marketplace=marketplace, plugin=row, slug=s.slug, first_seen_at=now), s, now,
                               not gated)
            # As apply_access_rules would set them, so that it has no row to write again.
            skill.readers = access.read_principals(skill.name, marketplace.access_rules)
            created.append((skill, data, s))
            yield skill

    bulk.create(rows(), Skill, len(new))
    return created


def _update_skills(marketplace, changed, now, gated) -> list:
    """Write what was read into the changed rows (their files are written again); a row stays
    unreleased under the policy. Return (Skill, PluginData, SkillData)s."""
    updated = [
        (_skill_row(Skill(pk=pk, marketplace=marketplace, plugin=row, slug=s.slug), s, now, released or not gated),
         data, s)
        for pk, row, data, s, released in changed
    ]
    bulk.update([row for row, _data, _s in updated], SKILL_FIELDS)
    SkillFile.objects.filter(skill_id__any=[row.pk for row, _data, _s in updated]).delete()
    return updated


def _rejudge(same):
    """What a newer reader made of skills whose content is stored as it read it (`same`, (skill id,
    SkillData)): its problems, verdicts and rendering replace the older reader's. The content did not
    change, so nothing else moves: no revision, no approval, no new `updated_at`. Nor what the security scan
    said of that content: the scan, not the reader, judges it again (scans.refresh_served)."""
    scanned = dict(
        Skill.objects.filter(pk__any=[pk for pk, _skill in same], verdict_reasons__has_key="security_scan")
        .values_list("pk", "verdict_reasons__security_scan")
    )
    rows = []
    for pk, skill in same:
        row = Skill(pk=pk)
        for key, value in _content(skill).items():
            setattr(row, key, value)
        if pk in scanned:
            row.verdict_reasons["security_scan"] = scanned[pk]
        rows.append(row)
    bulk.update(rows, JUDGED_FIELDS)


def _write_files(written):
    copy_rows(
        SkillFile,
        ["skill", "path", "size", "mode", "is_binary", "blob", "omitted"],
        (
            (row.pk, f.path, f.size, f.mode, f.is_binary, None if f.omitted else f.sha, f.omitted)
            for row, _data, skill in written
            for f in skill.files
        ),
    )


def _fill_known(skills):
    """Skills read as "known" carry no content; copy it from a live skill with the same hash."""
    hashes = {skill.content_hash for skill in skills if skill.known}
    if not hashes:
        return
    sources = {}
    for source in Skill.objects.filter(content_hash__any=list(hashes), removed_at=None):
        sources.setdefault(source.content_hash, source)
    for skill in skills:
        if skill.known:
            source = sources[skill.content_hash]
            skill.description, skill.frontmatter = source.description, source.frontmatter
            skill.frontmatter_raw, skill.body = source.frontmatter_raw, source.body
            skill.verdicts = {
                key: {"ok": ok, "reasons": source.verdict_reasons.get(key, [])}
                for key, ok in (
                    ("claude_code", source.loads_in_claude_code),
                    ("agent_skills_spec", source.spec_valid),
                    ("claude_ai", source.claude_ai_uploadable),
                )
            }
            binary = dict(SkillFile.objects.filter(skill=source).values_list("path", "is_binary"))
            for f in skill.files:
                f.is_binary = binary.get(f.path, False)


def _content(skill) -> dict:
    """The Skill fields a sync reads from the repository; a pending revision keeps them until approved."""
    values = _storable({
        "name": skill.name,
        "command": skill.command,
        "path": skill.folder or ".",
        "description": skill.description,
        "frontmatter": skill.frontmatter,
        "frontmatter_raw": skill.frontmatter_raw,
        "body": skill.body,
        "body_html": rendering.render(skill.body),
        "content_hash": skill.content_hash,
        "loads_in_claude_code": skill.verdicts["claude_code"]["ok"],
        "spec_valid": skill.verdicts["agent_skills_spec"]["ok"],
        "claude_ai_uploadable": skill.verdicts["claude_ai"]["ok"],
        "verdict_reasons": {key: value["reasons"] for key, value in skill.verdicts.items()},
    }, skill.problems, skill.where)
    values["problems"] = _problem_rows(skill.problems)
    return values


def _too_long(skill) -> tuple[str, str] | None:
    """(code, why) when a name, slug or path of the skill is longer than its column."""
    name = storable.too_long(Skill, "Skill", name=skill.name, slug=skill.slug)
    if name:
        return "name-too-long", name
    path = storable.too_long(Skill, "Skill folder", path=skill.folder)
    for f in skill.files:
        path = path or storable.too_long(SkillFile, f"File '{f.path[:40]}...'", path=f.path)
    return ("path-too-long", path) if path else None


def _storable(values: dict, problems, where) -> dict:
    """`values` with the text PostgreSQL cannot store replaced (storable.clean); an error on the item
    names the fields that changed."""
    cleaned = {key: storable.clean(value) for key, value in values.items()}
    changed = [key for key, (_value, was_changed) in cleaned.items() if was_changed]
    if changed:
        problems.append(Problem(
            ERROR, "unstorable-text",
            f"{', '.join(changed)}: NUL characters or unpaired surrogates, which cannot be stored, "
            "are stored as U+FFFD",
            where,
        ))
    return {key: value for key, (value, _was_changed) in cleaned.items()}


def _problem_rows(problems) -> list[dict]:
    # A message may quote what a repository holds, NUL characters included.
    return _kept(storable.clean([p.as_dict() for p in problems])[0], MAX_ROW_PROBLEMS)


def _kept(problems: list[dict], most: int) -> list[dict]:
    """The first `most` problems, and one more saying how many others were not stored."""
    if len(problems) <= most:
        return problems
    left_out = {"severity": "info", "code": TRUNCATED, "location": "",
                "message": f"{len(problems) - most} more problems not stored"}
    return problems[:most] + [left_out]


def _skill_row(row, skill, now, released):
    for key, value in _content(skill).items():
        setattr(row, key, value)
    row.updated_at = now
    row.removed_at = None
    row.released = released
    return row


def _finish(run, marketplace, status, problems, counts, *, error="", fingerprint=None, actor=None, surface=None):
    """Record the outcome on the run, the marketplace and the audit log (done by `actor`, from `surface`).

    An "unchanged" run is not audited (see _finish_unchanged): nothing happened.
    """
    now = timezone.now()
    (problems, error), _changed = storable.clean([problems, error])
    problems = _kept(problems, MAX_STORED_PROBLEMS)
    run.status, run.finished_at, run.problems, run.error = status, now, problems, error
    for key, value in counts.items():
        setattr(run, key, value)
    run.progress = {"phase": "done"}
    run.save()
    record(
        Action.SYNC_FAILED if status == Status.FAILED else Action.SYNC_SUCCEEDED,
        target=marketplace,
        commit=run.commit,
        actor=actor,
        surface=surface or Surface.UNKNOWN,
        outcome=Outcome.ERROR if status == Status.FAILED else Outcome.OK,
        extra={"run": run.pk, "trigger": run.trigger, "status": status, "counts": run.counts, "error": error,
               "errors": sum(p["severity"] == ERROR for p in problems)},
    )
    marketplace.status = status
    if status == Status.FAILED:
        marketplace.last_error = error or (problems[0]["message"] if problems else "sync failed")
        Marketplace.objects.filter(pk=marketplace.pk).update(status=status, last_error=marketplace.last_error)
        return
    marketplace.last_synced_commit, marketplace.last_synced_at = run.commit, now
    marketplace.last_sync_fingerprint, marketplace.last_error = fingerprint, ""
    marketplace.save()


def _finish_unchanged(run, marketplace, previous_status):
    """Nothing changed: carry the last completed run's counts and problems forward."""
    last = (
        marketplace.sync_runs.filter(status__in=[Status.OK, Status.PARTIAL, Status.UNCHANGED])
        .exclude(pk=run.pk)
        .first()
    )
    counts = last.counts if last else {}
    counts.update(added=0, updated=0, removed=0)
    run.status, run.finished_at = Status.UNCHANGED, timezone.now()
    run.problems = last.problems if last else []
    for key, value in counts.items():
        setattr(run, key, value)
    run.progress = {"phase": "done"}
    run.save()
    Marketplace.objects.filter(pk=marketplace.pk).update(status=previous_status, last_synced_at=run.finished_at)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def _list(value) -> list:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
