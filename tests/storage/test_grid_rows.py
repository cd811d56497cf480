"""The data grid's storage side: how many rows match a filter model (counted in SQL,
equal to pandas on every fixture, cached per version and filter), the decimals each
float column is shown with, date filters that mean days, and bad filters that get a
message instead of reaching DuckDB."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from components.grid import column_defs
from storage.errors import InvalidInput, NotFound
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
DATASETS = [FIXTURES / "vgsales.csv", FIXTURES / "online-retail-20k.csv", FIXTURES / "music.csv",
            FIXTURES / "shopping_data.csv", SAMPLES / "mall-customers.csv"]


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


def make(storage, principal, path: Path, name: str | None = None):
    workspace = storage.workspaces.personal_workspace(principal).id
    return storage.datasets.create_from_file(principal, workspace, path, name or path.name)


def frame_of(storage, dataset) -> pd.DataFrame:
    return pd.read_parquet(storage.datasets.file_path(dataset))


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.name)
def test_match_counts_equal_pandas_on_every_fixture(storage, ada, path):
    dataset = make(storage, ada, path)
    frame = frame_of(storage, dataset)
    checked = 0
    for column in dataset.schema:
        name, kind = column["name"], column["type"]
        values = frame[name].dropna()
        if values.empty:
            continue
        if kind in ("integer", "float"):
            cut = float(values.median())
            model = {name: {"filterType": "number", "type": "greaterThan", "filter": cut}}
            expected = int((frame[name] > cut).sum())
            between = {name: {"filterType": "number", "type": "inRange", "filter": float(values.min()), "filterTo": cut}}
            assert storage.datasets.count_rows(ada, dataset.id, between) == (
                int(frame[name].between(values.min(), cut).sum()), len(frame)), name
        elif kind in ("text", "categorical"):
            needle = str(values.iloc[len(values) // 2])[:3]
            model = {name: {"filterType": "text", "type": "contains", "filter": needle}}
            expected = int(frame[name].astype("string").str.lower().str.contains(needle.lower(), regex=False)
                           .fillna(False).sum())
        else:
            continue
        assert storage.datasets.count_rows(ada, dataset.id, model) == (expected, len(frame)), name
        # The page of rows and the count come from the same filtered relation.
        _columns, rows, total = storage.datasets.rows(ada, dataset.id, limit=5000, filter_model=model)
        assert total == expected and len(rows) == min(expected, 5000), name
        checked += 1
    assert checked >= 2
    assert storage.datasets.count_rows(ada, dataset.id, None) == (len(frame), len(frame))


def test_counts_are_cached_per_version_and_filter(storage, ada, monkeypatch):
    dataset = make(storage, ada, SAMPLES / "mall-customers.csv")
    model = {"Age": {"filterType": "number", "type": "greaterThan", "filter": 40}}
    first = storage.datasets.count_rows(ada, dataset.id, model)
    assert first == (78, 200)

    def no_engine(*_args, **_kwargs):
        raise AssertionError("counted again")

    monkeypatch.setattr("storage.datasets.connect", no_engine)
    assert storage.datasets.count_rows(ada, dataset.id, model) == first
    monkeypatch.undo()
    # Another filter is counted; a new version is counted anew.
    assert storage.datasets.count_rows(ada, dataset.id, {"Age": {"type": "lessThan", "filter": 20}})[0] == 12
    new = storage.datasets.add_version(ada, dataset.id, SAMPLES / "mall-customers.csv", "mall.csv", mode="append")
    assert storage.datasets.count_rows(ada, new.id, model) == (156, 400)


def test_a_second_user_counts_nothing(storage, ada, bob):
    dataset = make(storage, ada, SAMPLES / "mall-customers.csv")
    with pytest.raises(NotFound):
        storage.datasets.count_rows(bob, dataset.id, {"Age": {"type": "greaterThan", "filter": 0}})
    with pytest.raises(NotFound):
        storage.datasets.column_decimals(bob, dataset.id)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_decimals_are_one_per_column_from_its_values(storage, ada, tmp_path):
    rows = [
        # price: mixes 9952 and 10086.02 -> 2; ratio: small -> up to 4; whole: floats
        # without fractions -> 0; half: 1; big: reaches 1,000 -> at most 2; year: an integer
        ["9952", "0.12345", "3.0", "1.5", "12345.6789", "2013"],
        ["10086.02", "0.5", "4.0", "2.5", "1.25", "2014"],
        ["12.5", "", "", "", "2", "2015"],
    ]
    path = write_csv(tmp_path / "numbers.csv", ["price", "ratio", "whole", "half", "big", "year"], rows)
    dataset = make(storage, ada, path)
    types = {c["name"]: c["type"] for c in dataset.schema}
    assert types["price"] == "float" and types["year"] == "integer"
    decimals = storage.datasets.column_decimals(ada, dataset.id)
    if types["whole"] == "float":
        assert decimals["whole"] == 0
    assert {k: decimals[k] for k in ("price", "ratio", "half", "big")} == {"price": 2, "ratio": 4, "half": 1, "big": 2}
    assert "year" not in decimals  # integers never get decimals


def test_date_filters_mean_days(storage, ada, tmp_path):
    rows = [[f"2024-03-0{day} {hour:02d}:30:00", day * 10 + hour] for day in (1, 2, 3) for hour in (0, 12, 23)]
    dataset = make(storage, ada, write_csv(tmp_path / "times.csv", ["at", "n"], rows))
    assert {c["name"]: c["type"] for c in dataset.schema}["at"] == "timestamp"

    def count(model):
        return storage.datasets.count_rows(ada, dataset.id, {"at": {"filterType": "date", **model}})[0]

    assert count({"type": "equals", "dateFrom": "2024-03-02 00:00:00"}) == 3  # every time of that day
    assert count({"type": "greaterThan", "dateFrom": "2024-03-02 00:00:00"}) == 3  # from the day after
    assert count({"type": "lessThan", "dateFrom": "2024-03-02"}) == 3
    assert count({"type": "inRange", "dateFrom": "2024-03-01 00:00:00", "dateTo": "2024-03-02 00:00:00"}) == 6
    with pytest.raises(InvalidInput, match="needs a date"):
        count({"type": "equals", "dateFrom": "yesterday"})


@pytest.mark.parametrize("model, message", [
    ({"Age": {"filterType": "number", "type": "greaterThan", "filter": "forty"}}, "needs a number"),
    ({"Age": {"filterType": "number", "type": "inRange", "filter": 1}}, "needs a number"),
    ({"Age": {"filterType": "number", "type": "greaterThan", "filter": float("nan")}}, "needs a number"),
    ({"Age": {"filterType": "number", "type": "between", "filter": 1}}, "Unknown number filter"),
    ({"Age": {"operator": "AND", "conditions": "x"}}, "conditions"),
    ({"Age": {"operator": "AND", "conditions": [1, 2]}}, "not valid"),
    ({"Nope": {"type": "equals", "filter": 1}}, "no column"),
    ({"Genre": {"filterType": "text", "type": "contains", "filter": {"a": 1}}}, "needs text"),
    (["Age"], "not valid"),
])
def test_bad_filters_get_a_message(storage, ada, model, message):
    dataset = make(storage, ada, SAMPLES / "mall-customers.csv")
    with pytest.raises(InvalidInput, match=message):
        storage.datasets.count_rows(ada, dataset.id, model)


def test_the_columns_type_decides_the_comparison_not_the_request(storage, ada):
    """A crafted number filter on a text column is a text comparison, not a cast error."""
    dataset = make(storage, ada, SAMPLES / "mall-customers.csv")
    model = {"Genre": {"filterType": "number", "type": "equals", "filter": "Male"}}
    assert storage.datasets.count_rows(ada, dataset.id, model) == (88, 200)
    with pytest.raises(InvalidInput, match="sort is not valid"):
        storage.datasets.rows(ada, dataset.id, sort_model=["Age"])


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.name)
def test_every_fixture_gets_one_exact_format_per_numeric_column(storage, ada, path):
    """The decimals chosen per float column show every value as it is (unless capped), and
    integer and date-part/id columns get none."""
    dataset = make(storage, ada, path)
    frame = frame_of(storage, dataset)
    decimals = storage.datasets.column_decimals(ada, dataset.id)
    defs = {d["field"]: d for d in column_defs(dataset.schema, decimals=decimals)}
    for column in dataset.schema:
        name, kind = column["name"], column["type"]
        if kind not in ("integer", "float"):
            assert "gridNumber" not in json.dumps(defs[name]), name
            continue
        places = int(defs[name]["valueFormatter"]["function"].split(",")[1])
        values = frame[name].dropna()
        if kind == "integer":
            assert places == 0, name
        elif places == decimals[name] < 2 or (places == decimals[name] and values.abs().max() < 1000
                                              and places < 4):
            assert ((values - values.round(places)).abs() <= 1e-9 * values.abs().clip(lower=1)).all(), name
            if places:  # and no fewer would do
                assert not ((values - values.round(places - 1)).abs() <= 1e-9 * values.abs().clip(lower=1)).all(), name
    named = [c["name"] for c in dataset.schema if c["type"] in ("integer", "float")
             and c["name"].lower() in ("year", "customerid")]
    for name in named:
        assert defs[name]["valueFormatter"]["function"] == "gridNumber(params.value, 0, false)", name


def test_text_filters_ignore_case_like_the_grid(storage, ada):
    dataset = make(storage, ada, SAMPLES / "mall-customers.csv")

    def count(kind, value):
        return storage.datasets.count_rows(ada, dataset.id, {"Genre": {"filterType": "text", "type": kind,
                                                                       "filter": value}})[0]

    assert count("equals", "male") == count("equals", "Male") == 88
    assert count("notEqual", "MALE") == 112
    assert count("equals", "Mal_") == 0 and count("contains", "%") == 0  # wildcards are literal
    assert count("startsWith", "fe") == 112 and count("endsWith", "ALE") == 200


def test_grid_pages_share_one_duckdb_instance_with_its_settings(storage, ada):
    """Pages, counts and decimals are read through cursors of one DuckDB instance per
    process (a new instance a page cost ~20 ms of CPU); a cursor is a connection of its
    own, so the instance's settings must be global to reach it."""
    dataset = make(storage, ada, FIXTURES / "vgsales.csv")
    storage.datasets.rows(ada, dataset.id, 0, 10)
    storage.datasets.count_rows(ada, dataset.id, {"Year": {"filterType": "number", "type": "greaterThan",
                                                          "filter": 2000}})
    first = storage.datasets._reader_db
    assert first is not None
    storage.datasets.rows(ada, dataset.id, 10, 10, sort_model=[{"colId": "Name", "sort": "desc"}])
    assert storage.datasets._reader_db is first
    cursor = storage.datasets._reader()
    try:
        assert cursor.execute("SELECT current_setting('TimeZone'), current_setting('parquet_metadata_cache')"
                              ).fetchone() == ("UTC", True)
    finally:
        cursor.close()
    storage.datasets.close()
    assert storage.datasets._reader_db is None
    columns, rows, total = storage.datasets.rows(ada, dataset.id, 0, 5)  # opened again after a close
    assert len(rows) == 5 and total == dataset.rows


