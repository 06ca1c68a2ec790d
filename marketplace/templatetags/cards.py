"""Skill cards, the list items of the search results, the home page and plugin pages: `{{ skills|cards }}`.

Built here rather than by a template: a search page draws 24 of them, and Django's template
engine spent about a third of a search's CPU resolving their variables and filters one by one
(issue 21). Every value goes through `format_html`, which escapes it unless it is already safe HTML
(the search's marked title and snippet, escaped where they were made).
"""
from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from .catalogue import author, display_name, fails_scan, snippet

register = template.Library()

CARD = (
    '<li class="skill-card" data-skill="{}">\n'
    '  <h3><a href="{}">{}</a></h3>\n'
    '  <p class="meta where">{} · {}</p>\n'
    '  <p class="summary">{}</p>\n'
    '  <p class="card-foot">{}<span class="installs" title="People who installed it">{} install{}</span></p>{}\n'
    '</li>'
)


@register.filter
def cards(skills) -> str:
    """The cards of `skills` (loaded with their plugin and marketplace, `installs` counted), as safe HTML."""
    return mark_safe("".join(card(skill) for skill in skills))


def card(skill) -> str:
    """One skill's card. A search sets `title_html` and `snippet` on the skill, with its words marked;
    elsewhere the title is the display name and the summary the start of the description."""
    installs = getattr(skill, "installs", 0) or 0
    by = author(skill)
    return format_html(
        CARD, skill.identifier, skill.get_absolute_url(),
        getattr(skill, "title_html", "") or display_name(skill),
        display_name(skill.plugin), display_name(skill.marketplace),
        getattr(skill, "snippet", "") or snippet(skill.description),
        format_html("<span>by {}</span>\n    ", by) if by else "", installs, "" if installs == 1 else "s",
        _badges(skill),
    )


def _badges(skill) -> str:
    """Only what is exceptional: a policy, a surface the skill does not work on, a failed scan."""
    stance, reason = skill.stance
    badges = [("policy-" + stance, reason, capfirst(stance))] if stance else []
    if not skill.loads_in_claude_code:
        badges.append(("bad", "", "Does not load in Claude Code"))
    if not skill.claude_ai_uploadable:
        badges.append(("warn", "", "Not uploadable to Claude.ai"))
    if fails_scan(skill):
        badges.append(("bad", "", "Fails the security scan"))
    if not badges:
        return ""
    return format_html('\n  <p class="badges">{}</p>', format_html_join(
        "", '<span class="badge {}"{}>{}</span>',
        ((kind, format_html(' title="{}"', title) if title else "", text) for kind, title, text in badges),
    ))
