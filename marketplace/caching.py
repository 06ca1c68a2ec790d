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


def get_or_set(viewer, compute, *parts):
    """`compute()`'s value for what `viewer.user` may see and `parts`, from the cache if there.

    `viewer` is a request, or anything with a `user` (the connector's caller) and optionally the
    `catalogue_version` it has read already.
    """
    key = _key(viewer, parts)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value)
    return value


def peek(viewer, *parts):
    """The cached value for `viewer` and `parts`, or None. It never queries the database (None when
    `viewer` carries no `catalogue_version`), so async code can answer a hit without a worker thread."""
    if getattr(viewer, "catalogue_version", None) is None:
        return None
    return cache.get(_key(viewer, parts))


def _key(viewer, parts):
    return "catalogue:" + hashlib.sha256("\n".join([_prefix(viewer), *map(str, parts)]).encode()).hexdigest()


def _prefix(viewer):
    if not hasattr(viewer, "_catalogue_cache_prefix"):
        version = getattr(viewer, "catalogue_version", None)
        if version is None:
            version = CatalogueVersion.current()
        viewer._catalogue_cache_prefix = f"{version}\n{visibility_key(viewer.user)}"
    return viewer._catalogue_cache_prefix
