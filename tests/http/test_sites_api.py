"""Sites and event collection over HTTP (issue 13, points 1 to 4 and 9): the site
routes and their rights, POST /api/collect and its refusals (each stores nothing of the
request), the server-side route with 'ts' and NDJSON, bots dropped and counted, the rate
limits, and the site's dataset reading the events."""
from __future__ import annotations

import json

import pytest

from storage.principal import SCOPE_READ
from tests.conftest import bearer

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def make_site(client, token, name="Shop", domain="shop.example.com", **extra):
    answer = client.post("/api/v1/sites", headers=bearer(token), json={"name": name, "domain": domain, **extra})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def collect(client, body, agent=CHROME, raw=None, content_type="text/plain", address="198.51.100.7"):
    data = raw if raw is not None else json.dumps(body)
    return client.post("/api/collect", data=data, headers={"User-Agent": agent, "Content-Type": content_type,
                                                           "Origin": "https://shop.example.com"},
                       environ_base={"REMOTE_ADDR": address})


def stored(storage, site_id) -> list[dict]:
    con = __import__("storage.duck", fromlist=["connect"]).connect()
    try:
        cursor = con.execute(f"SELECT * FROM {storage.events.relation_sql(site_id)} ORDER BY ts, path")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture
def site(client, ada):
    return make_site(client, ada)


def test_a_site_has_a_key_a_dataset_and_a_snippet(client, ada, app_storage, site):
    assert site["name"] == "Shop" and site["domain"] == "shop.example.com" and site["retention_days"] == 90
    assert site["key"].startswith("site_") and len(site["key"]) > 20
    assert f'data-site="{site["key"]}"' in site["snippet"] and "/js/tracker.js" in site["snippet"]
    dataset = client.get(f"/api/v1/datasets/{site['dataset_id']}", headers=bearer(ada)).get_json()
    names = [c["name"] for c in dataset["columns"]]
    assert {"ts", "path", "visitor_id", "session_id", "browser", "device", "props"} <= set(names)
    assert client.get("/api/v1/sites", headers=bearer(ada)).get_json()["sites"][0]["id"] == site["id"]
    changed = client.patch(f"/api/v1/sites/{site['id']}", headers=bearer(ada),
                           json={"name": "Shop EU", "domain": "https://www.Shop.example.com/", "retention_days": 30})
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["domain"], changed.get_json()["retention_days"]) == \
        ("Shop EU", "shop.example.com", 30)
    assert client.delete(f"/api/v1/sites/{site['id']}", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/sites/{site['id']}", headers=bearer(ada)).status_code == 404
    assert client.get(f"/api/v1/datasets/{site['dataset_id']}", headers=bearer(ada)).status_code == 404
    assert not app_storage.events.site_dir(site["id"]).exists()


@pytest.mark.parametrize("body, words", [
    ({"name": "", "domain": "a.com"}, "needs a name"),
    ({"name": "A", "domain": "not a domain"}, "not a domain"),
    ({"name": "A", "domain": "a.com", "retention_days": -1}, "retention_days"),
    ({"name": "A", "domain": "a.com", "excluded_networks": ["nope"]}, "not an IP address"),
    ({"name": "A", "domain": "a.com", "colour": "red"}, "Unknown field"),
])
def test_bad_sites_are_refused_with_the_reason(client, ada, body, words):
    answer = client.post("/api/v1/sites", headers=bearer(ada), json=body)
    assert answer.status_code == 400 and words in answer.get_json()["error"]["message"]


def test_another_user_reaches_nothing_of_a_site(client, ada, bob, site):
    collect(client, {"site": site["key"], "type": "pageview", "url": "https://shop.example.com/"})
    assert client.get(f"/api/v1/sites/{site['id']}", headers=bearer(bob)).status_code == 404
    assert client.get(f"/api/v1/sites/{site['id']}/stats/overview", headers=bearer(bob)).status_code == 404
    assert client.patch(f"/api/v1/sites/{site['id']}", headers=bearer(bob), json={"name": "x"}).status_code == 404
    assert client.delete(f"/api/v1/sites/{site['id']}", headers=bearer(bob)).status_code == 404
    assert client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(bob),
                       json={"type": "event", "name": "Hack"}).status_code == 404
    assert client.get(f"/api/v1/datasets/{site['dataset_id']}", headers=bearer(bob)).status_code == 404
    assert client.get("/api/v1/sites", headers=bearer(bob)).get_json()["sites"] == []


