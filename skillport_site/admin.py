"""The admin site: branded Skillport, its index opening on what waits for an admin."""
from django.contrib import admin


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
