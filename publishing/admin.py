"""Admin for publish targets (write-only credentials, Publish now with live progress, the
managed-settings fragment, the latest ZIP) and their runs."""
import json
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit import record
from audit.admin_changes import AuditedChanges
from audit.admin_records import ListsLightly, RecordAdmin
from audit.models import Action
from marketplace.admin import problems_table
from marketplace.gitrepo import redact
from skillport_site.links import absolute_url

from . import downloads, managed_settings
from .models import Kind, PublishRun, PublishTarget, Status, Trigger
from .tasks import queue_publish

SECRETS = ("credential", "api_key")
RECENT_RUNS = 10


class PublishTargetForm(forms.ModelForm):
    # Write-only secrets: what is stored is never sent back to the browser.
    credential = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="A token that may push to the repository (and open pull requests on GitHub). Stored encrypted. "
                  "Leave empty to keep the current one.",
    )
    clear_credential = forms.BooleanField(required=False, label="Remove the stored credential")
    api_key = forms.CharField(
        label="API key", required=False, widget=forms.PasswordInput(render_value=False),
        help_text="The workspace's Claude API key. Stored encrypted. Leave empty to keep the current one.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")

    class Meta:
        model = PublishTarget
        fields = ["name", "kind", "enabled", "audience", "marketplaces", "publish_interval", "marketplace_name",
                  "owner_name", "owner_email", "repository_url", "branch", "mode", "credential", "settings_source",
                  "strict", "headers_helper", "api_url", "api_key"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRETS:
            # The stored value stays out of the form, and so out of the page; left empty, it counts as unchanged.
            self.initial[name] = ""
        # A managed-settings target pointing at a published repository carries no marketplaces of its own. (Absent
        # from the form of someone who may only view.)
        if "marketplaces" in self.fields:
            self.fields["marketplaces"].required = False

    def clean(self):
        data = super().clean()
        repository_only = data.get("kind") == Kind.MANAGED_SETTINGS and data.get("settings_source")
        if "marketplaces" in data and not data["marketplaces"] and not repository_only:
            self.add_error("marketplaces", "Choose the marketplaces whose approved content this target carries.")
        return data

    def save(self, commit=True):
        stored = PublishTarget.objects.get(pk=self.instance.pk) if self.instance.pk else None
        for name in SECRETS:
            if self.cleaned_data.get(f"clear_{name}"):
                setattr(self.instance, name, "")
            elif not self.cleaned_data.get(name):
                setattr(self.instance, name, getattr(stored, name) if stored else "")
        return super().save(commit)

    def changed_fields(self) -> list[str]:
        """The names of the fields this save changed; a removed secret counts, its value never appears."""
        changed = [name for name in self.changed_data if not name.startswith("clear_")]
        return changed + [name for name in SECRETS if self.cleaned_data.get(f"clear_{name}") and name not in changed]


KIND_FIELDSETS = [
    (Kind.GIT, ("Git repository", {
        "fields": ["repository_url", "branch", "mode", "credential", "clear_credential"],
        "description": "Claude.ai's GitHub sync, or any git remote a Claude Code team adds. Skillport never "
                       "force-pushes.",
    })),
    (Kind.MANAGED_SETTINGS, ("Claude Code managed settings", {
        "fields": ["settings_source", "strict", "headers_helper"],
        "description": "A managed-settings.json fragment: the marketplaces Claude Code uses, required plugins "
                       "on, prohibited ones off. Device management fetches it from the API. Without a "
                       "published repository it points at Skillport's curated catalogues: "
                       + managed_settings.HEADERS_HELP,
    })),
    (Kind.WORKSPACE, ("Claude API workspace", {
        "fields": ["api_url", "api_key", "clear_api_key"],
        "description": "Each published skill becomes a new version in the workspace's Skills API when it changes.",
    })),
]


def _web_url(url: str) -> str:
    """An http(s) URL only: anything else would not be a link to follow (javascript:, say)."""
    return url if url.startswith(("https://", "http://")) else ""


def commit_url(repository_url: str, commit: str) -> str:
    """The commit's page on the repository's web host, when the URL says where that is; else ""."""
    url = redact(repository_url)
    on_github = re.match(r"^git@github\.com:(.+)$", url)
    base = f"https://github.com/{on_github.group(1)}" if on_github else _web_url(url)
    if not base or not re.fullmatch(r"[0-9a-f]{40}", commit or ""):
        return ""
    return f"{base.rstrip('/').removesuffix('.git')}/commit/{commit}"


def _run_link(run):
    return format_html('<a href="{}">{}</a>', reverse("admin:publishing_publishrun_change", args=[run.pk]),
                       f"{run.started_at:%Y-%m-%d %H:%M}")


def with_last_run(targets):
    """Targets with their last run's status and start (`last_status`, `last_run_at`), in the same query."""
    last = PublishRun.objects.filter(target=OuterRef("pk")).order_by("-started_at", "-pk")
    return targets.annotate(last_status=Subquery(last.values("status")[:1]),
                            last_run_at=Subquery(last.values("started_at")[:1]))


class LastRunFilter(admin.SimpleListFilter):
    title = "last run"
    parameter_name = "last_run"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(last_status=self.value()) if self.value() else queryset


def inbox(request) -> list[dict]:
    """For the admin's index: the publish targets whose last run failed, linked to their list."""
    if not request.user.has_perm("publishing.view_publishtarget"):
        return []
    failed = with_last_run(PublishTarget.objects.all()).filter(last_status=Status.FAILED).count()
    return [{"count": failed, "label": "Failed publishes",
             "url": reverse("admin:publishing_publishtarget_changelist") + f"?last_run={Status.FAILED}"}]


@admin.register(PublishTarget)
class PublishTargetAdmin(AuditedChanges, admin.ModelAdmin):
    form = PublishTargetForm
    records_its_own = {"added", "changed", "deleted"}  # save_related, delete_model, delete_queryset
    list_display = ["name", "kind", "enabled", "audience_shown", "last_status", "last_run_at", "published_link"]
    list_filter = ["kind", "enabled", LastRunFilter]
    search_fields = ["name", "marketplace_name", "repository_url"]
    filter_horizontal = ["marketplaces"]
    readonly_fields = ["published_link", "recent_runs"]
    actions = ["publish_now"]

    def get_fieldsets(self, request, obj=None):
        common = [(None, {"fields": ["name", "kind", "enabled", "audience", "marketplaces", "publish_interval"]}),
                  ("Published marketplace", {
                      "fields": ["marketplace_name", "owner_name", "owner_email"],
                      "description": "Its name and owner, as Claude shows them: plugins install as plugin@name."})]
        kinds = []
        for kind, (title, options) in KIND_FIELDSETS:
            # Every field stays in the form (the model's checks name them); other kinds' are folded away.
            folded = obj is not None and obj.kind != kind
            kinds.append((title, {**options, "classes": ["collapse"] if folded else []}))
        if obj is None:
            return common + kinds
        return common + kinds + [("Published", {"fields": ["published_link", "recent_runs"]})]

    def get_queryset(self, request):
        return with_last_run(super().get_queryset(request))

    @admin.display(description="Audience")
    def audience_shown(self, obj):
        return ", ".join(obj.audience) or "Every member"

    @admin.display(description="Last run", ordering="last_status")
    def last_status(self, obj):
        return Status(obj.last_status).label if obj.last_status else "Never run"

    @admin.display(description="Last run at", ordering="last_run_at")
    def last_run_at(self, obj):
        return obj.last_run_at

    @admin.display(description="Published")
    def published_link(self, obj):
        """What the channel has now: the open pull request or the commit, the ZIP, the fragment."""
        if obj.pk is None:
            return ""
        if obj.kind == Kind.GIT:
            pull = obj.open_pull_request or {}
            if _web_url(pull.get("url", "")):
                return format_html('<a href="{}">Pull request #{}</a>', pull["url"], pull.get("number", ""))
            url = commit_url(obj.repository_url, obj.published_commit)
            if url:
                return format_html('<a href="{}"><code>{}</code></a>', url, obj.published_commit[:12])
            return obj.published_commit[:12] or "Nothing yet"
        if obj.kind == Kind.ZIP:
            found = downloads.latest_zip(obj)
            if found is None:
                return "No ZIP built yet"
            return format_html('<a href="{}">{}</a>', reverse("admin:publishing_zip", args=[obj.pk]), found.name)
        if obj.kind == Kind.MANAGED_SETTINGS:
            return format_html('<a href="{}">managed-settings.json</a>',
                               reverse("admin:publishing_managed_settings", args=[obj.pk]))
        return f"{len(obj.workspace_state or {})} skills in the workspace"

    @admin.display(description="Recent runs")
    def recent_runs(self, obj):
        runs = list(obj.runs.order_by("-started_at", "-pk")[:RECENT_RUNS])
        if not runs:
            return "None yet"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (_run_link(run), run.get_status_display(), run.get_trigger_display(), run.plugins, run.skills,
             run.error or "") for run in runs))
        everything = reverse("admin:publishing_publishrun_changelist") + f"?target__id__exact={obj.pk}"
        return format_html(
            "<table><thead><tr><th>Started</th><th>Status</th><th>Trigger</th><th>Plugins</th><th>Skills</th>"
            '<th>Error</th></tr></thead><tbody>{}</tbody></table><p><a href="{}">All runs</a></p>', rows, everything)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/publish/", view(self.publish_view), name="publishing_publish"),
            path("<int:pk>/publish/<int:run_id>/", view(self.run_view), name="publishing_publish_run"),
            path("<int:pk>/managed-settings/", view(self.managed_settings_view), name="publishing_managed_settings"),
            path("<int:pk>/zip/", view(self.zip_view), name="publishing_zip"),
            *super().get_urls(),
        ]

    def publish_view(self, request, pk):
        """Queue a publish (POST) and answer with the run the page then follows."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        target = get_object_or_404(PublishTarget, pk=pk)
        if not self.has_change_permission(request, target):
            raise PermissionDenied
        if target.kind == Kind.MANAGED_SETTINGS:
            return JsonResponse({"error": "Managed settings are not published: copy them, or let device "
                                          "management fetch them from the API."}, status=400)
        run = queue_publish(target, Trigger.MANUAL, actor=request.user)
        return JsonResponse({"run": run.pk, "url": f"{run.pk}/"}, status=202)

    def run_view(self, request, pk, run_id):
        """A run's progress, then its result, for the page's polling."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(PublishRun.objects.select_related("target"), pk=run_id, target_id=pk)
        return JsonResponse({**run.as_json(), "progress": run.progress,
                             "errors": sum(p.get("severity") == "error" for p in run.problems)})

    def managed_settings_view(self, request, pk):
        target = get_object_or_404(PublishTarget, pk=pk, kind=Kind.MANAGED_SETTINGS)
        if not self.has_view_permission(request, target):
            raise PermissionDenied
        planned = managed_settings.plan(target)  # the fragment, and what it leaves off
        return TemplateResponse(request, "admin/publishing/publishtarget/managed_settings.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "original": target, "title": f"Managed settings for {target.name}",
            "fragment": json.dumps(managed_settings.fragment(target, planned), indent=2),
            "api_url": absolute_url(reverse("api:publishtarget-managed-settings", args=[target.name])),
            "headers_help": managed_settings.HEADERS_HELP if managed_settings.uses_curated_catalogues(target) else "",
            "not_forced_on": managed_settings.not_forced_on(target, planned),
        })

    def zip_view(self, request, pk):
        target = get_object_or_404(PublishTarget, pk=pk, kind=Kind.ZIP)
        if not self.has_view_permission(request, target):
            raise PermissionDenied
        response = downloads.zip_response(target)
        if response is None:
            raise Http404("No ZIP has been built for this target yet: publish it first.")
        return response

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the marketplaces are saved here, after the target
        fields = form.changed_fields()
        if fields or not change:
            # Field names only: a credential's or key's value never reaches the audit log.
            record(Action.PUBLISH_TARGET_CHANGED, request=request, extra={
                "target": form.instance.name, "fields": fields, **({} if change else {"created": True})})

    def delete_model(self, request, obj):
        record(Action.PUBLISH_TARGET_CHANGED, request=request, extra={"target": obj.name, "deleted": True})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for target in queryset:
            record(Action.PUBLISH_TARGET_CHANGED, request=request, extra={"target": target.name, "deleted": True})
        super().delete_queryset(request, queryset)

    @admin.action(description="Publish now", permissions=["change"])
    def publish_now(self, request, queryset):
        publishable = queryset.exclude(kind=Kind.MANAGED_SETTINGS)
        for target in publishable:
            queue_publish(target, Trigger.MANUAL, actor=request.user)
        self.message_user(request, f"Queued a publish of {publishable.count()} target(s).", messages.SUCCESS)
        if publishable.count() != queryset.count():
            self.message_user(request, "Managed-settings targets are not published: device management fetches them "
                                       "from the API.", messages.WARNING)


