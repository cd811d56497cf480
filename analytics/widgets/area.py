"""Area chart: a line chart filled to zero; groups stack."""
from __future__ import annotations

from analytics.widgets.line import Line


class Area(Line):
    name = "area"
    label = "Area chart"
    icon = "graph-up-arrow"
    fill = "tozeroy"


WIDGET = Area()
