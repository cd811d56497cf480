"""storage.filtered_subsets: the rows of a dashboard's filter set copied once and read by
its widgets. Every widget type of the benchmark dashboard must give the same answer from
the copy as from the file, with selective and unselective filters, after eviction, and
with a page's six widgets asking at once."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.dashboard import WIDGETS, generate
from tests.conftest import PASSWORD

MONTH_IN_FRANCE = [{"column": "InvoiceDate", "op": "between", "value": ["2023-03-01", "2023-03-28"]},
                   {"column": "Country", "op": "in", "value": ["France", "Germany"]}]
ONE_CHANNEL_IN_A_QUARTER = [{"column": "Channel", "op": "=", "value": "web"},
                            {"column": "InvoiceDate", "op": "between", "value": ["2024-07-01", "2024-09-30"]},
                            {"column": "Quantity", "op": ">=", "value": 5}]
UNSELECTIVE = [{"column": "Country", "op": "in", "value": ["United Kingdom"]}]  # 60 % of the rows


@pytest.fixture
def table(storage, tmp_path):
    principal = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    path = tmp_path / "transactions.parquet"
    generate(path, 60_000)
    workspace = storage.workspaces.personal_workspace(principal).id
    dataset = storage.datasets.create_from_file(principal, workspace, path, "transactions.parquet")
    return principal, dataset


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _results(storage, principal, dataset, filters) -> dict:
    out = {}
    for name, spec in WIDGETS:
        storage.queries.clear_cache()
        out[name] = storage.queries.run(principal, dataset.id, {**spec, "dataset_id": dataset.id}, filters)
    return out


def _from_file(storage, principal, dataset, filters) -> dict:
    storage.queries.subsets.min_rows = 10**12  # never copied
    try:
        return _results(storage, principal, dataset, filters)
    finally:
        storage.queries.subsets.min_rows = 0


@pytest.mark.parametrize("filters", [MONTH_IN_FRANCE, ONE_CHANNEL_IN_A_QUARTER], ids=["month", "quarter"])
def test_every_widget_answers_the_same_from_the_copy(storage, table, filters):
    principal, dataset = table
    expected = _from_file(storage, principal, dataset, filters)
    assert any(r["rows"] for r in expected.values())
    storage.queries.subsets.min_rows = 0
    got = _results(storage, principal, dataset, filters)  # the first widget reads the file, the rest the copy
    assert len(storage.queries.subsets.tables()) == 1
    again = _results(storage, principal, dataset, filters)  # every widget from the copy
    for name, _ in WIDGETS:
        for answer in (got[name], again[name]):
            assert answer["columns"] == expected[name]["columns"], name
            # "Latest lines" orders by a timestamp that four lines of an invoice share:
            # ties come in any order, from the file as from the copy.
            rows = sorted(map(repr, answer["rows"])) if name == "table latest lines" else answer["rows"]
            want = sorted(map(repr, expected[name]["rows"])) if name == "table latest lines" else expected[name]["rows"]
            assert _same(rows, want), name


def test_an_unselective_filter_set_is_not_copied(storage, table):
    principal, dataset = table
    storage.queries.subsets.min_rows = 0
    expected = _from_file(storage, principal, dataset, UNSELECTIVE)
    got = _results(storage, principal, dataset, UNSELECTIVE)
    assert storage.queries.subsets.tables() == []
    assert all(_same(got[n]["rows"], expected[n]["rows"]) for n, _ in WIDGETS if n != "table latest lines")


def test_small_tables_are_read_from_the_file(storage, table):
    principal, dataset = table
    assert storage.queries.subsets.min_rows > dataset.rows  # the default: a million rows
    _results(storage, principal, dataset, MONTH_IN_FRANCE)
    assert storage.queries.subsets.tables() == []


def test_copies_past_the_budget_are_dropped_and_answers_stay_right(storage, table):
    principal, dataset = table
    database = storage.queries._database()
    expected = {i: _from_file(storage, principal, dataset, _month(i)) for i in (1, 2, 3)}
    subsets = storage.queries.subsets
    subsets.min_rows = 0
    subsets.budget_cells = 2_000 * len(dataset.schema)  # about one month of these rows
    for i in (1, 2, 3):
        got = _results(storage, principal, dataset, _month(i))
        assert len(subsets.tables()) <= 1
        for name, _ in WIDGETS:
            if name != "table latest lines":
                assert _same(got[name]["rows"], expected[i][name]["rows"]), (i, name)
    names = {r[0] for r in database.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert names == set(subsets.tables())  # the evicted copies were dropped


def _month(i: int) -> list[dict]:
    return [{"column": "InvoiceDate", "op": "between", "value": [f"2024-0{i}-01", f"2024-0{i}-28"]}]


def test_a_page_of_widgets_asking_at_once_gets_the_same_answers(storage, table):
    principal, dataset = table
    filters = _month(5)
    expected = _from_file(storage, principal, dataset, filters)
    storage.queries.subsets.min_rows = 0
    storage.queries.clear_cache()

    def ask(item):
        name, spec = item
        return name, storage.queries.run(principal, dataset.id, {**spec, "dataset_id": dataset.id}, filters)

    with ThreadPoolExecutor(max_workers=6) as pool:
        got = dict(pool.map(ask, WIDGETS))
    for name, _ in WIDGETS:
        if name != "table latest lines":
            assert _same(got[name]["rows"], expected[name]["rows"]), name
    assert len(storage.queries.subsets.tables()) == 1


def test_a_dashboards_file_is_copied_by_the_first_widget_of_a_new_filter_set(storage, table):
    principal, dataset = table
    subsets = storage.queries.subsets
    expected = _from_file(storage, principal, dataset, _month(4))
    subsets.min_rows = 0
    kpi = {**dict(WIDGETS)["kpi revenue"], "dataset_id": dataset.id}
    storage.queries.run(principal, dataset.id, kpi, _month(1))
    assert subsets.tables() == []  # a filter set asked once (the chart editor) is read from the file
    storage.queries.clear_cache()
    storage.queries.run(principal, dataset.id, {**kpi, "agg": "count"}, _month(1))
    assert len(subsets.tables()) == 1  # asked twice: copied, and the file is a dashboard's now
    storage.queries.clear_cache()
    first = storage.queries.run(principal, dataset.id, kpi, _month(4))
    assert len(subsets.tables()) == 2  # the next filter set is copied by its first widget
    assert _same(first["rows"], expected["kpi revenue"]["rows"])
    got = _results(storage, principal, dataset, _month(4))
    for name, _ in WIDGETS:
        if name != "table latest lines":
            assert _same(got[name]["rows"], expected[name]["rows"]), name
