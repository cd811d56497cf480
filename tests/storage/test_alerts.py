"""Alerts (issue 17, point 2): they fire once when the number crosses the line and once
when it comes back (webhook to a local HTTP server, email to a local SMTP server), not
again while it stays, exactly once with two schedulers racing, retried with backoff,
refused for addresses inside the network, and out of reach of another workspace."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from storage.alerts import AlertService
from storage.errors import Forbidden, InvalidInput, NotFound
from storage.schedules import Mailer
from tests.conftest import PASSWORD, Clock
from tests.smtp_server import RecordingMailer, SmtpServer
from tests.webhook_server import WebhookServer

UTC = dt.timezone.utc
SALES = "day,region,revenue\n2026-11-01,North,4000\n2026-11-01,South,3000\n2026-11-02,North,1000\n"


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


@pytest.fixture
def clock(storage):
    clock = Clock(dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    storage.alerts.clock = clock
    return clock


@pytest.fixture
def hook():
    with WebhookServer() as server:
        yield server


@pytest.fixture
def alerts(storage, clock):
    storage.alerts.allow_private = True  # the webhook server is on 127.0.0.1
    storage.alerts.mailer = RecordingMailer()
    storage.alerts.renderer = NoChart()
    return storage.alerts


class NoChart:
    """Stands in for kaleido: the chart's bytes, and the figures it was asked to draw."""

    def __init__(self):
        self.figures = []

    def png(self, figure, width, height, scale=2):
        self.figures.append(figure)
        return b"\x89PNG fake"


@pytest.fixture
def board(storage, ada, tmp_path):
    workspace = storage.workspaces.personal_workspace(ada).id
    path = tmp_path / "sales.csv"
    path.write_text(SALES)
    sales = storage.datasets.create_from_file(ada, workspace, path, "sales.csv")
    return storage.dashboards.create(ada, workspace, {
        "name": "Revenue", "widgets": [
            {"id": "k", "spec": {"type": "kpi", "dataset_id": sales.id, "title": "Revenue", "y": "revenue",
                                 "agg": "sum"}},
            {"id": "b", "spec": {"type": "bar", "dataset_id": sales.id, "title": "By region", "x": "region",
                                 "y": "revenue", "agg": "sum"}},
            {"id": "t", "spec": {"type": "markdown", "text": "Notes"}}]})


def append(storage, principal, board, tmp_path, rows: str):
    path = tmp_path / f"more-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text("day,region,revenue\n" + rows)
    dataset_id = board["widgets"][0]["spec"]["dataset_id"]
    storage.datasets.add_version(principal, dataset_id, path, path.name, mode="append")


def kpi_alert(board, url, **extra):
    return {"dashboard_id": board["id"], "widget_id": "k", "condition": {"op": "<", "value": 5000},
            "check": "on_refresh", "channels": [{"type": "webhook", "url": url},
                                                {"type": "email", "to": ["ada@example.com"]}], **extra}


def test_fires_once_on_crossing_and_once_on_recovery(storage, alerts, ada, board, hook, tmp_path):
    made = alerts.create(ada, kpi_alert(board, hook.url), link_base="http://bi.example.com/")
    assert made["state"] == "unknown" and made["check"] == "on_refresh"
    assert alerts.tick()  # the first check: 8,000 is not below 5,000, nothing is sent
    assert alerts.get(ada, made["id"])["state"] == "ok" and hook.received == []
    assert alerts.tick() == []  # no new version: no check
    append(storage, ada, board, tmp_path, "2026-11-03,North,-3500\n")  # 4,500
    assert len(alerts.tick()) == 1
    assert len(hook.received) == 1 and len(alerts.mailer.sent) == 1
    body = hook.received[0]
    assert body["event"] == "triggered" and body["state"] == "triggered"
    assert body["value"] == 4500 and body["threshold"] == 5000
    assert body["alert"]["id"] == made["id"] and body["dashboard"] == {"id": board["id"], "name": "Revenue"}
    assert body["widget"] == {"id": "k", "title": "Revenue"}
    assert body["link"] == f"http://bi.example.com/dashboards/{board['id']}"
    assert hook.paths == ["/hook/secret-part"]
    mail = alerts.mailer.sent[0]
    assert mail["to"] == ["ada@example.com"] and mail["subject"].startswith("Alert: ")
    assert "4,500" in mail["text"] and "below 5,000" in mail["text"] and "cid:chart" in mail["html"]
    assert mail["inline_png"] == ("chart", b"\x89PNG fake")
    # Lower still: it stays below, nothing more is sent.
    append(storage, ada, board, tmp_path, "2026-11-04,South,-500\n")  # 4,000
    assert len(alerts.tick()) == 1 and len(hook.received) == 1 and len(alerts.mailer.sent) == 1
    # Back above: "back to normal", once.
    append(storage, ada, board, tmp_path, "2026-11-05,South,2000\n")  # 6,000
    alerts.tick()
    assert [b["event"] for b in hook.received] == ["triggered", "recovered"]
    assert hook.received[1]["state"] == "ok" and hook.received[1]["text"].startswith("Back to normal")
    assert alerts.mailer.sent[1]["subject"].startswith("Back to normal: ")
    history = alerts.history(ada, made["id"])
    assert [c["event"] for c in history] == ["recovered", None, "triggered", None]
    assert [c["value"] for c in history] == [6000, 4000, 4500, 8000]
    assert {d["status"] for c in history for d in c["deliveries"]} == {"sent"}
    assert {d["target"] for d in history[0]["deliveries"]} == {f"http://127.0.0.1:{hook.port}", "ada@example.com"}
    assert storage.alerts.widget_states(ada, board["id"]) == {"k": "ok"}


