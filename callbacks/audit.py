"""The audit page: filters in, a page of entries out. storage.audit decides who may read
what; a crafted workspace id gets its refusal, shown in place."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, html

from components.feedback import error_alert
from storage.errors import DataInsightError
from web.context import current_storage, require_principal

PAGE = 100


def _day(value, plus_days: int = 0):
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=plus_days)


def _target(entry: dict) -> str:
    target = entry.get("target") or {}
    if not target:
        return ""
    name = target.get("name") or f"#{target.get('id')}"
    return f"{target.get('type')} {name}"


def entries_table(entries: list[dict]) -> html.Div:
    if not entries:
        return html.P("No entries match these filters.", className="text-body-secondary", id="audit-empty")
    head = html.Thead(html.Tr([html.Th(h) for h in ("When (UTC)", "Who", "What", "Object", "From", "Details")]))
    rows = []
    for entry in entries:
        detail = ", ".join(f"{k}: {v}" for k, v in (entry.get("detail") or {}).items() if v not in (None, "", []))
        who = entry["actor"] + (" (API token)" if entry.get("actor_token_id") else "")
        rows.append(html.Tr([html.Td(entry["at"][:19].replace("T", " "), className="text-nowrap"), html.Td(who),
                             html.Td(entry["action"], className="text-nowrap"),
                             html.Td(_target(entry)), html.Td(entry.get("address") or ""),
                             html.Td(detail, className="small text-body-secondary")]))
    return html.Div(dbc.Table([head, html.Tbody(rows)], striped=True, hover=True, size="sm", className="mb-0"),
                    className="table-responsive", id="audit-table")


def register(app) -> None:
    @app.callback(
        Output("audit-entries", "children"),
        Output("audit-before", "data"),
        Output("audit-older", "style"),
        Input("audit-workspace", "value"),
        Input("audit-actor", "value"),
        Input("audit-action", "value"),
        Input("audit-since", "date"),
        Input("audit-until", "date"),
        Input("audit-older", "n_clicks"),
        State("audit-before", "data"),
    )
    def show(workspace, actor, action, since, until, _older, before):
        principal = require_principal()
        older = ctx.triggered_id == "audit-older"
        try:
            page = current_storage().audit.entries(
                principal, workspace_id=None if workspace in (None, "", "all") else workspace,
                actor=actor if isinstance(actor, str) and actor.strip() else None,
                action=action if isinstance(action, str) and action not in ("", "all") else None,
                since=_day(since), until=_day(until, plus_days=1),
                before_id=before if older and isinstance(before, int) else None, limit=PAGE)
        except (DataInsightError, ValueError, TypeError) as exc:
            return error_alert(getattr(exc, "message", "Choose a workspace you own")), None, {"display": "none"}
        more = page["next_before_id"]  # "Older entries" shows the next page in place of this one
        return entries_table(page["entries"]), more, None if more else {"display": "none"}
