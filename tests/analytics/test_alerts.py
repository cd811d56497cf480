"""analytics.alerts, the pure part of alerts: the number a drawn widget shows for a
category, the condition, the state machine, and the message shapes (ours, Slack's,
Teams')."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.alerts import (
    chart_figure,
    change_since,
    check_widget_type,
    decide,
    evaluate,
    message,
    webhook_body,
    widget_value,
)
from errors import InvalidSpec

BAR = {"kind": "figure", "figure": {"data": [
    {"type": "bar", "x": ["North", "South"], "y": [10, 20], "name": "2023"},
    {"type": "bar", "x": ["North", "South"], "y": [1, 2], "name": "2024"}], "layout": {"barmode": "stack"}}}
HBAR = {"kind": "figure", "figure": {"data": [{"type": "bar", "orientation": "h", "y": ["a", "b"], "x": [3, 4]}]}}
LINE = {"kind": "figure", "figure": {"data": [{"type": "scatter", "x": ["2024-03-01T00:00:00"], "y": [7.5]}]}}
PIE = {"kind": "figure", "figure": {"data": [{"type": "pie", "labels": ["x", "y"], "values": [5, 6]}]}}
FUNNEL = {"kind": "figure", "figure": {"data": [{"type": "funnel", "y": ["visit", "buy"], "x": [100, 9]}]}}
TABLE = {"kind": "table", "columns": ["region", "n", "sum"], "rows": [["North", "n/a", 12.5], ["South", 3, 4]]}


@pytest.mark.parametrize("output, category, value", [
    (BAR, "North", 11), (BAR, "South", 22), (BAR, "West", None),
    (HBAR, "b", 4), (LINE, "2024-03-01", 7.5), (PIE, "y", 6), (FUNNEL, "buy", 9),
    (TABLE, "North", 12.5), (TABLE, "South", 3), (TABLE, "East", None),
])
def test_the_value_of_a_category(output, category, value):
    assert widget_value(output, category) == (value, None)


def test_a_kpi_has_its_value_and_its_change():
    assert widget_value({"kind": "kpi", "value": 4500, "delta_pct": -12.5}) == (4500.0, -12.5)
    assert widget_value({"kind": "kpi", "value": None}) == (None, None)
    with pytest.raises(InvalidSpec, match="still being computed"):
        widget_value({"kind": "pending"})
    with pytest.raises(InvalidSpec, match="no number"):
        widget_value({"kind": "markdown", "text": "x"})


def test_which_widgets_an_alert_can_watch():
    check_widget_type("kpi", None)
    check_widget_type("bar", "North")
    for kind, category, words in [("kpi", "x", "leave the category out"), ("bar", None, "Say which category"),
                                  ("bar", "  ", "Say which category"), ("heatmap", "x", "this widget is a heatmap")]:
        with pytest.raises(InvalidSpec, match=words):
            check_widget_type(kind, category)


@pytest.mark.parametrize("op, threshold, value, change, holds", [
    (">", 5, 6, None, True), (">", 5, 5, None, False), (">=", 5, 5, None, True), ("<", 5, 4.9, None, True),
    ("<=", 5, 5.1, None, False), ("<", 5, None, None, None),
    ("changes_by_pct", 20, 100, -25, True), ("changes_by_pct", 20, 100, 19.9, False),
    ("changes_by_pct", 20, 100, None, None),
])
def test_the_condition(op, threshold, value, change, holds):
    assert evaluate(op, threshold, value, change) is holds


def test_the_change_since_the_previous_check():
    assert change_since(90, 100) == -10
    assert change_since(5, 0) is None and change_since(None, 3) is None


@pytest.mark.parametrize("state, holds, mode, after", [
    ("unknown", False, "on_change", ("ok", None)),
    ("unknown", True, "on_change", ("triggered", "triggered")),
    ("ok", True, "on_change", ("triggered", "triggered")),
    ("triggered", True, "on_change", ("triggered", None)),
    ("triggered", True, "every_time", ("triggered", "repeated")),
    ("triggered", False, "every_time", ("ok", "recovered")),
    ("ok", False, "every_time", ("ok", None)),
    ("triggered", None, "on_change", ("triggered", None)),
])
def test_it_fires_once_and_recovers_once(state, holds, mode, after):
    assert decide(state, holds, mode) == after


ALERT = {"id": 7, "name": "Revenue below 5,000", "dashboard_id": 3, "widget_id": "k", "category": None,
         "condition": {"op": "<", "value": 5000.0}}
WHEN = dt.datetime(2026, 12, 4, 8, 30, tzinfo=dt.timezone.utc)


def test_the_message_says_what_happened():
    fired = message(ALERT, "triggered", 4500, None, WHEN, "Sales", "Revenue", "https://bi.example.com/dashboards/3")
    assert fired["text"] == "Revenue is 4,500, below 5,000" and fired["state"] == "triggered"
    assert fired["time"] == "2026-12-04T08:30:00+00:00" and fired["threshold"] == 5000.0
    back = message(ALERT, "recovered", 6000, None, WHEN, "Sales", "Revenue", None)
    assert back["text"] == "Back to normal: Revenue is 6,000, no longer below 5,000" and back["state"] == "ok"


def test_slack_and_teams_get_their_own_shapes():
    body = message(ALERT, "triggered", 4500, None, WHEN, "Sales", "Revenue", "https://bi.example.com/dashboards/3")
    assert webhook_body("https://example.com/hook", body) is body
    slack = webhook_body("https://hooks.slack.com/services/T0/B0/x", body)
    assert slack["text"].endswith("Revenue is 4,500, below 5,000")
    assert slack["blocks"][0]["type"] == "section" and "<https://bi.example.com/dashboards/3|" in \
        slack["blocks"][0]["text"]["text"]
    teams = webhook_body("https://contoso.webhook.office.com/webhookb2/x", body)
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["actions"][0]["url"].endswith("/3")
    assert {f["title"] for f in card["content"]["body"][2]["facts"]} == {"Value", "Condition", "Dashboard", "Time"}
    assert webhook_body("https://prod-01.westeurope.logic.azure.com/workflows/x", body)["type"] == "message"


def test_the_chart_of_the_email():
    kpi = chart_figure({"kind": "kpi", "value": 4500, "label": "Revenue"}, None, 5000, [])
    assert kpi["data"][0]["x"] == [4500] and kpi["layout"]["shapes"][0]["x0"] == 5000
    history = [(WHEN - dt.timedelta(hours=1), 8000.0), (WHEN, 4500.0)]
    drawn = chart_figure({"kind": "kpi", "value": 4500}, None, 5000, history)
    assert drawn["data"][0]["y"] == [8000.0, 4500.0] and drawn["layout"]["shapes"][0]["y0"] == 5000
    bars = chart_figure(BAR, "North", 15, [])
    assert len(bars["data"]) == 2 and bars["layout"]["barmode"] == "stack" and bars["layout"]["shapes"][0]["y0"] == 15
    assert chart_figure(HBAR, "a", 3, [])["layout"]["shapes"][0]["x0"] == 3  # along the values' axis
    assert chart_figure(PIE, "x", 3, [])["layout"]["shapes"] == []
    assert chart_figure({"kind": "table"}, "x", 1, []) is None
