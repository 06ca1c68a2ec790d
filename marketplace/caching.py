"""Cached catalogue work, keyed so that it can neither outlive a change nor reach another viewer.

1. Every key starts with the catalogue version (`CatalogueVersion`), which database triggers bump
   in the same transaction as any write to marketplaces, plugins or skills.
2. It goes on with `visibility_key(user)`: users who see exactly the same things share entries,
   nobody else does.
3. The version is read once per request, before the work it guards, so a change committed while
   the work runs can only make an entry newer than its key says, never older.

The cache is Django's default one: per process unless `CACHES` says otherwise.
"""
import hashlib

from django.core.cache import cache

from .models import CatalogueVersion, visibility_key


def get_or_set(request, compute, *parts):
    """`compute()`'s value for what `request.user` may see and `parts`, from the cache if there."""
    key = "catalogue:" + hashlib.sha256("\n".join([_prefix(request), *map(str, parts)]).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value)
    return value


def _prefix(request):
    if not hasattr(request, "_catalogue_cache_prefix"):
        request._catalogue_cache_prefix = f"{CatalogueVersion.current()}\n{visibility_key(request.user)}"
    return request._catalogue_cache_prefix