def test_a_read_only_token_cannot_create_a_site(client, app_storage, admin):
    _, token = app_storage.tokens.create(admin.principal(), "ro", scope=SCOPE_READ)
    answer = client.post("/api/v1/sites", headers=bearer(token), json={"name": "A", "domain": "a.com"})
    assert answer.status_code == 403


def test_collect_enriches_and_keeps_no_address(client, app_storage, site):
    answer = collect(client, {"site": site["key"], "type": "pageview",
                              "url": "https://shop.example.com/pricing?utm_source=news&utm_campaign=dec#top",
                              "referrer": "https://www.google.com/search?q=x", "title": "Pricing"}, agent=IPHONE)
    assert answer.status_code == 202 and answer.get_json() == {"accepted": 1, "dropped": 0}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    [row] = stored(app_storage, site["id"])
    assert (row["path"], row["hostname"], row["referrer_host"], row["title"]) == \
        ("/pricing", "shop.example.com", "google.com", "Pricing")
    assert (row["utm_source"], row["utm_campaign"], row["browser"], row["os"], row["device"]) == \
        ("news", "dec", "Safari", "iOS", "mobile")
    assert isinstance(row["visitor_id"], int) and row["session_id"] is not None
    files = list(app_storage.events.site_dir(site["id"]).rglob("*.parquet"))
    assert files and all(b"198.51.100.7" not in f.read_bytes() for f in files)


