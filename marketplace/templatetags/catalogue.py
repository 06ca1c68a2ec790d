"""How the catalogue's pages present things: display names, authors, tags, safe links, snippets and the scan badge."""
import functools
import re

from django import template
from django.conf import settings
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from .. import search
from ..models import Marketplace, Plugin, Skill

register = template.Library()

# Written in capitals when a kebab-case name is turned into words (csv-cleanup reads "CSV cleanup").
ACRONYMS = {
    "ai", "api", "aws", "ci", "cli", "css", "csv", "gcp", "html", "http", "json", "jwt", "llm", "mcp", "pdf", "pr",
    "sdk", "seo", "sql", "ssh", "ui", "url", "ux", "xml", "yaml",
}
MACHINE_NAME = re.compile(r"^[a-z0-9]+([-_.][a-z0-9]+)*$")


def words(name: str) -> str:
    """A machine name in words: "pull-request-review" reads "Pull request review". A name with capitals
    or spaces is the way its author wants it read, and stays as written."""
    if not MACHINE_NAME.match(name):
        return name
    parts = [part.upper() if part in ACRONYMS else part for part in re.split(r"[-_.]", name)]
    return " ".join([parts[0][:1].upper() + parts[0][1:], *parts[1:]])


@register.filter
def display_name(item) -> str:
    """What people read as an item's name; Claude still invokes it by its own name (shown beside it)."""
    if isinstance(item, Skill):
        return item.display_name_override or words(item.name)
    if isinstance(item, Plugin):
        return item.shown_display_name or words(item.name)
    if isinstance(item, Marketplace):
        return words(item.name or item.slug)
    return str(item)


@register.filter
def person(value) -> str:
    """The name of a catalogue's `author` or `owner` object, whatever shape the repository gave it."""
    if isinstance(value, dict):
        value = value.get("name")
    return value.strip() if isinstance(value, str) else ""


@register.filter
def author(item) -> str:
    """Who made a plugin (or a skill's plugin): its author, else the owner of the marketplace that lists it.
    A skill's own marketplace is read, which card queries load with it (not its plugin's)."""
    plugin = item.plugin if isinstance(item, Skill) else item
    return person(plugin.author) or person(item.marketplace.owner)


@register.filter
def fails_scan(skill) -> bool:
    """Scanned, and something reached its marketplace's threshold (not merely unscanned)."""
    return bool(skill.scan_severity) and not skill.scan_passed


@register.filter
def snippet(text) -> str:
    """The start of a description as a card shows it: cut on a word, with an ellipsis."""
    return search.snippet(text or "")


@register.filter
def shown_tags(tags) -> list[str]:
    """A plugin's tags as people read them: not the `surface:` tags that say where it works."""
    return [tag for tag in tags or [] if isinstance(tag, str) and not tag.startswith("surface:")]


@register.filter
def web_url(value) -> str:
    """`value` if it is an http(s) address a page may link to, else "" (never javascript: or data:)."""
    return value if isinstance(value, str) and value.lower().startswith(("https://", "http://")) else ""


@register.filter
def own_links(text) -> str:
    """An install step as HTML, with Skillport's own addresses (under SKILLPORT_BASE_URL) as links and
    nothing else as one. A step quotes what a repository names, its plugins and the files a plugin
    installs, and a link on Skillport's page would vouch for those: Django's urlize linked any address,
    www. name or word ending in .com there (and took 40-90 µs a step, this about 5)."""
    pieces, done = [], 0
    for found in _own_address(settings.SKILLPORT_BASE_URL).finditer(text):
        address = found.group().rstrip(".,;:!?)")
        pieces += [escape(text[done:found.start()]), format_html('<a href="{}">{}</a>', address, address)]
        done = found.start() + len(address)
    pieces.append(escape(text[done:]))
    return mark_safe("".join(pieces))


@functools.lru_cache(maxsize=4)
def _own_address(base_url: str) -> re.Pattern:
    return re.compile(re.escape(base_url.rstrip("/")) + r"/[^\s<>\"'`]*")
