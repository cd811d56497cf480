"""Dashboards in storage: create, read, change, copy, delete; roles; widget specs checked
against their datasets on save; share links by hash; generated dashboards."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.dashboards import SHARE_PRINCIPAL
from storage.errors import Forbidden, InvalidInput, InvalidSpec, NotFound
from storage.tables import dashboard_shares
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


@pytest.fixture
def workspace(storage, ada):
    return storage.workspaces.personal_workspace(ada).id


def load(storage, principal, workspace, name, filename=None):
    return storage.datasets.create_from_file(principal, workspace, FIXTURES / name, filename or name)


@pytest.fixture
def vg(storage, ada, workspace):
    return load(storage, ada, workspace, "vgsales.csv")


def widget(dataset, **spec):
    return {"spec": {"dataset_id": dataset.id, **spec}}


def test_create_get_list_update_delete(storage, ada, workspace, vg):
    board = storage.dashboards.create(ada, workspace, {
        "name": "  Sales  ", "description": "By genre",
        "widgets": [widget(vg, type="bar", x="Genre", y="Global_Sales", agg="sum"),
                    {"id": "note", "spec": {"type": "markdown", "text": "Hello"}, "layout": {"x": 6, "y": 0, "w": 6, "h": 2}}],
        "filters": [{"id": "p", "column": "Platform", "kind": "multi_select", "value": None}],
    })
    assert {"id", "workspace_id", "name", "description", "tabs", "widgets", "filters", "shared", "created_at",
            "updated_at", "role"} <= set(board)
    assert (board["name"], board["description"], board["shared"], board["role"]) == ("Sales", "By genre", False, "owner")
    assert board["tabs"] == [{"id": "main", "title": "Overview"}]
    first, note = board["widgets"]
    assert first["spec"]["dataset_id"] == vg.id and first["spec"]["version"] == 1 and first["spec"]["limit"] == 20
    assert first["layout"] == {"x": 0, "y": 0, "w": 6, "h": 4} and first["tab"] == "main" and first["id"]
    assert note["id"] == "note" and note["layout"] == {"x": 6, "y": 0, "w": 6, "h": 2}
    assert storage.dashboards.get(ada, board["id"]) == board
    assert [b["id"] for b in storage.dashboards.list(ada, workspace)] == [board["id"]]

    changed = storage.dashboards.update(ada, board["id"], {
        "name": "Renamed", "tabs": [{"id": "main", "title": "One"}, {"id": "two", "title": "Two"}],
        "widgets": [{**first, "layout": {"x": 0, "y": 3, "w": 12, "h": 5}, "tab": "two"}]})
    assert changed["name"] == "Renamed" and len(changed["widgets"]) == 1
    assert changed["widgets"][0]["layout"] == {"x": 0, "y": 3, "w": 12, "h": 5} and changed["widgets"][0]["tab"] == "two"
    assert storage.dashboards.get(ada, board["id"])["widgets"] == changed["widgets"]  # kept server-side
    with pytest.raises(InvalidInput, match="tab 'two'"):
        storage.dashboards.update(ada, board["id"], {"tabs": [{"id": "main", "title": "One"}]})

    storage.dashboards.delete(ada, board["id"])
    with pytest.raises(NotFound):
        storage.dashboards.get(ada, board["id"])


def test_duplicate_copies_widgets_but_not_the_share(storage, ada, workspace, vg):
    board = storage.dashboards.create(ada, workspace, {"name": "A", "widgets": [widget(vg, type="kpi", agg="count")]})
    storage.dashboards.share(ada, board["id"])
    copy = storage.dashboards.duplicate(ada, board["id"])
    assert copy["id"] != board["id"] and copy["name"] == "Copy of A" and copy["shared"] is False
    assert [w["spec"] for w in copy["widgets"]] == [w["spec"] for w in board["widgets"]]


def test_widget_specs_are_checked_on_save(storage, ada, bob, workspace, vg):
    with pytest.raises(InvalidSpec, match="Widget 'Top': There is no column 'Nope'"):
        storage.dashboards.create(ada, workspace, {"name": "x", "widgets": [
            widget(vg, type="bar", x="Nope", agg="count", title="Top")]})
    with pytest.raises(InvalidSpec, match="needs a dataset_id"):
        storage.dashboards.create(ada, workspace, {"name": "x", "widgets": [{"spec": {"type": "kpi", "agg": "count"}}]})
    with pytest.raises(InvalidInput, match="layout's w"):
        storage.dashboards.create(ada, workspace, {"name": "x", "widgets": [
            {**widget(vg, type="kpi", agg="count"), "layout": {"x": 0, "y": 0, "w": 0, "h": 2}}]})
    with pytest.raises(InvalidInput, match="Give the dashboard a name"):
        storage.dashboards.create(ada, workspace, {"name": " "})
    with pytest.raises(InvalidSpec, match="Unknown dashboard filter kind"):
        storage.dashboards.create(ada, workspace, {"name": "x", "filters": [{"id": "a", "column": "Genre",
                                                                             "kind": "sql", "value": None}]})
    # A dataset of another workspace, even one the person can read, is refused.
    team = storage.workspaces.create(ada, "Team").id
    other = load(storage, ada, team, "shopping_data.csv")
    with pytest.raises(InvalidSpec, match="another workspace"):
        storage.dashboards.create(ada, workspace, {"name": "x", "widgets": [widget(other, type="kpi", agg="count")]})
    # And bob cannot put ada's dataset on his own dashboard.
    bobs = storage.workspaces.personal_workspace(bob).id
    with pytest.raises(NotFound):
        storage.dashboards.create(bob, bobs, {"name": "x", "widgets": [widget(vg, type="kpi", agg="count")]})


def test_roles_viewer_views_editor_edits_stranger_sees_nothing(storage, ada, bob, vg):
    team = storage.workspaces.create(ada, "Team").id
    dataset = load(storage, ada, team, "vgsales.csv")
    board = storage.dashboards.create(ada, team, {"name": "Team board",
                                                  "widgets": [widget(dataset, type="kpi", agg="count")]})
    with pytest.raises(NotFound):
        storage.dashboards.get(bob, board["id"])
    with pytest.raises(NotFound):
        storage.dashboards.list(bob, team)
    storage.workspaces.add_member(ada, team, "bob@example.com", "viewer")
    seen = storage.dashboards.get(bob, board["id"])
    assert seen["role"] == "viewer" and storage.queries.render(bob, dataset.id, seen["widgets"][0]["spec"])["value"] == 16598
    for attempt in (lambda: storage.dashboards.update(bob, board["id"], {"name": "Mine"}),
                    lambda: storage.dashboards.delete(bob, board["id"]),
                    lambda: storage.dashboards.share(bob, board["id"]),
                    lambda: storage.dashboards.revoke_share(bob, board["id"]),
                    lambda: storage.dashboards.duplicate(bob, board["id"]),
                    lambda: storage.dashboards.create(bob, team, {"name": "New"})):
        with pytest.raises(Forbidden):
            attempt()
    members = {m.email: m.user_id for m in storage.workspaces.members(ada, team)}
    storage.workspaces.change_role(ada, team, members["bob@example.com"], "editor")
    assert storage.dashboards.update(bob, board["id"], {"name": "Ours"})["name"] == "Ours"


def test_share_tokens_are_stored_only_as_hashes_and_can_be_revoked(storage, ada, workspace, vg):
    board = storage.dashboards.create(ada, workspace, {"name": "A", "widgets": [widget(vg, type="kpi", agg="count")]})
    link = storage.dashboards.share(ada, board["id"])
    assert link["url"] == f"/public/dashboards/{link['token']}" and len(link["token"]) >= 40
    with storage.engine.connect() as conn:
        stored = conn.execute(select(dashboard_shares)).all()
    assert [r.token_hash for r in stored] == [hashlib.sha256(link["token"].encode()).hexdigest()]
    assert link["token"] not in json.dumps([list(map(str, r)) for r in stored])
    assert [b["shared"] for b in storage.dashboards.list(ada, workspace)] == [True]
    shared, principal = storage.dashboards.get_shared(link["token"])
    assert shared["id"] == board["id"] and shared["shared"] is True and principal == SHARE_PRINCIPAL
    # The share principal is nobody anywhere else.
    with pytest.raises(NotFound):
        storage.datasets.get(principal, vg.id)
    with pytest.raises(NotFound):
        storage.dashboards.get(principal, board["id"])
    # Sharing again replaces the link; revoking ends it.
    second = storage.dashboards.share(ada, board["id"])
    with pytest.raises(NotFound):
        storage.dashboards.get_shared(link["token"])
    assert storage.dashboards.get_shared(second["token"])[0]["id"] == board["id"]
    storage.dashboards.revoke_share(ada, board["id"])
    assert storage.dashboards.get(ada, board["id"])["shared"] is False
    for token in (second["token"], "x" * 43, "", None):
        with pytest.raises(NotFound):
            storage.dashboards.get_shared(token)


def _renders(storage, principal, board):
    kinds = []
    for item in board["widgets"]:
        spec = item["spec"]
        kinds.append(storage.queries.render(principal, spec.get("dataset_id"), spec)["kind"])
    return kinds


def test_generate_video_game_template(storage, ada, vg):
    board = storage.dashboards.generate(ada, vg.id)
    assert board["name"] == "vgsales: video game sales" and board["workspace_id"] == vg.workspace_id
    titles = [w["spec"]["title"] for w in board["widgets"]]
    assert {"Global sales (M units)", "Sales by genre", "Top platforms", "Top publishers", "Global sales by year"} <= set(titles)
    assert {f["column"] for f in board["filters"]} == {"Platform", "Genre", "Year"}
    kinds = _renders(storage, ada, board)
    assert kinds.count("kpi") == 4 and "figure" in kinds and "table" in kinds
    genre = next(w for w in board["widgets"] if w["spec"]["title"] == "Sales by genre")
    rows = storage.queries.run(ada, vg.id, genre["spec"])["rows"]
    assert rows[0][0] == "Action" and rows[0][1] == pytest.approx(1751.18)


def test_generate_music_template(storage, ada, workspace):
    music = load(storage, ada, workspace, "music.csv")
    board = storage.dashboards.generate(ada, music.id)
    assert board["name"] == "music: music preferences"
    assert "Genre by gender" in [w["spec"]["title"] for w in board["widgets"]]
    assert set(_renders(storage, ada, board)) == {"kpi", "figure"}


def test_generate_retail_template_with_revenue(storage, ada, workspace):
    retail = load(storage, ada, workspace, "online-retail-20k.csv")
    board = storage.dashboards.generate(ada, retail.id)
    assert board["name"] == "online-retail-20k: retail"
    by_title = {w["spec"]["title"]: w["spec"] for w in board["widgets"]}
    assert {"Revenue", "Orders", "Average order value", "Customers", "Monthly revenue", "Revenue by month",
            "Revenue by weekday and hour", "Top products", "Top customers", "Revenue by country"} <= set(by_title)
    import pandas as pd

    frame = pd.read_csv(FIXTURES / "online-retail-20k.csv")
    revenue = (frame.Quantity * frame.UnitPrice).sum()
    kpi = storage.queries.render(ada, retail.id, by_title["Revenue"])
    assert kpi["value"] == pytest.approx(revenue)
    aov = storage.queries.render(ada, retail.id, by_title["Average order value"])
    assert aov["value"] == pytest.approx(revenue / frame.InvoiceNo.nunique())
    # The sample holds 1-9 December 2010: one month, so nothing to compare it with...
    monthly = storage.queries.render(ada, retail.id, by_title["Monthly revenue"])
    assert monthly["value"] == pytest.approx(revenue) and monthly["previous"] is None and monthly["delta_pct"] is None
    # ... but by day the last day is compared with the day before it that has sales.
    daily = storage.queries.render(ada, retail.id, {**by_title["Monthly revenue"], "time_grain": "day"})
    by_day = (frame.Quantity * frame.UnitPrice).groupby(pd.to_datetime(frame.InvoiceDate).dt.date).sum()
    assert daily["value"] == pytest.approx(by_day.iloc[-1]) and daily["previous"] == pytest.approx(by_day.iloc[-2])
    assert daily["delta_pct"] == pytest.approx((by_day.iloc[-1] / by_day.iloc[-2] - 1) * 100, abs=0.01)
    assert daily["sparkline"]["data"][0]["y"] == pytest.approx(by_day.tolist())
    assert set(_renders(storage, ada, board)) == {"kpi", "figure"}


def test_generate_profile_based_for_other_shapes(storage, ada, workspace):
    mall = load(storage, ada, workspace, "shopping_data.csv")
    board = storage.dashboards.generate(ada, mall.id)
    assert board["name"] == "shopping_data: overview"
    specs = [w["spec"] for w in board["widgets"]]
    types = [s["type"] for s in specs]
    assert types[0] == "kpi" and "histogram" in types and "scatter" in types and "bar" in types
    assert not any(s.get("y") == "CustomerID" for s in specs)  # an identifier is not summed
    kpis = {s["title"]: s["agg"] for s in specs if s["type"] == "kpi"}
    # Ages and scores are averaged, an income adds up.
    assert kpis == {"Rows": "count", "Average Age": "mean", "Total Annual Income (k$)": "sum",
                    "Average Spending Score (1-100)": "mean"}
    assert set(_renders(storage, ada, board)) <= {"kpi", "figure", "table"}


def test_generate_needs_an_editor(storage, ada, bob):
    team = storage.workspaces.create(ada, "Team").id
    dataset = load(storage, ada, team, "music.csv")
    with pytest.raises(NotFound):
        storage.dashboards.generate(bob, dataset.id)
    storage.workspaces.add_member(ada, team, "bob@example.com", "viewer")
    with pytest.raises(Forbidden):
        storage.dashboards.generate(bob, dataset.id)


def test_simultaneous_changes_both_land(storage, ada, workspace, vg):
    """modify() saves only over the dashboard its change saw: when another save lands in
    between, the change runs again on that one, so neither is lost."""
    board = storage.dashboards.create(ada, workspace, {"name": "Busy"})
    seen = []

    def add_mine(current):
        seen.append([w["spec"].get("title") for w in current["widgets"]])
        if len(seen) == 1:  # another editor saves while this change is being made
            storage.dashboards.add_widget(ada, board["id"], widget(vg, type="kpi", y="Global_Sales", agg="sum",
                                                                   title="theirs"))
        mine = {"id": "mine", "spec": {"dataset_id": vg.id, "type": "kpi", "y": "NA_Sales", "agg": "sum",
                                       "title": "mine"}, "layout": {"x": 0, "y": 9, "w": 3, "h": 3}}
        return {"widgets": current["widgets"] + [mine]}

    saved = storage.dashboards.modify(ada, board["id"], add_mine)
    assert seen == [[], ["theirs"]]
    assert [w["spec"]["title"] for w in saved["widgets"]] == ["theirs", "mine"]
    assert [w["spec"]["title"] for w in storage.dashboards.get(ada, board["id"])["widgets"]] == ["theirs", "mine"]
    # A change with nothing to do saves nothing; a change that never settles says so.
    assert storage.dashboards.modify(ada, board["id"], lambda current: None)["updated_at"] == saved["updated_at"]

    overtaken = []

    def always_overtaken(current):
        overtaken.append(1)
        storage.dashboards.update(ada, board["id"], {"name": f"Busy {len(overtaken)}"})
        return {"description": "never lands"}

    from storage.errors import Conflict
    with pytest.raises(Conflict, match="kept changing"):
        storage.dashboards.modify(ada, board["id"], always_overtaken)
    assert storage.dashboards.get(ada, board["id"])["description"] == "" and len(overtaken) == 5


def test_modify_needs_an_editor(storage, ada, bob, vg):
    team = storage.workspaces.create(ada, "Team").id
    storage.workspaces.add_member(ada, team, "bob@example.com", "viewer")
    board = storage.dashboards.create(ada, team, {"name": "Team board"})
    with pytest.raises(Forbidden):
        storage.dashboards.modify(bob, board["id"], lambda current: {"name": "Bob's now"})
    assert storage.dashboards.get(ada, board["id"])["name"] == "Team board"
