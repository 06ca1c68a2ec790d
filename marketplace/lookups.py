"""`field__any=[...]`: the rows whose field holds one of the values, passed as one array parameter.

With server-side binding (settings.py) every parameter travels apart from the SQL, and PostgreSQL's
protocol counts them in 16 bits: `__in` passes one a value, so a statement naming 65,536 skills fails
("number of parameters must be between 0 and 65535"). `field = ANY(%s)` passes one whatever the count.
Use it where a list grows with a catalogue (a sync's removed skills, an approval's revisions).
"""
from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, Lookup


class Any(Lookup):
    """On a foreign key, the values are the ids (`skill__any=[1, 2]`), never model instances. The values may be an
    array column instead (`name__any=OuterRef("holds")`)."""

    lookup_name = "any"
    prepare_rhs = False  # a list of values, each converted in get_db_prep_lookup

    def get_db_prep_lookup(self, values, connection):
        field = self.lhs.output_field
        return "%s", [[field.get_db_prep_value(value, connection, prepared=False) for value in values]]

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet  # as `__in=[]`: nothing matches, and no statement runs for it
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


Field.register_lookup(Any)
ForeignObject.register_lookup(Any)  # related fields keep lookups of their own, not Field's
