"""The admin site: branded Skillport, its index opening on what waits for an admin. Every model's admin, other apps'
as much as ours, records its changes in the audit log and never shows a stored secret, and every page answers input
Django's admin would fail on with a 4xx."""
import logging
from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.exceptions import DisallowedModelAdminToField
from django.contrib.admin.options import TO_FIELD_VAR
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, HttpResponseRedirect

from marketplace.crypto import EncryptedTextField

log = logging.getLogger(__name__)


class SkillportAdminSite(admin.AdminSite):
    site_header = "Skillport admin"
    site_title = "Skillport admin"
    index_title = "Administration"
    # Django's app list beside every page takes a quarter of a laptop's width from the lists; the
    # index and the breadcrumbs lead everywhere it does.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        # Imported here: the apps' admin modules register on this site as they are imported.
        from marketplace.admin import inbox as catalogue_inbox
        from publishing.admin import inbox as publishing_inbox

        inbox = [*catalogue_inbox(request), *publishing_inbox(request)]
        return super().index(request, {"inbox": inbox, **(extra_context or {})})

    def register(self, model_or_iterable, admin_class=None, **options):
        # Each model's admin, other apps' as much as ours, records what it changes in the audit log (audit.admin_changes)
        # and never shows a secret it keeps.
        from audit.admin_changes import AuditedChanges

        admin_class = admin_class or admin.ModelAdmin
        mixins = tuple(mixin for mixin in (AuditedChanges, SecretsNeverShown) if not issubclass(admin_class, mixin))
        if mixins:
            admin_class = type(admin_class.__name__, (*mixins, admin_class), {"__module__": admin_class.__module__})
        super().register(model_or_iterable, admin_class, **options)

    def admin_view(self, view, cacheable=False):
        # Every list's actions, Django's own and other apps' as much as ours: a selection naming something no row's
        # key can be ("abc" for a number) made the action's query fail with a 500.
        model_admin = getattr(view, "__self__", None)
        if isinstance(model_admin, admin.ModelAdmin) and view.__name__ == "changelist_view":
            view = _selection_checked(model_admin, view)
        return super().admin_view(_nesting_refused(_field_named(view)), cacheable)


class SecretsNeverShown:
    """A field kept encrypted (an access token, a webhook secret, a publish target's credential or API key) is
    write-only: the forms that set one never send it back, and to a staff member who may only view, a page says
    whether one is stored where Django's read-only page would show the value itself."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        secrets = {field.name: field for field in self.model._meta.fields if isinstance(field, EncryptedTextField)}
        if not secrets or self.has_change_permission(request, obj):
            return fieldsets

        def shown(name):
            if isinstance(name, (list, tuple)):  # fields on one line
                return type(name)(map(shown, name))
            return _whether_stored(secrets[name]) if name in secrets else name

        return [(title, {**options, "fields": [shown(name) for name in options["fields"]]}) for title, options in fieldsets]


def _whether_stored(field):
    """A read-only field saying whether `field`'s secret is stored."""
    @admin.display(description=field.verbose_name)
    def stored(obj):
        return "Stored (never shown)" if getattr(obj, field.name) else "None"

    stored.__name__ = field.name  # the row's class name in the page, as the field's would be
    return stored


def _field_named(view):
    """`view`, refusing an empty `_to_field` as Django refuses a field it may not use: Django checks only a non-empty
    one, then looks the empty name up as a field, a 500 on every change and delete page."""
    @wraps(view)
    def checked(request, *args, **kwargs):
        if request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR)) == "":
            raise DisallowedModelAdminToField("The field to refer to by is empty.")
        return view(request, *args, **kwargs)

    return checked


def _nesting_refused(view):
    """`view`, answering a 400 where what was sent is nested too deeply to read: Django's JSON form field (and other
    apps' forms) let json's RecursionError through, a 500, for a value of thousands of "[" or "{"."""
    @wraps(view)
    def refusing(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RecursionError:
            log.warning("Refused an admin request nested too deeply to read: %s", request.path, exc_info=True)
            return HttpResponseBadRequest("A value sent is nested too deeply to read (thousands of brackets); "
                                          "go back and correct it.", content_type="text/plain; charset=utf-8")

    return refusing


def _selection_checked(model_admin, changelist_view):
    """`changelist_view`, refusing with a message an action's selection that names no possible row."""
    key = model_admin.model._meta.pk

    @wraps(changelist_view)
    def checked(request, *args, **kwargs):
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if request.method == "POST" else ():
                key.to_python(value)
        except ValidationError:
            messages.error(request, "The selection names something that is not in this list; choose again.")
            return HttpResponseRedirect(request.get_full_path())
        return changelist_view(request, *args, **kwargs)

    return checked
