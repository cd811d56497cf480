"""The locustfile of bench/load.py: what one simulated person does, as the browser does it.

Run by bench/load.py as ``python -m locust -f bench/_load_users.py`` in a process of its
own (locust patches the standard library with gevent; the harness stays unpatched). What
it needs (ports, accounts, ids, Dash's callback keys) comes in the JSON file named by
``DATAINSIGHT_LOAD_CONFIG``, written by bench/load.py.

A person signs in through the login callback, then, with 1-3 s of thinking between
steps, opens the dashboard (the page, then Dash's page router, which draws all 12
widgets in one answer), changes a dashboard filter (the ``set_filters`` callback, then
the 12 ``draw_widget`` callbacks, 6 at a time as a browser sends them to one host), pages
the dataset's grid (the AG Grid ``getRowsRequest`` callback) and calls the REST API
(a dashboard, a page of rows, a widget query). Requests alternate between the web
processes' ports, as a round-robin proxy would send them: the session cookie and the
secret key are shared, so any process answers any request.

Request kinds (locust's "Name"): each callback and route by what it does, and
``filter change (12 widgets)``: from the filter's callback until the last widget is drawn
(all of them, and apart for the warmed filter sets and the others).
"""
from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time

import requests
from gevent.pool import Pool
from locust import HttpUser, between, events, task
from locust.clients import LocustHttpAdapter

CONFIG = json.loads(open(os.environ["DATAINSIGHT_LOAD_CONFIG"]).read())
CALLBACK = "/_dash-update-component"
BROWSER_PARALLEL = 6  # requests a browser sends to one host at once
_accounts = itertools.count()
_ports = itertools.cycle(CONFIG["ports"])


def _outputs(key: str) -> list[dict] | dict:
    """Dash's ``outputs`` for a callback key ("a.b" or "..a.b...c.d.."), property
    suffixes of allow_duplicate (``@hash``) removed."""
    def one(part: str) -> dict:
        cid, _, prop = part.rpartition(".")
        return {"id": json.loads(cid) if cid.startswith("{") else cid, "property": prop.split("@")[0]}

    if key.startswith("..") and key.endswith(".."):
        return [one(p) for p in key[2:-2].split("...")]
    return one(key)


RESENT = "RESENT"  # locust's request type of the resends below: counted apart, not as requests
_sending = threading.local()  # per greenlet under locust's gevent: was the last request's connection reused?


def _count_requests_per_connection() -> None:
    """Tell a kept-alive connection from a new one, as a browser does before resending:
    each urllib3 connection counts the requests sent since it (re)connected."""
    from urllib3.connection import HTTPConnection

    connect, request = HTTPConnection.connect, HTTPConnection.request

    def counted_connect(self):
        self.requests_sent = 0
        return connect(self)

    def counted_request(self, *args, **kwargs):
        # Counted once sent: a connection opened inside request() (http.client's auto-open)
        # starts again at 0 in connect().
        _sending.reused = self.sock is not None and getattr(self, "requests_sent", 0) > 0
        sent = request(self, *args, **kwargs)
        self.requests_sent = getattr(self, "requests_sent", 0) + 1
        return sent

    HTTPConnection.connect, HTTPConnection.request = counted_connect, counted_request


_count_requests_per_connection()


class BrowserAdapter(LocustHttpAdapter):
    """Sends a request again, once, when its connection closed before any answer came, as
    a browser does (Chromium's HttpNetworkTransaction::ShouldResendRequest; RFC 9112 9.3.1).

    A server may close a kept-alive connection it found idle just as the client reuses it:
    no server can avoid that race, and a browser never shows it to its user. requests
    (locust's client) does not resend, so without this the load test counted the race
    as a failed widget. Only a reused connection is resent, as by the browser: a new
    connection closed without an answer is the server's fault and stays an error. Each
    resend is reported (type RESENT), never hidden.
    """

    def send(self, request, **kwargs):
        _sending.reused = False
        try:
            return super().send(request, **kwargs)
        except requests.ConnectionError as error:
            if not (_sending.reused and _closed_before_answer(error)):
                raise
            events.request.fire(request_type=RESENT, name="closed before an answer, sent again", response_time=0,
                                response_length=0, exception=None, context={})
            return super().send(request, **kwargs)


