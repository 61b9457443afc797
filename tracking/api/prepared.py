"""Queries that every API write runs, compiled once and run again with each request's values.

Compiling a query (QuerySet to SQL) cost more than running it: of an API write's
time, most went into building the SQL of four small lookups (bench/request_profile.py:
the token, the job's owner, the Idempotency-Key). A Prepared query is built by the ORM
from the QuerySet methods that hold the rules (ApiToken.objects.usable(), ...), once per
thread and database, with placeholder values; each run puts the request's values in
the placeholders' places and converts each column as the ORM would (a datetime read
back from SQLite's text, a JSON column). The SQL is the ORM's own, so it is what the
QuerySet would have run, on SQLite and PostgreSQL alike.
"""

import weakref

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections

# Values no query of ours holds on its own, so that each is found exactly once among a
# compiled query's parameters. A placeholder stands for a value of its type.
TEXT = "\x00aupsite placeholder {}\x00"
NUMBER = -7_301_955_271_064_188_000


def text(index=0):
    return TEXT.format(index)


def number(index=0):
    return NUMBER - index


class Prepared:
    """A query, `build(*placeholders)` (a QuerySet whose values_list gives the columns),
    compiled on first use; `rows(*values)` runs it with `values` in the placeholders'
    places and returns its rows, each a list, converted as values_list converts them.

    One query per call, counted as any other (it runs on Django's cursor)."""

    def __init__(self, build, *placeholders):
        self.build = build
        self.placeholders = placeholders
        # Per connection (Django has one per thread and database): its SQL, and its own
        # converters, which convert with it.
        self._compiled = weakref.WeakKeyDictionary()

    def _compile(self, connection):
        compiler = self.build(*self.placeholders).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        positions = []
        for placeholder in self.placeholders:
            found = [index for index, value in enumerate(params) if value == placeholder]
            if len(found) != 1:
                raise ImproperlyConfigured(f"placeholder {placeholder!r} is {len(found)} times in {sql}")
            positions.append(found[0])
        converters = list(compiler.get_converters([column for column, _, _ in compiler.select]).items())
        self._compiled[connection] = compiled = (sql, params, positions, converters)
        return compiled

    def rows(self, *values, using=DEFAULT_DB_ALIAS):
        connection = connections[using]
        sql, params, positions, converters = self._compiled.get(connection) or self._compile(connection)
        params = list(params)
        for position, value in zip(positions, values):
            params[position] = value
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for position, (functions, expression) in converters:
                for function in functions:
                    row[position] = function(row[position], expression, connection)
        return rows


def insert(instance, using=DEFAULT_DB_ALIAS):
    """Save a new `instance` (its primary key left to the database) in one INSERT, its
    values adapted by its fields as Model.save adapts them; no signals, no id read back.
    For rows written on every request and never read in the same one.

    A row that would break a unique constraint is not inserted (ON CONFLICT DO NOTHING,
    on SQLite and PostgreSQL alike; PostgreSQL first waits for an uncommitted row it
    meets): returns whether the row was inserted. No IntegrityError, so no savepoint is
    needed around it to keep the transaction going."""
    meta = type(instance)._meta
    connection = connections[using]
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount == 1
