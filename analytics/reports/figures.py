"""Plotly figures as vector SVG, through kaleido 1.x and a headless Chromium.

Starting Chromium costs seconds, so one kaleido server is started on first use and kept
for the life of the process; a lock lets one figure through at a time (the server
itself works one request after another). Without a Chrome or Chromium on the machine
the export stops with BrowserMissing, a message naming the package to install, instead
of kaleido's own error (or, worse, a server thread that died and a caller left waiting).
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path

from errors import DataInsightError

log = logging.getLogger(__name__)

INSTALL_HINT = ("PDF export draws charts with a headless Chromium, and none was found on the server. "
                "Install it (Debian/Ubuntu: apt-get install chromium; `make run` does this where it can), "
                "or set BROWSER_PATH to a Chrome or Chromium executable, then export again.")
RENDER_TIMEOUT = 60  # seconds for one figure before the export gives up
# Chromium sends every http(s) request through this proxy, where nothing listens: a second
# wall, after fetching.offline_figure, between a figure and the network (a cloud's metadata
# address, the intranet, the internet). Chromium always bypasses proxies for loopback, so
# 127.0.0.1 stays guarded by offline_figure alone; file: (plotly.js, topojson) is not proxied.
NO_NETWORK_PROXY = "http://127.0.0.1:9"
# Maps read their country shapes from our vendored topojson (as the dashboard does), not a CDN.
TOPOJSON_DIR = Path(__file__).resolve().parents[2] / "assets" / "vendor-topojson"


class BrowserMissing(DataInsightError):
    """No Chrome/Chromium for kaleido: the server needs a package, not the request a change."""

    code = "browser_missing"
    status = 503


class FigureRenderError(DataInsightError):
    code = "figure_render_failed"
    status = 500


def find_browser() -> str | None:
    """The Chrome or Chromium kaleido would use (BROWSER_PATH, then PATH and the usual
    places), or None. Checked before kaleido starts, because a server whose browser fails
    to start leaves its caller waiting forever."""
    from choreographer.browsers.chromium import Chromium

    try:
        path = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - a finder that fails has found nothing
        log.exception("looking for a browser failed")
        return None
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return str(path)
    return None


class FigureRenderer:
    """SVG of plotly figure dicts. ``browser_path`` overrides the search (tests point it
    at a missing file to see the message)."""

    _lock = threading.Lock()  # one kaleido server per process, so one lock for all renderers
    _started = False

    def __init__(self, browser_path: str | None = None, finder=find_browser):
        self.browser_path = browser_path
        self.finder = finder

    def _browser(self) -> str:
        path = self.browser_path if self.browser_path is not None else self.finder()
        if not path or not Path(path).is_file():
            raise BrowserMissing(INSTALL_HINT)
        return path

    def _ensure_started(self) -> None:
        import kaleido

        path = self._browser()
        if FigureRenderer._started and kaleido._global_server.is_running():
            return
        # mathjax=False: no MathJax from a CDN (the server is offline); plotly.js comes
        # from the installed plotly package.
        import plotly.io as pio

        pio.defaults.topojson = TOPOJSON_DIR.as_uri() + "/"
        kaleido.start_sync_server(mathjax=False, silence_warnings=True, path=path, proxy_server=NO_NETWORK_PROXY)
        FigureRenderer._started = True

    def svg(self, figure: dict, width: int, height: int) -> str:
        """The figure as an SVG document (text), ``width`` × ``height`` CSS pixels."""
        data = self._image(figure, "svg", width, height, 1)
        return data.decode("utf-8") if isinstance(data, bytes) else data

    def png(self, figure: dict, width: int, height: int, scale: float = 2) -> bytes:
        """The figure as a PNG of ``scale`` device pixels per CSS pixel (slides, which
        cannot hold SVG)."""
        return self._image(figure, "png", width, height, scale)

    def _image(self, figure: dict, fmt: str, width: int, height: int, scale: float):
        import plotly.io as pio

        from analytics.reports.fetching import offline_figure

        figure = offline_figure(figure)  # Chromium would fetch image, geojson and map URLs
        with FigureRenderer._lock:
            self._ensure_started()
            result: dict = {}

            def call():
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # "kopts ignored with a server": expected
                        result["image"] = pio.to_image(figure, format=fmt, width=int(width), height=int(height),
                                                       scale=scale)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                    result["error"] = exc

            # kaleido's server blocks its caller until it answers; a browser that died
            # would never answer, so the call runs in a thread we can stop waiting for.
            worker = threading.Thread(target=call, daemon=True, name="kaleido-call")
            worker.start()
            worker.join(RENDER_TIMEOUT)
            if worker.is_alive():
                raise FigureRenderError(f"Drawing a chart took longer than {RENDER_TIMEOUT} s; the headless "
                                        "Chromium may have stopped. Try again, or restart the server.")
            if "error" in result:
                exc = result["error"]
                if type(exc).__name__ == "ChromeNotFoundError":
                    raise BrowserMissing(INSTALL_HINT) from None
                log.error("kaleido failed: %r", exc)
                raise FigureRenderError(f"A chart could not be drawn: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None
            return result["image"]


_default = FigureRenderer()


def default_renderer() -> FigureRenderer:
    return _default


def set_default_renderer(renderer: FigureRenderer) -> FigureRenderer:
    """Swap the process-wide renderer (tests); returns the previous one."""
    global _default
    previous, _default = _default, renderer
    return previous