def test_preflight_is_open_to_any_origin(client):
    answer = client.options("/api/collect", headers={"Origin": "https://elsewhere.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert answer.status_code == 204 and answer.headers["Access-Control-Allow-Origin"] == "*"


def test_one_visitor_has_one_id_and_sessions_split_by_time(client, app_storage, site):
    for path in ("/", "/a", "/b"):
        assert collect(client, {"site": site["key"], "url": f"https://shop.example.com{path}"}).status_code == 202
    collect(client, {"site": site["key"], "url": "https://shop.example.com/"}, address="203.0.113.9")
    rows = stored(app_storage, site["id"])
    by_visitor = {}
    for row in rows:
        by_visitor.setdefault(row["visitor_id"], set()).add(row["session_id"])
    assert sorted(len(v) for v in by_visitor.values()) == [1, 1] and len(rows) == 4


@pytest.mark.parametrize("raw, content_type, words", [
    ("not json", "text/plain", "not JSON"),
    ("", "text/plain", "no body"),
    ("[1]", "application/json", "must be a JSON object"),
    (json.dumps({"events": []}), "application/json", "no events"),
    (json.dumps({"site": "KEY", "type": "click", "url": "https://a.b/"}), "text/plain", "'type'"),
    (json.dumps({"site": "KEY", "type": "event", "url": "https://a.b/"}), "text/plain", "needs a 'name'"),
    (json.dumps({"site": "KEY", "url": 5}), "text/plain", "'url' must be a string"),
    (json.dumps({"site": "KEY", "url": "https://a.b/", "props": {"a": [1]}}), "text/plain", "flat"),
    (json.dumps({"site": "KEY", "url": "https://a.b/", "props": {f"k{i}": i for i in range(31)}}), "text/plain",
     "at most 30"),
    (json.dumps({"site": "KEY", "url": "https://a.b/", "ts": "2026-01-01T00:00:00Z"}), "text/plain", "'ts'"),
    (json.dumps({"site": "KEY", "url": "https://a.b/", "colour": 1}), "text/plain", "unknown field"),
    (json.dumps({"site": "nope", "url": "https://a.b/"}), "text/plain", "not the key of any site"),
])
def test_bad_events_answer_400_and_store_nothing(client, app_storage, site, raw, content_type, words):
    good = {"site": site["key"], "url": "https://shop.example.com/ok"}
    bad = json.loads(raw.replace("KEY", site["key"])) if raw.startswith("{") and "events" not in raw else None
    body = json.dumps({"events": [good, bad]}) if bad is not None else raw.replace("KEY", site["key"])
    answer = collect(client, None, raw=body, content_type=content_type)
    assert answer.status_code == 400, answer.get_json()
    assert words in answer.get_json()["error"]["message"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert stored(app_storage, site["id"]) == []


def test_too_many_or_too_large_is_refused(client, app_storage, site):
    many = {"events": [{"site": site["key"], "url": "https://shop.example.com/"}] * 1001}
    answer = collect(client, many)
    assert answer.status_code == 400 and "at most 1000" in answer.get_json()["error"]["message"]
    huge = json.dumps({"site": site["key"], "url": "https://shop.example.com/", "title": "x" * 2_000_000})
    answer = collect(client, None, raw=huge)
    assert answer.status_code == 400 and "larger than" in answer.get_json()["error"]["message"]
    assert stored(app_storage, site["id"]) == []


def test_a_key_writes_only_into_its_own_site(client, app_storage, ada, site):
    other = make_site(client, ada, name="Blog", domain="blog.example.com")
    collect(client, {"events": [{"site": other["key"], "url": "https://blog.example.com/post"}]})
    assert [r["path"] for r in stored(app_storage, other["id"])] == ["/post"]
    assert stored(app_storage, site["id"]) == []


def test_bots_and_excluded_addresses_are_dropped_and_counted(client, ada, app_storage, site):
    client.patch(f"/api/v1/sites/{site['id']}", headers=bearer(ada), json={"excluded_networks": ["192.0.2.0/24"]})
    app_storage.sites._keys.clear()
    assert collect(client, {"site": site["key"], "url": "https://shop.example.com/"}, agent=GOOGLEBOT) \
        .get_json() == {"accepted": 0, "dropped": 1}
    assert collect(client, {"site": site["key"], "url": "https://shop.example.com/"}, address="192.0.2.44") \
        .get_json() == {"accepted": 0, "dropped": 1}
    assert stored(app_storage, site["id"]) == []
    day = __import__("datetime").date.today().isoformat()
    assert app_storage.sites.dropped(__import__("storage.principal", fromlist=["x"]).Principal(
        1, "ada@example.com", "Ada", True), site["id"], "2000-01-01", "2999-01-01") == {"bot": 1, "excluded": 1}
    assert day


def test_server_side_events_take_ts_and_ndjson(client, ada, bob, app_storage, site):
    lines = "\n".join(json.dumps(e) for e in [
        {"type": "event", "name": "Signup", "user_id": "u1", "ts": "2026-11-01T10:00:00Z", "props": {"plan": "pro"}},
        {"type": "event", "name": "Payment", "user_id": "u1", "ts": "2026-11-03T10:00:00+01:00"},
    ])
    answer = client.post(f"/api/v1/sites/{site['id']}/events", data=lines,
                         headers={**bearer(ada), "Content-Type": "application/x-ndjson"})
    assert answer.status_code == 202 and answer.get_json()["accepted"] == 2
    rows = stored(app_storage, site["id"])
    assert [(str(r["ts"]), r["name"], r["user_id"]) for r in rows] == [
        ("2026-11-01 10:00:00", "Signup", "u1"), ("2026-11-03 09:00:00", "Payment", "u1")]
    assert rows[0]["visitor_id"] == rows[1]["visitor_id"] and json.loads(rows[0]["props"]) == {"plan": "pro"}
    old = client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(ada),
                      json={"type": "event", "name": "Old", "ts": "2020-01-01T00:00:00Z"})
    assert old.status_code == 400 and "more than a year" in old.get_json()["error"]["message"]
    _, read_only = app_storage.tokens.create(__import__("storage.principal", fromlist=["x"]).Principal(
        1, "ada@example.com", "Ada", True), "ro", scope=SCOPE_READ)
    refused = client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(read_only),
                          json={"type": "event", "name": "Signup"})
    assert refused.status_code == 403
    assert len(stored(app_storage, site["id"])) == 2


def test_the_sites_dataset_charts_read_the_events_as_they_arrive(client, ada, site):
    spec = {"type": "bar", "x": "path", "agg": "count", "sort": "x"}

    def count():
        answer = client.post("/api/v1/query", headers=bearer(ada), json={"dataset_id": site["dataset_id"], "spec": spec})
        assert answer.status_code == 200, answer.get_json()
        return sum(row[1] for row in answer.get_json()["rows"])

    assert count() == 0
    collect(client, {"events": [{"site": site["key"], "url": f"https://shop.example.com/{i}"} for i in range(3)]})
    assert count() == 3


def test_collection_is_rate_limited_per_address(app, client, site):
    settings = app.server.extensions["datainsight"]["settings"]
    app.server.extensions["datainsight"]["settings"] = settings.with_overrides(
        collect_address_rate_limit="3/minute")
    try:
        codes = [collect(client, {"site": site["key"], "url": "https://shop.example.com/"}, address="192.0.2.200")
                 .status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        refused = collect(client, {"site": site["key"], "url": "https://shop.example.com/"}, address="192.0.2.200")
        assert int(refused.headers["Retry-After"]) >= 1 and "Too many" in refused.get_json()["error"]["message"]
    finally:
        app.server.extensions["datainsight"]["settings"] = settings


def test_stats_over_http_count_what_was_collected(client, ada, site):
    key, base = site["key"], "https://shop.example.com"
    collect(client, {"events": [{"site": key, "url": f"{base}/"}, {"site": key, "url": f"{base}/pricing"},
                                {"site": key, "type": "event", "name": "Signup", "url": f"{base}/pricing",
                                 "props": {"plan": "pro"}}]})
    collect(client, {"site": key, "url": f"{base}/"}, agent=IPHONE, address="203.0.113.5")

    def stats(report, **args):
        answer = client.get(f"/api/v1/sites/{site['id']}/stats/{report}", headers=bearer(ada), query_string=args)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    overview = stats("overview", period="day")
    assert (overview["visitors"]["value"], overview["visits"]["value"], overview["pageviews"]["value"]) == (2, 2, 3)
    assert overview["bounce_rate"]["value"] == 50
    assert stats("overview", period="day", filters="device==mobile")["visitors"]["value"] == 1
    pages = {row["path"]: row["pageviews"] for row in stats("pages", period="day")["pages"]}
    assert pages == {"/": 2, "/pricing": 1}
    [signup] = stats("events", period="day")["events"]
    assert (signup["name"], signup["events"], signup["visitors"]) == ("Signup", 1, 1)
    assert stats("realtime")["visitors"] == 2
    assert sum(b["pageviews"] for b in stats("timeseries", period="day")["points"]) == 3
    for report, args, words in [("nope", {}, "no report"), ("overview", {"period": "year"}, "period"),
                                ("overview", {"period": "day", "filters": "colour==red"}, "colour"),
                                ("overview", {"period": "custom", "from": "2026-01-02", "to": "2025-01-01"}, "")]:
        answer = client.get(f"/api/v1/sites/{site['id']}/stats/{report}", headers=bearer(ada), query_string=args)
        assert answer.status_code == 400 and words in answer.get_json()["error"]["message"]


def test_the_web_analytics_dashboard_draws_the_sites_events(client, ada, site):
    key, base = site["key"], "https://shop.example.com"
    collect(client, {"events": [{"site": key, "url": f"{base}/"}, {"site": key, "url": f"{base}/pricing"},
                                {"site": key, "type": "event", "name": "Signup", "url": f"{base}/pricing"}]})
    collect(client, {"site": key, "url": f"{base}/", "referrer": "https://news.example.org/a"}, agent=IPHONE,
            address="203.0.113.5")
    answer = client.post(f"/api/v1/sites/{site['id']}/dashboard", headers=bearer(ada))
    assert answer.status_code == 201, answer.get_json()
    dashboard = client.get(f"/api/v1/dashboards/{answer.get_json()['id']}", headers=bearer(ada)).get_json()
    assert dashboard["name"] == "Shop events: web analytics"
    by_title = {w["spec"]["title"]: w for w in dashboard["widgets"]}
    assert {"Visitors", "Visits", "Pageviews", "Top pages", "Top sources", "Events per day"} <= set(by_title)

    def rows(title):
        spec = by_title[title]["spec"]
        got = client.post("/api/v1/query", headers=bearer(ada), json={"dataset_id": site["dataset_id"], "spec": spec})
        assert got.status_code == 200, got.get_json()
        return got.get_json()["rows"]

    def kpi(title):
        spec = by_title[title]["spec"]
        got = client.post("/api/v1/query", headers=bearer(ada), json={"dataset_id": site["dataset_id"], "spec": spec})
        return dict(zip(got.get_json()["columns"], got.get_json()["rows"][0]))

    assert [kpi(t)["y"] for t in ("Visitors", "Visits", "Pageviews")] == [2, 2, 3]
    assert sorted(map(tuple, rows("Top pages"))) == [("/", 2), ("/pricing", 1)]
    assert [tuple(r) for r in rows("Top sources")] == [("news.example.org", 1)]


@pytest.mark.parametrize("raw, words", [
    ('{"site": "KEY", "url": "https://a.b/\\ud800"}', "not valid text"),
    ('{"site": "KEY", "url": "https://a.b/", "props": {"\\udfff": 1}}', "not valid text"),
    ("[" * 50000 + "]" * 50000, "nested too deeply"),
    ('{"site": "KEY", "url": "https://a.b/", "props": {"n": 1e400}}', "finite"),
    ('{"site": "KEY", "url": "https://a.b/", "props": {"n": 99999999999999999999999}}', "too large"),
])
def test_crafted_bodies_get_400_not_500(client, app_storage, site, raw, words):
    answer = collect(client, None, raw=raw.replace("KEY", site["key"]))
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert words in answer.get_json()["error"]["message"]
    assert stored(app_storage, site["id"]) == []


def test_long_fields_are_cut_and_query_strings_are_not_kept(client, app_storage, site):
    url = "https://shop.example.com/" + "p" * 3000 + "?email=ada@example.com&utm_source=news"
    answer = collect(client, {"site": site["key"], "url": url, "title": "t" * 900,
                              "referrer": "https://other.example/x?token=secret"})
    assert answer.status_code == 202
    [row] = stored(app_storage, site["id"])
    assert len(row["title"]) == 500 and "?" not in row["url"] and "email" not in row["url"]
    assert row["referrer"] == "https://other.example/x" and row["referrer_host"] == "other.example"


def test_server_side_events_older_than_the_retention_are_refused(client, ada, site):
    client.patch(f"/api/v1/sites/{site['id']}", headers=bearer(ada), json={"retention_days": 30})
    old = (__import__("datetime").datetime.now(__import__("datetime").timezone.utc)
           - __import__("datetime").timedelta(days=40)).isoformat()
    answer = client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(ada),
                         json={"type": "event", "name": "Signup", "ts": old})
    assert answer.status_code == 400 and "retention_days" in answer.get_json()["error"]["message"]
    for bad in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        answer = client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(ada),
                             json={"type": "event", "name": "Signup", "ts": bad})
        assert answer.status_code == 400