def test_widget_query_cursors_get_the_engine_settings(storage):
    cursor = storage.queries._database().cursor()
    try:
        assert cursor.execute("SELECT current_setting('TimeZone'), current_setting('parquet_metadata_cache')"
                              ).fetchone() == ("UTC", True)
    finally:
        cursor.close()


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.name)
def test_sorted_pages_follow_pandas_stable_sort_across_blocks(storage, ada, path, monkeypatch):
    """A sorted view is paged through the row numbers of its sorted rows, found a block at a
    time: pages that cross blocks, a filter, and ties (kept in file order, so a row is never
    shown twice or skipped) give the rows of pandas' stable sort, in its order."""
    import storage.datasets as datasets_module

    monkeypatch.setattr(datasets_module, "SORTED_BLOCK", 37)
    dataset = make(storage, ada, path)
    frame = frame_of(storage, dataset)
    numeric = next(c["name"] for c in dataset.schema if c["type"] in ("integer", "float"))
    text = next((c["name"] for c in dataset.schema if c["type"] in ("text", "categorical")), numeric)
    for column, descending in ((numeric, True), (text, False)):
        sort = [{"colId": column, "sort": "desc" if descending else "asc"}]
        expected = frame.sort_values(column, ascending=not descending, kind="stable", na_position="last")
        expected = expected.head(150)
        got = []
        for offset in range(0, 150, 25):
            columns, rows, total = storage.datasets.rows(ada, dataset.id, offset, 25, sort_model=sort)
            assert total == len(frame)
            got += rows
        assert columns == list(frame.columns)
        shown = pd.DataFrame(got, columns=columns)
        assert len(shown) == min(150, len(frame))
        for name in (column, columns[0], columns[-1]):
            assert shown[name].astype(str).tolist() == expected[name].astype(str).tolist(), (column, name)
    # With a filter: the matching rows only, sorted; a page past the end is empty.
    cut = float(frame[numeric].dropna().median())
    model = {numeric: {"filterType": "number", "type": "greaterThan", "filter": cut}}
    matching = frame[frame[numeric] > cut].sort_values(numeric, kind="stable")
    _columns, rows, total = storage.datasets.rows(ada, dataset.id, 30, 60, sort_model=[{"colId": numeric}],
                                                  filter_model=model)
    assert total == len(matching)
    assert [r[list(frame.columns).index(numeric)] for r in rows] == matching[numeric].iloc[30:90].tolist()
    assert storage.datasets.rows(ada, dataset.id, total + 5, 10, sort_model=[{"colId": numeric}],
                                 filter_model=model)[1] == []
