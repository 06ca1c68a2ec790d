"""Request checks that come before any view."""
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

NUL_REFUSED = "Requests may not contain NUL characters."
# A NUL as it arrives in a query string or form body, and as JSON writes it.
ENCODED_NUL = (b"%00", b"\\u0000")


@sync_and_async_middleware
def reject_nul_characters(get_response):
    """A 400 for a request carrying a NUL character in its URL or body. PostgreSQL refuses NUL in
    text, so a view or library (the OAuth endpoints, say) passing one to a query would otherwise
    fail with a 500. Nothing here takes binary uploads, which could carry NUL legitimately."""

    def refusal(request):
        body = request.body if request.method in ("POST", "PUT", "PATCH") else b""
        query = request.META.get("QUERY_STRING", "").encode()
        if "\x00" not in request.path and b"\x00" not in body and not any(
            nul in part for nul in ENCODED_NUL for part in (query, body)
        ):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": NUL_REFUSED}, status=400)  # as the API's own errors read
        return HttpResponseBadRequest(NUL_REFUSED)

    if iscoroutinefunction(get_response):
        async def middleware(request):
            return refusal(request) or await get_response(request)
    else:
        def middleware(request):
            return refusal(request) or get_response(request)
    return middleware
