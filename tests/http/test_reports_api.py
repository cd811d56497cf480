"""Reports and schedules through the API: exports in every format with the dashboard
URL's filters, the background export and its file, another workspace gets 404, a public
link downloads only when its share allows it, and a missing browser is a clear 503."""
from __future__ import annotations

import io
import json
import time
import urllib.parse
from pathlib import Path

import pytest
from openpyxl import load_workbook

from analytics.reports import figures
from tests.conftest import PASSWORD, bearer, post_callback, render_page, wait_export_job

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def board(client, ada):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO((FIXTURES / "vgsales.csv").read_bytes()),
                                                                "vgsales.csv")}, headers=bearer(ada))
    vg = response.get_json()
    response = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Sales", "widgets": [
            {"id": "k", "spec": {"type": "kpi", "dataset_id": vg["id"], "title": "Total", "y": "Global_Sales",
                                 "agg": "sum", "number_format": "decimal"}},
            {"id": "b", "spec": {"type": "bar", "dataset_id": vg["id"], "title": "By genre", "x": "Genre",
                                 "y": "Global_Sales", "agg": "sum"}}],
        "filters": [{"id": "genre", "column": "Genre", "kind": "multi_select", "value": None}]})
    assert response.status_code == 201, response.get_json()
    # The tests mail addresses at example.com that are not members (issue 18, point 10).
    allowed = client.patch(f"/api/v1/workspaces/{response.get_json()['workspace_id']}", headers=bearer(ada),
                           json={"allowed_recipient_domains": ["example.com"]})
    assert allowed.status_code == 200, allowed.get_json()
    return response.get_json()


def url(board, **params):
    return f"/api/v1/dashboards/{board['id']}/export?" + urllib.parse.urlencode(params)


def test_export_formats_with_the_dashboard_filters(client, ada, board):
    filters = json.dumps({"genre": ["Action", "Sports"]})
    response = client.get(url(board, format="xlsx", filters=filters), headers=bearer(ada))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=Sales.xlsx"
    book = load_workbook(io.BytesIO(response.data))
    assert [r[0] for r in book["By genre"].iter_rows(values_only=True)][1:] == ["Action", "Sports"]
    pdf = client.get(url(board, format="pdf", paper="letter", orientation="landscape", filters=filters, tab="main"),
                     headers=bearer(ada))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-") and int(pdf.headers["X-Report-Pages"]) >= 2
    csv_file = client.get(url(board, format="csv", widget="b", filters=filters), headers=bearer(ada))
    assert csv_file.status_code == 200
    assert csv_file.data.decode("utf-8-sig").splitlines()[1].startswith("Action,")
    html = client.get(url(board, format="html"), headers=bearer(ada))
    assert html.status_code == 200 and b"Plotly.newPlot" in html.data
    archive = client.get(url(board, format="zip"), headers=bearer(ada))
    assert archive.status_code == 200 and archive.data.startswith(b"PK")


@pytest.mark.parametrize("params,message", [
    ({"format": "docx"}, "choose pdf, xlsx, html, zip, csv or pptx"),
    ({"format": "pdf", "paper": "a3"}, "choose a4 or letter"),
    ({"format": "pdf", "orientation": "sideways"}, "choose portrait or landscape"),
    ({"format": "csv"}, "widget=<widget id>"),
    ({"format": "xlsx", "tz": "Nowhere/Land"}, "Unknown time zone"),
])
def test_bad_options_are_named(client, ada, board, params, message):
    response = client.get(url(board, **params), headers=bearer(ada))
    assert response.status_code == 400 and message in response.get_json()["error"]["message"]
    missing = client.get(url(board, format="csv", widget="nope"), headers=bearer(ada))
    assert missing.status_code == 404


