"""Skillport's settings for the tests: the site's own, with a fast password hasher."""
from skillport_site.settings import *  # noqa: F403

# Hashing one password the production way takes 0.65 s on a 2-core machine, and the tests create
# hundreds of passwords and OAuth client secrets (django-oauth-toolkit hashes those with the same
# hashers). Processes the tests start inherit DJANGO_SETTINGS_MODULE, so they check these hashes too.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
