"""The export's file formats: CSV (the standard library's writer, a header line) and Parquet
(pyarrow, from the ``warehouse`` extra), each encoded a piece at a time from pages of rows,
so a file of any size is written, or streamed, in bounded memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

import orjson

from promoter.exports.tables import Column, ExportTable, Row

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")
MEDIA_TYPES: dict[Format, str] = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
}
#: Rows per Parquet row group: a few pages, held in memory while they are encoded.
ROW_GROUP_ROWS = 20_000


class ParquetUnavailable(Exception):
    """pyarrow is not installed (``pip install 'promoter[warehouse]'``)."""


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def encode(table: ExportTable, fmt: Format, pages: Iterable[list[Row]]) -> Iterator[bytes]:
    """The file's bytes, a piece at a time: CSV a page at a time, Parquet a row group."""
    if fmt == "csv":
        return _csv(table.columns_for("csv"), pages)
    if not parquet_available():
        raise ParquetUnavailable(
            "Parquet needs pyarrow: install promoter with the warehouse extra "
            "(pip install 'promoter[warehouse]'), or export CSV"
        )
    return _parquet(table.columns_for("parquet"), pages)


# -- CSV -------------------------------------------------------------------------------------


def _csv(columns: tuple[Column, ...], pages: Iterable[list[Row]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    yield _drain(buffer)
    for page in pages:
        writer.writerows([_csv_cell(c, row[c.name]) for c in columns] for row in page)
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


def _csv_cell(column: Column, value: Any) -> str:
    """Values as loaders read them: NULL as an empty field, times in ISO 8601 with their
    offset (+00:00), JSON as text. Nothing is escaped for spreadsheets: the data is exact."""
    if value is None:
        return ""
    if column.kind == "time":
        assert isinstance(value, datetime)
        return value.isoformat()
    if column.kind in ("json", "tags"):
        return orjson.dumps(value).decode()
    return str(value)


# -- Parquet ---------------------------------------------------------------------------------


class _Sink:
    """A write-only file the Parquet writer appends to; what it wrote is taken piece by
    piece."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def arrow_schema(columns: tuple[Column, ...]) -> Any:
    import pyarrow as pa

    types = {
        "int": pa.int64(),
        "text": pa.string(),
        "time": pa.timestamp("us", tz="UTC"),
        "json": pa.string(),
        "tags": pa.list_(pa.string()),
        "map": pa.map_(pa.string(), pa.string()),
    }
    return pa.schema([pa.field(c.name, types[c.kind], nullable=c.nullable) for c in columns])


def _arrow_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "json":
        return orjson.dumps(value).decode()
    if column.kind == "map":
        return list(value.items())
    return value


def _parquet(columns: tuple[Column, ...], pages: Iterable[list[Row]]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    sink = _Sink()
    held: list[Row] = []

    def group() -> Any:
        arrays = [
            pa.array([_arrow_value(c, row[c.name]) for row in held], type=schema.field(c.name).type)
            for c in columns
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    with pq.ParquetWriter(sink, schema) as writer:
        for page in pages:
            held.extend(page)
            if len(held) >= ROW_GROUP_ROWS:
                writer.write_table(group())
                held.clear()
                yield sink.take()
        if held:
            writer.write_table(group())
            held.clear()
    yield sink.take()
