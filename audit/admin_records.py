"""Admin for records the apps write: listed and read, never added or edited by hand (audit holds it: every app may import audit)."""
import functools

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


class RecordList(ChangeList):
    """Django's change list, taking a year its date hierarchy cannot hold for a wrong lookup, as it takes
    any other: the list again with "?e=1", not a 500. Django 5.2 lets `?started_at__year=9999` escape as
    a ValueError (the year after it is out of range) and `=99999999999999999999` as an OverflowError;
    Django's main branch has the fix (ticket #37357), which 5.2 does not receive."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


class RecordAdmin(admin.ModelAdmin):
    """Sync runs, webhook deliveries, tokens, consents: no add or change form; deleting stays possible.
    Those listed by date (date_hierarchy) refuse a year no date holds as a wrong lookup (RecordList)."""

    def get_changelist(self, request, **kwargs):
        return RecordList

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PermanentRecordAdmin(RecordAdmin):
    """The audit log and the approval history: not deleted either."""

    def has_delete_permission(self, request, obj=None):
        return False


class ListsLightly:
    """An admin whose list reads of each row shown only what its columns need, leaving `list_unread` deferred: the
    JSON a plugin or skill keeps (its content, entry, problems, rendered text) cost a page of 100 plugins 0.3 s to
    decode. Actions read the rows whole."""

    list_unread = ()

    def get_changelist(self, request, **kwargs):
        return _lightly(super().get_changelist(request, **kwargs))


@functools.cache
def _lightly(listed):
    """The ChangeList class `listed` (Django's, or RecordList), leaving its admin's `list_unread` deferred."""
    class Lightly(listed):
        def get_results(self, request):
            self.queryset = self.queryset.defer(*self.model_admin.list_unread)
            super().get_results(request)
    return Lightly
