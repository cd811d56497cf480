"""The widget registry: one module per widget type, each declaring its editor fields, its
query (spec → SQL) and its output (small result → figure, KPI, table or text).

Adding a chart type is adding one module here and its name to ``_MODULES``.
"""
from __future__ import annotations

import copy
import importlib

from analytics.widgets.base import GRAINS, EditorField, WidgetType
from errors import InvalidSpec

_MODULES = ("kpi", "bar", "line", "area", "pie", "scatter", "histogram", "box", "heatmap", "table", "pivot", "map",
            "funnel", "sankey", "treemap", "markdown", "analysis")

REGISTRY: dict[str, WidgetType] = {}
for _name in _MODULES:
    _widget = importlib.import_module(f"analytics.widgets.{_name}").WIDGET
    REGISTRY[_widget.name] = _widget


def widget_type(name) -> WidgetType:
    """The widget type called ``name``; InvalidSpec naming the choices when there is none."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise InvalidSpec(f"Unknown widget type {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def editor_catalogue() -> list[dict]:
    """Every type with its editor fields, as JSON (GET /api/v1/widget-types)."""
    return [wt.public_dict() for wt in REGISTRY.values()]


def click_filter(spec: dict, click_point: dict) -> dict | None:
    """A plotly clickData point as a cross-filter {"column", "op": "=", "value"} (with
    "grain" when the widget groups a date by one), or None when the click means nothing."""
    if not isinstance(spec, dict) or not isinstance(click_point, dict):
        return None
    wt = REGISTRY.get(spec.get("type"))
    if wt is None:
        return None
    return wt.click_filter(spec, click_point)


def drill_down(spec: dict) -> dict | None:
    """The spec with its time grain one step finer (year → quarter → month → week → day →
    hour), or None when there is nothing finer."""
    grain = spec.get("time_grain") if isinstance(spec, dict) else None
    if grain not in GRAINS or grain == GRAINS[-1]:
        return None
    out = copy.deepcopy(spec)
    out["time_grain"] = GRAINS[GRAINS.index(grain) + 1]
    return out


__all__ = ["REGISTRY", "EditorField", "WidgetType", "click_filter", "drill_down", "editor_catalogue", "widget_type"]
