"""The widget query engine: access checks, the result cache (hit, new version misses),
the time limit, the row cap, rendering, dashboard widgets and share links."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from analytics.widgets import REGISTRY
from storage.errors import AnalysisError, Forbidden, InvalidSpec, NotFound
from storage.queries import ChartFailed, QueryService, QueryTimeout
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BAR = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "sort": "-y", "limit": 3,
       "filters": [{"column": "Platform", "op": "in", "value": ["PS2", "Wii"]}]}


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


@pytest.fixture
def vg(storage, ada):
    workspace = storage.workspaces.personal_workspace(ada).id
    return storage.datasets.create_from_file(ada, workspace, FIXTURES / "vgsales.csv", "vgsales.csv")


def test_run_answers_the_contract_and_caches(storage, ada, vg):
    first = storage.queries.run(ada, vg.id, BAR)
    assert set(first) == {"columns", "rows", "truncated", "cached"}
    # The chart's own count of categories (__n_all) stays out of the public result.
    assert first["columns"] == ["x", "y"]
    assert first["rows"] == [["Sports", pytest.approx(565.47)], ["Action", pytest.approx(391.34)],
                             ["Misc", pytest.approx(322.2)]]
    assert (first["truncated"], first["cached"]) == (False, False)
    second = storage.queries.run(ada, vg.id, dict(BAR))
    assert second["cached"] is True and second["rows"] == first["rows"]
    # The same meaning spelled differently normalises to the same key.
    assert storage.queries.run(ada, vg.id, {**BAR, "group": None, "time_grain": None, "version": 1})["cached"]
    # Other filters are another question.
    other = storage.queries.run(ada, vg.id, BAR, extra_filters=[{"column": "Year", "op": ">=", "value": 2005}])
    assert other["cached"] is False and other["rows"] != first["rows"]


def test_a_new_version_misses_the_cache(storage, ada, vg, tmp_path):
    storage.queries.run(ada, vg.id, {"type": "kpi", "agg": "count"})
    assert storage.queries.run(ada, vg.id, {"type": "kpi", "agg": "count"})["cached"]
    smaller = tmp_path / "vgsales.csv"
    lines = (FIXTURES / "vgsales.csv").read_text().splitlines()
    smaller.write_text("\n".join(lines[:101]) + "\n")
    storage.datasets.add_version(ada, vg.id, smaller, "vgsales.csv", mode="replace")
    again = storage.queries.run(ada, vg.id, {"type": "kpi", "agg": "count"})
    assert again["cached"] is False and again["rows"][0][2] == 100


def test_another_user_cannot_query_by_id(storage, bob, vg):
    with pytest.raises(NotFound):
        storage.queries.run(bob, vg.id, BAR)
    with pytest.raises(NotFound):
        storage.queries.render(bob, vg.id, BAR)


def test_a_bad_spec_is_refused_before_any_sql(storage, ada, vg):
    with pytest.raises(InvalidSpec, match="There is no column 'x\""):
        storage.queries.run(ada, vg.id, {"type": "bar", "x": 'x"); DROP TABLE t; --', "agg": "count"})


def test_time_limit_stops_a_slow_query(storage, ada, vg, monkeypatch):
    service = QueryService(storage.datasets, storage.data_dir / "slow", time_limit=0.3)
    kpi = REGISTRY["kpi"]
    # A query that would run for minutes: every row of the dataset against 10^9 numbers.
    monkeypatch.setattr(kpi, "query", lambda spec, schema, source: (
        f"SELECT count(*) FROM {source} AS a, range(1000000000) AS b WHERE b.range % 7 = a.\"Rank\" % 7", []))
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match="longer than 0.3 s"):
        service.run(ada, vg.id, {"type": "kpi", "agg": "count"})
    assert time.perf_counter() - started < 5
    monkeypatch.undo()
    assert service.run(ada, vg.id, {"type": "kpi", "agg": "count"})["rows"][0][2] == 16598  # the engine still works
    service.close()


def test_row_cap_truncates(storage, ada, vg):
    service = QueryService(storage.datasets, storage.data_dir / "capped", row_cap=5)
    result = service.run(ada, vg.id, {"type": "table", "columns": ["Name"], "page_size": 50})
    assert result["truncated"] is True and len(result["rows"]) == 5
    output = service.render(ada, vg.id, {"type": "table", "columns": ["Name"], "page_size": 50})
    assert output["truncated"] is True and len(output["rows"]) == 5
    assert "truncated" not in storage.queries.render(ada, vg.id, {"type": "table", "columns": ["Name"]})
    service.close()


def test_a_failing_query_says_so_without_server_paths(storage, ada, vg):
    storage.datasets.file_path(vg).unlink()  # the file is gone from under the metadata
    with pytest.raises(AnalysisError) as info:
        storage.queries.run(ada, vg.id, {"type": "kpi", "agg": "count"})
    assert info.value.message.startswith("This dataset's file cannot be read on the server: upload the file again")
    assert str(storage.data_dir) not in info.value.message and ".parquet" not in info.value.message


def test_render_gives_each_kind_of_output(storage, ada, vg):
    figure = storage.queries.render(ada, vg.id, BAR)
    assert figure["kind"] == "figure" and figure["figure"]["data"][0]["x"] == ["Sports", "Action", "Misc"]
    kpi = storage.queries.render(ada, vg.id, {"type": "kpi", "y": "Global_Sales", "agg": "sum"})
    assert kpi["kind"] == "kpi" and kpi["value"] == pytest.approx(8920.44)
    table = storage.queries.render(ada, vg.id, {"type": "table", "columns": ["Name"], "sort": "Name", "page_size": 2})
    assert table["kind"] == "table" and table["total"] == 16598 and len(table["rows"]) == 2
    assert storage.queries.render(ada, None, {"type": "markdown", "text": "hi"}) == {"kind": "markdown", "text": "hi"}
    json.dumps(figure)


def _board(storage, ada, vg):
    return storage.dashboards.create(ada, vg.workspace_id, {
        "name": "Games",
        "widgets": [
            {"id": "genres", "spec": {**BAR, "dataset_id": vg.id, "filters": [], "limit": 20}},
            {"id": "total", "spec": {"type": "kpi", "y": "Global_Sales", "agg": "sum", "dataset_id": vg.id}},
            {"id": "note", "spec": {"type": "markdown", "text": "Sales in millions"}},
        ],
        "filters": [{"id": "platform", "column": "Platform", "kind": "multi_select", "value": None}],
    })


def test_render_widget_applies_dashboard_and_cross_filters(storage, ada, bob, vg):
    board = _board(storage, ada, vg)
    wii = storage.queries.render_widget(ada, board["id"], "total",
                                        dashboard_filters=[{**board["filters"][0], "value": ["Wii"]}])
    assert wii["value"] == pytest.approx(926.71)
    sports_wii = storage.queries.render_widget(ada, board["id"], "total",
                                               extra_filters=[{"column": "Genre", "op": "=", "value": "Sports"}],
                                               dashboard_filters=[{**board["filters"][0], "value": ["Wii"]}])
    assert sports_wii["value"] == pytest.approx(292.06)
    with pytest.raises(NotFound):
        storage.queries.render_widget(bob, board["id"], "total")


def test_share_link_reaches_only_its_own_widgets(storage, ada, vg):
    board = _board(storage, ada, vg)
    token = storage.dashboards.share(ada, board["id"])["token"]
    total = storage.queries.render_shared(token, "total")
    assert total["value"] == pytest.approx(8920.44)
    assert storage.queries.render_shared(token, "note")["text"] == "Sales in millions"
    # The dashboard's own filter, by id: the link may set its value.
    wii = storage.queries.render_shared(token, "total", [{"id": "platform", "kind": "multi_select", "value": ["Wii"]}])
    assert wii["value"] == pytest.approx(926.71)
    # A click on a chart: = on a column the widgets use.
    sports = storage.queries.render_shared(token, "total", [{"column": "Genre", "op": "=", "value": "Sports"}])
    assert sports["value"] == pytest.approx(1330.93)
    for bad in ([{"column": "Name", "op": "=", "value": "Wii Sports"}],          # a column no widget uses
                [{"column": "Genre", "op": "contains", "value": "S"}],           # not a click
                [{"id": "other", "kind": "multi_select", "value": ["Wii"]}]):   # not this dashboard's filter
        with pytest.raises(Forbidden):
            storage.queries.render_shared(token, "total", bad)
    with pytest.raises(NotFound):
        storage.queries.render_shared(token, "no-such-widget")
    storage.dashboards.revoke_share(ada, board["id"])
    with pytest.raises(NotFound):
        storage.queries.render_shared(token, "total")


def test_distinct_counts_read_the_files_statistics(storage, ada, vg):
    import pandas as pd

    frame = pd.read_csv(FIXTURES / "vgsales.csv", na_values=["N/A"])
    kpi = storage.queries.render(ada, vg.id, {"type": "kpi", "y": "Year", "agg": "count_distinct"})
    assert kpi["value"] == frame.Year.nunique()
    schema = {c["name"]: c for c in storage.queries._schema_with_ranges(storage.datasets.get(ada, vg.id))}
    assert (schema["Year"]["min"], schema["Year"]["max"]) == (frame.Year.min(), frame.Year.max())
    assert (schema["Rank"]["min"], schema["Rank"]["max"]) == (1, 16600) and "min" not in schema["Name"]
    filtered = storage.queries.run(ada, vg.id, {"type": "kpi", "y": "Year", "agg": "count_distinct",
                                                "filters": [{"column": "Platform", "op": "=", "value": "Wii"}]})
    assert filtered["rows"][0][2] == frame[frame.Platform == "Wii"].Year.nunique()


# --- a failed chart says why in a person's words; an internal failure gives a reference ---


def _new_version(storage, ada, vg, tmp_path, header_from: str, header_to: str, year_text: bool = False):
    lines = (FIXTURES / "vgsales.csv").read_text().splitlines()[:51]
    lines[0] = lines[0].replace(header_from, header_to)
    if year_text:  # a year column that now holds words
        lines = [lines[0]] + [line.replace(",2006,", ",early,", 1) for line in lines[1:]]
    path = tmp_path / "vgsales.csv"
    path.write_text("\n".join(lines) + "\n")
    storage.datasets.add_version(ada, vg.id, path, "vgsales.csv", mode="replace")


def test_a_column_a_new_version_dropped_is_named_with_what_to_do(storage, ada, vg, tmp_path):
    spec = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum"}
    assert storage.queries.render(ada, vg.id, spec)["kind"] == "figure"
    _new_version(storage, ada, vg, tmp_path, "Global_Sales", "Global sales")
    with pytest.raises(InvalidSpec) as info:
        storage.queries.render(ada, vg.id, spec)
    assert info.value.message == ("The column 'Global_Sales' is not in this dataset any more: edit the widget to "
                                  "choose another (perhaps 'Global sales')")
    # An ad-hoc query (the API's) names its own typo without "any more".
    with pytest.raises(InvalidSpec, match="There is no column 'Nope' in this dataset"):
        storage.queries.run(ada, vg.id, {"type": "bar", "x": "Nope", "agg": "count"})


def test_a_column_whose_type_changed_is_named_in_words(storage, ada, vg, tmp_path):
    _new_version(storage, ada, vg, tmp_path, "Year", "Year", year_text=True)
    with pytest.raises(InvalidSpec) as info:
        storage.queries.render(ada, vg.id, {"type": "histogram", "x": "Year"})
    assert info.value.message == "'Column' needs a column of numbers, and 'Year' holds text: choose another column"
    with pytest.raises(InvalidSpec) as info:
        storage.queries.render(ada, vg.id, {"type": "kpi", "y": "Year", "agg": "mean"})
    assert info.value.message == ("Average needs a column of numbers, and 'Year' holds text: choose a number column, "
                                  "or count instead")


def test_the_time_limit_says_what_to_do(storage, ada, vg, monkeypatch):
    service = QueryService(storage.datasets, storage.data_dir / "slow", time_limit=0.3)
    monkeypatch.setattr(REGISTRY["kpi"], "query", lambda spec, schema, source: (
        f"SELECT count(*) FROM {source} AS a, range(1000000000) AS b WHERE b.range % 7 = a.\"Rank\" % 7", []))
    with pytest.raises(QueryTimeout) as info:
        service.render_on(storage.datasets.get(ada, vg.id), service.prepare(storage.datasets.get(ada, vg.id),
                                                                           {"type": "kpi", "agg": "count"}, None))
    assert info.value.message.startswith("This chart took longer than 0.3 s and was stopped: add a filter or "
                                         "choose a coarser grain")
    service.close()


def test_an_internal_failure_is_logged_with_context_and_shown_with_a_reference(storage, ada, vg, monkeypatch,
                                                                               caplog):
    def broken(result, spec):
        raise KeyError("bin")

    monkeypatch.setattr(REGISTRY["histogram"], "render", broken)
    with caplog.at_level(logging.ERROR, logger="storage.queries"):
        with pytest.raises(ChartFailed) as info:
            storage.queries.render(ada, vg.id, {"type": "histogram", "x": "Year"})
    reference = info.value.details["reference"]
    assert info.value.message == (f"Something went wrong drawing this chart (reference {reference}); quote the "
                                  "reference to your administrator")
    assert "server log" not in info.value.message and info.value.status == 500
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and f"dataset {vg.id}" in logged[0].getMessage() and '"x": "Year"' in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_a_broken_query_is_an_internal_failure_with_its_sql_logged(storage, ada, vg, monkeypatch, caplog):
    monkeypatch.setattr(REGISTRY["kpi"], "query", lambda spec, schema, source: ("SELECT no_such_function(1)", []))
    with caplog.at_level(logging.ERROR, logger="storage.queries"):
        with pytest.raises(ChartFailed):
            storage.queries.render(ada, vg.id, {"type": "kpi", "agg": "count"})
    assert any("no_such_function" in r.getMessage() for r in caplog.records)


def test_a_dashboard_widget_that_fails_unexpectedly_shows_a_reference(caplog):
    from storage.dashboard_views import in_parallel

    with caplog.at_level(logging.ERROR, logger="storage.queries"):
        out = in_parallel([{"id": "w1"}], lambda widget: 1 / 0)
    message = out["w1"]["error"]
    assert message.startswith("Something went wrong drawing this chart (reference ") and "server log" not in message
    reference = message.split("reference ")[1][:8]
    assert any(reference in r.getMessage() and "dashboard widget w1" in r.getMessage() for r in caplog.records)


def test_widgets_write_numbers_as_the_column_roles_say(storage, ada):
    """The stored roles reach every widget's render: a flight number (a code the name alone
    does not give away) is written 4534 in a table, not 4,534; a person's correction to a
    measure brings the separator back."""
    workspace = storage.workspaces.personal_workspace(ada).id
    flights = storage.datasets.create_from_file(ada, workspace, FIXTURES / "public" / "flights_sample.csv",
                                                "flights_sample.csv")
    assert storage.roles.get(ada, flights.id)["flight"]["role"] in ("code", "identifier")
    spec = {"type": "table", "columns": ["flight", "distance"], "sort": "flight", "descending": True, "page_size": 5}
    drawn = storage.queries.render(ada, flights.id, spec)
    formats = dict(zip(drawn["columns"], drawn["formats"]))
    from analytics.widgets.formatting import format_cell
    top_flight = max(int(line.split(",")[10]) for line in
                     (FIXTURES / "public" / "flights_sample.csv").read_text().splitlines()[1:])
    assert top_flight >= 1000
    assert format_cell(top_flight, formats["flight"]) == str(top_flight)
    storage.roles.set(ada, flights.id, "flight", "measure")
    formats = dict(zip(*(lambda d: (d["columns"], d["formats"]))(storage.queries.render(ada, flights.id, spec))))
    assert format_cell(top_flight, formats["flight"]) == f"{top_flight:,}"
