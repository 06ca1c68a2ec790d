"""Admin for marketplaces, their sync runs, plugins and skills."""
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.contrib.admin import helpers
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from audit import record, record_many
from audit.admin_changes import AuditedChanges
from audit.admin_records import ListsLightly, PermanentRecordAdmin, RecordAdmin
from audit.models import Action, Surface
from skillport_site.links import absolute_url

from . import approval, diffs, plugincontent, scanners, scans
from .gitrepo import redact
from .models import (
    PLUGIN_DETAIL, SKILL_TEXT, ContentScan, Curation, Marketplace, Plugin, ScanGate, Skill, SkillFile, SkillRevision,
    Status, SyncRun, WebhookDelivery,
)
from .snapshot import HOLDS_TOO_MANY, MOST_HELD
from .tasks import queue_scan, queue_sync


class MarketplaceForm(forms.ModelForm):
    # Write-only secrets: what is stored is never sent back to the browser.
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="For private repositories: a token, or name:token where the host checks the token with a user "
                  "name (a GitLab deploy token, a Bitbucket API token). A token alone goes as the host expects "
                  "(SKILLPORT_GIT_HOSTS names self-hosted ones). Leave empty to keep the current token.",
    )
    clear_access_token = forms.BooleanField(required=False, label="Remove the stored token")
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret of the repository's GitHub webhook (at the webhook URL below, content type "
                  "application/json, push events, and pull request events to follow proposals). Leave empty to keep the "
                  "current one.",
    )

    class Meta:
        model = Marketplace
        fields = ["slug", "git_url", "ref", "catalog_path", "access_token", "token_reach", "webhook_secret",
                  "sync_interval", "enabled", "audience", "contributors", "requires_approval", "scan_gate",
                  "scan_threshold"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not the stored values: an empty field then reads as unchanged, not as a changed secret.
        self.initial.update(access_token="", webhook_secret="")

    def save(self, commit=True):
        stored = Marketplace.objects.get(pk=self.instance.pk) if self.instance.pk else None
        if self.cleaned_data.get("clear_access_token"):
            self.instance.access_token = ""
        elif not self.cleaned_data.get("access_token") and stored:
            self.instance.access_token = stored.access_token
        if not self.cleaned_data.get("webhook_secret") and stored:
            self.instance.webhook_secret = stored.webhook_secret
        return super().save(commit)


SEVERITIES = ("error", "warning", "info")
# The characters of a repository's address the marketplace list shows (the whole is its tooltip).
REPOSITORY_CHARS = 40


def problems_table(problems):
    """Problems grouped by severity, errors first and open; each group a table of code, message and place."""
    if not problems:
        return "None"
    severities = sorted({p["severity"] for p in problems},
                        key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else len(SEVERITIES))
    groups = []
    for severity in severities:
        group = [p for p in problems if p["severity"] == severity]
        rows = format_html_join(
            "", "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td></tr>",
            ((p["code"], p["message"], format_html("<br><small>{}</small>", p["detail"]) if p.get("detail") else "",
              p["location"]) for p in group),
        )
        groups.append(format_html(
            '<details class="problems-{}"{}><summary>{} ({})</summary><table><thead><tr><th>Code</th>'
            "<th>Message</th><th>Location</th></tr></thead><tbody>{}</tbody></table></details>",
            severity, " open" if severity == "error" else "", severity.capitalize() + "s", len(group), rows,
        ))
    return format_html_join("", "{}", ((group,) for group in groups))


def findings_table(report):
    """A content's security scan for admins: who scanned it and when, then each finding, most severe first."""
    if report.state == "off":
        return "Scanning is off for this marketplace"
    if report.state == "unavailable":
        return "No scanner installed"
    if report.state == "pending":
        return format_html("Not scanned yet by {}", ", ".join(report.scanners))
    verdict = report.judgement
    rows = format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", (
        (f["severity"], f["rule"], f"{f['file']}:{f['line']}" if f["file"] and f["line"] else f["file"], f["message"])
        for f in verdict.findings))
    return format_html(
        "<p>{}: highest severity <strong>{}</strong>, {} the threshold. Scanned by {} at {}.</p>{}",
        "Passed" if report.passed else "Failed", verdict.severity, "at or above" if verdict.failing else "below",
        ", ".join(report.scanners), report.scanned_at.strftime("%Y-%m-%d %H:%M UTC"),
        format_html("<table><thead><tr><th>Severity</th><th>Rule</th><th>File</th><th>Message</th></tr></thead>"
                    "<tbody>{}</tbody></table>", rows) if verdict.findings else "No findings.",
    )


