"""Bulk inserts with PostgreSQL COPY, for the thousands of rows one sync can write.

Django's bulk_create converts every parameter in Python and builds one huge statement; COPY
streams rows and is several times faster for file and revision rows.
"""
from django.db import connection
from psycopg.types.json import Jsonb


def copy_rows(model, fields, rows, table=None):
    """COPY `rows` (tuples in `fields` order) into the model's table, or into `table`."""
    columns = ", ".join(model._meta.get_field(name).column for name in fields)
    json_positions = [i for i, name in enumerate(fields) if model._meta.get_field(name).get_internal_type() == "JSONField"]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table or model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = Jsonb(row[i])
                copy.write_row(row)


def create(objs):
    """`bulk_create` by COPY, for new rows of one model. Ids come from the table's sequence first and
    are set on the instances, as bulk_create sets them; then every stored field is COPYed, converted
    as a save would convert it."""
    if not objs:
        return
    model = type(objs[0])
    table = model._meta.db_table
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall()):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields])


def copy_rows_ignoring_conflicts(model, fields, rows):
    """COPY through a temporary table, then insert what is not there yet.

    Content-addressed rows (blobs) may be written by two syncs at once; plain COPY would
    fail on the second, ON CONFLICT DO NOTHING lets both succeed.
    """
    table = model._meta.db_table
    staging = f"incoming_{table}"
    columns = ", ".join(model._meta.get_field(name).column for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)")
        copy_rows(model, fields, rows, table=staging)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT DO NOTHING")
        cursor.execute(f"TRUNCATE {staging}")
