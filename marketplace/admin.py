"""Admin for marketplaces, their sync runs, plugins and skills."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit import record
from audit.admin_records import PermanentRecordAdmin, RecordAdmin
from audit.models import Action

from . import approval
from .gitrepo import redact
from .models import Curation, Marketplace, Plugin, Skill, SkillFile, SkillRevision, Status, SyncRun, WebhookDelivery
from .tasks import queue_scan, queue_sync


class MarketplaceForm(forms.ModelForm):
    # Write-only secrets: what is stored is never sent back to the browser.
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="For private repositories. Leave empty to keep the current token.",
    )
    clear_access_token = forms.BooleanField(required=False, label="Remove the stored token")
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret of the repository's GitHub webhook (URL: /webhooks/github/<slug>, "
                  "content type application/json, push events). Leave empty to keep the current one.",
    )

    class Meta:
        model = Marketplace
        fields = ["slug", "git_url", "ref", "catalog_path", "access_token", "webhook_secret", "sync_interval",
                  "enabled", "audience", "requires_approval", "scan_gate", "scan_threshold"]

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


class DecisionActions:
    """Approve or reject what a sync read, for marketplaces whose new skills need approval."""

    def has_approve_permission(self, request):
        return request.user.has_perm("marketplace.change_skill")

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
class MarketplaceAdmin(DecisionActions, admin.ModelAdmin):
    form = MarketplaceForm
    list_display = ["slug", "name", "git_url", "enabled", "requires_approval", "scan_gate", "status", "last_synced_at",
                    "short_commit", "has_token"]
    list_filter = ["enabled", "requires_approval", "scan_gate", "status"]
    search_fields = ["slug", "name", "git_url"]
    actions = ["sync_now"]
    readonly_fields = ["name", "description", "status", "last_synced_commit", "last_synced_at", "last_error",
                       "latest_problems"]

    @admin.display(description="Problems found by the last sync")
    def latest_problems(self, obj):
        run = obj.sync_runs.exclude(status=Status.RUNNING).first() if obj.pk else None
        return problems_table(run.problems) if run else "Not synced yet"

    @admin.display(description="Commit")
    def short_commit(self, obj):
        return obj.last_synced_commit[:12]

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
        run = queue_sync(marketplace)
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
            record(Action.MARKETPLACE_CHANGED, request=request, target=obj, extra={"fields": changed})
            if {"requires_approval", "scan_gate"} & set(changed):
                self._decide(request, obj, approval.publish_waiting, "Published")
            if {"scan_gate", "scan_threshold"} & set(changed):
                queue_scan(obj)  # judged again against the new threshold, or scanned for the first time
        else:
            record(Action.MARKETPLACE_ADDED, request=request, target=obj, extra={"git_url": redact(obj.git_url)})
            queue_sync(obj)
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
            queue_sync(marketplace)
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


class CatalogueAdmin(admin.ModelAdmin):
    """Plugins and skills come from git: their content is read-only, who sees them is not."""

    editable = ["audience", "curation", "policy", "policy_reason", "notes"]
    actions = ["show", "feature", "hide"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        content = [f.name for f in self.model._meta.fields if f.name not in self.editable and f.editable]
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
        for obj in queryset.exclude(curation=state):
            before, obj.curation = obj.curation, state
            obj.save(update_fields=["curation"])
            record(Action.CURATION_CHANGED, request=request, target=obj,
                   extra={"before": {"curation": before}, "after": {"curation": state}})
        self.message_user(request, f"{queryset.count()} marked {state}.")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.changed_data:
            record(Action.CURATION_CHANGED, request=request, target=obj, extra={
                "before": {name: form.initial.get(name) for name in form.changed_data},
                "after": {name: form.cleaned_data.get(name) for name in form.changed_data},
            })


class PluginForm(forms.ModelForm):
    def clean_tags_override(self):
        tags = self.cleaned_data["tags_override"]
        if tags in (None, "", []):
            return None
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise forms.ValidationError('Give a list of tags, such as ["finance", "reporting"], or leave it empty.')
        return [t.strip() for t in tags]


@admin.register(Plugin)
class PluginAdmin(CatalogueAdmin):
    form = PluginForm
    editable = [*CatalogueAdmin.editable, "display_name_override", "category_override", "tags_override"]
    list_display = ["name", "marketplace", "version", "source_kind", "shown_category", "curation", "policy", "loads",
                    "removed_at"]
    list_filter = ["curation", "policy", "marketplace", "source_kind", "loads", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "shown_display_name", "description"]
    exclude = ["problems"]
    readonly_fields = ["problem_list"]

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)


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
            return queryset.filter(approved=False)
        if self.value() == "approved":
            return queryset.filter(approved=True, pending_revision__isnull=True)
        return queryset


@admin.register(Skill)
class SkillAdmin(DecisionActions, CatalogueAdmin):
    editable = [*CatalogueAdmin.editable, "display_name_override"]
    list_display = ["name", "plugin", "marketplace", "curation", "approval_state", "policy", "loads_in_claude_code",
                    "spec_valid", "claude_ai_uploadable", "updated_at", "removed_at"]
    list_filter = [ApprovalFilter, "curation", "policy", "marketplace", "loads_in_claude_code", "spec_valid",
                   "claude_ai_uploadable", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description", "plugin__name"]
    list_select_related = ["plugin", "marketplace"]
    exclude = ["problems", "body", "approved", "pending_revision"]
    readonly_fields = ["approval_state", "problem_list"]
    inlines = [SkillFileInline]
    actions = [*CatalogueAdmin.actions, "approve_changes", "reject_changes"]

    @admin.display(description="Approval")
    def approval_state(self, obj):
        if obj.pending_revision_id:
            return "New, awaiting approval" if not obj.approved else "Change awaiting approval"
        return "Approved" if obj.approved else "Rejected"

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)

    @admin.action(description="Approve their pending changes", permissions=["approve"])
    def approve_changes(self, request, queryset):
        self._decide(request, SkillRevision.objects.filter(pk__in=queryset.values("pending_revision")),
                     approval.approve, "Approved")

    @admin.action(description="Reject their pending changes", permissions=["approve"])
    def reject_changes(self, request, queryset):
        self._decide(request, SkillRevision.objects.filter(pk__in=queryset.values("pending_revision")),
                     approval.reject, "Rejected")


@admin.register(SkillRevision)
class SkillRevisionAdmin(DecisionActions, PermanentRecordAdmin):
    """The review queue: filter by "Awaiting approval", compare, then approve or reject."""

    list_display = ["skill", "marketplace", "status", "version", "short_commit", "created_at", "compare"]
    list_filter = ["status", "skill__marketplace"]
    search_fields = ["skill__name", "skill__plugin__name", "commit", "content_hash"]
    list_select_related = ["skill__plugin", "skill__marketplace"]
    fields = ["skill", "status", "version", "commit", "content_hash", "created_at", "compare"]
    readonly_fields = fields
    actions = ["approve", "reject"]

    def get_queryset(self, request):
        # The skill's served revision, to compare each row with, in the same query as the rows.
        served = SkillRevision.objects.filter(skill=OuterRef("skill")).approved().values("pk")[:1]
        return super().get_queryset(request).annotate(served_id=Subquery(served))

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

    @admin.action(description="Approve: members get this revision", permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approval.approve, "Approved")

    @admin.action(description="Reject: members keep what they have", permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approval.reject, "Rejected")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    list_display = ["received_at", "marketplace", "event", "delivery_id", "ref", "result", "detail"]
    list_filter = ["result", "event", "marketplace"]
    search_fields = ["delivery_id", "ref", "commit"]
