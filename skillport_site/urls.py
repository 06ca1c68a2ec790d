"""Skillport's URL map."""
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from connector.urls import oauth_urlpatterns

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/login/", views.admin_login),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("audit/", include("audit.urls")),
    path("api/", include("api.urls")),
    path("proposals/", include("authoring.urls")),
    path("", include((oauth_urlpatterns, "oauth2_provider"))),
    path("", include("connector.urls")),
    path("", include("marketplace.urls")),
]
