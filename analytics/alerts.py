"""Alerts, the pure part: which number of a drawn widget an alert watches, whether its
condition holds, and the messages a change of state sends (email text, webhook JSON in
our shape, Slack's and Microsoft Teams' shapes).

A KPI widget has one number (and, when it compares periods, its change in per cent). Any
other widget that draws categories (bar, line, area, pie, funnel charts; tables, by their
first column) is watched for one category: the value drawn for it, summed over the
series when there are several (a stacked bar's height).
"""
from __future__ import annotations

import datetime as dt
import math
from urllib.parse import urlsplit

from analytics.widgets.formatting import format_number
from errors import InvalidSpec

OPS = (">", ">=", "<", "<=", "changes_by_pct")
OP_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
CATEGORY_TYPES = ("bar", "line", "area", "pie", "funnel", "table")


def check_widget_type(widget_type: str, category) -> None:
    """Refuse an alert its widget cannot answer: a KPI has one number (no category); a
    chart or a table needs the category to watch."""
    if widget_type == "kpi":
        if category is not None:
            raise InvalidSpec("A KPI widget shows one number: leave the category out")
        return
    if widget_type not in CATEGORY_TYPES:
        raise InvalidSpec(f"Alerts watch a KPI widget, or one category of a bar, line, area, pie, funnel or table "
                          f"widget; this widget is a {widget_type}")
    if category is None or (isinstance(category, str) and not category.strip()):
        raise InvalidSpec("Say which category to watch (a bar's label, a line's date, a table's first cell)",
                          details={"field": "category"})


def _same(drawn, category) -> bool:
    """Does a drawn label match the category the person typed? Dates drawn as
    2024-03-01T00:00:00 match 2024-03-01; numbers match their text."""
    if drawn is None:
        return False
    text, wanted = str(drawn), str(category).strip()
    if text == wanted:
        return True
    if len(text) >= 19 and text[10] == "T" and text[11:19] == "00:00:00" and text[:10] == wanted:
        return True
    try:
        return float(text) == float(wanted)
    except ValueError:
        return False


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def widget_value(output: dict, category=None) -> tuple[float | None, float | None]:
    """(value, change in per cent or None) of a drawn widget (QueryService.render_on's
    output); value None when the widget has no number for ``category``."""
    kind = output.get("kind")
    if kind == "kpi":
        return _number(output.get("value")), _number(output.get("delta_pct"))
    if kind == "table":
        for row in output.get("rows") or []:
            if row and _same(row[0], category):
                return next((n for n in map(_number, row[1:]) if n is not None), None), None
        return None, None
    if kind == "figure":
        found = []
        for trace in (output.get("figure") or {}).get("data") or []:
            if trace.get("type") == "pie":
                keys, values = trace.get("labels") or [], trace.get("values") or []
            elif trace.get("type") == "funnel" or trace.get("orientation") == "h":
                keys, values = trace.get("y") or [], trace.get("x") or []
            else:
                keys, values = trace.get("x") or [], trace.get("y") or []
            found += [_number(v) for k, v in zip(keys, values) if _same(k, category)]
        found = [v for v in found if v is not None]
        return (sum(found) if found else None), None
    if kind == "pending":
        raise InvalidSpec("The widget's analysis is still being computed; the next check will read it")
    raise InvalidSpec("This widget shows no number an alert can watch")


def evaluate(op: str, threshold: float, value: float | None, change_pct: float | None) -> bool | None:
    """Whether the condition holds: True, False, or None when it cannot be told (no value;
    a change with nothing to compare with)."""
    if op == "changes_by_pct":
        return None if change_pct is None else abs(change_pct) >= threshold
    if value is None:
        return None
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold,
            "<=": value <= threshold}[op]


def change_since(value: float | None, previous: float | None) -> float | None:
    """The change in per cent from the previous check's value (for changes_by_pct on a
    widget that does not compare periods itself)."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous) * 100


def condition_text(op: str, threshold: float, fmt: str = "") -> str:
    if op == "changes_by_pct":
        return f"changes by {format_number(threshold, '')}% or more"
    return f"{OP_WORDS[op]} {format_number(threshold, fmt)}"


def decide(state: str, holds: bool | None, send_mode: str) -> tuple[str, str | None]:
    """(new state, event to send or None) after a check. An alert sends when its condition
    becomes true ("triggered"), once more when it becomes false ("recovered", back to
    normal), and with ``every_time`` also on every check while it stays true ("repeated").
    A first check that finds everything normal sends nothing."""
    if holds is None:
        return state, None
    if holds:
        if state != "triggered":
            return "triggered", "triggered"
        return "triggered", "repeated" if send_mode == "every_time" else None
    if state == "triggered":
        return "ok", "recovered"
    return "ok", None


# --- messages ------------------------------------------------------------------------------


def message(alert: dict, event: str, value: float | None, change_pct: float | None, when: dt.datetime,
            dashboard_name: str, widget_title: str, link: str | None, fmt: str = "") -> dict:
    """What every channel says about one event, as our webhook's JSON body."""
    subject_value = format_number(value, fmt) if value is not None else "no value"
    what = widget_title + (f" · {alert['category']}" if alert.get("category") is not None else "")
    condition = condition_text(alert["condition"]["op"], alert["condition"]["value"], fmt)
    if event == "recovered":
        headline = f"Back to normal: {what} is {subject_value}, no longer {condition}"
    else:
        headline = f"{what} is {subject_value}, {condition}"
    if alert["condition"]["op"] == "changes_by_pct" and change_pct is not None:
        headline += f" (changed by {change_pct:+.1f}%)"
    return {
        "alert": {"id": alert["id"], "name": alert["name"]},
        "dashboard": {"id": alert["dashboard_id"], "name": dashboard_name},
        "widget": {"id": alert["widget_id"], "title": widget_title},
        "category": alert.get("category"),
        "value": value, "value_text": subject_value, "change_pct": change_pct,
        "threshold": alert["condition"]["value"], "condition": alert["condition"],
        "state": "ok" if event == "recovered" else "triggered", "event": event,
        "time": when.astimezone(dt.timezone.utc).isoformat(), "link": link, "text": headline,
    }


