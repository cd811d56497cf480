"""Map: a choropleth of a value by country (names, or ISO 3166 alpha-3 or alpha-2 codes)."""
from __future__ import annotations

from analytics.countries import iso3_of
from analytics.widgets import _category as cat
from analytics.widgets.base import (
    EditorField,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_per,
    f_percentile,
    f_title,
    f_y,
    figure_output,
    plain,
)
from analytics.widgets.theme import SEQUENTIAL, base_layout

LOCATION_MODES = ("country names", "ISO-3", "ISO-2")
LOCATION_LABELS = {"country names": "Country names (France)", "ISO-3": "Three-letter codes (FRA)",
                   "ISO-2": "Two-letter codes (FR)"}
# Names seen in real data that plotly's country-name lookup does not know.
COUNTRY_ALIASES = {"EIRE": "Ireland", "RSA": "South Africa", "USA": "United States", "UK": "United Kingdom",
                   "Czech Republic": "Czechia", "Korea": "South Korea"}


class Map(WidgetType):
    name = "map"
    label = "Map"
    icon = "globe"
    fields = [
        f_title(), f_description(),
        EditorField("x", "Country column", "column", required=True, types=["text", "categorical"]),
        EditorField("location_mode", "Locations are", "choice", choices=list(LOCATION_MODES), labels=LOCATION_LABELS,
                    default="country names"),
        f_y(), f_agg("sum"), f_percentile(), f_per(),
        EditorField("limit", "Countries (top N)", "number", default=250, minimum=1, maximum=300),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = "-y"
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql)

    def render(self, result, spec):
        rows = [r for r in result["rows"] if r[0] is not None]
        mode = spec.get("location_mode") or "country names"
        if mode == "ISO-2":  # plotly knows alpha-3 codes only; a code it cannot place stays off the map
            rows = [r for r in rows if iso3_of(r[0])]
            locations, mode = [iso3_of(r[0]) for r in rows], "ISO-3"
        else:
            locations = [COUNTRY_ALIASES.get(str(plain(r[0])), str(plain(r[0]))) for r in rows]
        raw = [plain(r[0]) for r in rows]
        trace = {"type": "choropleth", "locations": locations, "z": [plain(r[1]) for r in rows],
                 "locationmode": mode, "colorscale": SEQUENTIAL,
                 "customdata": [[v] for v in raw], "text": [str(v) for v in raw],
                 "hovertemplate": "%{text}: %{z:,.4~g}<extra></extra>", "marker": {"line": {"width": 0.5}}}
        # The whole world with every border drawn, not zoomed to the countries with data.
        layout = base_layout({}, geo={"showframe": False, "showcoastlines": False, "showcountries": True,
                                      "countrycolor": "#ced4da", "showland": True, "landcolor": "#f8f9fa",
                                      "fitbounds": False, "projection": {"type": "natural earth"},
                                      "bgcolor": "rgba(0,0,0,0)"})
        return {**figure_output([trace], layout), "note": cat.top_note(result, spec, "places", offers_other=False)}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Map()
