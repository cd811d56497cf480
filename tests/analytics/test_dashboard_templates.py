"""Generated dashboards on every fixture we have (the public tables in
tests/fixtures/public/ and the app's own test files): nothing sums, averages, bins or
plots as a number an identifier, a code, a date part or a constant; a table with a time
column gets a line over it; every widget says why it is there and draws; the flights
sample gets its delays, distances and air times, not "Average year"; a person's role
correction changes the next proposal."""
from __future__ import annotations

from pathlib import Path

import pytest

from analytics.column_choice import NEVER_AGGREGATED, aggregated_columns
from storage import Storage
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLIC = sorted((FIXTURES / "public").glob("*.csv"))
OWN = [FIXTURES / name for name in (
    "vgsales.csv", "music.csv", "online-retail-20k.csv", "online-retail-daily-revenue.csv", "shopping_data.csv",
    "events-ecom-journey/ecom-sample.csv", "events-sparkify/2018-11-01-events.json", "excel/sales.xls")]
TEMPORAL = ("date", "timestamp")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module: each fixture is ingested once, into it."""
    root = tmp_path_factory.mktemp("templates")
    storage = Storage(f"sqlite:///{root / 'meta.db'}", root / "data", sleep=lambda _s: None)
    storage.migrate()
    yield storage
    storage.dispose()


@pytest.fixture(scope="module")
def ada(store):
    return store.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


def _dataset(store, ada, path: Path):
    workspace = store.workspaces.personal_workspace(ada).id
    return store.datasets.create_from_file(ada, workspace, path, path.name)


def _offences(board: dict, roles: dict) -> list[str]:
    """Each widget that aggregates a column whose role forbids it, in words."""
    found = []
    for widget in board["widgets"]:
        spec = widget["spec"]
        for column in sorted(aggregated_columns(spec)):
            role = (roles.get(column) or {}).get("role")
            if role in NEVER_AGGREGATED:
                found.append(f"{spec.get('title')!r} aggregates {column} ({role})")
    return found


def test_there_are_many_fixtures():
    assert len(PUBLIC) >= 15 and all(p.exists() for p in OWN)


@pytest.mark.parametrize("path", PUBLIC + OWN, ids=lambda p: p.name)
def test_generated_dashboard_respects_roles(store, ada, path):
    dataset = _dataset(store, ada, path)
    roles = store.roles.get(ada, dataset.id)
    board = store.dashboards.generate(ada, dataset.id)
    assert _offences(board, roles) == []
    specs = [w["spec"] for w in board["widgets"]]
    assert specs and all(s.get("description") for s in specs), "every widget says why it is there"
    # A time column stored as a date: a line over it.
    times = [c["name"] for c in dataset.schema if (roles.get(c["name"]) or {}).get("role") == "time"
             and c["type"] in TEMPORAL]
    if times:
        assert any(s["type"] == "line" and s.get("x") in times for s in specs), "a time series over the time"
    # A time range and a category to pick from, when the data has them.
    kinds = {f["kind"] for f in board["filters"]}
    if times:
        assert "date_range" in kinds
    # Every widget draws (no spec the query engine refuses).
    for spec in specs:
        output = store.queries.render(ada, dataset.id, spec)
        assert output["kind"] in ("kpi", "figure", "table", "text"), (spec.get("title"), output)


def test_flights_gets_its_delays_distances_and_air_times(store, ada):
    flights = _dataset(store, ada, FIXTURES / "public" / "flights_sample.csv")
    board = store.dashboards.generate(ada, flights.id)
    specs = [w["spec"] for w in board["widgets"]]
    titles = [s["title"] for s in specs]
    used = set().union(*(aggregated_columns(s) for s in specs))
    assert {"dep_delay", "arr_delay", "distance", "air_time"} <= used
    assert not any(word in title.lower() for title in titles for word in ("average year", "average month",
                                                                            "average day", "of year", "of month"))
    assert not used & {"year", "month", "day", "hour", "minute", "flight", "dep_time", "sched_dep_time"}
    # The KPIs: rows, a total that adds up, an average that does not.
    kpis = {s["title"]: s["agg"] for s in specs if s["type"] == "kpi"}
    assert kpis["Rows"] == "count" and kpis["Total distance"] == "sum" and kpis["Average dep_delay"] == "mean"
    total = store.queries.render(ada, flights.id, next(s for s in specs if s["title"] == "Total distance"))
    import pandas as pd

    frame = pd.read_csv(FIXTURES / "public" / "flights_sample.csv")
    assert total["value"] == pytest.approx(frame.distance.sum())
    # Over time at a weekly grain (a year of flights), and the two delays against each other.
    line = next(s for s in specs if s["type"] == "line")
    assert (line["x"], line["time_grain"]) == ("time_hour", "week")
    scatter = next(s for s in specs if s["type"] == "scatter")
    assert {scatter["x"], scatter["y"]} == {"dep_delay", "arr_delay"} and "r = 0.9" in scatter["description"]
    bars = [s for s in specs if s["type"] == "bar"]
    assert bars[0]["x"] == "origin" and "fewest values" in bars[0]["description"]
    assert {f["column"] for f in board["filters"]} == {"time_hour", "origin"}


def test_a_role_correction_changes_the_next_dashboard(store, ada):
    mall = _dataset(store, ada, FIXTURES / "shopping_data.csv")
    before = {w["spec"]["title"] for w in store.dashboards.generate(ada, mall.id)["widgets"]}
    assert "Total Annual Income (k$)" in before and "Distribution of Age" in before
    # Income is averaged once a person says it does not add up; Age is a code to them.
    store.roles.set(ada, mall.id, "Annual Income (k$)", "measure")
    store.roles.set(ada, mall.id, "Age", "code")
    board = store.dashboards.generate(ada, mall.id)
    after = {w["spec"]["title"] for w in board["widgets"]}
    assert "Average Annual Income (k$)" in after and "Total Annual Income (k$)" not in after
    assert not any("Age" in aggregated_columns(w["spec"]) for w in board["widgets"])


@pytest.mark.parametrize("name", ["flights_sample.csv", "ggplot2_economics.csv", "ggplot2_diamonds.csv", "vgsales.csv"])
def test_a_sampled_dataset_is_described_without_the_samples_numbers(store, ada, name):
    """A live table's or live query's file is a sample (storage.dataset_sources): the
    proposal quotes none of its counts, ranges or dates, which the charts would contradict."""
    import re

    from analytics import dashboard_templates

    path = FIXTURES / "public" / name if (FIXTURES / "public" / name).exists() else FIXTURES / name
    dataset = _dataset(store, ada, path)
    roles, summary = store.roles.roles_for(dataset), store.roles.summary_for(dataset)
    plain = dashboard_templates.propose(dataset.name, dataset.schema, summary, dataset.id, roles)
    sampled = dashboard_templates.propose(dataset.name, dataset.schema, summary, dataset.id, roles, sampled=True)
    assert [w["spec"]["type"] for w in sampled["widgets"]] == [w["spec"]["type"] for w in plain["widgets"]]
    counts = re.compile(r"\d{1,3}(,\d{3})+|\b\d{4}-\d{2}-\d{2}\b|\bfrom -?[\d.]+ to\b")
    assert any(counts.search(w["spec"].get("description") or "") for w in plain["widgets"])
    quoted = [w["spec"]["description"] for w in sampled["widgets"] if counts.search(w["spec"].get("description") or "")]
    assert quoted == []
    assert not any("?" in (w["spec"].get("description") or "") for w in sampled["widgets"])
