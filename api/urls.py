from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from audit.api import AuditEventList

from . import views
from .errors import not_found

app_name = "api"
skill = "v1/skills/<str:marketplace>/<str:plugin>/<str:skill>/"
target = "v1/publish-targets/<str:target>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.Docs.as_view(url_name="api:schema"), name="docs"),
    path("v1/marketplaces/", views.MarketplaceList.as_view(), name="marketplace-list"),
    path("v1/marketplaces/<str:marketplace>/", views.MarketplaceDetail.as_view(), name="marketplace-detail"),
    path("v1/marketplaces/<str:marketplace>/sync/", views.SyncNow.as_view(), name="marketplace-sync"),
    path("v1/plugins/", views.PluginList.as_view(), name="plugin-list"),
    path("v1/plugins/<str:marketplace>/<str:plugin>/", views.PluginDetail.as_view(), name="plugin-detail"),
    path("v1/skills/", views.SkillList.as_view(), name="skill-list"),
    path(skill, views.SkillDetail.as_view(), name="skill-detail"),
    path(f"{skill}package-link/", views.SkillPackageLink.as_view(), name="skill-package-link"),
    path("v1/check-updates/", views.CheckUpdates.as_view(), name="check-updates"),
    path("v1/whoami/", views.Whoami.as_view(), name="whoami"),
    path("v1/sync-runs/", views.SyncRunList.as_view(), name="syncrun-list"),
    path("v1/sync-runs/<uuid:run>/", views.SyncRunDetail.as_view(), name="syncrun-detail"),
    path("v1/audit-events/", AuditEventList.as_view(), name="auditevent-list"),
    path("v1/publish-targets/", views.PublishTargetList.as_view(), name="publishtarget-list"),
    path(target, views.PublishTargetDetail.as_view(), name="publishtarget-detail"),
    path(f"{target}publish/", views.PublishNow.as_view(), name="publishtarget-publish"),
    path(f"{target}runs/", views.PublishRunList.as_view(), name="publishtarget-runs"),
    path(f"{target}runs/<uuid:run>/", views.PublishRunDetail.as_view(), name="publishtarget-run"),
    path(f"{target}managed-settings/", views.ManagedSettings.as_view(), name="publishtarget-managed-settings"),
    path(f"{target}zip/", views.LatestZip.as_view(), name="publishtarget-zip"),
    re_path(r"^", not_found),
]
