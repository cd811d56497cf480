"""Numbers as the dashboard shows them, shared by the screen, the PDF, the HTML report
and the schedule's mail so that a KPI reads the same everywhere."""
from __future__ import annotations


def format_number(value, d3_format: str | None = None) -> str:
    """A number as the widget's d3-format asks (the subset the widget registry uses:
    ",.0f", ",.2f", ".1%", "$,.2f", ".3s"); thousands separators otherwise."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    fmt = d3_format or ""
    prefix = "$" if fmt.startswith("$") else ""
    if fmt.endswith("%"):
        return f"{value:.1%}"
    if fmt.endswith("s"):  # SI prefixes: 1.23M, 45.6k
        for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= limit:
                return f"{prefix}{value / limit:.3g}{suffix}"
        return f"{prefix}{value:.3g}"
    if fmt.endswith(".0f") or (not fmt.endswith(".2f") and float(value).is_integer()):
        return f"{prefix}{value:,.0f}"
    if fmt.endswith(".2f") or abs(value) >= 100:
        return f"{prefix}{value:,.2f}"
    return f"{prefix}{value:,.4g}"
