"""The Profile tab: poll the profile while it is computed (with a Cancel button), then
show it; filter the column cards; switch the correlation method; compute again after a
failure or a cancel. Every callback takes the acting principal and reads through
storage.profiles, which checks access (a crafted post for someone else's dataset gets
the NotFound message)."""
from __future__ import annotations

from dash import Input, Output, State, html, no_update

from analytics.profiling import figures
from components.feedback import error_alert
from components.profile import (
    column_cards,
    correlation_block,
    profile_failed,
    profile_progress,
    profile_view,
)
from storage.errors import DataInsightError
from storage.principal import Role
from web.context import current_storage, require_principal


def matching_columns(profile: dict, search: str | None, kind: str | None, alert: str | None) -> list[dict]:
    needle = (search or "").strip().lower()
    found = []
    for col in profile["columns"]:
        if needle and needle not in col["name"].lower():
            continue
        if kind and kind != "all" and col["kind"] != kind:
            continue
        alerts = col.get("alerts") or []
        if alert == "any" and not alerts:
            continue
        if alert and alert not in ("all", "any") and alert not in alerts:
            continue
        found.append(col)
    return found


def _ready_profile(dataset_id):
    """(profile, None) when ready, or (None, what to show instead)."""
    principal = require_principal()
    try:
        profile = current_storage().profiles.get(principal, dataset_id)
    except DataInsightError as exc:
        return None, error_alert(exc.message)
    if profile["status"] != "ready":
        return None, None
    return profile, None


def _is_editor(principal, dataset_id) -> bool:
    """Whether to offer Compute again and Cancel (storage refuses both to viewers anyway)."""
    return current_storage().datasets.get(principal, dataset_id).role.at_least(Role.EDITOR)


def _failed(principal, dataset_id, profile: dict):
    return profile_failed(profile["message"], profile.get("cancelled", False), _is_editor(principal, dataset_id))


def register(app) -> None:
    @app.callback(
        Output("profile-body", "children"),
        Output("profile-poll", "disabled"),
        Input("dataset-tabs", "active_tab"),
        Input("profile-poll", "n_intervals"),
        State("dataset-id", "data"),
    )
    def load_profile(active_tab, _ticks, dataset_id):
        if active_tab != "profile":
            return no_update, True
        principal = require_principal()
        try:
            profile = current_storage().profiles.get(principal, dataset_id)
        except DataInsightError as exc:
            return error_alert(exc.message), True
        if profile["status"] == "running":
            return profile_progress(profile["progress"], profile["message"], _is_editor(principal, dataset_id)), False
        if profile["status"] == "failed":
            return _failed(principal, dataset_id, profile), True
        method = "pearson" if (profile.get("correlations") or {}).get("pearson") else \
            next((m for m in ("spearman", "cramers_v") if (profile.get("correlations") or {}).get(m)), "pearson")
        return profile_view(profile, dataset_id, profile["columns"], figures.heatmap_figure(profile, method), method), True

    @app.callback(
        Output("profile-cards", "children"),
        Input("profile-search", "value"),
        Input("profile-type-filter", "value"),
        Input("profile-alert-filter", "value"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def filter_cards(search, kind, alert, dataset_id):
        profile, instead = _ready_profile(dataset_id)
        if profile is None:
            return instead or no_update
        return column_cards(matching_columns(profile, search, kind, alert), len(profile["columns"]))

    @app.callback(
        Output("profile-heatmap", "children"),
        Input("profile-corr-method", "value"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def switch_heatmap(method, dataset_id):
        if method not in figures.METHOD_LABELS:
            return no_update
        profile, instead = _ready_profile(dataset_id)
        if profile is None:
            return instead or no_update
        return correlation_block(profile, method, figures.heatmap_figure(profile, method))

    @app.callback(
        Output("profile-body", "children", allow_duplicate=True),
        Output("profile-poll", "disabled", allow_duplicate=True),
        Input("profile-retry", "n_clicks"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def compute_again(clicks, dataset_id):
        if not clicks:
            return no_update, no_update
        principal = require_principal()
        try:
            profile = current_storage().profiles.refresh(principal, dataset_id)
        except DataInsightError as exc:
            return html.Div([error_alert(exc.message)]), True
        return profile_progress(profile["progress"], profile["message"]), False

    @app.callback(
        Output("profile-body", "children", allow_duplicate=True),
        Output("profile-poll", "disabled", allow_duplicate=True),
        Output("profile-cancel-feedback", "children"),
        Input("profile-cancel", "n_clicks"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def cancel(clicks, dataset_id):
        if not clicks:
            return no_update, no_update, no_update
        principal = require_principal()
        try:
            profile = current_storage().profiles.cancel(principal, dataset_id)
        except DataInsightError as exc:
            # Nothing left to cancel (it just finished) or not allowed: say so, keep polling.
            return no_update, no_update, error_alert(exc.message)
        if profile["status"] == "running":  # stops at its next step; the poll shows it
            return no_update, False, no_update
        return _failed(principal, dataset_id, profile), True, no_update
