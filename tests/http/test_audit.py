"""The audit log (issue 15, point 6): a scripted session of changes leaves its entries,
with who, what, which object and from where; owners read their workspace's, administrators
everything; viewers and owners of other workspaces read nothing of it; no route changes it."""
from __future__ import annotations

import io

from tests.conftest import PASSWORD, bearer, login_body, sign_in


def actions(body) -> list[str]:
    return [entry["action"] for entry in body["entries"]]


def test_a_session_of_changes_is_in_the_log(client, make_client, app_storage, admin, ada, second_user, bob):
    # Ada (administrator) makes a team workspace where Bob is a viewer, and works in it.
    team = client.post("/api/v1/workspaces", json={"name": "Team"}, headers=bearer(ada)).get_json()["id"]
    assert client.post(f"/api/v1/workspaces/{team}/members", json={"email": "bob@example.com", "role": "viewer"},
                       headers=bearer(ada)).status_code == 201
    dataset = client.post("/api/v1/datasets", headers=bearer(ada), data={
        "file": (io.BytesIO(b"region,amount\nnorth,1\nsouth,2\n"), "sales.csv"), "workspace_id": str(team)}).get_json()
    assert client.get(f"/api/v1/datasets/{dataset['id']}/export?format=csv", headers=bearer(ada)).status_code == 200
    board = client.post("/api/v1/dashboards", json={"name": "Sales", "workspace_id": team},
                        headers=bearer(ada)).get_json()
    assert client.patch(f"/api/v1/dashboards/{board['id']}", json={"description": "Q4"},
                        headers=bearer(ada)).status_code == 200
    assert client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).status_code == 201
    assert client.delete(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/dashboards/{board['id']}/export?format=xlsx", headers=bearer(ada)).status_code == 200
    assert client.delete(f"/api/v1/datasets/{dataset['id']}", headers=bearer(ada)).status_code == 204
    # Someone tries Bob's account from another address, then Bob signs in and makes a token.
    stranger = make_client()
    assert stranger.post("/_dash-update-component", json=login_body("bob@example.com", "wrong"),
                         environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    browser = make_client()
    sign_in(browser, "bob@example.com", PASSWORD)
    made = browser.post("/api/v1/tokens", json={"name": "laptop"})
    assert made.status_code == 201

    log = client.get(f"/api/v1/audit?workspace_id={team}", headers=bearer(ada))
    assert log.status_code == 200
    assert actions(log.get_json()) == [
        "dataset.deleted", "dashboard.exported", "dashboard.unshared", "dashboard.shared", "dashboard.changed",
        "dashboard.created", "dataset.exported", "dataset.created", "member.added", "workspace.created"]
    newest = log.get_json()["entries"][0]
    assert newest["actor"] == "ada@example.com" and newest["actor_token_id"] is not None
    assert newest["target"] == {"type": "dataset", "id": str(dataset["id"]), "name": dataset["name"]}
    assert newest["address"] == "127.0.0.1" and newest["workspace_id"] == team
    exported = next(e for e in log.get_json()["entries"] if e["action"] == "dataset.exported")
    assert exported["detail"] == {"format": "csv", "filtered": False}
    # Account events are the administrators': who tried Bob's password, and from where.
    everything = client.get("/api/v1/audit?action=account", headers=bearer(ada)).get_json()
    failed = next(e for e in everything["entries"] if e["action"] == "account.sign_in_failed")
    assert failed["actor"] == "bob@example.com" and failed["address"] == "203.0.113.9"
    assert "account.signed_in" in actions(everything)
    tokens = client.get("/api/v1/audit?action=token", headers=bearer(ada)).get_json()
    assert tokens["entries"][0]["target"]["name"] == "laptop" and tokens["entries"][0]["actor"] == "bob@example.com"
    # Filters and pages.
    page = client.get(f"/api/v1/audit?workspace_id={team}&limit=3", headers=bearer(ada)).get_json()
    assert len(page["entries"]) == 3 and page["next_before_id"] == page["entries"][-1]["id"]
    rest = client.get(f"/api/v1/audit?workspace_id={team}&limit=100&before_id={page['next_before_id']}",
                      headers=bearer(ada)).get_json()
    assert actions(page) + actions(rest) == actions(log.get_json()) and rest["next_before_id"] is None
    assert actions(client.get(f"/api/v1/audit?workspace_id={team}&action=dataset",
                              headers=bearer(ada)).get_json()) == ["dataset.deleted", "dataset.exported",
                                                                   "dataset.created"]
    assert client.get("/api/v1/audit?since=2999-01-01", headers=bearer(ada)).get_json()["entries"] == []
    assert client.get("/api/v1/audit?since=yesterday", headers=bearer(ada)).status_code == 400

    # Bob is a viewer of the team: he reads none of its log, and no account events.
    refused = client.get(f"/api/v1/audit?workspace_id={team}", headers=bearer(bob))
    assert refused.status_code == 403 and "owners" in refused.get_json()["error"]["message"]
    own = client.get("/api/v1/audit", headers=bearer(bob)).get_json()  # his personal workspace: nothing there
    assert own["entries"] == []
    # Entries cannot be changed or deleted through the app.
    assert client.delete("/api/v1/audit", headers=bearer(ada)).status_code in (404, 405)
    entry_id = newest["id"]
    assert client.delete(f"/api/v1/audit/{entry_id}", headers=bearer(ada)).status_code in (404, 405)


def test_an_owner_reads_only_their_workspaces(client, app_storage, admin, ada):
    carol = app_storage.users.create_user(admin.principal(), "carol@example.com", PASSWORD, "Carol")
    carols = app_storage.tokens.create(carol.principal(), "c")[1]
    team = client.post("/api/v1/workspaces", json={"name": "Ada's"}, headers=bearer(ada)).get_json()["id"]
    mine = client.post("/api/v1/workspaces", json={"name": "Carol's"}, headers=bearer(carols)).get_json()["id"]
    assert client.get(f"/api/v1/audit?workspace_id={team}", headers=bearer(carols)).status_code == 403
    seen = client.get("/api/v1/audit", headers=bearer(carols)).get_json()
    assert {e["workspace_id"] for e in seen["entries"]} == {mine}
    assert actions(seen) == ["workspace.created"]


def test_old_entries_are_pruned(app_storage, admin):
    from datetime import timedelta

    from storage.database import utcnow

    app_storage.audit.record(admin.principal(), "workspace.renamed", workspace_id=1)
    assert app_storage.audit.prune(now=utcnow() + timedelta(days=364)) == 0
    assert app_storage.audit.prune(now=utcnow() + timedelta(days=366)) >= 1


def test_the_audit_page_and_its_callback(make_client, app_storage, admin, second_user):
    from tests.conftest import post_callback, render_page

    team = app_storage.workspaces.create(admin.principal(), "Team")
    app_storage.workspaces.add_member(admin.principal(), team.id, "bob@example.com", "viewer")
    ada_browser, bob_browser = make_client(), make_client()
    sign_in(ada_browser, "ada@example.com")
    sign_in(bob_browser, "bob@example.com")
    page = str(render_page(ada_browser, "/audit").get_json())
    assert "Everything (accounts included)" in page and "Team" in page

    def show(browser, workspace):
        return post_callback(browser, [("audit-entries", "children"), ("audit-before", "data"),
                                       ("audit-older", "style")],
                             [("audit-workspace", "value", workspace), ("audit-actor", "value", None),
                              ("audit-action", "value", "all"), ("audit-since", "date", None),
                              ("audit-until", "date", None), ("audit-older", "n_clicks", 0)],
                             [("audit-before", "data", None)], changed=["audit-workspace.value"])

    shown = str(show(ada_browser, str(team.id)).get_json()["response"]["audit-entries"]["children"])
    assert "member.added" in shown and "workspace.created" in shown and "bob@example.com" in shown
    everything = str(show(ada_browser, "all").get_json()["response"]["audit-entries"]["children"])
    assert "account.signed_in" in everything
    # Bob, a viewer of the team, crafts the same post: refused in place, nothing shown.
    crafted = str(show(bob_browser, str(team.id)).get_json())
    assert "owners" in crafted and "member.added" not in crafted
    assert "account.signed_in" not in str(show(bob_browser, "all").get_json())