def test_every_time_sends_at_each_check_while_it_holds(storage, alerts, ada, board, hook, clock):
    made = alerts.create(ada, kpi_alert(board, hook.url, send="every_time", condition={"op": ">", "value": 100},
                                        check={"frequency": "hourly", "time": "00:15"}))
    assert made["next_check_at"] == "2026-11-23T07:15:00+00:00"
    assert alerts.tick() == []  # not due yet
    for hour in range(3):
        clock.now = dt.datetime(2026, 11, 23, 7 + hour, 16, tzinfo=UTC)
        assert len(alerts.tick()) == 1
    assert [b["event"] for b in hook.received] == ["triggered", "repeated", "repeated"]
    assert alerts.get(ada, made["id"])["next_check_at"] == "2026-11-23T10:15:00+00:00"


def test_two_schedulers_racing_send_once(storage, alerts, ada, board, hook, tmp_path):
    made = alerts.create(ada, kpi_alert(board, hook.url))
    alerts.tick()
    other = AlertService(storage.engine, storage.workspaces, storage.dashboards, storage.users, storage.queries,
                         storage.jobs, mailer=alerts.mailer, clock=alerts.clock)
    other.allow_private, other.renderer = True, alerts.renderer
    append(storage, ada, board, tmp_path, "2026-11-03,North,-3500\n")
    start = threading.Barrier(2)
    checks = []

    def run(service):
        start.wait()
        checks.extend(service.tick())

    threads = [threading.Thread(target=run, args=(s,)) for s in (alerts, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(checks) == 1 and len(hook.received) == 1 and len(alerts.mailer.sent) == 1
    # A manual check racing on: the state is already "triggered", so nothing more is sent.
    assert alerts.check_now(ada, made["id"], background=False)["event"] is None
    assert len(hook.received) == 1


def test_a_failing_webhook_is_retried_with_backoff(storage, alerts, ada, board, clock, tmp_path):
    with WebhookServer(statuses=[503, 503]) as flaky:
        made = alerts.create(ada, kpi_alert(board, flaky.url, channels=[{"type": "webhook", "url": flaky.url}]))
        alerts.tick()
        append(storage, ada, board, tmp_path, "2026-11-03,North,-3500\n")
        alerts.tick()
        delivery = alerts.history(ada, made["id"])[0]["deliveries"][0]
        assert delivery["status"] == "retrying" and delivery["attempts"] == 1 and "answered 503" in delivery["error"]
        assert delivery["retry_at"] == "2026-11-23T07:01:00+00:00"
        clock.now += dt.timedelta(seconds=61)
        alerts.tick()
        delivery = alerts.history(ada, made["id"])[0]["deliveries"][0]
        assert delivery["status"] == "retrying" and delivery["attempts"] == 2
        assert delivery["retry_at"] == "2026-11-23T07:06:01+00:00"
        clock.now += dt.timedelta(seconds=301)
        alerts.tick()
        delivery = alerts.history(ada, made["id"])[0]["deliveries"][0]
        assert delivery["status"] == "sent" and delivery["attempts"] == 3
        assert [b["event"] for b in flaky.received] == ["triggered"]


def test_a_redirect_is_not_followed(storage, alerts, ada, board, tmp_path):
    with WebhookServer(statuses=[302], redirect_to="http://169.254.169.254/latest/meta-data/") as moved:
        made = alerts.create(ada, kpi_alert(board, moved.url, channels=[{"type": "webhook", "url": moved.url}],
                                            condition={"op": ">", "value": 0}))
        alerts.tick()
        delivery = alerts.history(ada, made["id"])[0]["deliveries"][0]
        assert delivery["status"] == "failed" and delivery["attempts"] == 1
        assert "redirects to http://169.254.169.254/latest/meta-data/" in delivery["error"]
        assert "do not follow redirects" in delivery["error"]


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/hook", "private network"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:192.168.0.1]/hook", "private network"),
    ("http://0.0.0.0/hook", "reserved"),
    ("ftp://example.com/hook", "must start with https:// or http://"),
    ("file:///etc/passwd", "must start with https:// or http://"),
    ("http://user:secret@example.com/hook", "no user name or password"),
    ("http://example.com:99999/hook", "port"),
    ("https:///nohost", "no host name"),
])
def test_webhooks_to_refused_addresses_are_refused(storage, ada, board, url, words):
    storage.alerts.allow_private = False
    with pytest.raises(InvalidInput) as refused:
        storage.alerts.create(ada, kpi_alert(board, url, channels=[{"type": "webhook", "url": url}]))
    assert words in refused.value.message and refused.value.details == {"field": "channels"}


