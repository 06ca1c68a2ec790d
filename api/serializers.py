"""What the API returns. Objects carry their slugs and links, never row ids."""
from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace import install, packaging, plugincontent, provenance, scanners, scans, updates
from marketplace.gitrepo import redact
from marketplace.models import Marketplace, Plugin, Skill, SkillFile, SyncRun
from marketplace.verdicts import Verdict
from publishing.models import Kind, PublishTarget, Status as PublishStatus, Trigger
from skillport_site.links import absolute_url

URLS = "api"


class MarketplaceSerializer(serializers.ModelSerializer):
    web_url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()
    curated_catalogue_url = serializers.SerializerMethodField(help_text=(
        "The caller's curated catalogue for Claude Code. It needs a token, which `/plugin marketplace add` cannot "
        "send: declare it in ~/.claude/settings.json (extraKnownMarketplaces) with a catalogue token from "
        "/connect/tokens/, as a plugin's claude_code.settings does."))

    class Meta:
        model = Marketplace
        fields = ["slug", "name", "description", "status", "last_synced_at", "last_synced_commit", "updated_at",
                  "requires_approval", "web_url", "api_url", "curated_catalogue_url"]

    def get_web_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:marketplace-detail", args=[obj.slug]))

    def get_curated_catalogue_url(self, obj) -> str:
        return absolute_url(reverse("marketplace:curated", args=[obj.slug]))


class ClaudeCodeRoute(serializers.Serializer):
    settings = serializers.CharField(allow_blank=True, help_text=(
        "JSON to merge into ~/.claude/settings.json, declaring the caller's curated catalogue of the marketplace, "
        "with their catalogue token (/connect/tokens/) in place of <token>. Both fields are empty when Claude "
        "Code cannot install the plugin from that catalogue (a skill's steps then unzip its .skill)."))
    install = serializers.CharField(allow_blank=True, help_text="The /plugin install command, once it is declared.")
    unavailable = serializers.CharField(allow_blank=True, help_text=(
        "Why Claude Code cannot install the plugin from the caller's curated catalogue (its marketplace is a "
        "folder on the server, nothing of it is approved yet, some of its skills are not shared with the "
        "caller...); empty when it can."))


class PluginSerializer(serializers.ModelSerializer):
    marketplace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    display_name = serializers.CharField(source="shown_display_name")
    category = serializers.CharField(source="shown_category")
    tags = serializers.SerializerMethodField()
    featured = serializers.BooleanField(read_only=True)
    loads = serializers.SerializerMethodField()
    claude_code = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = Plugin
        fields = ["marketplace", "name", "display_name", "description", "version", "commit", "category", "tags",
                  "keywords", "surfaces", "author", "license", "homepage", "repository", "source_kind", "loads",
                  "policy", "policy_reason", "featured", "updated_at", "claude_code", "web_url", "api_url"]

    def get_tags(self, obj) -> list[str]:
        return [t for t in obj.shown_tags or [] if isinstance(t, str)]

    def get_loads(self, obj) -> bool:
        """Whether Claude Code loads what members get: the commit approved (before one, the repository's), as the
        plugin's page says; a push that does not load waits behind it."""
        return obj.served_refusal is None

    @extend_schema_field(ClaudeCodeRoute)
    def get_claude_code(self, obj):
        return install.claude_code(obj, self.context["request"].user, self.context.get("curated"))

    def get_web_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:plugin-detail", args=[obj.marketplace.slug, obj.name]))


class Verdicts(serializers.Serializer):
    loads_in_claude_code = serializers.BooleanField()
    spec_valid = serializers.BooleanField(help_text="Valid under the Agent Skills specification.")
    claude_ai_uploadable = serializers.BooleanField()
    scan_passed = serializers.BooleanField(help_text="Nothing the security scan found reaches the marketplace's "
                                                     "threshold; false while not scanned.")