def test_each_site_pays_for_its_own_events(app, client, ada, site):
    other = make_site(client, ada, name="Blog", domain="blog.example.com")
    settings = app.server.extensions["datainsight"]["settings"]
    app.server.extensions["datainsight"]["settings"] = settings.with_overrides(
        collect_site_rate_limit="5/minute", collect_max_events=5)
    try:
        victim = [{"site": site["key"], "url": "https://shop.example.com/"}] * 5
        assert collect(client, victim[:1] * 6).status_code == 400  # a bare list counts its events too
        decoy = {"site": other["key"], "events": victim[:4]}  # the batch names another site than its events
        assert collect(client, decoy).status_code == 202
        refused = collect(client, victim[:2])
        assert refused.status_code == 429 and refused.headers["Retry-After"]
    finally:
        app.server.extensions["datainsight"]["settings"] = settings


@pytest.mark.parametrize("args", [{"period": "custom", "from": "0001-01-01", "to": "0001-01-02"},
                                  {"period": "day", "from": "9999-12-31"}, {"period": "month", "from": "9999-12-01"},
                                  {"period": "custom", "from": "2024-01-01T99", "to": "2024-01-02"}])
def test_stats_dates_out_of_range_are_400(client, ada, site, args):
    answer = client.get(f"/api/v1/sites/{site['id']}/stats/overview", headers=bearer(ada), query_string=args)
    assert answer.status_code == 400, answer.get_data(as_text=True)[:200]


