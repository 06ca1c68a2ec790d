"""The API's endpoints. Every catalogue query starts from `visible_to(request.user)`."""
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Surface
from audit.views import PERMISSION as REVIEW_AUDIT
from connector import package_links
from marketplace import curated, lookup, updates
from marketplace.models import PLUGIN_CONTENT, Marketplace, Plugin, Skill, SyncRun
from marketplace.tasks import queue_sync
from publishing import downloads, managed_settings
from publishing.models import Kind, PublishRun, PublishTarget, Trigger
from publishing.tasks import queue_publish
from skillport_site.middleware import POLICY, content_security_policy_header

from . import auth, filters
from .serializers import (
    CheckUpdatesSerializer, ManagedSettingsSerializer, MarketplaceSerializer, PackageLinkSerializer,
    PluginDetailSerializer, PluginSerializer, PublishRunSerializer, PublishTargetSerializer, SkillDetailSerializer,
    SkillSerializer, SyncRunSerializer, UpdatesSerializer, WhoamiSerializer,
)

SKILL_PATH = [OpenApiParameter(name, str, OpenApiParameter.PATH) for name in ("marketplace", "plugin", "skill")]
TARGET_PATH = [OpenApiParameter("target", str, OpenApiParameter.PATH)]


@extend_schema(tags=["catalogue"])
class MarketplaceList(generics.ListAPIView):
    """Marketplaces you may see."""

    serializer_class = MarketplaceSerializer
    filterset_class = filters.MarketplaceFilter

    def get_queryset(self):
        return Marketplace.objects.visible_to(self.request.user).order_by("slug")


@extend_schema(tags=["catalogue"])
class MarketplaceDetail(generics.RetrieveAPIView):
    serializer_class = MarketplaceSerializer
    lookup_field, lookup_url_kwarg = "slug", "marketplace"

    def get_queryset(self):
        return Marketplace.objects.visible_to(self.request.user)


@extend_schema(tags=["catalogue"])
class PluginList(generics.ListAPIView):
    """Plugins you may see."""

    serializer_class = PluginSerializer
    filterset_class = filters.PluginFilter

    def get_queryset(self):
        return Plugin.objects.visible_to(self.request.user).select_related("marketplace").defer(
            *PLUGIN_CONTENT).order_by("marketplace__slug", "name")

    def get_serializer_context(self):
        # Which plugins the caller's curated catalogues list, read once for the page rather than per plugin.
        context = super().get_serializer_context()
        if self.request is not None and self.request.user.is_authenticated:  # not when the schema is generated
            context["curated"] = curated.listing(self.request.user)
        return context


@extend_schema(tags=["catalogue"])
class PluginDetail(generics.RetrieveAPIView):
    """A plugin, with what it installs besides its skills and that content's security scan."""

    serializer_class = PluginDetailSerializer

    def get_object(self):
        return get_object_or_404(Plugin.objects.visible_to(self.request.user).select_related("marketplace"),
                                 marketplace__slug=self.kwargs["marketplace"], name=self.kwargs["plugin"])


@extend_schema(tags=["catalogue"])
class SkillList(generics.ListAPIView):
    """Skills you may see: search them (`q`, web-search syntax, typos forgiven) and filter them."""

    serializer_class = SkillSerializer
    filterset_class = filters.ApiSkillFilter

    def get_queryset(self):
        return Skill.objects.visible_to(self.request.user).select_related("plugin", "marketplace").defer(
            *(f"plugin__{field}" for field in PLUGIN_CONTENT))


def _skill(request, kwargs):
    return lookup.visible_skill_or_404(request.user, kwargs["marketplace"], kwargs["plugin"], kwargs["skill"])


@extend_schema(tags=["catalogue"], parameters=SKILL_PATH)
class SkillDetail(generics.RetrieveAPIView):
    """A skill with its SKILL.md, frontmatter, verdicts, security scan findings, files and install paths."""

    serializer_class = SkillDetailSerializer

    def get_object(self):
        return _skill(self.request, self.kwargs)


@extend_schema(tags=["catalogue"], parameters=SKILL_PATH, request=None, responses={201: PackageLinkSerializer})
class SkillPackageLink(APIView):
    """A one-time, short-lived download link to the skill's .skill package (audited)."""

    def post(self, request, **kwargs):
        skill = _skill(request, kwargs)
        try:
            url, link = package_links.issue(skill, request.user, surface=Surface.API, request=request)
        except package_links.Refused as refused:
            raise PermissionDenied(str(refused)) from None
        return Response({"skill": skill.identifier, "url": url, "expires_at": link.expires_at},
                        status=status.HTTP_201_CREATED)


@extend_schema(tags=["catalogue"], request=CheckUpdatesSerializer, responses={200: UpdatesSerializer})
class CheckUpdates(APIView):
    """Are these installed skills (or plugins) up to date? The same answer as the connector's check_updates."""

    def post(self, request):
        body = CheckUpdatesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        results = updates.check(request.user, body.validated_data["installed"])
        return Response({"results": results, "install_ready": updates.install_ready(results)})


@extend_schema(tags=["account"], responses={200: WhoamiSerializer})
class Whoami(APIView):
    """Who you are to Skillport: GitHub identity, organisations, teams and roles."""

    def get(self, request):
        user, identity = request.user, getattr(request.user, "github", None)
        return Response({
            "username": user.get_username(),
            "github_login": identity.login if identity else None,
            "github_id": identity.github_id if identity else None,
            "orgs": identity.orgs if identity else [],
            "teams": identity.teams if identity else [],
            "is_admin": user.is_superuser,
            "is_auditor": user.has_perm(REVIEW_AUDIT),
            "authenticated_by": "session" if request.auth is None else "token",
            "scopes": sorted(auth.scopes(request)),
        })


