"""The Sites pages through their Dash callbacks, as a browser (or an attacker) posts them:
the list shows a workspace's sites with their visitors today, the form adds one (and says
in words what is wrong), a site's page has its snippet and its reports; a second user who
is not a member, posting Ada's site and workspace ids, gets no name, key or figure of it
and cannot delete it."""
from __future__ import annotations

import json

import pytest

from tests.conftest import _input_name, _post_callback, render_page, sign_in

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
NAME, DOMAIN = "Ada's Shop Site", "ada-shop.example.com"
REPORT_OUTPUTS = [("site-feedback", "children"), ("site-overview", "children"), ("site-timeseries", "figure"),
                  ("site-pages", "children"), ("site-sources", "children"), ("site-devices", "children"),
                  ("site-events", "children")]


def dumped(response) -> str:
    """The answer as JSON text (Dash writes "/" as \\u002f; this does not)."""
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return json.dumps(response.get_json(), ensure_ascii=False) if response.status_code == 200 else ""


def post(client, trigger, outputs, inputs, state=()):
    """POST the callback whose inputs include ``trigger``'s id and whose outputs are
    ``outputs``, like the renderer."""
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    wanted = _input_name(trigger)
    first_output = outputs[0][0] if isinstance(outputs[0][0], str) else outputs[0][0]["type"]
    keys = [k for k, v in callbacks.items()
            if any(_input_name(i["id"]) == wanted for i in v["inputs"]) and first_output in k]
    assert len(keys) == 1, keys
    first = inputs[0]
    cid = first[0]
    if isinstance(cid, dict) and cid.get("index") == "ALL":
        changed_id = {"index": first[2][0][0], "type": cid["type"]}
    else:
        changed_id = cid
    changed = (json.dumps(changed_id, sort_keys=True, separators=(",", ":")) if isinstance(changed_id, dict)
               else changed_id) + "." + first[1]
    return _post_callback(client, keys[0], outputs, inputs, state, changed=[changed])


def reports(client, site_id, period="day", filters=""):
    return post(client, "site-tick", REPORT_OUTPUTS,
                [("site-period", "value", period), ("site-filters", "value", filters),
                 ("site-tick", "n_intervals", 1)], [("site-id", "data", site_id)])


def realtime(client, site_id):
    return post(client, "site-tick", [("site-realtime", "children")],
                [("site-filters", "value", ""), ("site-tick", "n_intervals", 1)], [("site-id", "data", site_id)])


@pytest.fixture
def shop(app_storage, admin):
    """Ada's site in her workspace, with two visitors today: three pageviews and a signup."""
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    site = app_storage.sites.create(principal, workspace.id, {"name": NAME, "domain": DOMAIN})
    key = site["key"]
    for body, address in (
        ({"site": key, "url": f"https://{DOMAIN}/", "referrer": "https://news.example.org/a"}, "198.51.100.7"),
        ({"site": key, "url": f"https://{DOMAIN}/pricing"}, "198.51.100.7"),
        ({"site": key, "type": "event", "name": "Signup", "url": f"https://{DOMAIN}/pricing",
          "props": {"plan": "pro"}}, "198.51.100.7"),
        ({"site": key, "url": f"https://{DOMAIN}/"}, "203.0.113.9"),
    ):
        app_storage.collect.collect(body, address, CHROME)
    return {**site, "workspace": workspace.id}


def test_the_list_shows_the_site_and_its_visitors_today(client, admin, shop):
    sign_in(client, "ada@example.com")
    page = dumped(render_page(client, "/sites"))
    assert NAME in page and DOMAIN in page and f"/sites/{shop['id']}" in page
    assert '"site-today-%d"' % shop["id"] in page
    today = page.split('"site-today-%d"' % shop["id"])[0].rsplit('"children": ', 1)[1]
    assert today.startswith('"2"')  # two visitors today
    assert '"sites-add"' in page  # the owner may add sites