def test_collect_answers_before_flask_and_is_still_counted_and_guarded(app, client, site):
    """POST /api/collect skips Flask (api.collect.CollectFastPath): its answers keep the
    request metrics, nosniff and no-store, and other methods still go through Flask."""
    from storage.metrics import metrics

    counter = metrics().http_requests.labels("/api/collect", "POST", "202")
    before = counter._value.get()
    calls = []
    app.server.before_request_funcs.setdefault(None, []).append(lambda: calls.append(1))
    answer = collect(client, {"site": site["key"], "url": "https://shop.example.com/"})
    assert answer.status_code == 202 and calls == []
    assert counter._value.get() == before + 1
    assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["Cache-Control"] == "no-store"
    client.get("/api/collect")
    assert calls == [1]
    bad_length = client.post("/api/collect", data=b"{}", headers={"Content-Length": "ten"})
    assert bad_length.status_code == 400


def test_an_unexpected_failure_is_a_json_500_with_cors(client, app_storage, site, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(app_storage.collect, "collect", broken)
    answer = collect(client, {"site": site["key"], "url": "https://shop.example.com/"})
    assert answer.status_code == 500 and answer.get_json()["error"]["code"] == "internal_error"
    assert answer.headers["Access-Control-Allow-Origin"] == "*" and answer.headers["Cache-Control"] == "no-store"
