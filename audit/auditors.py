"""The "Auditors" group: membership is how someone reviews the audit log (its review_auditevent permission).

Migration 0003 made it once; it is made again after every migrate and every flush, as Django makes
permissions, so a database emptied with `manage.py flush` (as transactional tests end) still has it.
"""
from django.apps import apps as global_apps
from django.db import router

NAME = "Auditors"


def ensure_group(app_config, using, apps=global_apps, **kwargs):
    """post_migrate, for the audit app: its permissions exist by now (auth's handler runs first). migrate
    passes the models as its migrations left them; flush passes none."""
    try:
        Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    except LookupError:  # auth not migrated in this database
        return
    if not router.allow_migrate_model(using, Group):
        return
    permission = Permission.objects.using(using).filter(
        content_type__app_label=app_config.label, codename="review_auditevent").first()
    if permission is None:  # the audit app's tables are not there yet
        return
    group, _ = Group.objects.using(using).get_or_create(name=NAME)
    group.permissions.add(permission)
