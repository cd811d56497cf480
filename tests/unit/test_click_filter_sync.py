"""Pure helpers behind 'a click on a bar also sets the filter dropdown on its column'
(callbacks/dashboard_view.py)."""
from callbacks.dashboard_view import (
    add_cross_filter,
    cross_after_filter_change,
    filters_after_clicks,
    select_filter_columns,
    select_values,
)

BOARD = {"filters": [
    {"id": "g", "column": "Genre", "kind": "multi_select"},
    {"id": "m", "column": "month", "kind": "multi_select"},
    {"id": "d", "column": "Date", "kind": "date_range"},
    {"id": "n", "column": "Sales", "kind": "numeric_range"},
]}


def click(cross, source, column, value, **extra):
    return add_cross_filter(cross, source, {"column": column, "op": "=", "value": value, **extra})


def test_only_multi_select_filters_follow_clicks():
    assert select_filter_columns(BOARD) == {"Genre": "g", "month": "m"}
    assert select_filter_columns({}) == {} and select_filter_columns({"filters": [{"kind": "multi_select"}]}) == {}


def test_a_click_selects_its_value_and_clearing_it_unselects():
    before = []
    after = click(before, "bar", "Genre", "Sports")
    filters = filters_after_clicks(BOARD, {"g": ["Action", "Puzzle"], "n": [1, 5]}, before, after)
    assert filters == {"g": ["Sports"], "n": [1, 5]}  # the click is the choice; other filters stay
    # Another bar of the same chart replaces the choice.
    other = click(after, "bar", "Genre", "Racing")
    assert filters_after_clicks(BOARD, filters, after, other) == {"g": ["Racing"], "n": [1, 5]}
    # The same bar again (or its chip) clears it.
    cleared = click(other, "bar", "Genre", "Racing")
    assert cleared == []
    assert filters_after_clicks(BOARD, {"g": ["Racing"], "n": [1, 5]}, other, cleared) == {"g": None, "n": [1, 5]}


def test_numbers_keep_their_type_and_other_columns_and_drill_steps_are_left_alone():
    after = click([], "line", "month", 3)
    assert filters_after_clicks(BOARD, {}, [], after) == {"m": [3]}
    assert filters_after_clicks(BOARD, {}, [], click([], "bar", "Platform", "Wii")) == {}
    drill = click([], "line", "Date", "2011", grain="year")
    assert filters_after_clicks(BOARD, {"d": ["2011-01-01", None]}, [], drill) == {"d": ["2011-01-01", None]}
    assert filters_after_clicks(BOARD, {}, [], click([], "bar", "Genre", None)) == {}


def test_a_dropdown_changed_by_hand_takes_its_columns_chips_away():
    cross = click(click([], "bar", "Genre", "Sports"), "pie", "Platform", "Wii")
    kept = cross_after_filter_change(BOARD, cross, {"g": ["Sports"]}, {"g": ["Sports", "Racing"]})
    assert [c["column"] for c in kept] == ["Platform"]
    assert cross_after_filter_change(BOARD, cross, {"g": ["Sports"]}, {"g": ["Sports"], "n": [1, None]}) == cross
    # A filter missing from one side and empty on the other did not change.
    assert cross_after_filter_change(BOARD, cross, {}, {"g": None, "m": None}) == cross


def test_dropdown_values_follow_the_matched_outputs():
    outputs = [{"id": {"type": "dash-filter-select", "index": "g"}}, {"id": {"type": "dash-filter-select", "index": "m"}}]
    assert select_values(outputs, {"g": ["Sports"], "m": None}) == [["Sports"], []]
    assert select_values([], {"g": ["Sports"]}) == []
