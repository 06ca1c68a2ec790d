"""Site-wide views that belong to no app: sign-in, the health check and the icon."""
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView, redirect_to_login
from django.db import connection
from django.http import HttpResponseNotAllowed, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static


class SignInView(LoginView):
    """GitHub only, once an OAuth app is configured; a local password form for demos without one."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if settings.SKILLPORT_GITHUB_CLIENT_ID:
            return HttpResponseNotAllowed(["GET"], "Sign in with GitHub.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "github": bool(settings.SKILLPORT_GITHUB_CLIENT_ID)}


def admin_login(request, extra_context=None):
    """The admin's own password form only serves demos; with GitHub, everyone goes through it."""
    if settings.SKILLPORT_GITHUB_CLIENT_ID:
        return redirect_to_login(request.GET.get("next", "/admin/"))
    return admin.site.login(request, extra_context)


def favicon(request):
    """Browsers ask for /favicon.ico where a page names no icon (the API's pages, a JSON answer): the logo."""
    return HttpResponsePermanentRedirect(static("skillport-logo.svg"))


def healthz(request):
    """For load balancers and uptime checks: 200 when the database answers, 503 when not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok"})
