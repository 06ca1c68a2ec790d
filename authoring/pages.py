"""Proposing in the browser: "Contribute a skill" (a `.skill` package or a folder) and "Suggest an edit"
(an editor for a skill's text files, with SKILL.md previewed as its page will show it).

Both hand the change to `proposals`, which decides who may propose and what would not sync; these
views only read what the person sent and show the answer. A skill the person may not see is a 404,
as everywhere (`lookup.visible_skill_or_404`).
"""
import posixpath

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from audit.models import Surface
from marketplace import lookup, rendering, skillmd
from marketplace.models import Marketplace, Plugin
from marketplace.templatetags.catalogue import words
from skillport_site.middleware import takes_uploads
from skillport_site.throttle import per_member, too_many

from . import changes, proposals, uploads

# What the preview renders at most: a SKILL.md is read in full into every context it is used in,
# so a real one is far shorter; this bounds the work one request can ask of the Markdown renderer.
MAX_PREVIEW_CHARS = 256 * 1024
MAX_MESSAGE_CHARS = 5000
NOWHERE = ("You may not propose skills to any marketplace here. A Skillport admin names each marketplace's "
           "contributors; ask them to add you.")


def proposable(user) -> list[Marketplace]:
    """The marketplaces `user` may propose to, by name: those they contribute to that can take a proposal."""
    return [m for m in _contributed(user) if not changes.unreachable(m)]


def _contributed(user) -> list[Marketplace]:
    # Its secrets are read (and decrypted) only if a proposal is sent.
    return [m for m in Marketplace.objects.visible_to(user).defer("access_token", "webhook_secret")
            .order_by("name", "slug") if proposals.contributes(user, m)]