def test_a_delivery_checks_the_address_again(storage, alerts, ada, board, hook):
    """Allowed when saved, refused when sent (the setting changed, or the name now points
    inside): the delivery fails at once and says why."""
    made = alerts.create(ada, kpi_alert(board, hook.url, channels=[{"type": "webhook", "url": hook.url}],
                                        condition={"op": ">", "value": 0}))
    alerts.allow_private = False
    alerts.tick()
    delivery = alerts.history(ada, made["id"])[0]["deliveries"][0]
    assert delivery["status"] == "failed" and "loopback" in delivery["error"] and hook.received == []


def test_another_workspace_cannot_reach_alerts(storage, alerts, ada, bob, board, hook):
    with pytest.raises(NotFound):
        alerts.create(bob, kpi_alert(board, hook.url))
    made = alerts.create(ada, kpi_alert(board, hook.url))
    for attempt in (lambda: alerts.get(bob, made["id"]), lambda: alerts.update(bob, made["id"], {"enabled": False}),
                    lambda: alerts.delete(bob, made["id"]), lambda: alerts.check_now(bob, made["id"]),
                    lambda: alerts.history(bob, made["id"]), lambda: alerts.list(bob, board["id"]),
                    lambda: alerts.widget_states(bob, board["id"])):
        with pytest.raises(NotFound):
            attempt()
    # A viewer of the workspace sees the bells but cannot manage alerts.
    storage.workspaces.add_member(ada, board["workspace_id"], "bob@example.com", "viewer")
    assert alerts.widget_states(bob, board["id"]) == {"k": "unknown"}
    with pytest.raises(Forbidden):
        alerts.create(bob, kpi_alert(board, hook.url, channels=[{"type": "webhook", "url": hook.url}]))
    with pytest.raises(Forbidden):
        alerts.check_now(bob, made["id"])


def test_a_category_of_a_bar_chart(storage, alerts, ada, board, hook, tmp_path):
    made = alerts.create(ada, {"dashboard_id": board["id"], "widget_id": "b", "category": "North",
                               "condition": {"op": "<=", "value": 2000},
                               "channels": [{"type": "webhook", "url": hook.url}]})
    assert made["name"] == "By region · North at or below 2,000"
    alerts.tick()
    assert alerts.history(ada, made["id"])[0]["value"] == 5000
    append(storage, ada, board, tmp_path, "2026-11-03,North,-3000\n")
    alerts.tick()
    assert hook.received[0]["value"] == 2000 and hook.received[0]["category"] == "North"
    # The email's chart is the bar chart itself, with the threshold drawn across it.
    figure = alerts.renderer.figures[-1] if alerts.renderer.figures else None
    assert figure is None  # no email channel on this alert: nothing drawn
    missing = alerts.create(ada, {"dashboard_id": board["id"], "widget_id": "b", "category": "West",
                                  "condition": {"op": "<", "value": 1}, "channels": [{"type": "webhook",
                                                                                       "url": hook.url}]})
    check = alerts.check_now(ada, missing["id"], background=False)
    assert check["state"] == "error" and "no value for 'West'" in check["error"]


@pytest.mark.parametrize("payload, words", [
    ({"widget_id": "t"}, "this widget is a markdown"),
    ({"widget_id": "b"}, "Say which category"),
    ({"widget_id": "k", "category": "North"}, "leave the category out"),
    ({"widget_id": "nope"}, "no widget 'nope'"),
    ({"condition": {"op": "==", "value": 1}}, "Unknown condition"),
    ({"condition": {"op": "<", "value": "5"}}, "must be a number"),
    ({"condition": {"op": "changes_by_pct", "value": -5}}, "more than 0"),
    ({"check": {"frequency": "minutely"}}, "Unknown frequency"),
    ({"check": "sometimes"}, "check is"),
    ({"channels": []}, "Add where to send it"),
    ({"channels": [{"type": "sms", "to": "1"}]}, "Each channel is"),
    ({"channels": [{"type": "email", "to": ["stranger@elsewhere.org"]}]}, "stranger@elsewhere.org"),
    ({"send": "sometimes"}, "send is"),
    ({"surprise": 1}, "Unknown alert field 'surprise'"),
])
def test_bad_alerts_are_refused_with_their_reason(storage, alerts, ada, board, hook, payload, words):
    with pytest.raises(InvalidInput) as refused:
        alerts.create(ada, {**kpi_alert(board, hook.url), **payload})
    assert words in refused.value.message