class SkillSerializer(serializers.ModelSerializer):
    identifier = serializers.CharField(help_text="marketplace/plugin/skill: unique, and what other calls take.")
    marketplace = serializers.CharField(source="marketplace.slug")
    plugin = serializers.CharField(source="plugin.name")
    title = serializers.CharField(help_text="The name to show people.")
    invocation = serializers.CharField(read_only=True, help_text="What Claude Code calls it, plugin:skill: what a "
                                                                 "person types after / and what Claude is offered.")
    version = serializers.SerializerMethodField(help_text="The version you are served: under an approval "
                                                          "policy, the last approved one.")
    category = serializers.CharField(source="plugin.shown_category")
    policy = serializers.SerializerMethodField()
    policy_reason = serializers.SerializerMethodField()
    featured = serializers.BooleanField(read_only=True)
    verdicts = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = Skill
        fields = ["identifier", "marketplace", "plugin", "slug", "name", "title", "invocation", "description",
                  "version",
                  "category", "policy", "policy_reason", "featured", "verdicts", "updated_at", "web_url", "api_url"]

    def get_version(self, obj) -> str:
        return updates.served(obj)[0]

    def get_policy(self, obj) -> str:
        return obj.stance[0]

    def get_policy_reason(self, obj) -> str:
        return obj.stance[1]

    @extend_schema_field(Verdicts)
    def get_verdicts(self, obj):
        return {flag: getattr(obj, flag) for flag in Verdict.values}

    def get_web_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:skill-detail", args=obj.identifier.split("/")))


class FileSerializer(serializers.ModelSerializer):
    class Meta:
        model = SkillFile
        fields = ["path", "size", "mode", "is_binary", "omitted"]


class InstallSteps(serializers.Serializer):
    CC = serializers.ListField(child=serializers.CharField(), help_text="Claude Code.")
    CD = serializers.ListField(child=serializers.CharField(), help_text="Claude Desktop.")
    CAI = serializers.ListField(child=serializers.CharField(), help_text="Claude.ai.")


class Install(serializers.Serializer):
    steps = InstallSteps(help_text="What to do on each surface, as the skill's page and the connector's install_skill "
                                   "say it for the caller on this deployment.")
    claude_code = ClaudeCodeRoute()
    package_name = serializers.CharField(help_text="The .skill file for Claude.ai and Claude Desktop.")
    package_link_url = serializers.CharField(help_text="POST here for a one-time download link to the package.")
    connector_url = serializers.CharField(help_text="Add this URL in Claude as a connector.")


class ScanFinding(serializers.Serializer):
    rule = serializers.CharField(allow_blank=True)
    severity = serializers.ChoiceField(choices=scanners.SEVERITIES)
    file = serializers.CharField(allow_blank=True, help_text="Relative to the skill folder; empty when the finding "
                                                             "is about no one file.")
    line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField(allow_blank=True)


class SecurityScan(serializers.Serializer):
    state = serializers.ChoiceField(choices=["off", "unavailable", "pending", "scanned"], help_text=(
        "off: the marketplace does not scan; unavailable: no scanner is installed; pending: not scanned yet."))
    passed = serializers.BooleanField(help_text="Scanned, and nothing found reaches the marketplace's threshold.")
    severity = serializers.CharField(allow_blank=True, help_text="The highest found: none when nothing was, "
                                                                 "empty until scanned.")
    scanned_at = serializers.DateTimeField(allow_null=True)
    scanners = serializers.ListField(child=serializers.CharField(), help_text="Each scanner and its version.")
    findings = ScanFinding(many=True, help_text="Most severe first.")


def security_scan(content_hash, marketplace) -> dict:
    """What the current scanners found in `content_hash`, as SecurityScan."""
    report = scans.report(content_hash, marketplace)
    return SecurityScan({"state": report.state, "passed": report.passed, "severity": report.judgement.severity,
                         "scanned_at": report.scanned_at, "scanners": report.scanners,
                         "findings": report.judgement.findings}).data


class Dependency(serializers.Serializer):
    name = serializers.CharField(help_text='As the plugin writes it: "name", or "name@marketplace".')
    optional = serializers.BooleanField(help_text="Installed where Claude Code finds it; the plugin loads without it.")
    marketplace = serializers.CharField(allow_null=True, help_text=(
        "Another marketplace's name, which Claude Code installs it from only where the member has added that one; "
        "null for the plugin's own."))
    api_url = serializers.CharField(allow_null=True, help_text="The plugin of its own marketplace, where the caller "
                                                               "may see it; else null.")