class ContributeForm(forms.Form):
    marketplace = forms.ChoiceField()
    plugin = forms.CharField(max_length=200, help_text="One of the marketplace's plugins, or a new name for a new "
                                                       "plugin.")
    skill = forms.CharField(max_length=200, required=False,
                            help_text="Blank: the name of the uploaded folder. A skill that exists is replaced.")
    package = forms.FileField(required=False, label="A .skill package")
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=MAX_MESSAGE_CHARS,
                              required=False, help_text="What the skill is for, or what changed and why: the "
                                                        "reviewers read it in the pull request.")

    def __init__(self, *args, marketplaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.marketplaces = {m.slug: m for m in marketplaces}
        self.fields["marketplace"].choices = [(m.slug, str(m)) for m in marketplaces]

    def clean_marketplace(self):
        return self.marketplaces[self.cleaned_data["marketplace"]]

    def clean_plugin(self):
        return self.cleaned_data["plugin"].strip()

    def clean_skill(self):
        return self.cleaned_data["skill"].strip()


@takes_uploads
@login_required
def contribute(request):
    marketplaces = proposable(request.user)
    if not marketplaces:
        contributed = _contributed(request.user)
        return _refused(request, changes.unreachable(contributed[0])) if contributed else (
            _not_a_contributor(request, NOWHERE))
    # A plugin page's link names its marketplace and plugin.
    form = ContributeForm(request.POST or None, request.FILES or None, marketplaces=marketplaces,
                          initial={"marketplace": request.GET.get("marketplace"), "plugin": request.GET.get("plugin")})
    plugins = Plugin.objects.visible_to(request.user).filter(marketplace__in=marketplaces)
    context = {"form": form, "plugins": plugins.select_related("marketplace").order_by("name"),
               # The page's script stops a folder past these before sending it.
               "max_files": settings.SKILLPORT_MAX_SKILL_FILES, "max_bytes": settings.SKILLPORT_MAX_UPLOAD_BYTES}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        proposing = request.POST.get("action") == "propose"
        try:
            folder = _uploaded(request, data["package"])
            skill = data["skill"] or folder.name
            if not skill:
                raise uploads.Unreadable("Name the skill: its package has SKILL.md at the top, so no folder names it.")
            change = {"plugin": data["plugin"], "skill": skill, "files": folder.files, "executable": folder.executable,
                      "deleted": _left_out(request.user, data["marketplace"], data["plugin"], skill, folder.files)}
            if proposing:
                if not data["message"].strip():
                    form.add_error("message", "Say what the skill is for: the reviewers read it.")
                else:
                    proposal = proposals.propose(request.user, data["marketplace"], **change,
                                                 message=data["message"], surface=Surface.WEB)
                    return redirect(proposal)
            else:
                context["problems"] = proposals.check(request.user, data["marketplace"], **change)
                context["checked"] = f"{data['marketplace'].slug}/{data['plugin']}/{skill}"
        except uploads.Unreadable as unreadable:
            form.add_error(None, str(unreadable))
        except proposals.TooMany as busy:
            if request.headers.get("X-Partial"):  # the page's script says it in place of the answer
                return too_many(HttpResponse(str(busy), content_type="text/plain; charset=utf-8"), busy.retry_after)
            form.add_error(None, str(busy))
            return too_many(render(request, "authoring/contribute.html", context), busy.retry_after)
        except proposals.Refused as refused:
            return _refused(request, str(refused))
        except proposals.Invalid as invalid:
            context["problems"] = invalid.problems
    if request.headers.get("X-Partial"):  # "Check only" from the page's script: the answer alone, files kept
        return render(request, "authoring/_checked.html", context)
    return render(request, "authoring/contribute.html", context)


def _uploaded(request, package) -> uploads.Folder:
    chosen = request.FILES.getlist("folder")
    if package and chosen:
        raise uploads.Unreadable("Choose a .skill package or a folder, not both.")
    if package:
        return uploads.read_package(package)
    if chosen:
        return uploads.read_folder(chosen, request.POST.get("paths", ""))
    raise uploads.Unreadable("Choose a .skill package or a folder to upload.")


def _left_out(user, marketplace, plugin, skill, files) -> tuple[str, ...]:
    """An upload is the skill's whole content: the files of the skill it replaces that it leaves out are
    removed. Read from what Skillport serves of that skill (a folder of that name in that plugin)."""
    existing = lookup.visible_skill(user, marketplace.slug, plugin, skill)
    if existing is None:
        return ()
    return tuple(sorted(set(existing.files.values_list("path", flat=True)) - set(files)))


@login_required
def edit(request, marketplace, plugin, skill):
    skill = lookup.visible_skill_or_404(request.user, marketplace, plugin, skill)
    if not proposals.contributes(request.user, skill.marketplace):  # a visible skill's marketplace is visible
        return _not_a_contributor(request, f"You may not propose changes to {skill.marketplace}. A Skillport admin "
                                           "names its contributors; ask them to add you.", skill.marketplace)
    if reason := changes.unreachable(skill.marketplace):
        return _refused(request, reason)
    files = _files(skill)
    problems, errors, checked, added, waiting = [], [], "", [], None
    if request.method == "POST":
        sent = dict(zip(request.POST.getlist("path"), request.POST.getlist("content")))
        removed = set(request.POST.getlist("remove")) - {"SKILL.md"}
        changed = {}
        for file in files:
            file["removed"] = file["path"] in removed
            if file["text"] is None or file["path"] not in sent or file["removed"]:
                continue
            file["text"] = sent[file["path"]]
            written = _as_written(file["text"], file["content"])
            if written != file["content"]:
                changed[file["path"]] = written
        added = _added(request, files, errors)
        changed.update((new["path"], _as_written(new["text"], None)) for new in added)
        deleted = tuple(sorted(f["path"] for f in files if f["removed"]))
        message = request.POST.get("message", "").strip()[:MAX_MESSAGE_CHARS]
        change = {"plugin": skill.plugin.name, "skill": _folder_name(skill), "files": changed, "deleted": deleted}
        checking = request.POST.get("action") == "check"
        if not (errors or changed or deleted):
            errors.append("You changed nothing, so nothing was sent.")
        if not (errors or message or checking):
            errors.append("Say what you changed and why: the reviewers read it in the pull request.")
        if not errors:  # (a new file's path to correct comes first)
            try:
                if checking:
                    problems = proposals.check(request.user, skill.marketplace, **change)
                    checked = skill.identifier
                else:
                    proposal = proposals.propose(request.user, skill.marketplace, **change, message=message,
                                                 surface=Surface.WEB)
                    return redirect(proposal)
            except proposals.TooMany as busy:
                errors.append(str(busy))  # and the page again, with what they typed
                waiting = busy
            except proposals.Refused as refused:
                return _refused(request, str(refused))
            except proposals.Invalid as invalid:
                problems = invalid.problems
    page = render(request, "authoring/edit.html", {
        "skill": skill, "files": files, "others": [f for f in files if f["text"] is None], "problems": problems,
        "added": [*added, {"path": "", "text": ""}],  # and an empty slot for one more
        "errors": errors, "checked": checked,
        "message": request.POST.get("message", ""),
        "preview": _preview_context(next((f["text"] for f in files if f["path"] == "SKILL.md"), "") or ""),
    })
    return too_many(page, waiting.retry_after) if waiting else page


def _added(request, files, errors) -> list[dict]:
    """The new files the form adds (`new_path`, `new_content`), those with a path or text; a path that
    is a file the skill has already goes in `errors`. Paths are otherwise checked as every proposal's
    are (proposals.check): relative, inside the skill's folder, nothing Claude Code would not load."""
    existing = {f["path"] for f in files}
    added, seen = [], set()
    for path, text in zip(request.POST.getlist("new_path"), request.POST.getlist("new_content")):
        path = path.strip().replace("\\", "/")
        if not path and not text.strip():
            continue  # the empty slot for one more
        added.append({"path": path, "text": text})
        if not path:
            errors.append("Give the new file a path inside the skill's folder, such as scripts/report.py.")
        elif path in existing or path in seen:
            errors.append(f"The skill has a file {path} already: edit it above rather than adding it again.")
        seen.add(path)
    return added


def _files(skill) -> list[dict]:
    """Each of the skill's served files, SKILL.md first: its text when it is UTF-8 text Skillport
    stored (editable), else None (listed, and removable)."""
    files = []
    for row in skill.files.select_related("blob").order_by("path"):
        content = bytes(row.blob.content) if row.blob_id else None
        text = None
        if content is not None and not row.is_binary:
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                pass
            if text is not None and "\x00" in text:
                text = None  # a form may not carry a NUL (skillport_site/middleware.py): not editable here
        files.append({"path": row.path, "size": row.size, "content": content, "text": text, "removed": False,
                      "omitted": row.omitted})
    files.sort(key=lambda f: (f["path"] != "SKILL.md", f["path"]))
    return files


def _as_written(text: str, original: bytes | None) -> bytes:
    """A textarea's text as the file's bytes. Browsers send every line break as CRLF; a file that had
    none keeps LF, or every line would count as changed."""
    if original is None or b"\r\n" not in original:
        text = text.replace("\r\n", "\n")
    return text.encode("utf-8")


def _folder_name(skill) -> str:
    """The skill's folder name: what a proposal names it by, as the repository does."""
    return posixpath.basename(skill.path.rstrip("/")) or skill.slug


def _preview_refused(retry_after):
    # Shown in place of the preview, as a 413's reason is; the editor asks again after Retry-After.
    return HttpResponse(format_html(
        '<p class="warn">The preview follows in {} second{}: Skillport makes one person\'s previews one at a '
        'time, and {} at most.</p>', retry_after, pluralize(retry_after), settings.SKILLPORT_PREVIEW_RATE))


@login_required
@require_POST
@per_member("preview", "SKILLPORT_PREVIEW_RATE", _preview_refused)
def preview(request):
    """SKILL.md's text as the skill page will show it: its name, description and rendered body.
    Any member may ask, with text of their own, so each is limited (`per_member`): rendering hostile
    text is bounded (marketplace/rendering.py), but not free."""
    text = request.POST.get("text", "")
    if len(text) > MAX_PREVIEW_CHARS:
        return HttpResponse(f"<p class=\"warn\">SKILL.md is longer than {MAX_PREVIEW_CHARS:,} characters; the "
                            "preview stops here.</p>", status=413)
    return render(request, "authoring/_preview.html", _preview_context(text))


def _preview_context(text: str) -> dict:
    parsed = skillmd.parse(text.replace("\r\n", "\n").encode("utf-8"))
    frontmatter = parsed.frontmatter if isinstance(parsed.frontmatter, dict) else {}
    return {"name": words(str(frontmatter.get("name") or "")),  # as the skill page's heading reads it
            "description": str(frontmatter.get("description") or skillmd.first_paragraph(parsed.body) or ""),
            # The skill page's SKILL.md, rendered and sanitised as rendering.shown does.
            "body": rendering.clean(rendering.render(parsed.body))}


def _refused(request, reason: str, remedy=None):
    return render(request, "authoring/refused.html", {"reason": reason, "remedy": remedy}, status=403)


def _not_a_contributor(request, reason: str, marketplace=None):
    """Refused for want of being a contributor. An admin who may name contributors is told where
    instead, since asking an admin would be asking themselves."""
    if not request.user.has_perm("marketplace.change_marketplace"):
        return _refused(request, reason)
    if marketplace is not None:
        reason = f"You are not one of {marketplace}'s contributors."
        where, page = reverse("admin:marketplace_marketplace_change", args=[marketplace.pk]), "its admin page"
    else:
        reason = "You are not a contributor of any marketplace here."
        where, page = reverse("admin:marketplace_marketplace_changelist"), "a marketplace's admin page"
    return _refused(request, reason, format_html(
        'Name yourself, or a team you are in, under Contributors on <a href="{}">{}</a>, then propose.', where, page))