def test_the_form_adds_a_site_and_says_what_is_wrong(client, admin, app_storage, shop):
    sign_in(client, "ada@example.com")
    outputs = [("sites-form-feedback", "children"), ("sites-rev", "data"), ("sites-name", "value"),
               ("sites-domain", "value")]

    def add(name, domain):
        return dumped(post(client, "sites-add", outputs, [("sites-add", "n_clicks", 1)],
                           [("sites-workspace-id", "data", shop["workspace"]), ("sites-name", "value", name),
                            ("sites-domain", "value", domain), ("sites-rev", "data", 0)]))

    bad = add("Blog", "not a domain")
    assert "is not a domain name such as example.com" in bad and "Traceback" not in bad
    assert "A site needs a name" in add("", "blog.example.com")
    good = add("Blog", "https://www.Blog.example.com/")
    assert "Added " in good and "Blog" in good
    made = [s for s in app_storage.sites.list(admin.principal()) if s["name"] == "Blog"]
    assert len(made) == 1 and made[0]["domain"] == "blog.example.com"
    redrawn = dumped(post(client, "sites-rev", [("sites-list", "children")], [("sites-rev", "data", 1)],
                          [("sites-workspace-id", "data", shop["workspace"])]))
    assert "blog.example.com" in redrawn and NAME in redrawn


def test_a_sites_page_has_its_snippet_and_reports(client, admin, shop):
    sign_in(client, "ada@example.com")
    page = dumped(render_page(client, f"/sites/{shop['id']}"))
    assert NAME in page and f'data-site=\\"{shop["key"]}\\"' in page and "/js/tracker.js" in page
    assert f"/datasets/{shop['dataset_id']}" in page
    assert f"/analyze?dataset={shop['dataset_id']}&tab=journeys" in page
    drawn = reports(client, shop["id"])
    answer = drawn.get_json()["response"]
    overview = json.dumps(answer["site-overview"]["children"])
    assert '"site-metric-visitors"' in overview and '"site-metric-pageviews"' in overview
    metrics = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if str(props.get("id", "")).startswith("site-metric-"):
                metrics[props["id"].removeprefix("site-metric-")] = props["children"]
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(answer["site-overview"]["children"])
    assert metrics["visitors"] == "2" and metrics["visits"] == "2" and metrics["pageviews"] == "3"
    assert metrics["views_per_visit"] == "1.50" and metrics["bounce_rate"] == "50%"
    figure = answer["site-timeseries"]["figure"]
    assert sum(figure["data"][1]["y"]) == 3 and sum(figure["data"][0]["y"]) == 2  # pageviews, visitors
    text = dumped(drawn)
    assert "/pricing" in text and "news.example.org" in text and "Chrome" in text and "Windows" in text
    assert "Signup" in text and "plan" in text and "pro (1)" in text
    live = dumped(realtime(client, shop["id"]))
    assert '"site-realtime-visitors"' in live and "in the last 5 minutes" in live and "/pricing" in live
    # A filter narrows every report; a wrong one is explained in words.
    filtered = reports(client, shop["id"], filters="page==/pricing").get_json()["response"]
    metrics.clear()
    walk(filtered["site-overview"]["children"])
    assert metrics["visitors"] == "1"
    wrong = dumped(reports(client, shop["id"], filters="nonsense"))
    assert "Traceback" not in wrong and '"color": "danger"' in wrong
    # Open as dashboard: the web-analytics dashboard of the site's events, and the way to it.
    board = post(client, "site-dashboard", [("site-dashboard-feedback", "children"), ("site-redirect", "href")],
                 [("site-dashboard", "n_clicks", 1)], [("site-id", "data", shop["id"])]).get_json()["response"]
    assert board["site-redirect"]["href"].startswith("/dashboards/")