def test_another_workspace_cannot_export(client, ada, bob, board):
    for fmt in ("pdf", "xlsx", "html", "zip"):
        response = client.get(url(board, format=fmt), headers=bearer(bob))
        assert response.status_code == 404, fmt
    assert client.get(url(board, format="csv", widget="b"), headers=bearer(bob)).status_code == 404
    assert client.post(f"/api/v1/dashboards/{board['id']}/export/jobs", json={"format": "pdf"},
                       headers=bearer(bob)).status_code == 404
    assert client.get(url(board, format="pdf")).status_code == 401  # no one signed in


def test_public_link_exports_only_when_the_share_allows_it(client, ada, bob, board):
    share = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).get_json()
    token = share["token"]
    public = f"/public/exports/dashboards/{token}?format=xlsx"
    refused = client.get(public)
    assert refused.status_code == 403 and "does not allow downloads" in refused.get_json()["error"]["message"]
    assert client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True},
                      headers=bearer(bob)).status_code == 404  # not bob's to decide
    allowed = client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True},
                         headers=bearer(ada))
    assert allowed.status_code == 200 and allowed.get_json() == {"allow_export": True}
    response = client.get(public + "&" + urllib.parse.urlencode({"filters": json.dumps({"genre": ["Puzzle"]})}))
    assert response.status_code == 200
    assert [r[0] for r in load_workbook(io.BytesIO(response.data))["By genre"].iter_rows(values_only=True)][1:] == \
        ["Puzzle"]
    assert client.get(f"/public/exports/dashboards/{'x' * 43}?format=xlsx").status_code == 404  # a guessed token
    client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": False}, headers=bearer(ada))
    assert client.get(public).status_code == 403
    client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True}, headers=bearer(ada))
    client.delete(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada))
    assert client.get(public).status_code == 404  # a revoked link exports nothing


def test_background_export_and_its_file(client, ada, bob, board):
    started = client.post(f"/api/v1/dashboards/{board['id']}/export/jobs",
                          json={"format": "pdf", "paper": "a4", "filters": json.dumps({"genre": ["Racing"]})},
                          headers=bearer(ada))
    assert started.status_code == 201
    job_id = started.get_json()["job_id"]
    job = wait_export_job(client, ada, job_id)
    assert job["status"] == "done", job
    assert job["result"]["filename"] == "Sales.pdf" and job["result"]["stats"]["pages"] >= 2
    assert client.get(f"/api/v1/reports/{job_id}/file", headers=bearer(bob)).status_code == 404
    response = client.get(f"/api/v1/reports/{job_id}/file", headers=bearer(ada))
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert "Sales.pdf" in response.headers["Content-Disposition"]


def test_no_browser_is_a_503_naming_the_package(client, ada, board, monkeypatch):
    previous = figures.set_default_renderer(figures.FigureRenderer(browser_path="/nonexistent/chromium"))
    try:
        response = client.get(url(board, format="pdf"), headers=bearer(ada))
    finally:
        figures.set_default_renderer(previous)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "browser_missing" and "apt-get install chromium" in error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get(url(board, format="xlsx"), headers=bearer(ada)).status_code == 200  # no browser needed