@extend_schema(tags=["admin"])
class SyncRunList(generics.ListAPIView):
    """Sync runs, newest first (admins)."""

    serializer_class = SyncRunSerializer
    filterset_class = filters.SyncRunFilter
    permission_classes = [IsAuthenticated, auth.CanViewSyncRuns]
    queryset = SyncRun.objects.select_related("marketplace").order_by("-started_at", "-id")


@extend_schema(tags=["admin"])
class SyncRunDetail(generics.RetrieveAPIView):
    """One sync run: poll it while `status` is "running" (admins)."""

    serializer_class = SyncRunSerializer
    permission_classes = [IsAuthenticated, auth.CanViewSyncRuns]
    queryset = SyncRun.objects.select_related("marketplace")
    lookup_field, lookup_url_kwarg = "uid", "run"


@extend_schema(tags=["admin"], request=None, responses={202: SyncRunSerializer})
class SyncNow(APIView):
    """Queue a sync of the marketplace and return the run to poll (admins; a token needs skills:write)."""

    permission_classes = [IsAuthenticated, auth.CanSync]

    def post(self, request, marketplace):
        marketplace = get_object_or_404(Marketplace, slug=marketplace)
        run = queue_sync(marketplace, actor=request.user, surface=Surface.API)
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def _target(name, kind=None) -> PublishTarget:
    target = get_object_or_404(PublishTarget, name=name)
    if kind is not None and target.kind != kind:
        raise NotFound(f"{target.name} is not a {Kind(kind).label} target.")
    return target


@extend_schema(tags=["publishing"])
class PublishTargetList(generics.ListAPIView):
    """Publish targets: where Skillport publishes what each audience may see, as approved (admins)."""

    serializer_class = PublishTargetSerializer
    permission_classes = [IsAuthenticated, auth.CanPublish]
    queryset = PublishTarget.objects.select_related("settings_source").prefetch_related("marketplaces").order_by("name")


@extend_schema(tags=["publishing"], parameters=TARGET_PATH)
class PublishTargetDetail(generics.RetrieveAPIView):
    """One publish target; its credential and API key are never shown, only whether one is stored (admins)."""

    serializer_class = PublishTargetSerializer
    permission_classes = [IsAuthenticated, auth.CanPublish]
    queryset = PublishTarget.objects.select_related("settings_source").prefetch_related("marketplaces")
    lookup_field, lookup_url_kwarg = "name", "target"


@extend_schema(tags=["publishing"], parameters=TARGET_PATH, request=None, responses={202: PublishRunSerializer})
class PublishNow(APIView):
    """Queue a publish of the target and return the run to poll (admins; a token needs skills:write)."""

    permission_classes = [IsAuthenticated, auth.CanPublish]

    def post(self, request, target):
        target = _target(target)
        if target.kind == Kind.MANAGED_SETTINGS:
            raise ValidationError({"target": "Managed settings are not published: fetch them from "
                                             "managed-settings/."})
        run = queue_publish(target, Trigger.API, actor=request.user)
        return Response(PublishRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["publishing"], parameters=TARGET_PATH)
class PublishRunList(generics.ListAPIView):
    """The target's publish runs, newest first (admins)."""

    serializer_class = PublishRunSerializer
    permission_classes = [IsAuthenticated, auth.CanPublish]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generator, which names no target
            return PublishRun.objects.none()
        return _target(self.kwargs["target"]).runs.select_related("target").order_by("-started_at", "-pk")


@extend_schema(tags=["publishing"], parameters=[*TARGET_PATH, OpenApiParameter("run", OpenApiTypes.UUID,
                                                                                 OpenApiParameter.PATH)])
class PublishRunDetail(generics.RetrieveAPIView):
    """One publish run: poll it while `status` is "queued" or "running" (admins)."""

    serializer_class = PublishRunSerializer
    permission_classes = [IsAuthenticated, auth.CanPublish]

    def get_object(self):
        return get_object_or_404(_target(self.kwargs["target"]).runs.select_related("target"), uid=self.kwargs["run"])


@extend_schema(tags=["publishing"], parameters=TARGET_PATH, responses={200: ManagedSettingsSerializer})
class ManagedSettings(APIView):
    """The managed-settings.json fragment of a managed-settings target, for device management (admins).

    Sources that are Skillport's curated catalogues need a `headersHelper` added on the machines:
    the fragment never carries a token."""

    permission_classes = [IsAuthenticated, auth.CanPublish]

    def get(self, request, target):
        target = _target(target, Kind.MANAGED_SETTINGS)
        if not target.enabled:
            raise NotFound(f"{target.name} is turned off.")
        return Response(managed_settings.fragment(target))


@extend_schema(tags=["publishing"], parameters=TARGET_PATH, responses={(200, "application/zip"): OpenApiResponse(
    OpenApiTypes.BINARY, description="The vendored marketplace, for Claude.ai's upload.")})
class LatestZip(APIView):
    """The latest ZIP a ZIP target built (admins)."""

    permission_classes = [IsAuthenticated, auth.CanPublish]

    def get(self, request, target):
        response = downloads.zip_response(_target(target, Kind.ZIP))
        if response is None:
            raise NotFound("No ZIP has been built for this target yet: publish it first.")
        return response


class Docs(SpectacularSwaggerSplitView):
    """Swagger UI on the API's schema. Its script comes from its own URL (`?script`), as no page runs inline script;
    it does set styles inline, which this page alone allows (it shows only the schema, never a repository's text)."""

    http_method_names = ["get", "head"]  # OPTIONS would render the page's template with DRF's metadata: a 500

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = content_security_policy_header(
            {**POLICY, "style-src": "'self' 'unsafe-inline'"})
        return response
