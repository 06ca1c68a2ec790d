"""Bulk inserts and updates with PostgreSQL COPY, for the thousands of rows one sync or decision can write.

Django's bulk_create converts every parameter in Python and builds one huge statement; COPY
streams rows and is several times faster for file and revision rows. Its bulk_update builds a CASE
expression per field and row in Python, which took 5 to 7 s for 2,000 skills' content.
"""
from django.db import DEFAULT_DB_ALIAS, connection, connections, models


# Fields whose values of one Python type a save passes to the database unchanged: such values go to
# COPY as they are. Converting each (a chain of calls per value) cost a second of a 2,000-skill sync.
# Exact classes only: a subclass may convert (EncryptedTextField encrypts).
PLAIN = {
    models.CharField: str, models.SlugField: str, models.TextField: str, models.BooleanField: bool,
    models.AutoField: int, models.BigAutoField: int, models.IntegerField: int, models.BigIntegerField: int,
    models.PositiveIntegerField: int, models.PositiveBigIntegerField: int,
}


def copy_rows(model, fields, rows, table=None):
    """COPY `rows` (tuples in `fields` order) into the model's table, or into `table`; each value is
    converted as a save would convert it (JSON, arrays, foreign keys given as their ids)."""
    model_fields = [model._meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in model_fields)
    converters = [_converter(field) for field in model_fields]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table or model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([convert(value) for convert, value in zip(converters, row)])


def _converter(field):
    """The function that converts a value for `field`'s column as a save would."""
    prepare = field.get_db_prep_save
    # The connection itself, not the `connection` proxy, which looks it up again for each attribute a
    # conversion reads: 2,000 skills' JSON, array and date values took 25 ms through it, 10 ms without.
    connection = connections[DEFAULT_DB_ALIAS]
    target = field.target_field if field.is_relation else field  # a foreign key holds its target's values
    kind = PLAIN.get(type(target))
    if kind is None:
        return lambda value: prepare(value, connection)
    return lambda value: value if value is None or type(value) is kind else prepare(value, connection)


def create(objs, model=None, count=None):
    """`bulk_create` by COPY, for new rows of one model. Ids come from the table's sequence first and
    are set on the instances, as bulk_create sets them; then every stored field is COPYed.

    `objs` may be an iterator of `count` instances of `model`, built as they are needed: each row goes
    to PostgreSQL as soon as it is made, so the server works on the ones before (computing search
    vectors, updating indexes) while Python builds the next.
    """
    if model is None:
        objs = list(objs)
        if not objs:
            return
        model, count = type(objs[0]), len(objs)
    if not count:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    fields = [field for field in model._meta.concrete_fields if not field.generated]

    def rows():
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
            yield [getattr(obj, field.attname) for field in fields]

    copy_rows(model, [field.name for field in fields], rows())


def update(objs, fields):
    """`bulk_update` by COPY, for many rows of one model, each once: `fields` of every instance go into a
    temporary table, and one UPDATE ... FROM writes them by primary key."""
    objs = list(objs)
    if not objs:
        return
    meta = type(objs[0])._meta
    stored = [meta.pk, *(meta.get_field(name) for name in fields)]
    columns = [connection.ops.quote_name(field.column) for field in stored]
    key, staging = columns[0], f"updated_{meta.db_table}"
    with connection.cursor() as cursor:
        # Its columns are the table's, without their constraints: a NOT NULL column left out stays empty here.
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMP TABLE {staging} AS SELECT {', '.join(columns)} FROM {meta.db_table} WITH NO DATA")
        copy_rows(type(objs[0]), [field.name for field in stored],
                  ([getattr(obj, field.attname) for field in stored] for obj in objs), table=staging)
        assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
        cursor.execute(f"UPDATE {meta.db_table} AS t SET {assignments} FROM {staging} AS v WHERE t.{key} = v.{key}")
        cursor.execute(f"DROP TABLE {staging}")


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