def test_schedules_api(client, ada, bob, board):
    base = f"/api/v1/dashboards/{board['id']}/schedules"
    made = client.post(base, json={"frequency": "weekly", "days": [0], "time": "08:00", "timezone": "UTC",
                                   "recipients": ["team@example.com"], "format": "pdf"}, headers=bearer(ada))
    assert made.status_code == 201, made.get_json()
    schedule = made.get_json()
    assert schedule["description"] == "Weekly on Mon at 08:00 UTC" and schedule["name"] == "Sales report"
    assert "DATAINSIGHT_SMTP_HOST" in schedule["warning"]  # saved, but the answer says nothing can be sent
    assert client.get(base, headers=bearer(ada)).get_json()["schedules"][0]["id"] == schedule["id"]
    assert client.get(base, headers=bearer(bob)).status_code == 404
    assert client.get(f"/api/v1/schedules/{schedule['id']}", headers=bearer(bob)).status_code == 404
    assert client.post(f"/api/v1/schedules/{schedule['id']}/send", headers=bearer(bob)).status_code == 404
    bad = client.post(base, json={"frequency": "weekly", "days": [], "recipients": ["a@b.co"]}, headers=bearer(ada))
    assert bad.status_code == 400 and "needs its days" in bad.get_json()["error"]["message"]
    changed = client.patch(f"/api/v1/schedules/{schedule['id']}", json={"frequency": "daily"}, headers=bearer(ada))
    assert changed.get_json()["description"] == "Daily at 08:00 UTC"
    sent = client.post(f"/api/v1/schedules/{schedule['id']}/send", headers=bearer(ada))
    assert sent.status_code == 201 and sent.get_json()["trigger"] == "manual"
    # No mail server is set up here: the run has failed at once, with what to set, no retry.
    assert (sent.get_json()["status"], sent.get_json()["retry_at"]) == ("failed", None)
    run = client.get(f"/api/v1/schedules/{schedule['id']}", headers=bearer(ada)).get_json()["runs"][0]
    assert run["id"] == sent.get_json()["id"] and run["status"] == "failed"
    assert "DATAINSIGHT_SMTP_HOST" in run["error"]
    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=bearer(ada)).status_code == 204


# --- crafted callback posts: another user reaches nothing -------------------------------------


START_OUTPUTS = [("report-job", "data"), ("report-poll", "disabled"), ("report-progress-box", "hidden"),
                 ("report-progress", "value"), ("report-progress-message", "children"),
                 ("report-download-feedback", "children"), ("report-download-start", "disabled")]


def start_export_callback(client, board_id):
    return post_callback(client, START_OUTPUTS, [("report-download-start", "n_clicks", 1)],
                         [("dash-id", "data", board_id), ("dash-state", "data", {"filters": {}, "cross": []}),
                          ("report-format", "value", "xlsx"), ("report-paper", "value", "a4"),
                          ("report-orientation", "value", "portrait"), ("report-slide-size", "value", "16:9")],
                         changed=["report-download-start.n_clicks"])


def send_now_click(client, schedule_id):
    """The schedules page's Send now button of one schedule, as the renderer posts it."""
    return post_callback(
        client, [("schedule-action-feedback", "children"), ("schedule-rev", "data")],
        [({"type": "schedule-send", "index": "ALL"}, "n_clicks", [(schedule_id, 1)]),
         ({"type": "schedule-toggle", "index": "ALL"}, "n_clicks", []),
         ({"type": "schedule-delete", "index": "ALL"}, "n_clicks", [])],
        [("schedule-rev", "data", 0)],
        changed=[json.dumps({"index": schedule_id, "type": "schedule-send"}, separators=(",", ":")) + ".n_clicks"])


def test_callbacks_refuse_another_users_dashboard_job_and_schedule(make_client, app_storage, admin, board):
    from tests.conftest import sign_in

    owner = make_client()
    sign_in(owner, "ada@example.com")
    started = start_export_callback(owner, board["id"]).get_json()["response"]
    job_id = started["report-job"]["data"]
    assert job_id and started["report-poll"]["disabled"] is False
    schedule = app_storage.schedules.create(admin.principal(), board["id"], {
        "frequency": "daily", "time": "07:00", "recipients": ["a@example.com"]})

    app_storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    refused = start_export_callback(bob, board["id"]).get_json()["response"]
    assert refused["report-job"]["data"] is None
    assert "no dashboard" in json.dumps(refused["report-download-feedback"]["children"])
    polled = post_callback(
        bob, [("report-progress", "value"), ("report-progress-message", "children"), ("report-poll", "disabled"),
              ("report-download-feedback", "children"), ("report-file-url", "data"),
              ("report-download-start", "disabled"), ("report-progress-box", "hidden")],
        [("report-poll", "n_intervals", 1)], [("report-job", "data", job_id)],
        changed=["report-poll.n_intervals"]).get_json()["response"]
    assert polled["report-file-url"]["data"] is None and "no job" in json.dumps(polled)
    assert bob.get(f"/api/v1/reports/{job_id}/file").status_code == 404
    sent = send_now_click(bob, schedule["id"])
    assert "no schedule" in json.dumps(sent.get_json()["response"])
    assert app_storage.schedules.runs(admin.principal(), schedule["id"]) == []
    page = json.dumps(render_page(bob, f"/dashboards/{board['id']}/schedules").get_json())
    assert "This page could not be shown" in page and "a@example.com" not in page
    mine = json.dumps(render_page(owner, f"/dashboards/{board['id']}/schedules").get_json())
    assert "a@example.com" in mine and "Daily at 07:00 UTC" in mine and "Send now" in mine


