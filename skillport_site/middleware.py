"""Request checks that come before any view."""
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

NUL_REFUSED = "Requests may not contain NUL characters (%00)."


@sync_and_async_middleware
def reject_nul_characters(get_response):
    """A 400 for a URL carrying a NUL character. PostgreSQL refuses NUL in text, so a view passing
    a path or query value to a query would otherwise fail with a 500. (Forms and the API's
    serializers refuse NUL in what they read themselves.)"""

    def refusal(request):
        if "\x00" not in request.path and "%00" not in request.META.get("QUERY_STRING", ""):
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
