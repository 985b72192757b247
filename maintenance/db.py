"""Lean writes for the hot paths: multi-row INSERTs, ids allocated ahead, several
changes sent as one statement.

Placing an order writes four tables (order, lines, ledger, audit) and updates the
stock. Through ``bulk_create`` each INSERT went through the ORM's query compiler,
and each was its own round trip and its own statement for PostgreSQL to run:
together they cost more CPU than everything else the order does. Here the rows
get the same field preparation as in ``bulk_create`` (``pre_save`` for
``auto_now`` dates, ``get_db_prep_save`` for JSON, decimals, …) and travel as one
JSON parameter per table, so the SQL text is built once per model whatever the
number of rows (psycopg converts and prepares it once), and
:func:`execute_together` sends several changes as one statement.

Like ``bulk_create`` nothing here sends signals: callers audit their rows themselves.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from psycopg.types.json import Json, Jsonb

_MISSING = object()


class Statement(NamedTuple):
    """One data-changing SQL statement with a ``RETURNING`` clause, and how many rows it must return."""

    sql: str
    params: list
    expected_rows: int


class RowCountMismatch(Exception):
    """A statement of :func:`execute_together` changed another number of rows than expected."""

    def __init__(self, index: int, expected: int, got: int):
        super().__init__(f"statement {index} changed {got} rows, expected {expected}")
        self.index, self.expected, self.got = index, expected, got


def _insertable_fields(model: type[models.Model], with_pk: bool) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if with_pk or not field.primary_key)


# Fields whose preparation gives back a value of these types unchanged (``int(1)``,
# ``str("a")``, …): for them the value goes into the row as it is, past the four or
# five calls of ``get_db_prep_save`` — most of what preparing an order's rows cost.
# Exact classes only: a subclass may prepare its values its own way.
_PLAIN_FIELDS = {
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.SmallAutoField: (int,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.BooleanField: (bool,),
    models.CharField: (str,),
    models.EmailField: (str,),
    models.TextField: (str,),
    models.SlugField: (str,),
}


# Fields whose preparation of a string depends on the string alone and is worth
# remembering: an audit row's address, parsed by ``ipaddress`` for every row.
_MEMOIZED_FIELDS = {models.GenericIPAddressField}


@lru_cache(maxsize=512)
def _prepared_once(field: models.Field, value: str):
    return field.get_db_prep_save(value, connections[DEFAULT_DB_ALIAS])


@lru_cache(maxsize=64)
def _row_preparers(model: type[models.Model], with_pk: bool) -> tuple[tuple[models.Field, str, str, tuple, bool], ...]:
    """Per field: the field, its column, its attribute, the value types it passes through unprepared
    (with ``None``; empty when every value takes ``pre_save`` and ``get_db_prep_save``), and whether
    its preparation of a string is remembered."""
    preparers = []
    for field in _insertable_fields(model, with_pk):
        target = field.target_field if isinstance(field, models.ForeignKey) else field
        plain = _PLAIN_FIELDS.get(type(target), ())
        # pre_save can change the value (auto_now dates, file fields): those always take the long way.
        if type(field).pre_save is not models.Field.pre_save or (
            field is not target and type(field).get_db_prep_save is not models.ForeignKey.get_db_prep_save
        ):
            plain = ()
        memoized = type(field) in _MEMOIZED_FIELDS and type(field).pre_save is models.Field.pre_save
        preparers.append((field, field.column, field.attname, plain, memoized))
    return tuple(preparers)


@lru_cache(maxsize=64)
def _insert_sql(model: type[models.Model], with_pk: bool) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _insertable_fields(model, with_pk))
    table = quote(model._meta.db_table)
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s::json) "
        f"RETURNING {quote(model._meta.pk.column)}"
    )


# orjson for a JSONField without an encoder of its own writes what ``json.dumps`` would
# (keys that are not strings as ``json.dumps`` converts them), at a tenth of the cost.
# What orjson would write but ``json.dumps`` refuses — dates, dataclasses — is handed
# back (passthrough) and goes to ``json.dumps``, as do integers beyond 64 bits, so such
# values fail or pass as before. One difference: NaN and infinities become null, where
# ``json.dumps`` wrote ``NaN``, which PostgreSQL refuses.
_ORJSON_AS_STDLIB = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_ready(value):
    if isinstance(value, (Json, Jsonb)):  # a JSONField's value: written with the field's own encoder
        dumps = value.dumps or json.dumps
        if dumps is json.dumps:
            try:
                return orjson.Fragment(orjson.dumps(value.obj, option=_ORJSON_AS_STDLIB))
            except TypeError:
                pass
        return orjson.Fragment(dumps(value.obj))
    return value


def _json_default(value):
    # Their text is what PostgreSQL reads back as numeric and inet.
    if isinstance(value, Decimal | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def insert_statement(objs: Sequence[models.Model]) -> Statement:
    """The INSERT of new instances of one model (with their ids if they have them).

    The rows travel as one JSON parameter (``json_populate_recordset``): one SQL text
    for any number of rows, so psycopg converts it once and PostgreSQL prepares it
    once, where a parameter per value made 50-60 of them per order.
    """
    model = type(objs[0])
    with_pk = objs[0].pk is not None
    preparers = _row_preparers(model, with_pk)
    # The wrapper itself: through the ``connection`` proxy each field's every look at
    # ``connection.ops`` costs a context-local lookup (6 % of an order's instructions went there).
    wrapper = connections[DEFAULT_DB_ALIAS]
    rows = []
    for obj in objs:
        row = {}
        values = obj.__dict__
        for field, column, attname, plain, memoized in preparers:
            value = values.get(attname, _MISSING)
            if plain and (value is None or type(value) in plain):
                row[column] = value
            elif memoized and type(value) is str:
                row[column] = _prepared_once(field, value)
            else:
                row[column] = _json_ready(field.get_db_prep_save(field.pre_save(obj, True), wrapper))
        rows.append(row)
    return Statement(_insert_sql(model, with_pk), [orjson.dumps(rows, default=_json_default).decode()], len(objs))


def _mark_saved(objs: Sequence[models.Model]) -> None:
    alias = connection.alias
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def insert_rows(objs: Sequence[models.Model]) -> Sequence[models.Model]:
    """INSERT new instances of one model in one statement; sets their primary keys."""
    if not objs:
        return objs
    statement = insert_statement(objs)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        # The rows come back in the order of the JSON array, as json_populate_recordset produces them
        # (bulk_create relies on the same for its INSERT … SELECT FROM unnest).
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
    _mark_saved(objs)
    return objs


def allocate_ids_sql(*wanted: tuple[type[models.Model], int]) -> tuple[str, list]:
    """The select list of :func:`allocate_ids` and its parameters, for a query that also reads something else."""
    arrays = ", ".join(
        ["ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s))"] * len(wanted)
    )
    params = [value for model, count in wanted for value in (model._meta.db_table, model._meta.pk.column, count)]
    return arrays, params


def allocate_ids(*wanted: tuple[type[models.Model], int]) -> list[list[int]]:
    """Primary keys for rows about to be inserted, from their tables' sequences, in one round trip.

    Rows that know their ids can be written by one statement with the rows that
    point to them (see :func:`execute_together`). An id allocated but not used
    (the transaction rolls back) is a gap, as with any sequence.
    """
    arrays, params = allocate_ids_sql(*wanted)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {arrays}", params)
        return list(cursor.fetchone())


def execute_together(statements: Sequence[Statement], saved: Sequence[Sequence[models.Model]] = ()) -> None:
    """Run data-changing statements as one statement (one round trip, one plan).

    Each runs as a ``WITH`` query: they share one snapshot and do not see each
    other's changes, so none may depend on another (rows carry ids from
    :func:`allocate_ids`; foreign keys are checked at commit). Raises
    :class:`RowCountMismatch` if a statement changed another number of rows than
    it expected (a guarded UPDATE that found its guard false): the caller's
    transaction must then roll back. ``saved`` are the inserted instances, marked
    as saved once the statement ran.
    """
    queries = ", ".join(f"change{n} AS ({statement.sql})" for n, statement in enumerate(statements))
    counts = ", ".join(f"(SELECT count(*) FROM change{n})" for n in range(len(statements)))
    params = [param for statement in statements for param in statement.params]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {queries} SELECT {counts}", params)
        got = cursor.fetchone()
    for index, (statement, count) in enumerate(zip(statements, got, strict=True)):
        if count != statement.expected_rows:
            raise RowCountMismatch(index, statement.expected_rows, count)
    for objs in saved:
        _mark_saved(objs)


class StatementCache:
    """SQL compiled from a queryset, kept per key, for reads whose SQL depends on the key alone.

    Compiling a filtered, ordered queryset costs the ORM more than running it
    costs PostgreSQL when the result is one small page. A read that is asked
    again and again with the same parameters (a catalogue page) keeps its SQL
    here, keyed by everything the queryset depends on (its filter, search and
    ordering parameters), and compiles once per process and key, as psycopg
    prepares the statement once per connection. Bounded: the oldest key goes
    first.
    """

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self._statements: dict = {}

    def get(self, key, compile_statement):
        """The statement for ``key``, from ``compile_statement()`` the first time."""
        try:
            return self._statements[key]
        except KeyError:
            pass
        statement = compile_statement()
        while len(self._statements) >= self.maxsize:
            self._statements.pop(next(iter(self._statements)))
        self._statements[key] = statement
        return statement

    def clear(self) -> None:
        self._statements.clear()