def test_profile_pdf_and_excel(client, ada, bob, board, app_storage):
    dataset_id = board["widgets"][0]["spec"]["dataset_id"]
    for _ in range(300):
        status = client.get(f"/api/v1/datasets/{dataset_id}/profile", headers=bearer(ada)).get_json()["status"]
        if status != "running":
            break
        time.sleep(0.1)
    assert status == "ready"
    assert client.get(f"/api/v1/datasets/{dataset_id}/profile/export?format=pdf", headers=bearer(bob)).status_code == 404
    response = client.get(f"/api/v1/datasets/{dataset_id}/profile/export?format=pdf", headers=bearer(ada))
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert response.headers["Content-Disposition"] == 'attachment; filename="Profile of vgsales.pdf"'
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(response.data)
        handle.flush()
        text = subprocess.run(["pdftotext", handle.name, "-"], capture_output=True, text=True, check=True).stdout
    assert "Profile of vgsales" in text and "16,598" in text and "Column statistics" in text
    assert "Global_Sales" in text and "Correlation (Pearson)" in text
    book = load_workbook(io.BytesIO(client.get(f"/api/v1/datasets/{dataset_id}/profile/export?format=xlsx",
                                               headers=bearer(ada)).data))
    stats = list(book["Column statistics"].iter_rows(values_only=True))
    assert stats[0][:3] == ("Column", "Type", "Values") and len(stats) == 12  # header + 11 columns


FORM_FIELDS = ("name", "format", "paper", "orientation", "frequency", "weekdays", "monthday", "time", "timezone",
               "recipients")


def edit_click(client, schedule_id, trigger="edit"):
    """The schedules page's Edit button (or Cancel) as the renderer posts it: the form's
    fields, the genre filter's dropdown (a pattern output) and the edit state."""
    callback_map = client.application.extensions["datainsight_dash"].callback_map
    key = next(k for k, c in callback_map.items() if any(_id_type(i["id"]) == "schedule-edit" for i in c["inputs"]))
    outputs = [{"id": f"schedule-{f}", "property": "value"} for f in FORM_FIELDS]
    outputs += [[{"id": {"type": "schedule-filter", "index": "genre"}, "property": "value"}]]
    outputs += [{"id": i, "property": p} for i, p in (("schedule-editing", "data"), ("schedule-form-mode", "children"),
                                                      ("schedule-create", "children"),
                                                      ("schedule-edit-cancel-box", "hidden"),
                                                      ("schedule-form-feedback", "children"))]
    edit = {"type": "schedule-edit", "index": schedule_id}
    body = {"output": key, "outputs": outputs,
            "inputs": [[{"id": edit, "property": "n_clicks", "value": 1 if trigger == "edit" else 0}],
                       {"id": "schedule-edit-cancel", "property": "n_clicks", "value": 1 if trigger == "cancel" else 0},
                       {"id": "schedule-saved", "property": "data", "value": 0}],
            "state": [{"id": "schedule-filter-defaults", "property": "data", "value": {"genre": []}}],
            "changedPropIds": [json.dumps(edit, separators=(",", ":"), sort_keys=True) + ".n_clicks" if trigger == "edit"
                               else "schedule-edit-cancel.n_clicks"]}
    return client.post("/_dash-update-component", json=body)