class PluginDetailSerializer(PluginSerializer):
    dependencies = serializers.SerializerMethodField(help_text=(
        "The plugins Claude Code installs with this one, and does not load it without (optional ones where it "
        "finds them)."))
    besides_skills = serializers.SerializerMethodField(help_text=(
        "What Claude Code installs with the plugin besides its skills, at the commit approved (what the caller "
        "gets): hooks, commands, agents, MCP and LSP servers, and the files they run."))
    besides_skills_scan = serializers.SerializerMethodField(help_text=(
        "The security scan of that content (file paths relative to the plugin's folder); null when the plugin "
        "installs its skills alone."))

    class Meta(PluginSerializer.Meta):
        fields = [*PluginSerializer.Meta.fields, "dependencies", "besides_skills", "besides_skills_scan"]

    @extend_schema_field(Dependency(many=True))
    def get_dependencies(self, obj):
        return [{"name": found["written"], "optional": found["optional"], "marketplace": found["elsewhere"] or None,
                 "api_url": self.get_api_url(found["plugin"]) if found["plugin"] else None}
                for found in install.installed_with(obj, self.context["request"].user)]

    def get_besides_skills(self, obj) -> list[str]:
        return plugincontent.listing(obj.served_own_content)

    @extend_schema_field(SecurityScan(allow_null=True))
    def get_besides_skills_scan(self, obj):
        return security_scan(obj.served_own_hash, obj.marketplace) if obj.served_own_hash else None


class ManifestFile(serializers.Serializer):
    path = serializers.CharField(help_text="Inside the skill folder.")
    uri = serializers.CharField(help_text="skill://marketplace/plugin/skill/path, as the connector serves it.")
    digest = serializers.CharField(help_text="sha256:<hex> of the file's bytes.")
    size = serializers.IntegerField(help_text="Bytes.")


class Provenance(serializers.Serializer):
    digest = serializers.CharField(help_text="sha256:<hex> of the lines `sha256sum` prints for the files, sorted by "
                                             "path (docs/provenance.md).")
    files = ManifestFile(many=True, help_text="Every file served, sorted by path: SEP-2640's `resources`.")


class SkillDetailSerializer(SkillSerializer):
    files = FileSerializer(many=True, read_only=True)
    verdict_reasons = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    frontmatter = serializers.JSONField()
    install = serializers.SerializerMethodField()
    commit = serializers.SerializerMethodField()
    provenance = serializers.SerializerMethodField(
        help_text="The files you are served, each with its SHA-256, and one digest of them all.")
    security_scan = serializers.SerializerMethodField(help_text="The security scan of the content you are served.")

    class Meta(SkillSerializer.Meta):
        fields = [*SkillSerializer.Meta.fields, "commit", "content_hash", "frontmatter", "body", "verdict_reasons",
                  "files", "install", "provenance", "security_scan"]

    def get_commit(self, obj) -> str:
        return updates.served(obj)[1]

    @extend_schema_field(SecurityScan)
    def get_security_scan(self, obj):
        return security_scan(obj.content_hash, obj.marketplace)

    @extend_schema_field(Provenance)
    def get_provenance(self, obj):
        return provenance.of(obj)

    @extend_schema_field(Install)
    def get_install(self, obj):
        user = self.context["request"].user
        return {
            "steps": install.steps(obj, user), "claude_code": install.claude_code(obj.plugin, user),
            "package_name": packaging.package_name(obj),
            "package_link_url": absolute_url(reverse(f"{URLS}:skill-package-link", args=obj.identifier.split("/"))),
            "connector_url": settings.SKILLPORT_MCP_URL,
        }


class PackageLinkSerializer(serializers.Serializer):
    skill = serializers.CharField()
    url = serializers.CharField(help_text="Works once, until expires_at; needs no other credentials.")
    expires_at = serializers.DateTimeField()


class InstalledSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=600, help_text="A skill or plugin name; marketplace/plugin/skill "
                                                           "when names collide.")
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    commit = serializers.CharField(max_length=64, required=False, allow_blank=True)
    content_hash = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CheckUpdatesSerializer(serializers.Serializer):
    installed = InstalledSerializer(many=True, allow_empty=False, max_length=200)


class UpdateResultSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=updates.STATUSES)
    skill = serializers.CharField(required=False)
    installed_version = serializers.CharField(required=False)
    current_version = serializers.CharField(required=False)
    commit = serializers.CharField(required=False)
    updated_at = serializers.CharField(required=False)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    message = serializers.CharField(required=False)


class UpdatesSerializer(serializers.Serializer):
    results = UpdateResultSerializer(many=True)
    install_ready = serializers.ListField(child=serializers.CharField(),
                                          help_text="Skills with an update, by identifier.")


