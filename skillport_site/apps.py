"""The admin app, serving Skillport's own admin site (skillport_site.admin)."""
from django.contrib.admin.apps import AdminConfig


class SkillportAdminConfig(AdminConfig):
    default_site = "skillport_site.admin.SkillportAdminSite"

    def ready(self):
        super().ready()  # every app's admin module registers its models
        from allauth.socialaccount.admin import SocialAccountAdmin
        from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
        from django.contrib import admin
        from django_celery_beat.models import (
            ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule,
        )

        # Pages other apps bring that would go around Skillport. Each marketplace's sync schedule is kept in step
        # with its "Sync interval" (marketplace.schedule), and Celery beat's own pages could run any task with any
        # arguments, unaudited. GitHub sign-in is configured by SKILLPORT_GITHUB_CLIENT_ID/_SECRET: a social app
        # added here makes two GitHub apps, and allauth then refuses everyone's sign-in; tokens are never stored.
        for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule,
                      SocialApp, SocialToken):
            if admin.site.is_registered(model):
                admin.site.unregister(model)

        # Who signed in with which GitHub account, to read (and delete, to unlink it): allauth makes and updates these
        # at each sign-in, and its form wrote any JSON into one, 1e309 (infinity) failing with a 500.
        class GitHubAccountAdmin(SocialAccountAdmin):
            def has_add_permission(self, request):
                return False

            def has_change_permission(self, request, obj=None):
                return False

        admin.site.unregister(SocialAccount)
        admin.site.register(SocialAccount, GitHubAccountAdmin)
