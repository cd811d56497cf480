"""Issue 18, point 2: building a report never makes the server fetch a URL the author wrote.

A listener on 127.0.0.1 stands for any internal service. A markdown widget points images,
stylesheets, frames and links at it; figures carry layout images, template images and a
geojson URL pointing at it. Exporting the dashboard (PDF and HTML, through the API, the
background job and a public link that allows downloads), drawing the figures with kaleido
and building a scheduled mail must leave it without a single connection, and the exports
still succeed with the image left out and a note in its place."""
from __future__ import annotations

import datetime as dt
import io
import json
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analytics.reports import interactive, pdf
from analytics.reports.content import markdown_html
from tests.conftest import bearer, wait_export_job
from tests.listener import Listener
from tests.smtp_server import RecordingMailer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def hostile_markdown(base: str) -> str:
    """Every way a text could ask a renderer to fetch ``base``: markdown images (remote,
    file, relative), raw HTML (img, link, iframe, object, style with @import and url()),
    a link and an autolink (links are kept: a reader clicks them, the server does not)."""
    return "\n".join([
        "# Notes",
        f"![pixel]({base}/markdown-image.png)",
        "![local](file:///etc/hostname) ![relative](/assets/../../etc/hostname)",
        f'<img src="{base}/raw-img.png">',
        f'<link rel="stylesheet" href="{base}/raw-link.css">',
        f'<iframe src="{base}/raw-iframe"></iframe>',
        f"<style>@import url({base}/raw-import.css); body {{ background: url({base}/raw-bg.png) }}</style>",
        f'<div style="background-image: url({base}/raw-style.png)">styled</div>',
        f'<object data="{base}/raw-object"></object>',
        f"[a link]({base}/link) and <{base}/autolink>",
        "[click](javascript:alert(1))",
    ])


def hostile_figure(base: str) -> dict:
    image = {"xref": "paper", "yref": "paper", "x": 0, "y": 1, "sizex": 0.5, "sizey": 0.5}
    return {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}],
            "layout": {"images": [{**image, "source": f"{base}/layout-image.png"}],
                       "template": {"layout": {"images": [{**image, "source": f"{base}/template-image.png"}]}}}}


@pytest.fixture
def listener():
    with Listener() as found:
        yield found


@pytest.fixture
def board(client, ada, listener):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO((FIXTURES / "vgsales.csv").read_bytes()),
                                                                "vgsales.csv")}, headers=bearer(ada))
    vg = response.get_json()
    response = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Notes", "widgets": [
            {"id": "m", "spec": {"type": "markdown", "title": "Read me", "text": hostile_markdown(listener.url)}},
            {"id": "b", "spec": {"type": "bar", "dataset_id": vg["id"], "title": "By genre", "x": "Genre",
                                 "y": "Global_Sales", "agg": "sum"}}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_fetched_nothing(listener):
    time.sleep(0.3)  # a connection still on its way would be seen now
    assert listener.requests() == [] and listener.connections == []