def test_changes_by_pct_compares_with_the_previous_check(storage, alerts, ada, board, hook, tmp_path):
    made = alerts.create(ada, kpi_alert(board, hook.url, condition={"op": "changes_by_pct", "value": 20},
                                        channels=[{"type": "webhook", "url": hook.url}]))
    alerts.tick()
    first = alerts.history(ada, made["id"])[0]
    assert first["state"] == "error" and "nothing to compare with yet" in first["error"]
    append(storage, ada, board, tmp_path, "2026-11-03,North,800\n")  # 8,800: +10%
    alerts.tick()
    assert alerts.history(ada, made["id"])[0]["state"] == "ok" and hook.received == []
    append(storage, ada, board, tmp_path, "2026-11-03,North,-3800\n")  # 5,000: -43%
    alerts.tick()
    assert hook.received[0]["event"] == "triggered" and round(hook.received[0]["change_pct"]) == -43


def test_an_alert_stops_when_its_widget_is_removed(storage, alerts, ada, board, hook):
    made = alerts.create(ada, kpi_alert(board, hook.url))
    storage.dashboards.update(ada, board["id"], {"widgets": [w for w in board["widgets"] if w["id"] != "k"]})
    alerts.tick()
    stopped = alerts.get(ada, made["id"])
    assert not stopped["enabled"] and "widget was removed" in stopped["stop_reason"]
    assert storage.alerts.widget_states(ada, board["id"]) == {"k": "paused"}


def test_the_email_through_smtp_carries_the_chart(storage, ada, board, clock, tmp_path):
    storage.alerts.renderer = NoChart()
    with SmtpServer() as smtp:
        storage.alerts.mailer = Mailer("127.0.0.1", smtp.port)
        made = storage.alerts.create(ada, {"dashboard_id": board["id"], "widget_id": "k",
                                           "condition": {"op": ">", "value": 100},
                                           "channels": [{"type": "email", "to": ["ada@example.com"]}]})
        storage.alerts.tick()
        assert len(smtp.inbox.messages) == 1
        message = smtp.inbox.messages[0]["message"]
        assert message["Subject"] == f"Alert: {made['name']} · 8,000"
        parts = {part.get_content_type(): part for part in message.walk()}
        assert parts["image/png"]["Content-ID"] == "<chart>"
        assert "above 100" in parts["text/plain"].get_content()


def test_values_on_public_data_equal_pandas(storage, alerts, ada, hook):
    """vgsales (public, tests/fixtures/SOURCES.md): a bar's category, a line's year and a
    KPI's mean, as the alerts read them, are pandas' numbers."""
    import pandas as pd

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "vgsales.csv"
    workspace = storage.workspaces.personal_workspace(ada).id
    vg = storage.datasets.create_from_file(ada, workspace, fixture, "vgsales.csv")
    board = storage.dashboards.create(ada, workspace, {"name": "VG", "widgets": [
        {"id": "g", "spec": {"type": "bar", "dataset_id": vg.id, "x": "Genre", "y": "Global_Sales", "agg": "sum"}},
        {"id": "y", "spec": {"type": "line", "dataset_id": vg.id, "x": "Year", "y": "Global_Sales", "agg": "sum"}},
        {"id": "k", "spec": {"type": "kpi", "dataset_id": vg.id, "y": "NA_Sales", "agg": "mean"}}]})
    frame = pd.read_csv(fixture)
    expected = {("g", "Action"): frame[frame.Genre == "Action"].Global_Sales.sum(),
                ("y", "2008"): frame[frame.Year == 2008].Global_Sales.sum(),
                ("k", None): frame.NA_Sales.mean()}
    for (widget, category), value in expected.items():
        made = alerts.create(ada, {"dashboard_id": board["id"], "widget_id": widget, "category": category,
                                   "condition": {"op": ">", "value": 1},
                                   "channels": [{"type": "webhook", "url": hook.url}]})
        check = alerts.check_now(ada, made["id"], background=False)
        assert check["value"] == pytest.approx(value, rel=1e-9), (widget, category)