def _closed_before_answer(error: requests.ConnectionError) -> bool:
    """urllib3 says "Connection aborted." when the connection failed before the answer's
    status line (after it, a broken answer is another error, not resent)."""
    cause = error.args[0] if error.args else None
    return getattr(cause, "args", (None,))[0] == "Connection aborted."


class Person(HttpUser):
    wait_time = between(1, 3)
    host = f"http://127.0.0.1:{CONFIG['ports'][0]}"

    def _url(self, path: str) -> tuple[str, dict]:
        base = f"http://127.0.0.1:{next(_ports)}"
        return base + path, {"Origin": base}

    @staticmethod
    def _why(response) -> str:
        """The status and the start of the body, or (status 0) the connection's error."""
        return f"{response.status_code}: {getattr(response, 'error', None) or response.text[:200]}"

    def _post(self, path: str, name: str, body: dict, check=None):
        url, headers = self._url(path)
        with self.client.post(url, json=body, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(self._why(response))
            elif check is not None and not check(response):
                response.failure(f"unexpected answer: {response.text[:200]}")
            else:
                response.success()
            return response

    def _get(self, path: str, name: str):
        url, headers = self._url(path)
        with self.client.get(url, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(self._why(response))
            else:
                response.success()
            return response

    # --- what a person does ----------------------------------------------------------------

    def on_start(self):
        self.client.mount("http://", BrowserAdapter(pool_manager=self.pool_manager))
        email, password = CONFIG["accounts"][next(_accounts) % len(CONFIG["accounts"])]
        self.state = {"filters": {}, "cross": []}
        body = {
            "output": "..public-login-feedback.children...public-login-redirect.href..",
            "outputs": [{"id": "public-login-feedback", "property": "children"},
                        {"id": "public-login-redirect", "property": "href"}],
            "inputs": [{"id": "public-login-submit", "property": "n_clicks", "value": 1}],
            "state": [{"id": "public-login-email", "property": "value", "value": email},
                      {"id": "public-login-password", "property": "value", "value": password},
                      {"id": "public-login-remember", "property": "value", "value": False},
                      {"id": "public-login-next", "property": "data", "value": "/"}],
            "changedPropIds": ["public-login-submit.n_clicks"],
        }
        self._post(CALLBACK, "sign in", body,
                   check=lambda r: "public-login-redirect" in r.text and "datainsight_session" in self.client.cookies)
        self.open_dashboard()

    @task(1)
    def open_dashboard(self):
        board = CONFIG["dashboard_id"]
        self._get(f"/dashboards/{board}", "open dashboard: page")
        body = {
            "output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": f"/dashboards/{board}"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"],
        }
        self._post(CALLBACK, "open dashboard: 12 widgets drawn", body,
                   check=lambda r: r.text.count("dash-widget-body") >= len(CONFIG["widget_ids"]))
        self.state = {"filters": {}, "cross": []}

    @task(3)
    def change_filter(self):
        started = time.perf_counter()
        failed = "a widget failed"
        if random.random() < 0.2:  # a month of its own: cold the first time anyone asks
            countries, period = random.choice(CONFIG["country_choices"]), random.choice(CONFIG["other_periods"])
            kind = "widget, other filter set"
        else:  # one of the sets bench/load.py warmed
            countries, period = random.choice(CONFIG["filter_choices"])
            kind = "widget, warm filter set"
        key = CONFIG["keys"]["set_filters"]
        body = {
            "output": key, "outputs": _outputs(key),
            "inputs": [[{"id": {"index": "country", "type": "dash-filter-select"}, "property": "value",
                         "value": countries}],
                       [{"id": {"index": "period", "type": "dash-filter-dates"}, "property": "start_date",
                         "value": period[0] if period else None}],
                       [{"id": {"index": "period", "type": "dash-filter-dates"}, "property": "end_date",
                         "value": period[1] if period else None}],
                       [], []],
            "state": [{"id": "dash-state", "property": "data", "value": self.state},
                      {"id": "dash-id", "property": "data", "value": CONFIG["dashboard_id"]}],
            "changedPropIds": ['{"index":"country","type":"dash-filter-select"}.value'],
        }
        response = self._post(CALLBACK, "filter change: set_filters", body)
        ok = response.status_code in (200, 204)
        if response.status_code == 200:
            try:
                answer = response.json()["response"]
                if not answer:  # the same values as before (no_update): nothing is drawn again
                    return
                self.state = answer["dash-state"]["data"]
            except (ValueError, KeyError, StopIteration, TypeError):
                ok = False
                failed = f"the filter callback's answer has no dash-state: {response.text[:200]}"
        else:  # 204: the same values as before; the widgets are not drawn again
            return
        results = Pool(BROWSER_PARALLEL).map(lambda w: self._draw_widget(w, kind), CONFIG["widget_ids"])
        ok = ok and all(results)
        elapsed = (time.perf_counter() - started) * 1000
        for name in ("filter change (12 widgets)", f"filter change (12 widgets), {kind.split(', ')[1]}"):
            events.request.fire(request_type="FLOW", name=name, response_time=elapsed, response_length=0,
                                exception=None if ok else RuntimeError(failed), context={})

    def _draw_widget(self, widget_id: str, kind: str) -> bool:
        key = CONFIG["keys"]["draw_widget"]
        body = {
            "output": key, "outputs": {"id": {"index": widget_id, "type": "dash-widget-body"}, "property": "children"},
            "inputs": [{"id": "dash-state", "property": "data", "value": self.state}],
            "state": [{"id": "dash-id", "property": "data", "value": CONFIG["dashboard_id"]}],
            "changedPropIds": ["dash-state.data"],
        }
        response = self._post(CALLBACK, kind, body,
                              check=lambda r: "widget-error" not in r.text)
        return response.status_code == 200 and "widget-error" not in response.text

    @task(2)
    def page_grid(self):
        key = CONFIG["keys"]["grid_rows"]
        start = random.randrange(0, 200) * 100
        sort = random.choice([[], [], [{"colId": "UnitPrice", "sort": "desc"}]])
        body = {
            "output": key, "outputs": _outputs(key),
            "inputs": [{"id": "dataset-grid", "property": "getRowsRequest",
                        "value": {"startRow": start, "endRow": start + 100, "sortModel": sort, "filterModel": {}}}],
            "state": [{"id": "dataset-id", "property": "data", "value": CONFIG["dataset_id"]}],
            "changedPropIds": ["dataset-grid.getRowsRequest"],
        }
        self._post(CALLBACK, "grid page (getRowsRequest)", body, check=lambda r: "rowData" in r.text)

    @task(2)
    def call_api(self):
        choice = random.random()
        if choice < 0.34:
            self._get(f"/api/v1/dashboards/{CONFIG['dashboard_id']}", "API GET dashboard")
        elif choice < 0.67:
            offset = random.randrange(0, 500) * 50
            self._get(f"/api/v1/datasets/{CONFIG['dataset_id']}/rows?offset={offset}&limit=50", "API GET rows")
        else:
            countries, _period = random.choice(CONFIG["filter_choices"])
            filters = [{"column": "Country", "op": "in", "value": countries}] if countries else []
            self._post("/api/v1/query", "API POST query",
                       {"dataset_id": CONFIG["dataset_id"], "filters": filters,
                        "spec": {"type": "bar", "x": "Channel", "y": {"expr": "mul", "columns": ["Quantity",
                                                                                                 "UnitPrice"]},
                                 "agg": "sum"}})