def is_slack(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "hooks.slack.com" or host.endswith(".hooks.slack.com")


def is_teams(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return (host.endswith(".webhook.office.com") or host == "outlook.office.com"
            or host.endswith(".logic.azure.com") or host.endswith(".powerplatform.com"))


def webhook_body(url: str, body: dict) -> dict:
    """The JSON a webhook URL gets: Slack's and Teams' incoming webhooks want their own
    message shapes; any other URL gets ours whole."""
    title = f"{'✅' if body['event'] == 'recovered' else '🔔'} {body['alert']['name']}"
    facts = [("Value", body["value_text"]), ("Condition", condition_text(body["condition"]["op"],
                                                                           body["condition"]["value"])),
             ("Dashboard", body["dashboard"]["name"]), ("Time", body["time"][:16].replace("T", " ") + " UTC")]
    if is_slack(url):
        text = f"*{title}*\n{body['text']}" + (f"\n<{body['link']}|Open the dashboard>" if body["link"] else "")
        return {"text": f"{title}: {body['text']}",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                           {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{k}:* {v}"}
                                                            for k, v in facts]}]}
    if is_teams(url):
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": title, "wrap": True},
                         {"type": "TextBlock", "text": body["text"], "wrap": True},
                         {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]}]}
        if body["link"]:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the dashboard", "url": body["link"]}]
        return {"type": "message", "summary": f"{title}: {body['text']}",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    return body


def chart_figure(output: dict, category, threshold: float | None, history: list[tuple[dt.datetime, float]]) -> dict | None:
    """A small chart for the email: the KPI's sparkline, else the values of the recent
    checks, with the threshold as a dashed line; a chart widget is drawn as it is, its
    category's bar or point marked. None when there is nothing worth drawing."""
    line = [] if threshold is None else [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": threshold,
                                          "y1": threshold, "line": {"color": "#dc3545", "dash": "dash", "width": 2}}]
    layout = {"width": 560, "height": 220, "margin": {"l": 50, "r": 20, "t": 10, "b": 40}, "showlegend": False,
              "paper_bgcolor": "white", "plot_bgcolor": "white", "shapes": line,
              "xaxis": {"gridcolor": "#eee"}, "yaxis": {"gridcolor": "#eee"}}
    if output.get("kind") == "kpi":
        sparkline = output.get("sparkline") or {}
        traces = sparkline.get("data") or []
        if traces:
            return {"data": [{**t, "fill": "none", "line": {"width": 2, "color": "#0d6efd"}} for t in traces],
                    "layout": layout}
        if len(history) >= 2:
            xs = [when.isoformat() for when, _ in history]
            return {"data": [{"type": "scatter", "mode": "lines+markers", "x": xs, "y": [v for _, v in history],
                              "line": {"color": "#0d6efd"}}], "layout": layout}
        value = _number(output.get("value"))
        if value is None:
            return None
        # One number and nothing before it: the value as a bar against the threshold.
        vertical = [] if threshold is None else [{**line[0], "xref": "x", "yref": "paper", "x0": threshold,
                                                  "x1": threshold, "y0": 0, "y1": 1}]
        return {"data": [{"type": "bar", "orientation": "h", "x": [value], "y": [output.get("label") or "Value"],
                          "marker": {"color": "#0d6efd"}}],
                "layout": {**layout, "height": 140, "shapes": vertical, "yaxis": {"visible": False}}}
    if output.get("kind") == "figure":
        figure = output.get("figure") or {}
        own = dict(figure.get("layout") or {})
        for key in ("width", "height", "margin", "shapes"):
            own.pop(key, None)
        traces = figure.get("data") or []
        if any(t.get("type") in ("pie", "funnel") for t in traces) or threshold is None:
            line = []
        elif any(t.get("orientation") == "h" for t in traces):  # the values run along x
            line = [{**line[0], "xref": "x", "yref": "paper", "x0": threshold, "x1": threshold, "y0": 0, "y1": 1}]
        return {"data": traces, "layout": {**own, **layout, "shapes": line}}
    return None
