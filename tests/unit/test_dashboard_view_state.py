"""The dashboard's view state: cross-filters from clicks, drill-down steps, the URL, and
the filter controls read back into filter values."""
from callbacks.dashboard_view import _filters_from_controls, add_cross_filter
from storage.dashboard_views import DashboardViewService, cross_for, parse_view_state


def test_clicking_categories_replaces_and_toggles():
    cross = add_cross_filter([], "w1", {"column": "Genre", "op": "=", "value": "Sports"})
    assert cross == [{"column": "Genre", "op": "=", "value": "Sports", "source": "w1"}]
    cross = add_cross_filter(cross, "w1", {"column": "Genre", "op": "=", "value": "Action"})
    assert [c["value"] for c in cross] == ["Action"]  # another bar of the same chart replaces
    cross = add_cross_filter(cross, "w2", {"column": "Platform", "op": "=", "value": "Wii"})
    assert [(c["source"], c["value"]) for c in cross] == [("w1", "Action"), ("w2", "Wii")]
    cross = add_cross_filter(cross, "w1", {"column": "Genre", "op": "=", "value": "Action"})
    assert [(c["source"], c["value"]) for c in cross] == [("w2", "Wii")]  # the same bar again clears


def test_clicking_periods_drills_in_step_by_step():
    cross = add_cross_filter([], "t", {"column": "Date", "op": "=", "value": "2011", "grain": "year"})
    cross = add_cross_filter(cross, "t", {"column": "Date", "op": "=", "value": "2011-03", "grain": "month"})
    assert [c["grain"] for c in cross] == ["year", "month"]
    spec = {"type": "line", "x": "Date", "time_grain": "year"}
    drilled = DashboardViewService.viewed_spec({"id": "t"}, spec, [{"name": "Date", "type": "date"}],
                                                {"filters": []}, {}, cross)
    assert drilled["time_grain"] == "month"  # two steps: year -> quarter -> month
    other = DashboardViewService.viewed_spec({"id": "other"}, spec, [{"name": "Date", "type": "date"}],
                                              {"filters": []}, {}, cross)
    assert other["time_grain"] == "year"


def test_cross_filters_skip_the_clicked_chart_and_unknown_columns():
    cross = [{"column": "Genre", "op": "=", "value": "Sports", "source": "bar"},
             {"column": "Date", "op": "=", "value": "2011", "grain": "year", "source": "line"},
             {"column": "Missing", "op": "=", "value": 1, "source": "x"}]
    types = {"Genre": "text", "Date": "date"}
    assert cross_for("bar", cross, types) == [{"column": "Date", "op": "=", "value": "2011", "grain": "year"}]
    # The clicked time chart keeps its period filter: it shows the period it drilled into.
    assert [c["column"] for c in cross_for("line", cross, types)] == ["Genre", "Date"]


def test_url_state_ignores_what_it_cannot_read():
    assert parse_view_state('{"p": ["Wii"]}', '[{"column": "Genre"}]', "t2") == {
        "filters": {"p": ["Wii"]}, "cross": [{"column": "Genre"}], "tab": "t2"}
    assert parse_view_state("not json", "{}", None) == {"filters": {}, "cross": [], "tab": None}
    assert len(parse_view_state(None, "[" + ",".join(["{}"] * 50) + "]")["cross"]) == 10


def test_filter_controls_read_back_into_values():
    def item(kind, index, prop):
        return {"id": {"type": kind, "index": index}, "property": prop}

    inputs = [[item("dash-filter-select", "p", "value")], [item("dash-filter-dates", "d", "start_date")],
              [item("dash-filter-dates", "d", "end_date")], [item("dash-filter-min", "n", "value")],
              [item("dash-filter-max", "n", "value")]]
    values = _filters_from_controls(inputs, [[["Wii"]], ["2010-01-01"], [None], [None], [None]])
    assert values == {"p": ["Wii"], "d": ["2010-01-01", None], "n": None}


def test_the_editor_keeps_a_computed_value():
    """A template's revenue (Quantity × UnitPrice) is offered in the picker as JSON text and
    saved back as the computed value, not as a column named like JSON."""
    from analytics.widgets import widget_type
    from callbacks.dashboard_editor import spec_from_form
    from components.widget_editor import field_control

    revenue = {"expr": "mul", "columns": ["Quantity", "UnitPrice"]}
    y_field = next(f for f in widget_type("kpi").fields if f.name == "y")
    picker = field_control(y_field, [{"name": "Quantity", "type": "integer"}], revenue).children[1]
    assert picker.options[0]["label"] == "Quantity × UnitPrice (computed)"
    states = [{"id": {"type": "editor-field", "index": "y"}, "value": picker.value},
              {"id": {"type": "editor-field", "index": "agg"}, "value": "sum"}]
    assert spec_from_form("kpi", 3, "Revenue", None, states) == {
        "type": "kpi", "dataset_id": 3, "title": "Revenue", "y": revenue, "agg": "sum"}