class _Loads(HTMLParser):
    """What a browser would load from an HTML page: element sources, stylesheets, style
    attributes and elements, and the figures' JSON in scripts (links are not loads)."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self._in = tag
        for name, value in attrs:
            if name in ("src", "srcset", "data", "poster", "background", "style") or (tag == "link" and name == "href"):
                self.loaded.append(value or "")

    def handle_data(self, data):
        if self._in in ("style", "script"):
            self.loaded.append(data)


def assert_no_remote_source(page: str, listener) -> None:
    parser = _Loads()
    parser.feed(page)
    assert not [text for text in parser.loaded if listener.url in text]


def test_dashboard_pdf_and_html_exports_fetch_nothing(client, ada, board, listener):
    base = f"/api/v1/dashboards/{board['id']}/export?"
    for params in ({"format": "pdf"}, {"format": "pdf", "paper": "letter", "orientation": "landscape"}):
        response = client.get(base + urllib.parse.urlencode(params), headers=bearer(ada))
        assert response.status_code == 200, response.get_json()
        assert response.data.startswith(b"%PDF-") and int(response.headers["X-Report-Pages"]) >= 2
    html = client.get(base + "format=html", headers=bearer(ada))
    assert html.status_code == 200
    assert_no_remote_source(html.get_data(as_text=True), listener)
    started = client.post(f"/api/v1/dashboards/{board['id']}/export/jobs", json={"format": "pdf"}, headers=bearer(ada))
    job = wait_export_job(client, ada, started.get_json()["job_id"])
    assert job["status"] == "done", job
    assert_fetched_nothing(listener)


def test_public_link_with_downloads_fetches_nothing(client, ada, board, listener):
    token = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).get_json()["token"]
    client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True}, headers=bearer(ada))
    response = client.get(f"/public/exports/dashboards/{token}?format=pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    html = client.get(f"/public/exports/dashboards/{token}?format=html")
    assert html.status_code == 200
    assert_no_remote_source(html.get_data(as_text=True), listener)
    assert_fetched_nothing(listener)


def test_markdown_keeps_embedded_images_and_names_what_it_left_out(listener):
    out = markdown_html(hostile_markdown(listener.url) + "\n\n![dot](data:image/png;base64,iVBORw0KGgo=)")
    assert '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"' in out  # embedded in the text: kept
    assert out.count("<img") == 1 and "&lt;img src=" in out  # raw HTML stays text
    assert "Image not included: pixel" in out and "Image not included: relative" in out
    assert "![local](file:///etc/hostname)" in out  # markdown-it refuses file: URLs: it stays text
    assert f'<a href="{listener.url}/link">a link</a>' in out  # a link is for the reader to click
    assert 'href="javascript:' not in out


def test_figures_with_remote_images_draw_without_fetching(listener):
    figure = hostile_figure(listener.url)
    geo = {"data": [{"type": "choropleth", "geojson": f"{listener.url}/shapes.geojson", "locations": ["a"],
                     "z": [1], "featureidkey": "properties.id", "locationmode": "geojson-id"}], "layout": {}}
    report = {"title": "Figures", "description": "", "filters": [], "timezone": "UTC",
              "generated_at": dt.datetime(2026, 1, 1), "tabs": [{"id": "t", "title": "Tab", "widgets": [
                  {"id": "f", "title": "Chart", "layout": {"x": 0, "y": 0, "w": 6, "h": 4},
                   "output": {"kind": "figure", "figure": figure}, "data": None},
                  {"id": "g", "title": "Map", "layout": {"x": 6, "y": 0, "w": 6, "h": 4},
                   "output": {"kind": "figure", "figure": geo}, "data": None}]}]}
    content, stats = pdf.render_pdf(report)
    assert content.startswith(b"%PDF-") and stats["charts"] == 2
    page = interactive.render_html(report).decode("utf-8")
    assert listener.url not in page
    assert_fetched_nothing(listener)


@pytest.mark.parametrize("fmt", ["pdf", "html"])
def test_scheduled_mail_fetches_nothing(app_storage, admin, board, listener, fmt):
    mailer = app_storage.schedules.mailer = RecordingMailer()
    schedule = app_storage.schedules.create(admin.principal(), board["id"], {
        "frequency": "daily", "time": "08:00", "timezone": "UTC", "recipients": ["ada@example.com"], "format": fmt})
    run = app_storage.schedules.send_now(admin.principal(), schedule["id"], background=False)
    assert run["status"] == "sent", run
    (mail,) = mailer.sent
    assert listener.url not in mail["html"] and "<img" not in mail["html"]
    name, _mimetype, content = mail["attachment"]
    assert name == f"Notes.{fmt}"
    if fmt == "html":
        assert_no_remote_source(content.decode("utf-8"), listener)
    assert_fetched_nothing(listener)


def test_browser_markdown_renders_no_raw_html():
    """On screen, dcc.Markdown keeps raw HTML as text and its link filter turns
    javascript: links into javascript:void(0): nothing to loosen here."""
    import dash

    from components.widgets import widget_body

    body = widget_body({"kind": "markdown", "text": "[x](javascript:alert(1)) <img src=x onerror=alert(1)>"}, "g")
    assert not getattr(body, "dangerously_allow_html", False)
    bundle = Path(dash.__file__).parent / "dcc" / "async-markdown.js"
    assert '"javascript:void(0)"' in bundle.read_text()


def test_offline_figure_drops_every_remote_source(listener):
    """The figure handed to kaleido and to the HTML page holds no URL to fetch."""
    from analytics.reports.fetching import offline_figure

    figure = hostile_figure(listener.url)
    figure["data"].append({"type": "choroplethmap", "geojson": f"{listener.url}/g.json", "locations": ["a"],
                           "z": [1]})
    figure["data"].append({"type": "image", "source": f"{listener.url}/trace-image.png"})
    figure["layout"]["map"] = {"style": f"{listener.url}/style.json",
                               "layers": [{"source": f"{listener.url}/layer.json", "sourcetype": "geojson"},
                                          {"source": {"type": "FeatureCollection", "features": []}}]}
    figure["layout"]["mapbox"] = {"style": "open-street-map", "layers": [
        {"sourcetype": "raster", "source": [f"{listener.url}/tiles/{{z}}/{{x}}/{{y}}.png"]}]}
    cleaned = offline_figure(figure)
    assert listener.url not in json.dumps(cleaned)
    assert cleaned["layout"]["map"]["style"] == "white-bg" and cleaned["layout"]["mapbox"]["style"] == "white-bg"
    assert cleaned["layout"]["map"]["layers"] == [{"source": {"type": "FeatureCollection", "features": []}}]
    assert cleaned["data"][0] == figure["data"][0]  # the bars themselves are untouched
    assert listener.url in json.dumps(figure)  # the caller's figure is not changed in place
    embedded = {"layout": {"images": [{"source": "data:image/png;base64,iVBORw0KGgo="}]}}
    assert offline_figure(embedded) == embedded
