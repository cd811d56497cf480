"""What a report's renderers may fetch: what the report embeds (data: URIs) and the app's
own files under assets/, nothing else.

WeasyPrint, kaleido's headless Chromium and the reader's browser all follow URLs in what
they render. A report is built from what its authors wrote (markdown, figures), so a URL
there pointing at an internal service (``http://127.0.0.1:8099/admin``, a cloud's metadata
address) would have the server request it for them, and a public link that allows
downloads would hand that to anyone. Three guards, one rule:

- ``url_fetcher()`` is WeasyPrint's only way out: ``data:`` URIs, and ``file:`` URLs of
  files under assets/; everything else (http and https to anywhere, the app's own host
  included; file: elsewhere; ftp) is refused and logged, and WeasyPrint leaves that
  resource out of a PDF that is still built.
- ``markdown_image`` decides each markdown image: embedded (data:) images are kept, an
  image under /assets/ is embedded from the app's own files, any other becomes a visible
  note naming it. The PDF and the HTML export both render markdown this way.
- ``offline_figure`` removes every source plotly.js would fetch (layout and template
  images, image traces, geojson URLs, map styles and layers) before kaleido draws a figure
  or an HTML export carries it.
"""
from __future__ import annotations

import base64
import functools
import logging
import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
MAX_ASSET_BYTES = 2 * 1024 * 1024  # an asset embedded in a report (a logo), not a data file
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
OFFLINE_MAP_STYLE = "white-bg"  # the one map style that draws no tiles from a server
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.IGNORECASE)
_MAP_SUBPLOT = re.compile(r"^(mapbox|map)\d*$")


def is_embedded(url) -> bool:
    """True for a data: URI (the bytes are in the report; nothing to fetch)."""
    return isinstance(url, str) and url.strip()[:5].lower() == "data:"


def asset_path(url: str) -> Path | None:
    """The file under assets/ that ``url`` names (``/assets/logo.png`` as the app serves
    it, or a ``file:`` URL), or None for anything else, including paths that climb out of
    assets/ through ``..`` or a symbolic link."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(unquote(parts.path))
    elif not parts.scheme and not parts.netloc and parts.path.startswith("/assets/"):
        path = ASSETS_DIR / unquote(parts.path)[len("/assets/"):]
    else:
        return None
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(ASSETS_DIR) or not resolved.is_file():
        return None
    return resolved


def embedded_asset(url: str) -> str | None:
    """An image under assets/ as a data: URI (so no renderer fetches it), or None when
    ``url`` names no such image or it is too big to embed."""
    path = asset_path(url)
    if path is None:
        return None
    mimetype = mimetypes.guess_type(path.name)[0]
    if mimetype not in IMAGE_TYPES or path.stat().st_size > MAX_ASSET_BYTES:
        return None
    return f"data:{mimetype};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def markdown_image(src: str) -> str | None:
    """The source a report may show for a markdown image: the data: URI itself, an asset
    embedded, or None (left out, with a note)."""
    if _DATA_IMAGE.match(src.strip()):
        return src
    return embedded_asset(src)


def refused(url: str, renderer: str) -> str:
    """Log a refused URL (the administrator sees who tried what) and say why."""
    shown = url if len(url) <= 200 else url[:200] + "…"
    log.warning("%s was refused a URL a report asked for: %s", renderer, shown)
    return f"Reports fetch nothing from the network or the server's files; left out: {shown}"


@functools.lru_cache(maxsize=1)
def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnlyFetcher(URLFetcher):
        """WeasyPrint's fetcher restricted to data: URIs and files under assets/."""

        def __init__(self):
            # Only data: reaches urllib (its DataHandler); no redirects to follow.
            super().__init__(timeout=5, allowed_protocols=("data",), allow_redirects=False)

        def fetch(self, url, headers=None):
            if is_embedded(url):
                return super().fetch(url, headers)
            path = asset_path(url)
            if path is not None:
                mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mimetype})
            raise ValueError(refused(url, "WeasyPrint"))

    return LocalOnlyFetcher


def url_fetcher():
    """The ``url_fetcher`` for every ``weasyprint.HTML``/``CSS`` the app builds."""
    return _fetcher_class()()


def _remote(value) -> bool:
    """A source plotly.js would fetch: a URL string, or a list of them (map tiles)."""
    if isinstance(value, str):
        return bool(value.strip()) and not is_embedded(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, str) and not is_embedded(v) for v in value)
    return False


def _clean(value):
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ("source", "geojson") and _remote(item):
            continue  # an image trace's or a layer's URL, a choropleth's geojson URL
        if key in ("images", "layers") and isinstance(item, list):
            # An image or a map layer is nothing without its source: drop the whole entry.
            item = [entry for entry in item if not (isinstance(entry, dict) and
                                                    (_remote(entry.get("source")) or
                                                     (key == "images" and "source" not in entry)))]
        elif _MAP_SUBPLOT.match(key) and isinstance(item, dict):
            item = {**item, "style": OFFLINE_MAP_STYLE}  # any other style fetches tiles or a style URL
        out[key] = _clean(item)
    return out


def offline_figure(figure: dict) -> dict:
    """A copy of a plotly figure dict with nothing in it for plotly.js to fetch; the
    caller's figure is left as it was. Map traces get an offline style even when their
    subplot is not in the layout (plotly's default styles draw tiles from the internet)."""
    if hasattr(figure, "to_plotly_json"):  # a plotly Figure object rather than its dict
        figure = figure.to_plotly_json()
    cleaned = _clean(dict(figure))
    layout = cleaned["layout"] = dict(cleaned.get("layout") or {})
    for trace in cleaned.get("data") or []:
        kind = str(trace.get("type") or "") if isinstance(trace, dict) else ""
        if kind.endswith("mapbox") or kind in ("scattermap", "choroplethmap", "densitymap"):
            subplot = trace.get("subplot") or ("mapbox" if kind.endswith("mapbox") else "map")
            layout[subplot] = {**(layout.get(subplot) or {}), "style": OFFLINE_MAP_STYLE}
    return cleaned