class WhoamiSerializer(serializers.Serializer):
    username = serializers.CharField()
    github_login = serializers.CharField(allow_null=True)
    github_id = serializers.IntegerField(allow_null=True)
    orgs = serializers.ListField(child=serializers.CharField())
    teams = serializers.ListField(child=serializers.CharField())
    is_admin = serializers.BooleanField()
    is_auditor = serializers.BooleanField()
    authenticated_by = serializers.ChoiceField(choices=["session", "token"])
    scopes = serializers.ListField(child=serializers.CharField())


class SyncRunSerializer(serializers.ModelSerializer):
    marketplace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    problems = serializers.ListField(child=serializers.DictField())
    progress = serializers.DictField()
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = ["uid", "marketplace", "trigger", "status", "started_at", "finished_at", "commit", "counts",
                  "problems", "progress", "error", "api_url"]

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:syncrun-detail", args=[obj.uid]))


class PublishCounts(serializers.Serializer):
    plugins = serializers.IntegerField()
    skills = serializers.IntegerField()
    bytes = serializers.IntegerField()


class PublishRunSerializer(serializers.Serializer):
    """A publish run as `publish --json` prints it (PublishRun.as_json), with its progress and link."""

    id = serializers.UUIDField()
    target = serializers.CharField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    status = serializers.ChoiceField(choices=PublishStatus.choices)
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    commit = serializers.CharField()
    pull_request = serializers.CharField(help_text="The pull request's URL, when the run opened or kept one.")
    counts = PublishCounts()
    changes = serializers.DictField(help_text="Plugins added, updated and removed.")
    approvals = serializers.ListField(child=serializers.DictField(),
                                      help_text="The approvals behind the published content.")
    problems = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField()
    progress = serializers.DictField(help_text="Phase, done and total while the run is queued or running.")
    api_url = serializers.CharField()

    def to_representation(self, instance):
        # as_json is the one shape scripts rely on; the fields above only document it.
        return {**instance.as_json(), "progress": instance.progress, "api_url": absolute_url(
            reverse(f"{URLS}:publishtarget-run", args=[instance.target.name, instance.uid]))}


class PublishTargetSerializer(serializers.ModelSerializer):
    marketplaces = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    repository_url = serializers.SerializerMethodField()
    settings_source = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    workspace_api_url = serializers.CharField(source="api_url", help_text="API workspace targets: the Claude API.")
    has_credential = serializers.SerializerMethodField(help_text="A write credential is stored (never shown).")
    has_api_key = serializers.SerializerMethodField(help_text="An API key is stored (never shown).")
    pull_request = serializers.SerializerMethodField(help_text="The open pull request's URL, if any.")
    last_run = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()
    runs_url = serializers.SerializerMethodField()

    class Meta:
        model = PublishTarget
        fields = ["name", "kind", "enabled", "audience", "marketplaces", "publish_interval", "marketplace_name",
                  "owner_name", "owner_email", "repository_url", "branch", "mode", "settings_source", "strict",
                  "workspace_api_url", "has_credential", "has_api_key", "published_commit", "pull_request",
                  "last_run", "updated_at", "api_url", "runs_url"]

    def get_repository_url(self, obj) -> str:
        return redact(obj.repository_url)

    def get_has_credential(self, obj) -> bool:
        return bool(obj.credential)

    def get_has_api_key(self, obj) -> bool:
        return bool(obj.api_key)

    def get_pull_request(self, obj) -> str:
        return (obj.open_pull_request or {}).get("url", "")

    @extend_schema_field(PublishRunSerializer(allow_null=True))
    def get_last_run(self, obj):
        run = obj.runs.order_by("-started_at", "-pk").first()
        return PublishRunSerializer(run).data if run else None

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:publishtarget-detail", args=[obj.name]))

    def get_runs_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:publishtarget-runs", args=[obj.name]))


class ManagedSettingsSerializer(serializers.Serializer):
    """Documents the managed-settings.json fragment (publishing/managed_settings.py)."""

    extraKnownMarketplaces = serializers.DictField(
        child=serializers.DictField(), help_text="Marketplaces Claude Code adds, by their own name.")
    strictKnownMarketplaces = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="When the target is strict: the only marketplace sources Claude Code accepts.")
    enabledPlugins = serializers.DictField(
        child=serializers.BooleanField(), help_text='"plugin@marketplace": true for required plugins, false for '
                                                    "prohibited ones.")
