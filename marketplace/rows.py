"""Rows read on every request, in SQL written out once.

Compiling a select_related query took a few times as long as running it on these machines, and
every page and every /mcp call starts with the same two or three lookups (session, user, token).
Those are written here once; instances are built the way the ORM builds them (each field's
database converters, then `Model.from_db`), so the rest of the code cannot tell the difference.
"""
import functools

from django.contrib.postgres.search import SearchVectorField
from django.db import connection

from .crypto import EncryptedTextField
from .models import GitHubIdentity


@functools.cache
def _fields(model) -> list:
    """What these rows read of a model: every concrete field in `_meta` order, except secrets
    (decrypted only by the code that uses them) and search vectors. Those are left deferred:
    reading one makes a query, as with `QuerySet.defer`."""
    return [field for field in model._meta.concrete_fields
            if not isinstance(field, EncryptedTextField)
            and not isinstance(getattr(field, "output_field", None), SearchVectorField)]


def columns(*aliased) -> str:
    """The select list for (model, table alias) pairs."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for model, alias in aliased for field in _fields(model))


def instances(row, *models):
    """One instance per model from `row`, read in `columns` order; None for a left join that found
    nothing. Returns the instances and whatever columns follow them."""
    found, start = [], 0
    for model in models:
        read = _fields(model)
        values = row[start:start + len(read)]
        start += len(read)
        if values[0] is None:
            found.append(None)
            continue
        values = [_converted(field, value) for field, value in zip(read, values)]
        found.append(model.from_db(connection.alias, [field.attname for field in read], values))
    return found, row[start:]


def _converted(field, value):
    for converter in field.get_db_converters(connection):
        value = converter(value, None, connection)
    return value


def with_identity(user, identity):
    """Cache `user.github` (the identity, or none), so reading it makes no query."""
    GitHubIdentity.user.field.remote_field.set_cached_value(user, identity)
    return user
