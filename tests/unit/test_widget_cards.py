"""The widget card and the dashboard grid as components: the description line under the
title, the KPI's length for its CSS sizing, cards in reading order (the stacked column on a
phone follows it) and public table cards tall enough for a whole page of rows."""
from components.dashboards import GRID_ROW_HEIGHT, grid_layout, reading_order
from components.widgets import TABLE_ROW_PX, table_height_px, widget_body, widget_card


def find(component, class_name):
    """Every component under ``component`` whose className has ``class_name``."""
    found = []
    if class_name in (getattr(component, "className", None) or "").split():
        found.append(component)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found += find(child, class_name)
    return found


def card(spec):
    return widget_card({"id": "w1", "spec": spec}, None, editable=False, body_id={"type": "b", "index": "w1"})


def test_the_description_is_one_muted_line_with_the_whole_text_on_hover():
    text = "Average departure delay by carrier:   delays are a rate,\nso they are averaged, not summed."
    rendered = card({"title": "Average departure delay by carrier", "description": text})
    [line] = find(rendered, "widget-description")
    assert line.children == " ".join(text.split())  # one line, whitespace folded
    assert line.title == line.children
    assert "text-body-secondary" in line.className
    [title] = find(rendered, "widget-title")
    assert title.children == "Average departure delay by carrier" and title.title == title.children


def test_no_description_no_empty_line():
    assert find(card({"title": "Rows"}), "widget-description") == []
    assert find(card({"title": "Rows", "description": "   "}), "widget-description") == []


def test_a_kpi_value_carries_its_length_for_the_css_that_fits_it():
    body = widget_body({"kind": "kpi", "value": 336776, "format": None, "label": "Flights"}, {"index": "g"})
    [value] = find(body, "kpi-value")
    assert value.children == "336,776" and value.style == {"--kpi-chars": 7}


def test_cards_come_in_reading_order():
    widgets = [{"id": i, "layout": {"x": x, "y": y, "w": 3, "h": 3}}
               for i, x, y in (("c", 6, 3), ("a", 0, 0), ("d", 0, 6), ("b", 6, 0), ("e", 3, 3))]
    assert [w["id"] for w in reading_order(widgets)] == ["a", "b", "e", "c", "d"]
    assert [w["id"] for w in reading_order([{"id": "x", "layout": {}}, {"id": "y", "layout": {"y": 1}}])] == ["x", "y"]


def test_public_table_cards_hold_a_whole_page_of_rows():
    widgets = [{"id": "t", "layout": {"x": 0, "y": 0, "w": 6, "h": 3},
                "spec": {"type": "table", "page_size": 25}},
               {"id": "k", "layout": {"x": 6, "y": 0, "w": 3, "h": 3}, "spec": {"type": "kpi"}},
               {"id": "big", "layout": {"x": 0, "y": 3, "w": 6, "h": 20}, "spec": {"type": "table", "page_size": 5}}]
    private = {item["i"]: item["h"] for item in grid_layout(widgets)}
    public = {item["i"]: item["h"] for item in grid_layout(widgets, fit_tables=True)}
    assert private == {"t": 3, "k": 3, "big": 20}  # an editor's sizes stay as they are
    pixels = public["t"] * GRID_ROW_HEIGHT + (public["t"] - 1) * 12
    assert pixels >= table_height_px(25) >= 26 * TABLE_ROW_PX
    assert pixels - table_height_px(25) < GRID_ROW_HEIGHT + 12  # no more than one row of slack
    assert public["k"] == 3 and public["big"] == 20  # only grows, and only tables
    # A table without a page size takes the table type's default (25 rows).
    default = grid_layout([{"id": "d", "layout": {"h": 2}, "spec": {"type": "table"}}], fit_tables=True)
    assert default[0]["h"] == public["t"]


def test_a_long_kpi_value_is_compact_with_the_whole_number_on_hover():
    from analytics.widgets.formatting import compact_number, format_number
    value = 50_440_465_801
    output = {"kind": "kpi", "value": value, "format": ",.0f", "value_text": format_number(value, ",.0f"),
              "value_compact": compact_number(value, ",.0f")}
    [shown] = find(widget_body(output, "g"), "kpi-value")
    assert (shown.children, shown.title) == ("50.4B", "50,440,465,801")
    short = {"kind": "kpi", "value": 336_776, "format": ",.0f", "value_text": "336,776", "value_compact": "336.8K"}
    [shown] = find(widget_body(short, "g"), "kpi-value")
    assert (shown.children, shown.title) == ("336,776", None)


def test_table_cells_follow_the_widgets_column_formats():
    output = {"kind": "table", "columns": ["Year", "Sales"], "rows": [[2013, 9952.0], [2014, 10086.02]],
              "formats": ["d", ",.2f"], "total": 2, "page": 0, "page_size": 10}
    cells = [td.children for td in find_all_td(widget_body(output, "g"))]
    assert cells == ["2013", "9,952.00", "2014", "10,086.02"]


def find_all_td(component):
    from dash import html
    found = [component] if isinstance(component, html.Td) else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found += find_all_td(child)
    return found
