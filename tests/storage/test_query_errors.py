"""A chart whose query fails says why in a person's words: a column a new version
dropped, a column whose type changed, the time limit; an internal failure is logged with
its context and shown with a reference to quote, never "see the server log"."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics.widgets import REGISTRY
from storage.errors import InvalidSpec
from storage.queries import ChartFailed, QueryService, QueryTimeout
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def vg(storage, ada):
    workspace = storage.workspaces.personal_workspace(ada).id
    return storage.datasets.create_from_file(ada, workspace, FIXTURES / "vgsales.csv", "vgsales.csv")


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