# A blocked revision stays blocked when the repository moves on (nothing supersedes it); only while
# it is its skill's newest does the repository hold what the scan blocked, for an admin to decide.
STILL_BLOCKED = Q(status=SkillRevision.Status.BLOCKED) & ~Q(
    Exists(SkillRevision.objects.filter(skill=OuterRef("skill"), pk__gt=OuterRef("pk"))))


def inbox(request) -> list[dict]:
    """What waits for an admin here, for the admin's index: each {count, label, url} links to the list it counts."""
    entries = []
    if request.user.has_perm("marketplace.view_skillrevision"):
        status = SkillRevision.Status
        counts = SkillRevision.objects.aggregate(
            pending=Count("pk", filter=Q(status=status.PENDING)),
            held=Count("pk", filter=Q(status=status.PENDING, scan_state="held")),
            blocked=Count("pk", filter=STILL_BLOCKED),
        )
        queue = reverse("admin:marketplace_skillrevision_changelist")
        entries += [
            {"count": counts["pending"], "label": "Changes awaiting approval", "url": f"{queue}?status={status.PENDING}"},
            {"count": counts["held"], "label": "Held by the security scan", "url": f"{queue}?scan=held"},
            {"count": counts["blocked"], "label": "Blocked by the security scan", "url": f"{queue}?scan=blocked"},
        ]
    if request.user.has_perm("marketplace.view_plugin"):
        entries.append({
            "count": Plugin.objects.filter(removed_at=None).content_awaiting_approval().count(),
            "label": "Plugins whose hooks, commands or servers changed",
            "url": reverse("admin:marketplace_plugin_changelist") + "?own_content=pending",
        })
    if request.user.has_perm("marketplace.view_marketplace"):
        entries.append({
            "count": Marketplace.objects.filter(status=Status.FAILED).count(), "label": "Failed syncs",
            "url": reverse("admin:marketplace_marketplace_changelist") + f"?status__exact={Status.FAILED}",
        })
    return entries


