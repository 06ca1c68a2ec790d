"""Request checks that come before any view, and the headers every answer carries."""
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.decorators import sync_and_async_middleware

from .throttle import over_page_rate
from .timeouts import overloaded

NUL_REFUSED = "Requests may not contain NUL characters."
# A NUL as it arrives in a query string or form body, and as JSON writes it.
ENCODED_NUL = (b"%00", b"\\u0000")


def _middleware(check):
    """A middleware answering `check(request)`'s response when it gives one, else the view's."""
    @sync_and_async_middleware
    def middleware_factory(get_response):
        if iscoroutinefunction(get_response):
            async def middleware(request):
                return check(request) or await get_response(request)
        else:
            def middleware(request):
                return check(request) or get_response(request)
        return middleware
    middleware_factory.__name__ = middleware_factory.__qualname__ = check.__name__
    middleware_factory.__doc__ = check.__doc__
    return middleware_factory


def takes_uploads(view):
    """Marks a view whose form sends files: the middleware below reads such a form before any other."""
    view.takes_uploads = True
    return view


def reads_its_own_body(view):
    """Marks a view that reads its request's body itself (`request.read`, which has no size limit of Django's) and
    refuses one holding a NUL character: the middleware below leaves its body alone."""
    view.reads_its_own_body = True
    return view


def _is_upload(request) -> bool:
    """A form with files posted to a view that takes them. Any other body is read whole, as bytes: a
    form parsed here can no longer be read as bytes, and views that read their body as JSON (OAuth
    registration) or sign it (the webhooks) would fail on one with a 500."""
    if request.method != "POST" or request.content_type != "multipart/form-data":
        return False
    return _marked(request, "takes_uploads")


def _marked(request, mark) -> bool:
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return False
    return getattr(view, mark, False)


@_middleware
def read_uploads(request):
    """A form with files (a skill uploaded in the browser) is read here, before anything else reads it,
    so one past the limits gets a 4xx saying which limit, not the bare "Bad Request" Django answers
    from whichever middleware touches request.POST first (CSRF's)."""
    if not _is_upload(request):
        return None
    # Django keeps files out of its DATA_UPLOAD_MAX_MEMORY_SIZE; their total is bounded here.
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.SKILLPORT_MAX_UPLOAD_BYTES:
        return HttpResponse(f"This upload is larger than {settings.SKILLPORT_MAX_UPLOAD_BYTES:,} bytes, the most "
                            "a form may send here.", status=413, content_type="text/plain; charset=utf-8")
    try:
        request.POST, request.FILES  # noqa: B018 (parsed now, kept on the request for the view)
    except TooManyFilesSent:
        message = (f"This form sends more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files, the most a skill "
                   "may have.")
    except (TooManyFieldsSent, RequestDataTooBig):
        message = "This form sends more fields or text than a form may send here."
    except MultiPartParserError:
        message = "This form's upload could not be read; send it again."
    else:
        return None
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@_middleware
def reject_nul_characters(request):
    """A 400 for a request carrying a NUL character in its URL or text. PostgreSQL refuses NUL in text,
    so a view or library (the OAuth endpoints, say) passing one to a query would otherwise fail with a
    500. Uploaded files may hold NUL bytes (every ZIP does): a form with files has its text fields
    checked instead of its whole body."""
    query = request.META.get("QUERY_STRING", "").encode()
    if _is_upload(request):
        # (Django takes non-printable characters out of file names itself.)
        text = [*request.FILES, *(part for key, values in request.POST.lists() for part in (key, *values))]
        body_has_nul = any("\x00" in part for part in text)
        body = b""
    elif request.method in ("POST", "PUT", "PATCH") and not _marked(request, "reads_its_own_body"):
        body = request.body
        body_has_nul = b"\x00" in body
    else:
        body, body_has_nul = b"", False
    if "\x00" not in request.path and not body_has_nul and not any(
        nul in part for nul in ENCODED_NUL for part in (query, body)
    ):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": NUL_REFUSED}, status=400)  # as the API's own errors read
    return HttpResponseBadRequest(NUL_REFUSED)


# Paths limited on their own (the REST API's throttles), and the health check load balancers call. /mcp never
# reaches Django's middleware (asgi.router) and has its own rate.
PAGE_RATE_EXEMPT = ("/api/", "/healthz")


@_middleware
def limit_members_pages(request):
    """Each signed-in member's requests count against SKILLPORT_PAGE_RATE (throttle.over_page_rate), so that
    one member's script cannot take the workers from everyone. A stranger costs nothing here: every page
    but sign-in's (limited per address) sends them to sign in."""
    if request.path_info.startswith(PAGE_RATE_EXEMPT):
        return None
    try:
        member = request.user.pk if request.user.is_authenticated else None
    except OperationalError as exception:
        # The session and the user are read here, before any view, where DatabaseOverload would answer.
        if (response := overloaded(request, exception)) is None:
            raise
        return response
    return None if member is None else over_page_rate(request, member)


# What a page may load and run: Skillport's own scripts, styles and images, and images inlined as data: URLs (the only
# ones rendered Markdown keeps); nothing inline, no plugins, no <base>, no framing. Rendered SKILL.md bodies and READMEs
# are sanitised (marketplace.rendering): this is the wall behind that one, should it ever let something through. Forms
# may post anywhere: the OAuth consent form's answer redirects to the client (claude.ai), which form-action would refuse.
POLICY = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
          "object-src": "'none'", "base-uri": "'none'", "frame-ancestors": "'none'"}


def content_security_policy_header(policy: dict) -> str:
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


CONTENT_SECURITY_POLICY = content_security_policy_header(POLICY)


@sync_and_async_middleware
def content_security_policy(get_response):
    """Every answer carries CONTENT_SECURITY_POLICY, unless its view set a policy of its own."""
    if iscoroutinefunction(get_response):
        async def middleware(request):
            return _with_policy(await get_response(request))
    else:
        def middleware(request):
            return _with_policy(get_response(request))
    return middleware


def _with_policy(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response
