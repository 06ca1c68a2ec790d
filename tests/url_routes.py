"""The project's URL patterns, read from the URL configuration, so that sweeps over them reach every route added later."""
import re

from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

# Named groups of a regular-expression pattern, and its anchors.
GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")
CONVERTER = re.compile(r"<(?:\w+:)?\w+>")


def routes():
    """Each URL pattern as one template, its parameters written `{}`: Django's own and every app's."""
    def walk(resolver, prefix):
        for entry in resolver.url_patterns:
            pattern = entry.pattern
            part = str(pattern)
            if isinstance(pattern, RegexPattern):
                part = GROUP.sub("{}", part).replace("^", "").replace("$", "").replace("\\Z", "")
            else:
                part = CONVERTER.sub("{}", part)
            if isinstance(entry, URLResolver):
                yield from walk(entry, prefix + part)
            else:
                yield "/" + prefix + part

    return sorted(set(walk(get_resolver(), "")))


def named_routes():
    """Each named route outside the admin that takes arguments: its reversible name and the arguments' names."""
    def walk(resolver, namespaces):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name != "admin":
                    yield from walk(entry, namespaces + ([entry.namespace] if entry.namespace else []))
            elif entry.name and entry.pattern.converters:
                yield ":".join([*namespaces, entry.name]), tuple(entry.pattern.converters)

    return sorted(set(walk(get_resolver(), [])))
