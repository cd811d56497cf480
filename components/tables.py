"""Tables of account things: API tokens, workspace members, users. Pure rendering."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.forms import ROLE_OPTIONS


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


STATUS_COLORS = {"active": "success", "revoked": "secondary", "expired": "warning", "pending": "info"}


def tokens_table(tokens) -> html.Div:
    if not tokens:
        return html.P("You have no API tokens yet.", className="text-body-secondary mb-0", id="tokens-empty")
    rows = [
        html.Tr(
            [
                html.Td(t.name),
                html.Td(html.Code(t.prefix + "…")),
                html.Td(t.scope),
                html.Td(dbc.Badge(t.status, color=STATUS_COLORS.get(t.status, "secondary"))),
                html.Td(_when(t.created_at)),
                html.Td(_when(t.last_used_at)),
                html.Td(
                    dbc.Button("Revoke", id={"type": "token-revoke", "index": t.id}, color="danger", outline=True, size="sm")
                    if t.status == "active" else ""
                ),
            ]
        )
        for t in tokens
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Token", "Scope", "Status", "Created", "Last used", "")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="mb-0", id="tokens-table")


def sessions_table(sessions) -> dbc.Table:
    """The signed-in sessions of the account (storage.sessions.SignInSession)."""
    rows = [
        html.Tr([
            html.Td([s.user_agent or "Unknown browser",
                     dbc.Badge("this browser", color="primary", className="ms-2") if s.current else None]),
            html.Td(s.client_address or ""),
            html.Td(_when(s.created_at)),
            html.Td(_when(s.last_seen_at)),
        ])
        for s in sessions
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Browser", "Address", "Signed in", "Last seen")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="mb-3",
                     id="sessions-table")


def members_table(members, can_manage: bool, acting_user_id: int) -> dbc.Table:
    rows = []
    for m in members:
        if can_manage:
            role_cell = dbc.Select(
                id={"type": "member-role", "index": m.user_id},
                options=[{"label": o["value"].capitalize(), "value": o["value"]} for o in ROLE_OPTIONS],
                value=m.role.value,
                size="sm",
            )
            action = dbc.Button(
                "Leave" if m.user_id == acting_user_id else "Remove",
                id={"type": "member-remove", "index": m.user_id}, color="danger", outline=True, size="sm",
            )
        else:
            role_cell = m.role.value
            action = ""
        rows.append(html.Tr([html.Td(m.name), html.Td(m.email), html.Td(role_cell), html.Td(action)]))
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Email", "Role", "")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="mb-0", id="members-table")


def workspace_list(workspaces, current_id: int) -> dbc.ListGroup:
    """The person's workspaces with their role, marking personal and current ones."""
    return dbc.ListGroup(
        [
            dbc.ListGroupItem(
                [html.Span(w.name, className="fw-semibold"), " ",
                 dbc.Badge(w.role.value, color="primary" if w.role.value == "owner" else "secondary", className="ms-1"),
                 dbc.Badge("personal", color="light", text_color="dark", className="ms-1") if w.is_personal else None,
                 dbc.Badge("current", color="success", className="ms-1") if w.id == current_id else None],
            )
            for w in workspaces
        ]
    )


def members_panel(members, workspace, acting_user_id: int) -> list:
    """Members of ``workspace``, with management controls when the viewer owns it."""
    is_owner = workspace.role.value == "owner"
    parts = [members_table(members, is_owner, acting_user_id)]
    if not is_owner:
        parts.append(html.P(f"You are {workspace.role.with_article} here; only owners manage members.",
                            className="text-body-secondary small mt-2 mb-0"))
    return parts


def users_table(users, acting_user_id: int) -> dbc.Table:
    rows = []
    for u in users:
        toggle = ""
        if u.id != acting_user_id:
            toggle = dbc.Button(
                "Deactivate" if u.is_active else "Activate",
                id={"type": "user-active", "index": u.id},
                color="danger" if u.is_active else "success", outline=True, size="sm",
            )
        rows.append(
            html.Tr(
                [
                    html.Td(u.name),
                    html.Td(u.email),
                    html.Td("admin" if u.is_admin else "user"),
                    html.Td(dbc.Badge("active" if u.is_active else "inactive", color="success" if u.is_active else "secondary")),
                    html.Td(_when(u.last_login_at)),
                    html.Td(toggle),
                ]
            )
        )
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Email", "Kind", "Status", "Last sign-in", "")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="mb-0", id="users-table")


def invitations_list(invitations) -> html.Div:
    if not invitations:
        return html.P("No pending invitations.", className="text-body-secondary mb-0")
    return html.Ul(
        [
            html.Li([inv.email, " ", dbc.Badge(inv.status, color=STATUS_COLORS.get(inv.status, "secondary")),
                     html.Span(f" until {_when(inv.expires_at)}", className="text-body-secondary small")])
            for inv in invitations
        ],
        className="mb-0",
    )


def recipient_domains_panel(workspace) -> list:
    """Where the workspace's report mail may go besides its members: owners edit the list
    (comma-separated domains), others read it."""
    domains = ", ".join(workspace.allowed_recipient_domains)
    explain = html.P("Scheduled reports are mailed only to members of this workspace and to addresses in these "
                     "email domains. Empty: members only.", className="text-body-secondary small")
    if workspace.role.value != "owner":
        return [explain, html.P(domains or "Members only.", className="mb-0", id="workspace-domains-list")]
    return [explain, dbc.InputGroup([
        dbc.Input(id="workspace-domains", value=domains, placeholder="example.com, partner.org"),
        dbc.Button("Save domains", id="workspace-domains-save", color="primary", n_clicks=0)]),
        html.Div(id="workspace-domains-feedback", className="mt-3")]