@admin.register(PublishRun)
class PublishRunAdmin(ListsLightly, RecordAdmin):
    list_display = ["target", "started_at", "trigger", "status", "where", "plugins", "skills", "size", "error_count"]
    list_filter = ["status", "trigger", "target"]
    list_select_related = ["target"]
    # A run keeps the approvals behind every skill it published, and its target what it last published of each.
    list_unread = ("changes", "approvals", "progress", "target__published", "target__workspace_state")
    date_hierarchy = "started_at"
    fields = ["target", "uid", "trigger", "status", "started_at", "finished_at", "where", "plugins", "skills", "size",
              "change_list", "approval_list", "problem_list", "error"]
    readonly_fields = ["where", "change_list", "approval_list", "problem_list"]

    @admin.display(description="Commit, pull request or ZIP")
    def where(self, obj):
        if _web_url(obj.pull_request_url):
            return format_html('<a href="{}">{}</a>', obj.pull_request_url, obj.pull_request_url)
        url = commit_url(obj.target.repository_url, obj.commit) if obj.commit else ""
        if url:
            return format_html('<a href="{}"><code>{}</code></a>', url, obj.commit[:12])
        latest = downloads.latest_zip(obj.target) if obj.artifact else None
        if latest is not None and latest.name == obj.artifact:
            return format_html('<a href="{}">{}</a>', reverse("admin:publishing_zip", args=[obj.target_id]),
                               obj.artifact)
        return obj.commit[:12] or obj.artifact or ""

    @admin.display(description="Errors")
    def error_count(self, obj):
        return sum(p.get("severity") == "error" for p in obj.problems)

    @admin.display(description="Changes")
    def change_list(self, obj):
        changes = obj.changes or {}
        rows = []
        for item in changes.get("added", []):
            rows.append(("added", item.get("plugin"), "", item.get("version")))
        for item in changes.get("updated", []):
            rows.append(("updated", item.get("plugin"), item.get("from"), item.get("to")))
        for item in changes.get("removed", []):
            rows.append(("removed", item.get("plugin"), item.get("version"), ""))
        if not rows:
            return "None"
        return format_html(
            "<table><thead><tr><th>Change</th><th>Plugin</th><th>From</th><th>To</th></tr></thead><tbody>{}</tbody>"
            "</table>", format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    @admin.display(description="Approvals behind it")
    def approval_list(self, obj):
        if not obj.approvals:
            return "None (no marketplace of this target requires approval)"
        return format_html(
            "<table><thead><tr><th>Skill</th><th>Content</th><th>Approved by</th><th>On</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", (
                (item.get("skill"), (item.get("content_hash") or "")[:12], item.get("approved_by") or "unknown",
                 item.get("approved_at") or "before approvals were audited") for item in obj.approvals)))

    @admin.display(description="Problems")
    def problem_list(self, obj):
        return problems_table(obj.problems)