def _id_type(component_id) -> str:
    if isinstance(component_id, str) and component_id.startswith("{"):
        return json.loads(component_id).get("type", "")
    return component_id.get("type", "") if isinstance(component_id, dict) else component_id


def save_click(client, board_id, editing, values: dict):
    fields = dict(zip(FORM_FIELDS, [None, "pdf", "a4", "portrait", "weekly", [0], 1, "08:00", "UTC", None]))
    fields.update(values)
    return post_callback(
        client, [("schedule-form-feedback", "children"), ("schedule-rev", "data"), ("schedule-saved", "data")],
        [("schedule-create", "n_clicks", 1)],
        [("schedule-dashboard-id", "data", board_id), *[(f"schedule-{f}", "value", fields[f]) for f in FORM_FIELDS],
         ({"type": "schedule-filter", "index": "ALL"}, "value", [("genre", fields.get("genre", []))]),
         ({"type": "schedule-filter", "index": "ALL"}, "id", [("genre", {"type": "schedule-filter", "index": "genre"})]),
         ("schedule-editing", "data", editing), ("schedule-rev", "data", 0), ("schedule-saved", "data", 0)],
        changed=["schedule-create.n_clicks"])


def test_schedule_edit_form_fills_saves_and_refuses_another_user(make_client, app_storage, admin, board):
    from tests.conftest import sign_in

    schedule = app_storage.schedules.create(admin.principal(), board["id"], {
        "name": "Monday sales", "frequency": "weekly", "days": [0, 3], "time": "07:30", "timezone": "Europe/Paris",
        "recipients": ["a@example.com", "b@example.com"], "format": "xlsx", "filters": {"genre": ["Sports"]}})
    owner = make_client()
    sign_in(owner, "ada@example.com")
    response = edit_click(owner, schedule["id"])
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    filled = response.get_json()["response"]
    values = [filled[f"schedule-{f}"]["value"] for f in FORM_FIELDS]
    assert values == ["Monday sales", "xlsx", "a4", "portrait", "weekly", [0, 3], 1, "07:30", "Europe/Paris",
                      "a@example.com, b@example.com"]
    assert filled['{"index":"genre","type":"schedule-filter"}']["value"] == ["Sports"]
    assert filled["schedule-editing"]["data"] == schedule["id"] and filled["schedule-form-feedback"]["children"] is None
    assert "Save changes" in json.dumps(filled["schedule-create"]) and filled["schedule-edit-cancel-box"]["hidden"] is False

    saved = save_click(owner, board["id"], schedule["id"], {
        "name": "Monday sales", "format": "pdf", "frequency": "monthly", "monthday": 15, "time": "06:00",
        "timezone": "Europe/Paris", "recipients": "a@example.com\nc@example.com", "genre": ["Racing"]})
    body = saved.get_json()["response"]
    assert "Saved: Monthly on day 15 at 06:00 Europe/Paris" in json.dumps(body), body
    assert body["schedule-saved"]["data"] == 1
    now = app_storage.schedules.get(admin.principal(), schedule["id"])
    assert (now["frequency"], now["days"], now["time"], now["format"], now["recipients"], now["filters"]) == (
        "monthly", [15], "06:00", "pdf", ["a@example.com", "c@example.com"], {"genre": ["Racing"]})
    assert len(app_storage.schedules.list(admin.principal(), board["id"])) == 1  # changed, not added

    cancelled = edit_click(owner, schedule["id"], trigger="cancel").get_json()["response"]
    assert cancelled["schedule-editing"]["data"] is None and cancelled["schedule-name"]["value"] is None
    assert "Add schedule" in json.dumps(cancelled["schedule-create"])

    # Bob crafts both posts with Ada's schedule: he reads nothing and changes nothing.
    app_storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    peek = edit_click(bob, schedule["id"])
    assert peek.status_code == 204 or "a@example.com" not in peek.get_data(as_text=True)
    overwrite = save_click(bob, board["id"], schedule["id"], {"recipients": "bob@example.com"})
    assert "no schedule" in json.dumps(overwrite.get_json()["response"])
    assert app_storage.schedules.get(admin.principal(), schedule["id"])["recipients"] == ["a@example.com",
                                                                                         "c@example.com"]


