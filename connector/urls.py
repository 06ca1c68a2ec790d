"""The authorization server's endpoints, under /oauth/ with the root aliases Claude.ai has been seen using."""
from django.urls import path
from django.views.generic import RedirectView
from oauth2_provider import views as oauth

from . import catalogue_tokens, views

app_name = "connector"
urlpatterns = [
    path("install/<str:token>/", views.download, name="download"),
    path("connect/tokens/", catalogue_tokens.tokens, name="catalogue-tokens"),
    path("connect/tokens/<int:token>/revoke/", catalogue_tokens.revoke, name="catalogue-token-revoke"),
]

# Included under the toolkit's own namespace, "oauth2_provider": it reverses these for its metadata.
oauth_urlpatterns = [
    path("oauth/authorize/", views.Authorize.as_view(), name="authorize"),
    path("oauth/token/", views.Token.as_view(), name="token"),
    path("oauth/revoke/", views.Revoke.as_view(), name="revoke-token"),
    path("oauth/register/", views.Register.as_view(), name="dcr-register"),
    path("oauth/register/<str:client_id>/", views.RegistrationManagement.as_view(), name="dcr-register-management"),
    # A client's URL to the toolkit (Application.get_absolute_url) names a management page Skillport does not serve,
    # so the admin's link to it (/admin/r/...) failed with a 500. A client's page is its admin page. Its key is a
    # number: any other text (a newline, which the admin's pattern refuses) is a 404, not a failed redirect.
    path("oauth/clients/<int:object_id>/", RedirectView.as_view(pattern_name="admin:oauth2_provider_application_change"),
         name="detail"),
    path("authorize", views.Authorize.as_view()),
    path("token", views.Token.as_view()),
    path("register", views.Register.as_view()),
    path(".well-known/oauth-authorization-server", oauth.OAuthServerMetadataView.as_view(),
         name="oauth-server-metadata"),
    path(".well-known/oauth-protected-resource", views.ProtectedResourceMetadata.as_view(),
         name="oauth-resource-metadata"),
    path(".well-known/oauth-protected-resource/mcp", views.ProtectedResourceMetadata.as_view()),
]
