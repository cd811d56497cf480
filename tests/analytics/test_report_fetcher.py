"""WeasyPrint's url_fetcher (analytics.reports.fetching): a page that asks for every kind of
resource gets only data: URIs and the app's own assets; the listener standing for an
internal service hears nothing, and the PDF is still laid out."""
from __future__ import annotations

import time

import pytest
import weasyprint

from analytics.reports.fetching import ASSETS_DIR, asset_path, embedded_asset, markdown_image, url_fetcher
from tests.listener import Listener

DOT = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_weasyprint_fetches_only_data_and_assets():
    css = (ASSETS_DIR / "50-app.css").as_uri()
    with Listener() as listener:
        u = listener.url
        page = (f"<html><head><link rel='stylesheet' href='{u}/a.css'><link rel='stylesheet' href='{css}'>"
                f"<style>@import url({u}/b.css); @font-face {{ font-family: x; src: url({u}/f.woff) }}"
                f" body {{ background: url({u}/bg.png) }}</style></head><body>"
                f"<img src='{u}/i.png'><img src='file:///etc/hostname'><img src='{DOT}'>"
                f"<object data='{u}/o'></object><embed src='{u}/e'><iframe src='{u}/f'></iframe>"
                f"<svg width='10' height='10'><image href='{u}/svg.png' width='10' height='10'/></svg>"
                f"<a rel='attachment' href='{u}/attached'>a</a><p style='background: url({u}/s.png)'>x</p>"
                "</body></html>")
        pdf = weasyprint.HTML(string=page, url_fetcher=url_fetcher()).write_pdf()
        time.sleep(0.3)
        assert listener.requests() == []
    assert pdf.startswith(b"%PDF-")


def test_fetcher_refuses_everything_but_data_and_assets():
    fetch = url_fetcher()
    assert fetch(DOT).read().startswith(b"\x89PNG")
    assert b"{" in fetch((ASSETS_DIR / "50-app.css").as_uri()).read()
    for url in ("http://127.0.0.1:9/x", "https://example.com/x.png", "file:///etc/hostname", "ftp://example.com/x",
                (ASSETS_DIR / ".." / "settings.py").as_uri(), "file://otherhost" + str(ASSETS_DIR / "50-app.css")):
        with pytest.raises(ValueError, match="fetch nothing"):
            fetch(url)


def test_asset_paths_stay_under_assets(tmp_path):
    assert asset_path("/assets/50-app.css") == ASSETS_DIR / "50-app.css"
    assert asset_path("/assets/../settings.py") is None and asset_path("/assets/%2e%2e/settings.py") is None
    assert asset_path("/assets/nothing-here.png") is None and asset_path("http://x/assets/50-app.css") is None
    link = ASSETS_DIR / "test-escape-link.css"
    try:
        link.symlink_to(tmp_path)  # a link inside assets/ pointing out of it
        assert asset_path("/assets/test-escape-link.css") is None
    finally:
        link.unlink(missing_ok=True)
    assert embedded_asset("/assets/50-app.css") is None  # not an image
    assert markdown_image(DOT) == DOT and markdown_image("http://127.0.0.1/x.png") is None


def test_kaleido_chromium_starts_behind_a_proxy_to_nowhere(monkeypatch):
    """Outside loopback (which offline_figure guards), Chromium's requests go to a proxy
    where nothing listens. Measured by hand against a listener on the machine's own
    non-loopback address: one request without the proxy, none with it, charts unchanged."""
    import sys

    import kaleido

    from analytics.reports import figures

    started = []
    monkeypatch.setattr(figures.FigureRenderer, "_started", False)
    monkeypatch.setattr(kaleido, "start_sync_server", lambda **kwargs: started.append(kwargs))
    figures.FigureRenderer(browser_path=sys.executable)._ensure_started()
    assert started[0]["proxy_server"] == figures.NO_NETWORK_PROXY and started[0]["mathjax"] is False
