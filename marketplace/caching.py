"""Cached catalogue work, keyed so that it can neither outlive a change nor reach another viewer.

1. Every key starts with the catalogue version (`CatalogueVersion`), which database triggers bump
   in the same transaction as any write to marketplaces, plugins or skills.
2. It goes on with `shared_visibility_key(user, named)`: users who see exactly the same things
   share entries, nobody else does. Members who differ only in principals no rule names at that
   version (their own logins, mostly) see the same things, so a team shares its pages.
3. The version is read once per request, before the work it guards, and again after the work: an
   entry is kept only if no change was committed meanwhile. The work runs as one user, and what it
   found is everyone's with the same key only for the catalogue that key's version names (a change
   may name that user's login in a rule).

The cache is Django's default one: per process unless `CACHES` says otherwise.
"""
import hashlib

from django.core.cache import cache

from .models import CatalogueVersion, shared_visibility_key

# The catalogue version last seen by this process, and the principals its rules name.
_named = (None, frozenset())


def get_or_set(viewer, compute, *parts):
    """`compute()`'s value for what `viewer.user` may see and `parts`, from the cache if there.

    `viewer` is a request, or anything with a `user` (the connector's caller) and optionally the
    `catalogue_version` it has read already.
    """
    key = _key(viewer, parts)
    value = cache.get(key)
    if value is None:
        value = compute()
        if CatalogueVersion.current() == viewer._catalogue_cache_version:
            cache.set(key, value)
    return value


def peek(viewer, *parts):
    """The cached value for `viewer` and `parts`, or None. It never queries the database (None when
    `viewer` carries no `catalogue_version`, or this process has not yet read what that version's
    rules name), so async code can answer a hit without a worker thread."""
    known = _named  # read once: a worker thread may replace it meanwhile, and this must not query
    if getattr(viewer, "catalogue_version", None) is None or known[0] != viewer.catalogue_version:
        return None
    return cache.get(_key(viewer, parts, known))


def _key(viewer, parts, known=None):
    return "catalogue:" + hashlib.sha256("\n".join([_prefix(viewer, known), *map(str, parts)]).encode()).hexdigest()


def _prefix(viewer, known=None):
    global _named
    if not hasattr(viewer, "_catalogue_cache_prefix"):
        version = getattr(viewer, "catalogue_version", None)
        if version is None:
            version = CatalogueVersion.current()
        seen, named = known or _named
        if seen != version:
            # A newer version than the one read may come back: the key then names that one.
            version, named = CatalogueVersion.with_named()
            _named = (version, named)
        viewer._catalogue_cache_version = version
        viewer._catalogue_cache_prefix = f"{version}\n{shared_visibility_key(viewer.user, named)}"
    return viewer._catalogue_cache_prefix
