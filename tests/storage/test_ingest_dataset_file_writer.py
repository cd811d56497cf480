"""storage.ingest.DatasetFileWriter: a sync's copy written once, in its final form, must be
the file the import would have made of the raw copy (same names, types, values, row
groups and compression), for every Arrow type the connectors give."""
from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage import ingest
from storage.connectors import Column
from storage.errors import IngestError
from storage.sources import prepare
from storage.syncs import _final_plans, _types

ROWS = 300_000  # three whole row groups and a short one, over batches that do not line up with them
CAP = 200 * 1024 * 1024

COLUMNS = [
    Column("id", "int8", pa.int64()),
    Column("small", "int2", pa.int16()),
    Column("medium", "int4", pa.int32()),
    Column("approx", "float4", pa.float32()),
    Column("ratio", "float8", pa.float64()),
    Column("flag", "bool", pa.bool_()),
    Column("day", "date", pa.date32()),
    Column("at_local", "timestamp", pa.timestamp("us")),
    Column("at_utc", "timestamptz", pa.timestamp("us", tz="UTC")),
    Column(" Label\nname ", "text", pa.string()),  # cleaned as the import cleans names
    Column("doc", "jsonb", None),  # text by nature
]


def batches(rows: int = ROWS, size: int = 70_001):
    start = dt.datetime(2020, 1, 1)
    for offset in range(0, rows, size):
        n = min(size, rows - offset)
        ids = list(range(offset, offset + n))
        yield pa.RecordBatch.from_arrays([
            pa.array(ids, pa.int64()),
            pa.array([None if i % 7 == 0 else i % 32000 - 16000 for i in ids], pa.int16()),
            pa.array([i * 3 - 2**31 + 5 for i in ids], pa.int32()),
            pa.array([None if i % 11 == 0 else i / 3 for i in ids], pa.float32()),
            pa.array([float("nan") if i % 13 == 0 else i / 7 for i in ids], pa.float64()),
            pa.array([None if i % 5 == 0 else i % 2 == 0 for i in ids], pa.bool_()),
            pa.array([dt.date(1900, 1, 1) + dt.timedelta(days=i % 80000) for i in ids], pa.date32()),
            pa.array([start + dt.timedelta(seconds=i * 37, microseconds=i % 1000) for i in ids], pa.timestamp("us")),
            pa.array([None if i % 3 == 0 else (start + dt.timedelta(seconds=i * 41)).replace(tzinfo=dt.timezone.utc)
                      for i in ids], pa.timestamp("us", tz="UTC")),
            pa.array([None if i % 4 == 0 else f"näme {i} ✓" for i in ids], pa.string()),
            pa.array([f'{{"n": {i}}}' for i in ids], pa.string()),
        ], schema=pa.schema([pa.field(c.name, t) for c, t in zip(COLUMNS, _types(COLUMNS))]))


def imported(raw, tmp_path):
    """What the import (inspect + write_parquet, every column typed as the database typed it) makes of ``raw``."""
    source = prepare(raw, "copy.parquet", tmp_path, CAP)
    inspection = ingest.inspect(source, tmp_path)
    plans = [ingest.ColumnPlan(info.source, info.name, plan.type)
             for info, plan in zip(inspection.columns, _final_plans(COLUMNS))]
    dest = tmp_path / "imported.parquet"
    rows, schema = ingest.write_parquet(source, inspection, plans, dest, tmp_path, user_typed={p.source for p in plans})
    return dest, rows, schema


def test_the_file_written_once_is_the_file_the_import_writes(tmp_path):
    raw = tmp_path / "raw.parquet"
    with pq.ParquetWriter(raw, next(batches(1)).schema) as writer:
        for batch in batches():
            writer.write_batch(batch)
    old, old_rows, old_schema = imported(raw, tmp_path)

    new = tmp_path / "new.parquet"
    writer = ingest.DatasetFileWriter(new, _final_plans(COLUMNS), _types(COLUMNS))
    for batch in batches():
        writer.write(batch)
    written = writer.close()

    assert (written.rows, written.schema) == (old_rows, old_schema) == (ROWS, old_schema)
    assert [c["name"] for c in written.schema][9] == "Label name"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    described = [con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(p)]).fetchall() for p in (old, new)]
    assert described[0] == described[1]
    # every value, in order (NaN as NaN, NULL as NULL)
    old_values, new_values = (con.execute("SELECT * FROM read_parquet(?)", [str(p)]).fetchall() for p in (old, new))
    assert len(old_values) == len(new_values) == ROWS

    def same(a, b):
        return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)

    assert all(all(same(x, y) for x, y in zip(a, b)) for a, b in zip(old_values, new_values))
    # Read by pyarrow too (the tests and derived versions read dataset files that way): the
    # same types. (DuckDB marks a column without NULLs "required"; a file written as it
    # streams cannot know that in advance, and nothing reads it.)
    assert [(f.name, f.type) for f in pq.read_schema(old)] == [(f.name, f.type) for f in pq.read_schema(new)]
    # Row groups of about DuckDB's size (its own vary by a few hundred rows).
    old_meta, new_meta = pq.read_metadata(old), pq.read_metadata(new)
    assert [new_meta.row_group(i).num_rows for i in range(new_meta.num_row_groups)] == [122_880, 122_880, 54_240]
    assert old_meta.num_row_groups == new_meta.num_row_groups
    for meta in (old_meta, new_meta):
        chunks = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
        assert {c.compression for c in chunks} == {"SNAPPY"} and all(c.is_stats_set for c in chunks)


def test_invalid_utf8_text_is_refused_as_the_import_would(tmp_path):
    plans = _final_plans([Column("t", "text", pa.string())])
    writer = ingest.DatasetFileWriter(tmp_path / "x.parquet", plans, [pa.string()])
    bad = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(b"\x00\x00\x00\x00\x02\x00\x00\x00"),
                                                 pa.py_buffer(b"\xff\xfe")])
    with pytest.raises(IngestError, match="not valid UTF-8"):
        writer.write(pa.RecordBatch.from_arrays([bad], names=["t"]))
    writer.abort()


def test_types_the_import_must_convert_are_left_to_it():
    assert _final_plans([Column("n", "numeric", pa.decimal128(12, 2))]) is None
    assert _final_plans([Column("t", "timestamp", pa.timestamp("ns"))]) is None
    assert _final_plans([Column("u", "uint64", pa.uint64())]) is None