def test_public_page_download_menu_follows_the_share_and_the_filters(make_client, client, ada, board):
    token = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).get_json()["token"]
    visitor = make_client()  # nobody signed in
    page = json.dumps(render_page(visitor, f"/public/dashboards/{token}").get_json())
    assert "Sales" in page and "public-download-menu" not in page  # downloads not allowed: no menu
    client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True}, headers=bearer(ada))
    page = json.dumps(render_page(visitor, f"/public/dashboards/{token}").get_json())
    assert "public-download-menu" in page and f"/public/exports/dashboards/{token}?format=pdf" in page

    # The visitor filters to Puzzle: the links carry it, and the workbook holds only Puzzle.
    callback_map = visitor.application.extensions["datainsight_dash"].callback_map
    key = next(k for k in callback_map if "public-download-link" in k)
    state = {"filters": {"genre": ["Puzzle"]}, "cross": []}
    response = visitor.post("/_dash-update-component", json={
        "output": key, "outputs": [{"id": {"index": fmt, "type": "public-download-link"}, "property": "href"}
                                   for fmt in ("pdf", "xlsx")],
        "inputs": [{"id": "public-dash-state", "property": "data", "value": state}],
        "state": [{"id": "public-dash-token", "property": "data", "value": token}],
        "changedPropIds": ["public-dash-state.data"]})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    links = [v["href"] for v in response.get_json()["response"].values()]
    xlsx = next(link for link in links if "format=xlsx" in link)
    assert "filters=" in xlsx and "Puzzle" in urllib.parse.unquote(xlsx)
    workbook = load_workbook(io.BytesIO(visitor.get(xlsx).data))
    assert [r[0] for r in workbook["By genre"].iter_rows(values_only=True)][1:] == ["Puzzle"]


def test_schedule_form_warns_before_saving_when_email_is_not_set_up(make_client, app_storage, admin, board):
    """No DATAINSIGHT_SMTP_HOST: the form says so on the page, saving says so again, and
    Send now answers at once that nothing was sent; with a mail server the form is quiet."""
    from storage.schedules import Mailer
    from tests.conftest import sign_in
    from tests.smtp_server import SmtpServer

    owner = make_client()
    sign_in(owner, "ada@example.com")
    page = json.dumps(render_page(owner, f"/dashboards/{board['id']}/schedules").get_json())
    assert "schedule-mail-warning" in page and "Email is not set up on this server" in page
    assert "DATAINSIGHT_SMTP_HOST" in page
    saved = json.dumps(save_click(owner, board["id"], None, {"recipients": "team@example.com"}).get_json())
    assert "schedule-saved-warning" in saved and "Added: Weekly on Mon at 08:00 UTC" in saved
    assert "DATAINSIGHT_SMTP_HOST" in saved
    [schedule] = app_storage.schedules.list(admin.principal(), board["id"])
    send = send_now_click(owner, schedule["id"])
    feedback = json.dumps(send.get_json()["response"]["schedule-action-feedback"])
    assert "Not sent: Email is not set up" in feedback and "danger" in feedback
    assert app_storage.schedules.runs(admin.principal(), schedule["id"])[0]["status"] == "failed"

    with SmtpServer() as smtp:
        app_storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        page = json.dumps(render_page(owner, f"/dashboards/{board['id']}/schedules").get_json())
        assert "schedule-mail-warning" not in page
        saved = json.dumps(save_click(owner, board["id"], None, {"recipients": "b@example.com"}).get_json())
        assert "schedule-saved-warning" not in saved and "Added:" in saved
