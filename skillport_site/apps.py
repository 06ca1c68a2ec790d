"""The admin app, serving Skillport's own admin site (skillport_site.admin)."""
from django.contrib.admin.apps import AdminConfig


class SkillportAdminConfig(AdminConfig):
    default_site = "skillport_site.admin.SkillportAdminSite"

    def ready(self):
        super().ready()  # every app's admin module registers its models
        from allauth.socialaccount.models import SocialApp, SocialToken
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
