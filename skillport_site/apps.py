"""The admin app, serving Skillport's own admin site (skillport_site.admin)."""
from django.contrib.admin.apps import AdminConfig


class SkillportAdminConfig(AdminConfig):
    default_site = "skillport_site.admin.SkillportAdminSite"
