"""The audit log. `audit.record(...)` is the one way to write an event."""


def record(*args, **kwargs):
    # Imported lazily: callers import `audit` while Django's app registry is still loading.
    from .writer import record as _record

    return _record(*args, **kwargs)
