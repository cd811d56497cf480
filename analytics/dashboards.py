"""Pure functions over a stored dashboard (the dict DashboardService answers): which tab
is shown and which widgets are on it. Shared by the pages, the callbacks and the
prefetch in storage."""
from __future__ import annotations


def resolve_tab(board: dict, tab_id: str | None) -> str | None:
    """The tab to show: the one asked for if the dashboard has it, else the first."""
    tabs = board.get("tabs") or []
    if tab_id in {t["id"] for t in tabs}:
        return tab_id
    return tabs[0]["id"] if tabs else None


def widgets_of_tab(board: dict, tab_id: str | None) -> list[dict]:
    tabs = board.get("tabs") or []
    first = tabs[0]["id"] if tabs else None
    return [w for w in board.get("widgets") or [] if (w.get("tab") or first) == (tab_id or first)]


def bottom_of(board: dict, tab_id: str | None) -> int:
    """The first free grid row below the widgets of a tab: where a new widget goes."""
    return max((w["layout"]["y"] + w["layout"]["h"] for w in widgets_of_tab(board, tab_id)), default=0)
