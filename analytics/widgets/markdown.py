"""Markdown text: headings, notes and links on a dashboard; no query."""
from __future__ import annotations

from analytics.widgets.base import EditorField, WidgetType, f_title


class Markdown(WidgetType):
    name = "markdown"
    label = "Text"
    icon = "markdown"
    fields = [f_title(), EditorField("text", "Text (Markdown)", "text", required=True, default="")]

    def query(self, spec, schema, source_sql):
        return None

    def render(self, result, spec):
        return {"kind": "markdown", "text": spec.get("text") or ""}


WIDGET = Markdown()
