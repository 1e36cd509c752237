"""Multi-row writes for the ingestion hot path.

:class:`BulkInsert` compiles an INSERT (or upsert) once per database dialect and runs
it with the driver's ``executemany``. On PostgreSQL, several rows go in one statement
instead: a plain INSERT as a ``COPY`` (psycopg 3's ``cursor.copy``), an upsert as one
JSON document read by ``json_populate_recordset`` (so its rows must not repeat a conflict
key). Rows of several tables written together (:func:`insert_rows`) go in one round
trip: each table's as such a document, which costs the client less than a COPY's two
round trips; a document costs it less than arrays too (psycopg writes an array's text
element by element, in Python). Each
value still goes through its column's own bind processor, so what is stored is exactly
what SQLAlchemy would store (for values JSON can carry: finite floats, integers within 64
bits, as ingestion produces them); what is skipped is the per-execution work SQLAlchemy
does for every statement and row, which dominates when one request writes hundreds of
rows. The writes return nothing; new ids are drawn ahead of them (:func:`allocate_ids`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Dialect, Table
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.type_api import TypeEngine, _BindProcessorType

from promoter.storage.dialect import insert_for
from promoter.storage.pipeline import Pipeline, Rows, driver_errors, pipeline

_Processor = _BindProcessorType[Any] | None
#: The sequence is looked up once (OFFSET 0 keeps the subquery apart), not for each id:
#: that lookup cost four times the ids themselves.
_NEXT_IDS = (
    "SELECT nextval(seq.s) FROM"
    " (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS s OFFSET 0) AS seq,"
    " generate_series(1, %s)"
)
#: Rows from which PostgreSQL gets one statement for them all (COPY or a JSON document).
COPY_MIN_ROWS = 8
_MISSING = object()
#: SQL text; for each parameter in order its name, the index of its column in a row and
#: its bind processor; whether parameters are positional.
_Prepared = tuple[str, list[tuple[str, int, _Processor]], bool]
#: Bind and result processors of an InSelect, each with its position.
_Processors = tuple[list[tuple[int, Callable[[Any], Any]]], list[tuple[int, Callable[[Any], Any]]]]


class BulkInsert:
    """An INSERT (or upsert) of many rows; each row is a tuple with one value for each of
    ``columns``, in that order (no dict per row: requests write hundreds of rows)."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        build: Callable[[Connection], Insert] | None = None,
    ) -> None:
        self._table = table
        self._columns = tuple(columns)
        unknown = [name for name in self._columns if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
        self._build = build or (lambda conn: insert_for(conn, table))
        #: Only a plain INSERT can be a COPY: an upsert's conflicts need the INSERT.
        self._copy = build is None
        self._compiled: dict[str, _Prepared] = {}
        self._from_json: tuple[str, list[_Processor]] | None = None
        #: Positions of the JSON columns: their values go into the document as they are.
        self._json_columns = [
            i for i, name in enumerate(self._columns) if isinstance(table.c[name].type, JSON)
        ]

    def _prepare(self, conn: Connection) -> _Prepared:
        dialect = conn.dialect
        compiled = self._build(conn).compile(dialect=dialect, column_keys=list(self._columns))
        names = list(compiled.positiontup or []) if dialect.positional else list(compiled.binds)
        plan = [
            (
                name,
                self._columns.index(name),
                self._table.c[name].type._cached_bind_processor(dialect),
            )
            for name in names
        ]
        return compiled.string, plan, dialect.positional

    def _check_width(self, rows: Sequence[Sequence[Any]]) -> None:
        if len(rows[0]) != len(self._columns):
            raise ValueError(f"rows of {len(rows[0])} values for {len(self._columns)} columns")

    def _bound(
        self, conn: Connection, rows: Sequence[Sequence[Any]]
    ) -> tuple[_Prepared, list[Sequence[Any]]]:
        """The statement for ``conn``, and the rows' values as the driver takes them,
        column by column in the statement's order (rows of the right width)."""
        prepared = self._compiled.get(conn.dialect.name)
        if prepared is None:
            prepared = self._compiled[conn.dialect.name] = self._prepare(conn)
        by_column = list(zip(*rows, strict=True))
        columns: list[Sequence[Any]] = [
            by_column[index] if proc is None else _converted(by_column[index], proc)
            for _, index, proc in prepared[1]
        ]
        return prepared, columns

    def takes_json(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Whether :meth:`queue` stores ``rows`` as :meth:`execute` would: no None in a
        JSON column (SQLAlchemy stores JSON's ``null``, a document's field SQL's NULL)."""
        return all(row[i] is not None for row in rows for i in self._json_columns)

    def queue(self, conn: Connection, queued: Pipeline, rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: insert (or upsert) ``rows`` with the statements of ``queued``, sent
        as one JSON document (``json_populate_recordset`` of the table's row type): one
        parameter however many rows, serialised by orjson. See :meth:`takes_json`."""
        if not rows:
            return
        self._check_width(rows)
        if not self.takes_json(rows):
            raise ValueError("these rows cannot go as a JSON document: use execute()")
        queued.write(*self._document(conn, rows))

    def _document(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> tuple[str, Any]:
        """PostgreSQL: the statement taking ``rows`` as one JSON document, and its
        parameters."""
        if self._from_json is None:
            self._from_json = self._json_plan(conn)
        sql, processors = self._from_json
        names = self._columns
        document = [
            {
                name: value if proc is None or value is None else proc(value)
                for name, value, proc in zip(names, row, processors, strict=True)
            }
            for row in rows
        ]
        return sql, (orjson.dumps(document).decode(),)

    def _json_plan(self, conn: Connection) -> tuple[str, list[_Processor]]:
        """The INSERT from a JSON document (with the upsert's ON CONFLICT clause), and
        each column's bind processor (none for JSON columns: their values go into the
        document as they are)."""
        quoted = ", ".join(f'"{name}"' for name in self._columns)
        table = f'"{self._table.name}"'
        conflict = ""
        if not self._copy:
            compiled = self._prepare(conn)[0]
            conflict = compiled[_values_end(compiled) :]
        sql = (
            f"INSERT INTO {table} ({quoted}) SELECT {quoted}"
            f" FROM json_populate_recordset(NULL::{table}, %s::json){conflict}"
        )
        processors = [
            None
            if i in self._json_columns
            else self._table.c[name].type._cached_bind_processor(conn.dialect)
            for i, name in enumerate(self._columns)
        ]
        return sql, processors

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows``."""
        if not rows:
            return
        self._check_width(rows)
        many = len(rows) >= COPY_MIN_ROWS and conn.dialect.name == "postgresql"
        if many and not self._copy and self.takes_json(rows):
            conn.exec_driver_sql(*self._document(conn, rows))
            return
        (sql, plan, positional), columns = self._bound(conn, rows)
        if many and self._copy:
            self._copy_rows(conn, [self._columns[index] for _, index, _ in plan], columns)
            return
        if positional:
            params: list[Any] = list(zip(*columns, strict=True))
        else:
            names = [name for name, _, _ in plan]
            params = [
                dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
            ]
        conn.exec_driver_sql(sql, params)

    def _copy_rows(
        self, conn: Connection, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> None:
        """The rows through ``COPY ... FROM STDIN``, in the connection's transaction."""
        quoted = ", ".join(f'"{name}"' for name in names)
        driver = conn.connection.driver_connection
        assert driver is not None
        statement = f'COPY "{self._table.name}" ({quoted}) FROM STDIN'
        with (
            driver_errors(conn, statement),
            driver.cursor() as cursor,
            cursor.copy(statement) as copy,
        ):
            for row in zip(*columns, strict=True):
                copy.write_row(row)


def _values_end(sql: str) -> int:
    """Where the VALUES (...) row of a compiled INSERT ends: what follows is its ON
    CONFLICT clause."""
    start = sql.index(" VALUES (") + len(" VALUES (")
    depth, end = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        end += 1
    return end


def _converted(values: Sequence[Any], proc: _BindProcessorType[Any]) -> list[Any]:
    """``proc`` applied to each value, once per run of the same value (a request's
    timestamps)."""
    out: list[Any] = []
    previous: Any = _MISSING
    converted: Any = None
    for value in values:
        if value is not previous:
            previous, converted = value, proc(value)
        out.append(converted)
    return out


#: Rows of one table sent with other statements in one round trip (PostgreSQL); more go
#: by COPY, each table on its own.
PIPELINE_MAX_ROWS = 256


def insert_rows(conn: Connection, writes: Sequence[tuple[BulkInsert, Sequence[Any]]]) -> None:
    """Several tables' rows, in order: (a plain :class:`BulkInsert`, its rows) each. On
    PostgreSQL, when no table has many, in one round trip."""
    writes = [(insert, rows) for insert, rows in writes if rows]
    if conn.dialect.name == "postgresql" and all(
        len(rows) <= PIPELINE_MAX_ROWS and insert.takes_json(rows) for insert, rows in writes
    ):
        with pipeline(conn) as queued:
            for insert, rows in writes:
                insert.queue(conn, queued, rows)
        return
    for insert, rows in writes:
        insert.execute(conn, rows)


def queue_ids(queued: Pipeline, table: Table, count: int) -> Rows:
    """PostgreSQL: ``count`` new primary keys for ``table``, drawn with the statements
    of ``queued`` (``allocate_ids``'s, without a round trip of their own)."""
    return queued.execute(_NEXT_IDS, (table.name, count), convert=_first_int)


def _first_int(row: Sequence[Any]) -> int:
    return int(row[0])


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` new primary keys for ``table``, to insert rows without RETURNING.

    PostgreSQL draws them from the column's sequence. On SQLite the caller holds the
    database's only write transaction (``BEGIN IMMEDIATE``), so the next ids after the
    current maximum are free, as SQLite would assign them itself.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        with pipeline(conn) as queued:
            ids = queue_ids(queued, table, count)
        return ids.all()
    # Fixed SQL on a name from the schema: nothing to build or cache per call.
    start = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))


class InSelect:
    """A read of the ingestion hot path: rows whose column is in a list, as plain tuples.

    The SQL is fixed: the list travels as one parameter (a JSON array read with
    ``json_each`` on SQLite, an array with ``= ANY`` on PostgreSQL), so nothing is
    rendered per call, and rows come back from the driver as they are. Write the
    statement with ``{p}`` for each scalar parameter and ``{in}`` where ``IN (...)`` goes
    (or nowhere: then no list is passed).

    Values go to and come from the driver as stored. Where a column's type converts
    them (UTC datetimes, JSON), name it: ``params`` gives the type of each scalar
    parameter that needs converting, by position; ``columns`` the type of each result
    column that does, by position.
    """

    def __init__(
        self,
        sql: str,
        *,
        params: Mapping[int, TypeEngine[Any]] | None = None,
        columns: Mapping[int, TypeEngine[Any]] | None = None,
    ) -> None:
        self._has_list = "{in}" in sql
        self._sql = {
            "sqlite": sql.format(p="?", **{"in": "IN (SELECT value FROM json_each(?))"}),
            "postgresql": sql.format(p="%s", **{"in": "= ANY(%s)"}),
        }
        self._param_types = dict(params or {})
        self._column_types = dict(columns or {})
        self._processors: dict[str, _Processors] = {}

    def _processors_for(self, dialect: Dialect) -> _Processors:
        found = self._processors.get(dialect.name)
        if found is None:
            binds: list[tuple[int, Callable[[Any], Any]]] = [
                (i, proc)
                for i, kind in self._param_types.items()
                if (proc := kind._cached_bind_processor(dialect)) is not None
            ]
            results: list[tuple[int, Callable[[Any], Any]]] = [
                (i, proc)
                for i, kind in self._column_types.items()
                if (proc := kind._cached_result_processor(dialect, None)) is not None
            ]
            found = self._processors[dialect.name] = (binds, results)
        return found

    def _params(self, dialect: Dialect, params: tuple[Any, ...], values: Sequence[Any]) -> Any:
        binds, _ = self._processors_for(dialect)
        if binds:
            converted = list(params)
            for i, bind in binds:
                converted[i] = bind(converted[i])
            params = tuple(converted)
        if self._has_list:
            listed: Any = (
                orjson.dumps(list(values)).decode() if dialect.name == "sqlite" else list(values)
            )
            params = (*params, listed)
        return params

    def _row(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """What each fetched row goes through: None when it is kept as it is."""
        _, results = self._processors_for(dialect)
        if not results:
            return None

        def convert(row: Any) -> tuple[Any, ...]:
            cells = list(row)
            for i, proc in results:
                cells[i] = proc(cells[i])
            return tuple(cells)

        return convert

    def rows(self, conn: Connection, *params: Any, values: Sequence[Any] = ()) -> list[Any]:
        """The rows for ``params`` (in order), with the IN list ``values`` last."""
        dialect = conn.dialect
        sent = self._params(dialect, params, values)
        result = conn.exec_driver_sql(self._sql[dialect.name], sent)
        try:  # the driver's tuples, without wrapping each in a Row
            fetched = list(result.cursor.fetchall())
        finally:
            result.close()
        convert = self._row(dialect)
        return fetched if convert is None else [convert(row) for row in fetched]

    def queue(
        self, conn: Connection, queued: Pipeline, *params: Any, values: Sequence[Any] = ()
    ) -> Rows:
        """PostgreSQL: :meth:`rows` with the statements of ``queued``, read after them."""
        dialect = conn.dialect
        sent = self._params(dialect, params, values)
        return queued.execute(self._sql[dialect.name], sent, convert=self._row(dialect))
