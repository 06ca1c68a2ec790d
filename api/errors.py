"""One shape for every API error, documented on every operation.

`{"detail": "<what is wrong>", "errors": {<field>: [<message>, ...]}}`: `detail` always names the
problem in a sentence; `errors` comes with invalid input, keyed by the parameter or body field.
"""
from django.http import JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(errors, prefix=""):
    """{"installed": {0: {"name": ["Required."]}}} -> {"installed[0].name": ["Required."]}."""
    if isinstance(errors, dict):
        flat = {}
        for key, value in errors.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:  # about the object at `prefix` as a whole
                flat.update(_flatten(value, prefix))
            elif isinstance(key, int):  # an item of a list
                flat.update(_flatten(value, f"{prefix}[{key}]"))
            else:
                flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(errors, list) and errors and all(isinstance(e, (dict, list)) for e in errors):
        flat = {}
        for i, value in enumerate(errors):
            flat.update(_flatten(value, f"{prefix}[{i}]"))
        return flat
    return {prefix or "input": [str(e) for e in (errors if isinstance(errors, list) else [errors])]}


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = {key: value for key, value in _flatten(exc.detail).items() if value}
        first = next(iter(errors.items()), ("input", ["Invalid input."]))
        response.data = {"detail": f"Invalid {first[0]}: {first[1][0]}", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


def not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in JSON too."""
    return JsonResponse({"detail": f"No API endpoint at {request.path}. The schema is at /api/schema/."}, status=404)


ERRORS = {
    400: "Invalid input: `detail` names the problem, `errors` each field.",
    401: "Not signed in, or the token is unknown, expired, revoked or for another resource.",
    403: "Signed in, but not allowed: a missing scope or permission, or a prohibited skill.",
    404: "No such object, or not one you may see.",
    429: "Too many requests: wait for the number of seconds in Retry-After.",
    503: "The request took too long and was stopped (SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS): try again, or narrow it.",
}


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["detail"],
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the error responses every operation can give."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for code, text in ERRORS.items():
                operation["responses"].setdefault(str(code), {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