def test_a_stranger_posting_the_owners_ids_gets_nothing(make_client, app_storage, admin, second_user, shop):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    secrets = (NAME, shop["key"], DOMAIN)

    own = dumped(render_page(bob, "/sites"))
    assert not any(s in own for s in secrets)
    direct = dumped(render_page(bob, f"/sites/{shop['id']}"))
    assert not any(s in direct for s in secrets) and "This page could not be shown" in direct

    for answer in (reports(bob, shop["id"]), realtime(bob, shop["id"])):
        text = dumped(answer)
        assert not any(s in text for s in secrets) and "Signup" not in text and "/pricing" not in text
        assert f"There is no site {shop['id']}" in text
    redraw = dumped(post(bob, "sites-rev", [("sites-list", "children")], [("sites-rev", "data", 1)],
                         [("sites-workspace-id", "data", shop["workspace"])]))
    assert not any(s in redraw for s in secrets)
    created = dumped(post(bob, "sites-add", [("sites-form-feedback", "children"), ("sites-rev", "data"),
                                             ("sites-name", "value"), ("sites-domain", "value")],
                          [("sites-add", "n_clicks", 1)],
                          [("sites-workspace-id", "data", shop["workspace"]), ("sites-name", "value", "Intruder"),
                           ("sites-domain", "value", "intruder.example.com"), ("sites-rev", "data", 0)]))
    assert "Added" not in created and '"color": "danger"' in created
    board = dumped(post(bob, "site-dashboard", [("site-dashboard-feedback", "children"), ("site-redirect", "href")],
                        [("site-dashboard", "n_clicks", 1)], [("site-id", "data", shop["id"])]))
    assert "/dashboards/" not in board and f"There is no site {shop['id']}" in board
    deleted = dumped(post(bob, "site-delete", [("sites-action-feedback", "children"), ("sites-rev", "data")],
                          [({"type": "site-delete", "index": "ALL"}, "n_clicks", [(shop["id"], 1)])],
                          [("sites-rev", "data", 0)]))
    assert f"There is no site {shop['id']}" in deleted
    names = [s["name"] for s in app_storage.sites.list(admin.principal())]
    assert names == [NAME]  # still there, and nothing of Bob's was added to Ada's workspace


def test_a_viewer_sees_the_site_and_changes_nothing(make_client, app_storage, admin, second_user, shop):
    app_storage.workspaces.add_member(admin.principal(), shop["workspace"], "bob@example.com", "viewer")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    page = dumped(render_page(bob, f"/sites/{shop['id']}"))
    assert NAME in page and shop["key"] in page and '"site-open-dataset"' in page
    assert '"site-dashboard"' not in page  # making a dashboard is for editors
    drawn = dumped(reports(bob, shop["id"]))
    assert '"site-metric-pageviews"' in drawn and "Signup" in drawn
    board = dumped(post(bob, "site-dashboard", [("site-dashboard-feedback", "children"), ("site-redirect", "href")],
                        [("site-dashboard", "n_clicks", 1)], [("site-id", "data", shop["id"])]))
    assert "/dashboards/" not in board and '"color": "danger"' in board
    deleted = dumped(post(bob, "site-delete", [("sites-action-feedback", "children"), ("sites-rev", "data")],
                          [({"type": "site-delete", "index": "ALL"}, "n_clicks", [(shop["id"], 1)])],
                          [("sites-rev", "data", 0)]))
    assert "Deleted" not in deleted and '"color": "danger"' in deleted
    created = dumped(post(bob, "sites-add", [("sites-form-feedback", "children"), ("sites-rev", "data"),
                                             ("sites-name", "value"), ("sites-domain", "value")],
                          [("sites-add", "n_clicks", 1)],
                          [("sites-workspace-id", "data", shop["workspace"]), ("sites-name", "value", "Viewer's"),
                           ("sites-domain", "value", "viewer.example.com"), ("sites-rev", "data", 0)]))
    assert "Added" not in created and '"color": "danger"' in created
    assert [s["name"] for s in app_storage.sites.list(admin.principal(), shop["workspace"])] == [NAME]


@pytest.mark.parametrize("crafted", ["abc", None, {"id": 1}, [1], -1, 0, 10**30, "1 OR 1=1"])
def test_crafted_site_ids_get_a_message(client, admin, shop, crafted):
    sign_in(client, "ada@example.com")
    for answer in (reports(client, crafted), realtime(client, crafted)):
        text = dumped(answer)
        assert '"color": "danger"' in text and NAME not in text and shop["key"] not in text
    odd = dumped(post(client, "site-tick", REPORT_OUTPUTS,
                      [("site-period", "value", {"x": 1}), ("site-filters", "value", ["page==/"]),
                       ("site-tick", "n_intervals", "x")], [("site-id", "data", shop["id"])]))
    assert '"site-metric-pageviews"' in odd  # odd values fall back to today without filters
