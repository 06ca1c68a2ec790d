"""The skill catalogue in the browser: home, search, skill, file, history, plugin and marketplace pages.

Every page is for signed-in users and reaches skills only through `visible_to`, so anything a
user may not see is a 404, exactly like something that does not exist.
"""
import re
from itertools import chain

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse

from audit import record
from audit.models import Action

from . import (
    caching, curated, diffs, install, lookup, packaging, plugincontent, policy, provenance, rendering, rows,
    scanners, scans, search, updates, weblinks,
)
from .filters import SkillFilter, count_installs, with_installs
from .gitrepo import redact
from .models import PLUGIN_DETAIL, Curation, Marketplace, Plugin, Skill, SkillFile, SkillRevision, Status
from .templatetags.catalogue import display_name
from .verdicts import Verdict


# What a skill card shows; lists load only these (not bodies, search vectors or secrets).
CARD_FIELDS = [
    "name", "display_name_override", "slug", "description", "claude_ai_uploadable", "loads_in_claude_code",
    "updated_at", "policy", "policy_reason", "plugin", "marketplace", "plugin__name", "plugin__shown_display_name",
    "plugin__policy", "plugin__policy_reason", "plugin__author", "marketplace__slug", "marketplace__name",
    "marketplace__owner", "scan_passed", "scan_severity",
]


def _cards(user):
    return Skill.objects.visible_to(user).select_related("plugin", "marketplace").only(*CARD_FIELDS)


def _skill(request, marketplace, plugin, skill):
    return lookup.visible_skill_or_404(request.user, marketplace, plugin, skill)


@login_required
def home(request):
    lists = caching.get_or_set(request, lambda: _home_lists(request.user), "home")
    count_installs(chain(lists["featured"], lists["recent"]))  # the popular ones have theirs
    return render(request, "marketplace/home.html", lists)


def _home_lists(user) -> dict:
    """What the home page lists, of what `user` may see: 150 ms of queries at 10,000 skills, for the page every member
    opens first, so kept as search results are (caching.py). "Most installed" is then as of up to the cache's
    timeout ago: installing changes no catalogue version."""
    skills = _cards(user)
    featured = Q(curation=Curation.FEATURED) | Q(plugin__curation=Curation.FEATURED)
    # Counted from the skills the user may see: a plugin's hidden and removed skills are not for them. Every skill
    # is in one category or none (""), so the categories' counts give the whole count.
    categories = list(skills.values(shown_category=F("plugin__shown_category")).annotate(n=Count("pk"))
                      .order_by("shown_category"))
    return {
        "featured": list(skills.filter(featured).order_by("name")[:8]),
        "recent": list(skills.order_by("-updated_at")[:8]),
        "popular": [s for s in with_installs(skills).order_by("-installs", "name")[:8] if s.installs],
        "categories": [category for category in categories if category["shown_category"]],
        "count": sum(category["n"] for category in categories),
    }


