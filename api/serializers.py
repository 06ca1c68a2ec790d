"""What the API returns. Objects carry their slugs and links, never row ids."""
from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace import install, packaging, updates
from marketplace.models import Marketplace, Plugin, Skill, SkillFile, SyncRun
from marketplace.verdicts import Verdict
from skillport_site.links import absolute_url

URLS = "api"


class MarketplaceSerializer(serializers.ModelSerializer):
    web_url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()
    curated_catalogue_url = serializers.SerializerMethodField(
        help_text="For Claude Code: /plugin marketplace add <this URL>.")

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


class ClaudeCodeCommands(serializers.Serializer):
    add = serializers.CharField(help_text="Empty when Claude Code cannot reach the marketplace.")
    install = serializers.CharField()


class PluginSerializer(serializers.ModelSerializer):
    marketplace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    display_name = serializers.CharField(source="shown_display_name")
    category = serializers.CharField(source="shown_category")
    tags = serializers.SerializerMethodField()
    featured = serializers.BooleanField(read_only=True)
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

    @extend_schema_field(ClaudeCodeCommands)
    def get_claude_code(self, obj):
        commands = install.claude_code_commands(obj)
        return {"add": commands["add"], "install": commands["install"]}

    def get_web_url(self, obj) -> str:
        return absolute_url(obj.get_absolute_url())

    def get_api_url(self, obj) -> str:
        return absolute_url(reverse(f"{URLS}:plugin-detail", args=[obj.marketplace.slug, obj.name]))


class Verdicts(serializers.Serializer):
    loads_in_claude_code = serializers.BooleanField()
    spec_valid = serializers.BooleanField(help_text="Valid under the Agent Skills specification.")
    claude_ai_uploadable = serializers.BooleanField()


class SkillSerializer(serializers.ModelSerializer):
    identifier = serializers.CharField(help_text="marketplace/plugin/skill: unique, and what other calls take.")
    marketplace = serializers.CharField(source="marketplace.slug")
    plugin = serializers.CharField(source="plugin.name")
    title = serializers.CharField(help_text="The name to show people; Claude Code invokes plugin:name.")
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
        fields = ["identifier", "marketplace", "plugin", "slug", "name", "title", "description", "version",
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


class Install(serializers.Serializer):
    claude_code = ClaudeCodeCommands()
    package_name = serializers.CharField(help_text="The .skill file for Claude.ai and Claude Desktop.")
    package_link_url = serializers.CharField(help_text="POST here for a one-time download link to the package.")
    connector_url = serializers.CharField(help_text="Add this URL in Claude as a connector.")


class SkillDetailSerializer(SkillSerializer):
    files = FileSerializer(many=True, read_only=True)
    verdict_reasons = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    frontmatter = serializers.JSONField()
    install = serializers.SerializerMethodField()
    commit = serializers.SerializerMethodField()

    class Meta(SkillSerializer.Meta):
        fields = [*SkillSerializer.Meta.fields, "commit", "content_hash", "frontmatter", "body", "verdict_reasons",
                  "files", "install"]

    def get_commit(self, obj) -> str:
        return updates.served(obj)[1]

    @extend_schema_field(Install)
    def get_install(self, obj):
        commands = install.claude_code_commands(obj.plugin)
        return {
            "claude_code": {"add": commands["add"], "install": commands["install"]},
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

