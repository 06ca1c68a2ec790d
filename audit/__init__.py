"""The audit log. `audit.record(...)` is the one way to write an event (`audit.record_many(...)`, several
of one request at once)."""


def record(*args, **kwargs):
    # Imported lazily: callers import `audit` while Django's app registry is still loading.
    from .writer import record as _record

    return _record(*args, **kwargs)


def record_many(*args, **kwargs):
    from .writer import record_many as _record_many

    return _record_many(*args, **kwargs)