@login_required
def skill_search(request):
    # The results alone for live search as you type; the full page works without JavaScript.
    partial = bool(request.headers.get("X-Partial"))
    template = "marketplace/_results.html" if partial else "marketplace/_search.html"

    def results():
        # The words as written first, without asking whether anything matches them: most searches do.
        found = SkillFilter(request.GET, queryset=_cards(request.user), request=request, matched=True)
        if not found.is_valid():
            # Refused before it costs anything: a search past the limits, or a filter value nobody can choose.
            return render_to_string(template, {
                "filter": found, "page": None, "partial": partial,
                "filter_panel": "" if partial else _filter_panel(request, found.form, 0),
            }), 400
        page = _page_of(found.qs, request.GET.get("page"))
        if page.number == 1 and not page.object_list and found.form.cleaned_data.get("q"):
            # Nothing matched them: the typo path corrects the words and searches again.
            found.through_the_typo_path()
            page = _page_of(found.qs, request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        filters_on = sum(bool(found.form.cleaned_data.get(name)) for name in FILTERS)
        # Rendered without the request, so nothing about the user but what they may see gets in.
        return render_to_string(template, {
            "filter": found, "page": page, "query": query.urlencode(), **_found(found.form.cleaned_data, page),
            "filters_on": filters_on, "filter_panel": "" if partial else _filter_panel(request, found.form, filters_on),
        }), 200

    if request.GET.get("sort") == "installs":
        html, status = results()  # install counts come from the audit log, which the catalogue version ignores
    else:
        html, status = caching.get_or_set(request, results, template, request.GET.urlencode())
    if partial:
        return HttpResponse(html, status=status)
    return render(request, "marketplace/search.html", {"search": html}, status=status)


def _page_of(queryset, number, per_page=24):
    """`Paginator(queryset, per_page).get_page(number)`, with the count read by the page's own query
    (search.page_and_total): most pages are the first. A page past the end, or a number below 1,
    falls back to the paginator, which counts and answers the last page."""
    paginator = Paginator(queryset, per_page)
    try:
        wanted = int(number) if number not in (None, "") else 1
    except (TypeError, ValueError):
        wanted = 1  # as get_page answers a page number that is not one
    if wanted >= 1:
        shown, total = search.page_and_total(queryset, (wanted - 1) * per_page, per_page)
        if total is not None:
            paginator.count = total
            return paginator._get_page(shown, wanted, paginator)
    return paginator.get_page(number)


# The search page's filters beside the words and the order: how many are set shows on the folded panel.
FILTERS = ["marketplace", "plugin", "category", "tag", "surface", "verdict"]


def _filter_panel(request, form, filters_on):
    """The folded filter panel as HTML, cached like the results (catalogue version, what the viewer
    may see) but keyed by the filters' values alone: most searches change only the words, and the
    panel's selects list every plugin, which costs more to render than the search does to run."""
    values = [(name, value) for name in FILTERS for value in request.GET.getlist(name)]
    return caching.get_or_set(
        request, lambda: render_to_string("marketplace/_filters.html", {"form": form, "filters_on": filters_on}),
        "filter panel", filters_on, repr(values),
    )


def _found(data, page) -> dict:
    """Each card of a search page with its installs, its title and a snippet with the searched words
    marked; when the typo path answered, the search it ran instead (`respelt`)."""
    cards = count_installs(page)
    text = (data.get("q") or "").strip()
    respelt = getattr(next(iter(cards), None), "respelt", "")
    words = search.terms(respelt or text)
    for skill in cards:
        skill.title_html = search.mark(display_name(skill), words)
        skill.snippet = search.snippet(skill.description, getattr(skill, "headline", ""), words)
    return {"text": text, "respelt": respelt}


@login_required
def skill_detail(request, marketplace, plugin, skill):
    skill = _skill(request, marketplace, plugin, skill)
    files = rows.skill_files(skill.pk)
    # Not the file lists and stored content the history page compares.
    revisions = rows.listed_revisions(skill.pk, request.user)
    version, commit = updates.served(skill)
    url, _root = weblinks.plugin_source(skill.plugin)
    return render(request, "marketplace/skill_detail.html", {
        "skill": skill,
        "plugin": skill.plugin,
        "version": version,
        "commit": commit,
        "source_url": weblinks.tree(url, commit, skill.path),
        "installs": count_installs([skill])[0].installs,
        # Its name and description head the page; the rest of the frontmatter is listed.
        "frontmatter": [row for key, value in skill.frontmatter.items() if key not in ("name", "description")
                        for row in _fields(key, value)],
        "body": rendering.shown(skill.body_html, skill.body),
        "files": files,
        "provenance": provenance.of(skill, files),
        "revisions": revisions,
        "review": _review(skill, revisions) if request.user.is_superuser else None,
        "install": install.panel(skill, request.user),
        **_verdicts_and_scan(skill, files),
    })


def _verdicts_and_scan(skill, files) -> dict:
    """The verdicts, with the scan's unknown (None) rather than failed while nothing judged the served
    content (not scanned yet, scanning off, no scanner), and the scan report that says which."""
    scan = _scan(skill, files)
    scanned = scan["report"].state == "scanned"
    verdicts = []
    for label, passed, reasons in skill.verdicts():
        if label == Verdict.SCAN_PASSED.label:
            # Once scanned, the findings are the scan card's, each with its file and line: not listed twice.
            passed, reasons = (passed, []) if scanned else (None, reasons)
        verdicts.append((label, passed, reasons))
    return {"verdicts": verdicts, "scan": scan}


@login_required
def skill_file(request, marketplace, plugin, skill, path):
    skill = _skill(request, marketplace, plugin, skill)
    file = get_object_or_404(SkillFile.objects.select_related("blob"), skill=skill, path=path)
    if file.blob is None:
        raise Http404("This file was too large to store.")
    if request.GET.get("raw") or file.is_binary:
        if not request.GET.get("raw"):
            return render(request, "marketplace/skill_file.html", {"skill": skill, "file": file, "binary": True})
        response = HttpResponse(bytes(file.blob.content), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{path.rsplit("/", 1)[-1]}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    text = bytes(file.blob.content).decode("utf-8", "replace")
    return render(request, "marketplace/skill_file.html", {
        "skill": skill, "file": file, "html": rendering.source(path, text),
    })


@login_required
def skill_history(request, marketplace, plugin, skill):
    skill = _skill(request, marketplace, plugin, skill)
    revisions = list(skill.revisions.shown_to(request.user).order_by("-id"))
    by_id = {str(r.pk): r for r in revisions}
    new = by_id.get(request.GET.get("to")) or (revisions[0] if revisions else None)
    old = by_id.get(request.GET.get("from")) or (revisions[1] if len(revisions) > 1 else None)
    return render(request, "marketplace/skill_history.html", {
        "skill": skill, "revisions": revisions, "old": old, "new": new,
        "diff": diffs.between(old, new) if old and new else [],
    })


@login_required
def skill_download(request, marketplace, plugin, skill):
    skill = _skill(request, marketplace, plugin, skill)
    if policy.refusal(skill, request=request):
        return render(request, "marketplace/prohibited.html", {"skill": skill, "reason": skill.stance[1]}, status=403)
    record(Action.PACKAGE_DOWNLOADED, request=request, target=skill, extra={"content_hash": skill.content_hash})
    return packaging.download(skill)


@login_required
def plugin_detail(request, marketplace, plugin):
    plugin = get_object_or_404(
        Plugin.objects.visible_to(request.user).select_related("marketplace"), marketplace__slug=marketplace, name=plugin
    )
    url, folder = weblinks.plugin_source(plugin)
    refusal, broken = curated.refusal(plugin, request.user), plugin.served_refusal
    problems = _plugin_problems(request.user, [plugin])[plugin.pk]
    return render(request, "marketplace/plugin_detail.html", {
        "plugin": plugin,
        "problems": problems,
        "skills": count_installs(_cards(request.user).filter(plugin=plugin).order_by("name")),
        "commands": [] if refusal else install.claude_code_commands(plugin),
        "turn_on": install.turned_off(plugin),
        "claude_code_needed": install.claude_code_needed(plugin),
        "refusal": refusal,
        # Whether Claude Code loads what members get, and why not as the sync said; before a sync by reader 8 kept
        # that, the first error (which warnings may precede).
        "broken": broken is not None,
        "not_loaded": "" if broken is None else broken or next(
            (p["message"] for p in problems if p["severity"] == "error"), ""),
        "dependencies": install.installed_with(plugin, request.user),
        "source": {"repository": "" if plugin.source_kind == "relative" else weblinks.repository(url) or redact(url),
                   "folder": folder, "url": weblinks.tree(url, plugin.commit, folder)},
        # Sanitised like a SKILL.md body: the repository's Markdown may hold any HTML.
        "readme": rendering.shown(plugin.readme_html, plugin.readme),
        # At the commit approved: what members' installs get, however the repository has moved on.
        "besides_skills": plugincontent.listing(plugin.served_own_content),
        "besides_skills_scan": _scan_report(plugin.served_own_hash, plugin.marketplace)
        if plugin.served_own_hash else None,
    })


@login_required
def marketplace_detail(request, marketplace):
    marketplace = get_object_or_404(Marketplace.objects.visible_to(request.user), slug=marketplace)
    plugins = (
        Plugin.objects.visible_to(request.user)
        .filter(marketplace=marketplace).select_related("marketplace").defer(*PLUGIN_DETAIL)
        .annotate(n=Count("skills", filter=Q(skills__in=Skill.objects.visible_to(request.user))))
        .order_by("name")
    )
    last_run = marketplace.sync_runs.exclude(status=Status.RUNNING).first()
    plugins = list(plugins)
    return render(request, "marketplace/marketplace_detail.html", {
        "marketplace": marketplace, "run": last_run,
        # Claude Code refuses a plugin that does not load: members get a note, not a card to install from.
        "plugins": [p for p in plugins if p.served_refusal is None],
        "broken": [p for p in plugins if p.served_refusal is not None],
        "plugin_count": len(plugins), "skill_count": sum(p.n for p in plugins),
        "problems": _problems(request.user, marketplace, last_run)[:50],
        "claude_code_settings": install.claude_code_settings([marketplace]) if curated.reachable(marketplace) else "",
        "repository": weblinks.repository(marketplace.git_url),
        "commit_url": weblinks.tree(marketplace.git_url, marketplace.last_synced_commit),
    })


def _problems(user, marketplace, run) -> list[dict]:
    """The last sync's problems for admins. Others read only those about what they may see: the
    catalogue file as a whole, and the plugins and skills visible to them (the problems stored on
    each); problems at a plugin's entry or in its files can name paths and plugins hidden from them."""
    if run is None:
        return []
    if user.is_superuser:
        return run.problems
    catalogue = [p for p in run.problems if p.get("location") in ("", marketplace.catalog_path)]
    plugins = (Plugin.objects.visible_to(user).filter(marketplace=marketplace).exclude(problems=[])
               .order_by("name").only("problems"))
    skills = (Skill.objects.visible_to(user).filter(marketplace=marketplace).exclude(problems=[])
              .order_by("plugin__name", "name").values_list("problems", flat=True))
    return catalogue + [problem for problems in chain(_plugin_problems(user, plugins).values(), skills)
                        for problem in problems]


def _plugin_problems(user, plugins) -> dict:
    """{plugin id: its problems `user` may read}: for members, none naming one of its skills kept from them, by
    folder or by name, as a problem on the whole plugin may (a skill named as another, names refused in it)."""
    plugins = list(plugins)
    shown = {plugin.pk: plugin.problems for plugin in plugins}
    with_problems = [pk for pk, problems in shown.items() if problems]
    if user.is_superuser or not with_problems:
        return shown
    kept = {}
    hidden = Skill.objects.filter(plugin__in=with_problems).exclude(pk__in=Skill.objects.visible_to(user))
    for plugin_id, path, name in hidden.values_list("plugin_id", "path", "name"):
        kept.setdefault(plugin_id, set()).update({path.rpartition("/")[2], name} - {""})
    for plugin_id, words in kept.items():
        # A word of its own: "ops" names the skill ops, not ops-kit.
        naming = re.compile("|".join(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])" for word in sorted(words)))
        shown[plugin_id] = [problem for problem in shown[plugin_id] if not naming.search(
            "\n".join(str(problem.get(key) or "") for key in ("message", "location", "detail")))]
    return shown


def _fields(name, value) -> list[tuple[str, str]]:
    """A frontmatter value as (field, text) rows: a mapping's keys as dotted names, a list of plain
    values on one line, a list of anything else one row per item. (The sync bounds the depth.)"""
    if isinstance(value, dict) and value:
        return [row for key, item in value.items() for row in _fields(f"{name}.{key}", item)]
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return [row for i, item in enumerate(value, 1) for row in _fields(f"{name}[{i}]", item)]
    if isinstance(value, list):
        return [(name, ", ".join(map(_scalar, value)))]
    return [(name, _scalar(value))]


def _scalar(value) -> str:
    """A YAML scalar as its author wrote it: true/false, no None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None or value == {} else str(value)


def _review(skill, revisions):
    """For admins: what awaits approval or the security scan blocked, and the revisions to compare to see it."""
    # Blocked revisions are never superseded: only the newest one is still what the repository holds.
    blocked = revisions[0].pk if revisions and revisions[0].status == SkillRevision.Status.BLOCKED else None
    if skill.released and not skill.pending_revision_id and not blocked:
        return None
    approved = next((r for r in revisions if r.status == SkillRevision.Status.APPROVED), None)
    return {"new": not skill.released, "pending": skill.pending_revision_id or blocked, "blocked": blocked,
            "approved": approved and approved.pk}


def _scan(skill, files):
    """The security scan of the served content, each finding linked to its file when that is shown here."""
    readable = {f.path for f in files if f.blob_id}
    args = [skill.marketplace.slug, skill.plugin.name, skill.slug]
    return _scan_report(skill.content_hash, skill.marketplace, lambda path: reverse(
        "marketplace:file", args=[*args, path]) if path in readable else "")


def _scan_report(content_hash, marketplace, file_url=lambda path: "") -> dict:
    """The security scan of a content (a skill's, or what a plugin installs besides its skills) for its
    page: each finding marked when it reaches the marketplace's threshold, with `file_url` of its file."""
    report = scans.report(content_hash, marketplace)
    findings = [{
        **finding,
        "failing": scanners.at_least(finding["severity"], marketplace.scan_threshold),
        "url": file_url(finding["file"]) if finding.get("file") else "",
    } for finding in report.judgement.findings]
    return {"report": report, "findings": findings}


def curated_catalogue(request, marketplace):
    """/m/<slug>/marketplace.json for Claude Code: the signed-in (or bearer-token) user's curated view.

    The token (a personal catalogue token, or one for the connector) is read by connector.authentication's
    middleware, into `request.bearer`."""
    user = request.user if request.user.is_authenticated else request.bearer.catalogue_reader()
    if user is None:
        response = JsonResponse({"error": "Sign in, or send a Skillport catalogue token (create one at "
                                          f"{install.tokens_url()}): Authorization: Bearer <token>."}, status=401)
        response["WWW-Authenticate"] = 'Bearer scope="catalogue:read"'
        return response
    marketplace = get_object_or_404(Marketplace.objects.visible_to(user), slug=marketplace)
    if not curated.reachable(marketplace):
        return JsonResponse({"error": "This marketplace is read from a folder on the server; Claude Code "
                                      "cannot fetch its plugins."}, status=404)
    # Not indented: Python's JSON encoder indents in Python, not C, and the catalogue of a marketplace of 10,000 skills
    # (2 MB) took 50 ms more to write so, a sixth of what it costs to answer.
    return JsonResponse(curated.catalogue(marketplace, user))