class OverrideForm(forms.Form):
    override_reason = forms.CharField(
        label="Why approve despite the scan", max_length=1000, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Kept in the audit log with the findings you override.")


def override_page(model_admin, request, selected, items, form):
    """The page between an approve action and approving what overrides the security scan: each of
    `items` (heading, detail, its scan's report) with its findings, and a reason to give. Its form posts
    the action again for the same selection (`selected`), with the reason."""
    opts = model_admin.model._meta
    return TemplateResponse(request, "admin/marketplace/override_scan.html", {
        **model_admin.admin_site.each_context(request),
        "title": "Override the security scan?",
        "opts": opts,
        "items": [(heading, detail, findings_table(report)) for heading, detail, report in items],
        "selected": [str(obj.pk) for obj in selected],
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form": form,
    })


def _override_reason(request):
    """The override form as the action was posted (bound once the override page sent it), and its reason."""
    form = OverrideForm(request.POST if "override" in request.POST else None)
    return form, form.cleaned_data["override_reason"] if form.is_valid() else ""


class DecisionActions:
    """Approve or reject what a sync read, for marketplaces whose new skills need approval or whose
    security scan held or blocked a change."""

    def has_approve_permission(self, request):
        return request.user.has_perm("marketplace.change_skill")

    def _approve(self, request, selected, revisions):
        """Approve `revisions` (the action chose `selected`). When that overrides the security scan, an
        intermediate page lists the findings and asks why; approval.approve then records the override.
        A blocked revision is approved only so."""
        form, reason = _override_reason(request)
        if not reason:
            concerned = [r for r in revisions.filter(status__in=[SkillRevision.Status.PENDING,
                                                                 SkillRevision.Status.BLOCKED])
                         .with_skill()
                         if r.status == SkillRevision.Status.BLOCKED or scans.needs_override(r)]
            if concerned:
                return self._override_page(request, selected, concerned, form)
        try:
            self._decide(request, revisions, lambda subject, request: approval.approve(subject, request, reason=reason),
                         "Approved")
        except approval.NeedsReason as needs:  # a scan finished in between
            return self._override_page(request, selected, needs.concerned, form)

    def _override_page(self, request, selected, revisions, form):
        return override_page(self, request, selected, [
            (revision.skill.identifier,
             f"{revision.version} · {revision.commit[:12]} · {revision.get_status_display()}",
             scans.report(revision.content_hash, revision.skill.marketplace))
            for revision in revisions
        ], form)

    def _decide(self, request, subject, decide, verb):
        """`decide(subject, request)`: an approval.py decision, which returns how many it decided
        (None: there was nothing to decide)."""
        try:
            count = decide(subject, request)
        except approval.SyncRunning as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        if count is None:
            return
        self.message_user(request, f"{verb} {count} pending change(s)." if count else "Nothing was pending.",
                          messages.SUCCESS if count else messages.WARNING)


@admin.register(Marketplace)
class MarketplaceAdmin(AuditedChanges, DecisionActions, admin.ModelAdmin):
    form = MarketplaceForm
    records_its_own = {"added", "changed", "deleted"}  # save_model, delete_model, delete_queryset
    # Narrow enough for a 1280-pixel screen beside the filters: status, last sync and commit stay in view.
    list_display = ["marketplace", "repository", "enabled", "gate", "status", "last_sync", "short_commit", "has_token"]
    list_filter = ["enabled", "requires_approval", "scan_gate", "status"]
    search_fields = ["slug", "name", "git_url"]
    actions = ["sync_now"]
    readonly_fields = ["name", "description", "webhook_url", "status", "last_synced_commit", "last_synced_at",
                       "last_error", "latest_problems", "scan_status"]

    def get_fields(self, request, obj=None):
        # Each beside what it goes with: the token's removal under the token, the webhook's URL under its secret.
        fields = [name for name in super().get_fields(request, obj) if name not in ("clear_access_token", "webhook_url")]
        fields.insert(fields.index("token_reach"), "clear_access_token")
        fields.insert(fields.index("webhook_secret") + 1, "webhook_url")
        return fields

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj):
        if not obj.pk:
            return "Shown once the marketplace is saved."
        url = absolute_url(reverse("marketplace:webhook", args=[obj.slug]))
        return format_html('<code>{}</code> <button type="button" class="button" data-copy="{}">Copy</button>', url, url)

    @admin.display(description="Security scan status")
    def scan_status(self, obj):
        try:
            installed = ", ".join(scanner.identity() for scanner in scanners.available()) or "No scanner installed"
        except scanners.ScanError as error:
            installed = f"The scanner cannot run: {error}"
        if not obj.pk:
            return installed
        status = SkillRevision.Status
        counts = SkillRevision.objects.filter(skill__marketplace=obj).aggregate(
            held=Count("pk", filter=Q(status=status.PENDING, scan_state="held")),
            blocked=Count("pk", filter=STILL_BLOCKED),
            waiting=Count("pk", filter=Q(status=status.PENDING, scan_state="")),
        )
        queue = reverse("admin:marketplace_skillrevision_changelist")
        return format_html(
            '{}<br><a href="{}?skill__marketplace__id__exact={}&amp;scan=held">{} held</a> · '
            '<a href="{}?skill__marketplace__id__exact={}&amp;scan=blocked">{} blocked</a>{}',
            installed, queue, obj.pk, counts["held"], queue, obj.pk, counts["blocked"],
            f" · {counts['waiting']} waiting for their scan" if scans.gated(obj) and counts["waiting"] else "",
        )

    @admin.display(description="Problems found by the last sync")
    def latest_problems(self, obj):
        run = obj.sync_runs.exclude(status=Status.RUNNING).first() if obj.pk else None
        return problems_table(run.problems) if run else "Not synced yet"

    @admin.display(description="Commit")
    def short_commit(self, obj):
        return obj.last_synced_commit[:12]

    @admin.display(description="Marketplace", ordering="slug")
    def marketplace(self, obj):
        return format_html("{}<br><small>{}</small>", obj.slug, obj.name) if obj.name else obj.slug

    @admin.display(description="Repository", ordering="git_url")
    def repository(self, obj):
        url = redact(obj.git_url)
        short = url.split("://", 1)[-1].removesuffix(".git")
        if len(short) > REPOSITORY_CHARS:
            short = "…" + short[-REPOSITORY_CHARS + 1:]  # the end names the repository; the host is often github.com
        return format_html('<span title="{}">{}</span>', url, short)

    @admin.display(description="Gate")
    def gate(self, obj):
        scan = {ScanGate.OFF: "", ScanGate.REPORT: "scan reports", ScanGate.HOLD: f"scan holds ≥ {obj.scan_threshold}",
                ScanGate.BLOCK: f"scan blocks ≥ {obj.scan_threshold}"}.get(obj.scan_gate, obj.scan_gate)
        return " · ".join(part for part in ("approval" if obj.requires_approval else "", scan) if part) or "-"

    @admin.display(description="Last sync", ordering="last_synced_at")
    def last_sync(self, obj):
        return f"{localtime(obj.last_synced_at):%Y-%m-%d %H:%M}" if obj.last_synced_at else "-"

    def get_urls(self):
        return [
            path("<int:pk>/sync/", self.admin_site.admin_view(self.sync_view), name="marketplace_sync"),
            path("<int:pk>/sync/<int:run_id>/", self.admin_site.admin_view(self.run_view), name="marketplace_sync_run"),
            *super().get_urls(),
        ]

    def sync_view(self, request, pk):
        """Queue a sync (POST) and answer with the run the page then follows."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        marketplace = get_object_or_404(Marketplace, pk=pk)
        if not self.has_change_permission(request, marketplace):
            raise PermissionDenied
        run = queue_sync(marketplace, actor=request.user, surface=Surface.WEB)
        return JsonResponse({"run": run.pk, "url": f"{run.pk}/"}, status=202)

    def run_view(self, request, pk, run_id):
        """A run's progress, then its result, for the page's polling."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SyncRun, pk=run_id, marketplace_id=pk)
        return JsonResponse({**run.as_json(), "progress": run.progress, "errors": sum(
            p["severity"] == "error" for p in run.problems)})

    @admin.display(description="Token", boolean=True)
    def has_token(self, obj):
        return bool(obj.access_token)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Field names only: the token's value never reaches the audit log.
        changed = [name for name in form.changed_data if name != "clear_access_token"]
        if form.cleaned_data.get("clear_access_token"):
            changed.append("access_token")
        if change:
            # Where the token may now go is what an auditor asks next, so the new reach is said (not a secret).
            record(Action.MARKETPLACE_CHANGED, request=request, target=obj, extra={"fields": changed, **(
                {"token_reach": obj.token_reach} if "token_reach" in changed else {})})
            if {"requires_approval", "scan_gate"} & set(changed):
                self._decide(request, obj, approval.publish_waiting, "Published")
            if {"scan_gate", "scan_threshold"} & set(changed):
                queue_scan(obj)  # judged again against the new threshold, or scanned for the first time
        else:
            record(Action.MARKETPLACE_ADDED, request=request, target=obj, extra={"git_url": redact(obj.git_url)})
            queue_sync(obj, actor=request.user, surface=Surface.WEB)
            self.message_user(request, f"Syncing '{obj.slug}' now.")

    def delete_model(self, request, obj):
        record(Action.MARKETPLACE_REMOVED, request=request, target=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for marketplace in queryset:
            record(Action.MARKETPLACE_REMOVED, request=request, target=marketplace)
        super().delete_queryset(request, queryset)

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        for marketplace in queryset:
            queue_sync(marketplace, actor=request.user, surface=Surface.WEB)
        self.message_user(request, f"Queued a sync of {queryset.count()} marketplace(s).", messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(RecordAdmin):
    list_display = ["marketplace", "started_at", "trigger", "status", "short_commit", "skills", "added", "updated",
                    "removed", "error_count"]
    list_filter = ["status", "trigger", "marketplace"]
    date_hierarchy = "started_at"
    exclude = ["problems"]
    readonly_fields = ["problem_list"]

    @admin.display(description="Commit")
    def short_commit(self, obj):
        return obj.commit[:12]

    @admin.display(description="Errors")
    def error_count(self, obj):
        return sum(p["severity"] == "error" for p in obj.problems)

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)


# What the lists of skills and revisions never show of a skill (PLUGIN_DETAIL: of a plugin).
SKILL_UNREAD = ("description", *SKILL_TEXT, *(f"plugin__{field}" for field in PLUGIN_DETAIL))


class CatalogueAdmin(AuditedChanges, ListsLightly, admin.ModelAdmin):
    """Plugins and skills come from git: their content is read-only, who sees them is not."""

    editable = ["audience", "curation", "policy", "policy_reason", "notes"]
    records_its_own = {"changed"}  # save_model: the curation before and after
    actions = ["show", "feature", "hide"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Less what `exclude` leaves out: a read-only field is shown whatever the form excludes, and
        # `problems` would show twice, raw and as the table (`problem_list`).
        hidden = {*self.editable, *(self.exclude or ())}
        content = [f.name for f in self.model._meta.fields if f.name not in hidden and f.editable]
        return [*content, *self.readonly_fields]

    @admin.action(description="Approve (show normally)")
    def show(self, request, queryset):
        self._set_curation(request, queryset, Curation.SHOWN)

    @admin.action(description="Feature on the home page")
    def feature(self, request, queryset):
        self._set_curation(request, queryset, Curation.FEATURED)

    @admin.action(description="Hide everywhere")
    def hide(self, request, queryset):
        self._set_curation(request, queryset, Curation.HIDDEN)

    def _set_curation(self, request, queryset, state):
        # One statement for the rows and one for their audit events, however many: "select all" may pick
        # thousands, and a save and an event each took 3 s a thousand.
        with transaction.atomic():
            changed = list(queryset.exclude(curation=state).select_for_update(of=("self",)))
            self.model.objects.filter(pk__any=[obj.pk for obj in changed]).update(curation=state)
            record_many([(Action.CURATION_CHANGED, obj, {"before": {"curation": obj.curation},
                                                         "after": {"curation": state}}) for obj in changed],
                        request=request)
        self.message_user(request, f"{queryset.count()} marked {state}.")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.changed_data:
            record(Action.CURATION_CHANGED, request=request, target=obj, extra={
                "before": {name: form.initial.get(name) for name in form.changed_data},
                "after": {name: form.cleaned_data.get(name) for name in form.changed_data},
            })


def _shown(value) -> str:
    """A value from a repository's JSON, short enough to read in a line (escaped where it is shown)."""
    text = "absent" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else f"{text[:119]}…"


class OptionalJSONField(forms.JSONField):
    """A JSON field left empty when it holds nothing: Django's shows None as the text "null"."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class PluginForm(forms.ModelForm):
    tags_override = OptionalJSONField(
        required=False, label="Tags", widget=forms.Textarea(attrs={"rows": 3}),
        help_text=Plugin._meta.get_field("tags_override").help_text,
    )

    def clean_tags_override(self):
        tags = self.cleaned_data["tags_override"]
        if tags in (None, "", []):
            return None
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise forms.ValidationError('Give a list of tags, such as ["finance", "reporting"], or leave it empty.')
        return [t.strip() for t in tags]


class PluginContentFilter(admin.SimpleListFilter):
    title = "hooks, commands and servers"
    parameter_name = "own_content"

    def lookups(self, request, model_admin):
        return [("pending", "Changed, awaiting approval")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.content_awaiting_approval()
        return queryset


@admin.register(Plugin)
class PluginAdmin(CatalogueAdmin):
    form = PluginForm
    editable = [*CatalogueAdmin.editable, "display_name_override", "category_override", "tags_override"]
    list_display = ["name", "marketplace", "version", "source_kind", "shown_category", "curation", "policy", "loads",
                    "content_status", "removed_at"]
    list_filter = [PluginContentFilter, "curation", "policy", "marketplace", "source_kind", "loads",
                   ("removed_at", admin.EmptyFieldListFilter)]
    list_unread = PLUGIN_DETAIL
    search_fields = ["name", "shown_display_name", "description"]
    exclude = ["problems"]
    readonly_fields = ["members_get", "content_state", "content_changes", "content_scan", "problem_list"]
    actions = [*CatalogueAdmin.actions, "approve_content"]
    # What an entry says of where the plugin is and which skills it has, beside its content (plugincontent): a
    # change to them waits with the plugin, and shows in its skills' revisions rather than in what changed.
    PLACING_KEYS = ("source", "skills", "strict")

    @admin.display(description="Members get")
    def members_get(self, obj):
        """What the curated catalogue and publish targets give of it, against what the repository says now."""
        if not obj.approved_commit:
            return "Nothing yet: no commit of it is approved."
        at = "" if obj.approved_commit == obj.commit else f" (the repository is at {obj.commit[:12]})"
        moved = [(key, _shown(obj.approved_entry.get(key)), _shown(obj.entry.get(key))) for key in self.PLACING_KEYS
                 if obj.approved_entry.get(key) != obj.entry.get(key)]
        # Which Claude Code does not load, as the catalogues then leave it out; content approved that it lacks.
        notes = "" if obj.approved_loads else (
            f" Claude Code does not load it: {obj.approved_refusal or 'see its problems'}.")
        if obj.served_own_hash != obj.approved_own_hash:
            notes += (" What it installs besides its skills is the content that commit holds: the content approved "
                      "since reaches members with the next commit at which nothing waits.")
        if obj.holds:
            held = (f"more than {MOST_HELD}, or one too long a name to store, which Skillport does not check one by "
                    "one, so no curated catalogue lists it" if obj.holds == [HOLDS_TOO_MANY]
                    else f"{', '.join(obj.holds)}, so a member's curated catalogue lists it only if they may see and "
                         "install each of those and every skill of theirs")
            notes += f" Its folder holds other plugins, which Claude Code installs with it: {held}."
        if not moved:
            return f"Commit {obj.approved_commit[:12]}{at}, with its marketplace.json entry as approved.{notes}"
        return format_html("Commit {}{}, with its marketplace.json entry as approved, which differs: <ul>{}</ul>{}",
                           obj.approved_commit[:12], at, format_html_join(
                               "", "<li><code>{}</code>: {} (the repository now says {})</li>", moved), notes)

    @admin.display(description="Hooks, commands, servers")
    def content_status(self, obj):
        """content_state in a word or two, for the list."""
        if obj.own_hash == obj.approved_own_hash:
            return "Approved" if obj.own_hash else "None"
        return "Held by the scan" if self._held(obj) else "Awaiting approval"

    @staticmethod
    def _held(obj):
        """Does the scan hold what the plugin installs besides skills? Not once the gate is off: an admin
        (the approval policy) decides alone then."""
        return obj.scan_held_hash == obj.own_hash and scans.gated(obj.marketplace)

    @admin.display(description="Hooks, commands, servers")
    def content_state(self, obj):
        if obj.own_hash == obj.approved_own_hash:
            return "Approved" if obj.own_hash else "None (skills only)"
        state = "held by the security scan" if self._held(obj) else "awaiting approval"
        return f"Changed at {obj.commit[:12]}, {state} (members get the plugin at {obj.approved_commit[:12] or 'no commit yet'})"

    @admin.display(description="What changed besides skills")
    def content_changes(self, obj):
        """What an admin approves with "Approve what they install besides skills", against what they approved."""
        if obj.own_hash == obj.approved_own_hash:
            return "Nothing awaits approval."
        if obj.approved_own_hash and not obj.approved_own_content:  # approved before the content was kept
            return ("What was approved was not recorded. What it installs now: "
                    f"{', '.join(plugincontent.listing(obj.own_content)) or 'nothing'}.")
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{}</li>", ((change,) for change in plugincontent.changes(obj.approved_own_content, obj.own_content))))

    @admin.display(description="Security scan of the rest, as synced")
    def content_scan(self, obj):
        """The scan of its hooks, commands, servers and the files they run, for the admin who approves them
        (where the scan gate holds or blocks, content that passed is approved without them)."""
        if not obj.own_hash:
            return "Nothing to scan: it installs its skills alone."
        return findings_table(scans.report(obj.own_hash, obj.marketplace))

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)

    def has_approve_permission(self, request):
        return request.user.has_perm("marketplace.change_plugin")

    @admin.action(description="Approve what they install besides skills (hooks, commands, agents, servers)",
                  permissions=["approve"])
    def approve_content(self, request, queryset):
        form, reason = _override_reason(request)
        try:
            decided = approval.approve_plugin_content(queryset, request, reason=reason)
        except approval.NeedsReason as needs:  # the scan gate holds some of it: the admin reads why first
            return override_page(self, request, queryset, [
                (f"{plugin.marketplace.slug}/{plugin.name}: what it installs besides skills",
                 f"{plugin.commit[:12]} · {', '.join(plugincontent.listing(plugin.own_content)) or 'nothing'}",
                 scans.report(plugin.own_hash, plugin.marketplace))
                for plugin in needs.concerned
            ], form)
        except approval.SyncRunning as running:
            self.message_user(request, str(running), messages.WARNING)
            return
        self.message_user(request, f"Approved the rest of {decided} plugin(s); their approved commit follows where "
                                   "no skill waits.", messages.SUCCESS)


class SkillFileInline(admin.TabularInline):
    model = SkillFile
    fields = ["path", "size", "mode", "is_binary", "omitted"]
    readonly_fields = fields
    extra = 0
    can_delete = False


class ApprovalFilter(admin.SimpleListFilter):
    title = "approval"
    parameter_name = "approval"

    def lookups(self, request, model_admin):
        return [("pending", "Awaiting approval"), ("new", "New, never approved"),
                ("approved", "Approved, nothing waiting")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(pending_revision__isnull=False)
        if self.value() == "new":
            return queryset.filter(released=False)
        if self.value() == "approved":
            return queryset.filter(released=True, pending_revision__isnull=True)
        return queryset


@admin.register(Skill)
class SkillAdmin(DecisionActions, CatalogueAdmin):
    editable = [*CatalogueAdmin.editable, "display_name_override"]
    list_display = ["name", "plugin", "marketplace", "curation", "approval_state", "policy", "loads_in_claude_code",
                    "spec_valid", "claude_ai_uploadable", "scan_passed", "updated_at", "removed_at"]
    list_filter = [ApprovalFilter, "curation", "policy", "marketplace", "loads_in_claude_code", "spec_valid",
                   "claude_ai_uploadable", "scan_passed", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description", "plugin__name"]
    list_select_related = ["plugin__marketplace", "marketplace"]  # a plugin is shown as <name>@<marketplace>
    list_unread = SKILL_UNREAD
    exclude = ["problems", "body", "released", "pending_revision"]
    readonly_fields = ["approval_state", "problem_list"]
    inlines = [SkillFileInline]
    actions = [*CatalogueAdmin.actions, "approve_changes", "reject_changes"]

    @admin.display(description="Approval")
    def approval_state(self, obj):
        if obj.pending_revision_id:
            return "New, awaiting approval" if not obj.released else "Change awaiting approval"
        return "Approved" if obj.released else "Rejected"

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)

    @admin.action(description="Approve their pending changes", permissions=["approve"])
    def approve_changes(self, request, queryset):
        pending = SkillRevision.objects.filter(pk__in=queryset.values("pending_revision"))
        return self._approve(request, queryset, pending)

    @admin.action(description="Reject their pending changes", permissions=["approve"])
    def reject_changes(self, request, queryset):
        self._decide(request, SkillRevision.objects.filter(pk__in=queryset.values("pending_revision")),
                     approval.reject, "Rejected")


class ScanFilter(admin.SimpleListFilter):
    title = "security scan"
    parameter_name = "scan"

    def lookups(self, request, model_admin):
        return [("held", "Held for an admin"), ("blocked", "Blocked, still the newest"),
                ("overridden", "Overridden by an admin")]

    def queryset(self, request, queryset):
        if self.value() == "held":
            return queryset.filter(status=SkillRevision.Status.PENDING, scan_state="held")
        if self.value() == "blocked":
            return queryset.filter(STILL_BLOCKED)
        if self.value() == "overridden":
            return queryset.exclude(scan_override={})
        return queryset


class RevisionStatusFilter(admin.SimpleListFilter):
    """Django's status filter, except that "All" is a value of its own: the bare list opens on
    "Awaiting approval" (SkillRevisionAdmin.changelist_view), so it cannot mean all."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return SkillRevision.Status.choices

    def queryset(self, request, queryset):
        return queryset if self.value() in (None, self.ALL) else queryset.filter(status=self.value())

    def choices(self, changelist):
        yield {"selected": self.value() in (None, self.ALL), "display": "All",
               "query_string": changelist.get_query_string({self.parameter_name: self.ALL})}
        for value, label in self.lookup_choices:
            yield {"selected": self.value() == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}


@admin.register(SkillRevision)
class SkillRevisionAdmin(ListsLightly, DecisionActions, PermanentRecordAdmin):
    """The review queue: it opens on "Awaiting approval" (or filter by what the scan held or blocked);
    each revision's page shows its changes and the Approve and Reject buttons."""

    list_display = ["skill", "marketplace", "status", "scan", "version", "short_commit", "created_at", "compare"]
    list_filter = [RevisionStatusFilter, ScanFilter, "skill__marketplace"]
    search_fields = ["skill__name", "skill__plugin__name", "commit", "content_hash"]
    list_select_related = ["skill__plugin", "skill__marketplace"]
    # A pending revision keeps the skill's fields as read (its body, rendered too), and its files.
    list_unread = ("content", "files", *(f"skill__{field}" for field in SKILL_UNREAD))
    fields = ["skill", "status", "scan", "version", "commit", "content_hash", "created_at", "compare", "scan_findings",
              "override", "changes"]
    readonly_fields = fields
    actions = ["approve", "reject"]

    def changelist_view(self, request, extra_context=None):
        # A redirect rather than a filter's default: the action form then posts to a list that says
        # what it holds, and "Select all" selects what the admin saw.
        if request.method == "GET" and not request.GET:
            return redirect(f"{request.path}?status={SkillRevision.Status.PENDING}")
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, {
            "may_decide": self.has_approve_permission(request), **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", view(self.approve_view), name="marketplace_skillrevision_approve"),
            path("<int:pk>/reject/", view(self.reject_view), name="marketplace_skillrevision_reject"),
            *super().get_urls(),
        ]

    def approve_view(self, request, pk):
        """The revision page's Approve button; like the action, it may ask first why the scan is overridden."""
        return self._decide_one(request, pk, lambda revisions: self._approve(request, revisions, revisions))

    def reject_view(self, request, pk):
        return self._decide_one(request, pk, lambda revisions: self._decide(request, revisions, approval.reject,
                                                                            "Rejected"))

    def _decide_one(self, request, pk, decide):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_approve_permission(request):
            raise PermissionDenied
        revisions = SkillRevision.objects.filter(pk=get_object_or_404(SkillRevision, pk=pk).pk)
        return decide(revisions) or redirect(
            reverse("admin:marketplace_skillrevision_changelist") + f"?status={SkillRevision.Status.PENDING}")

    def get_queryset(self, request):
        # The skill's served revision, to compare each row with, and the highest severity each current
        # scanner found in the revision's content, in the same query as the rows.
        served = SkillRevision.objects.filter(skill=OuterRef("skill")).approved().values("pk")[:1]
        try:
            identities = [scanner.identity() for scanner in scanners.available()]
        except scanners.ScanError:
            identities = []
        severities = ContentScan.objects.filter(content_hash=OuterRef("content_hash"), scanner__in=identities)
        return super().get_queryset(request).annotate(
            served_id=Subquery(served), scan_severities=ArraySubquery(severities.values("max_severity")))

    @admin.display(description="Scan")
    def scan(self, obj):
        state = {"held": "Held", "blocked": "Blocked", "passed": "Passed"}.get(obj.scan_state, "")
        scanned = obj.scan_severities or []  # NULL when no scanner is installed
        found = [severity for severity in scanned if severity]
        severity = max(found, key=scanners.RANK.__getitem__) if found else ("none" if scanned else "")
        if obj.scan_override:
            state = "Overridden"
        return " · ".join(part for part in (state, severity and f"highest {severity}") if part) or "Not scanned"

    @admin.display(description="Security scan findings")
    def scan_findings(self, obj):
        return findings_table(scans.report(obj.content_hash, obj.skill.marketplace))

    @admin.display(description="Override")
    def override(self, obj):
        if not obj.scan_override:
            return "None"
        return format_html("By {} at {}: {}", obj.scan_override.get("by") or "unknown", obj.scan_override.get("at", ""),
                           obj.scan_override.get("reason", ""))

    @admin.display(description="Marketplace")
    def marketplace(self, obj):
        return obj.skill.marketplace

    @admin.display(description="Commit")
    def short_commit(self, obj):
        return obj.commit[:12]

    @admin.display(description="Changes")
    def compare(self, obj):
        skill = obj.skill
        url = reverse("marketplace:history", args=[skill.marketplace.slug, skill.plugin.name, skill.slug])
        if obj.served_id is None:
            return format_html('<a href="{}">History</a> (new skill)', url)
        return format_html('<a href="{}?from={}&amp;to={}">Compare with the approved revision</a>', url,
                           obj.served_id, obj.pk)

    @admin.display(description="Changes against the approved revision")
    def changes(self, obj):
        if obj.served_id == obj.pk:
            return "None: this is the revision members are served."
        served = SkillRevision.objects.filter(pk=obj.served_id).first()
        return render_to_string("admin/marketplace/skillrevision/diff.html", {
            "files": diffs.between(served, obj), "new_skill": served is None})

    @admin.action(description="Approve: members get this revision", permissions=["approve"])
    def approve(self, request, queryset):
        return self._approve(request, queryset, queryset)

    @admin.action(description="Reject: members keep what they have", permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approval.reject, "Rejected")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    list_display = ["received_at", "marketplace", "event", "delivery_id", "ref", "result", "detail"]
    list_filter = ["result", "event", "marketplace"]
    search_fields = ["delivery_id", "ref", "commit"]
