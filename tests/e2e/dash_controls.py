"""What the dashboard browser tests share: picking a value of a dcc.Dropdown, and reading
the bars a plotly graph has drawn."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

# The bars of every trace of a plotly graph, {category: value} (plotly.py may send the values
# as typed arrays: Array.from reads both).
DRAWN_BARS = """graph => {
    const out = {};
    for (const trace of graph.data || []) {
        const xs = Array.from(trace.x || []), ys = Array.from(trace.y || []);
        xs.forEach((x, i) => { out[String(x)] = Number(ys[i]); });
    }
    return out;
}"""


def pick(page: Page, dropdown, label: str, outside: str) -> None:
    """Pick the option of a dcc.Dropdown whose label starts with ``label``, by typing into
    its search box; if the list stays open (a multi-select), close it by clicking
    ``outside``, an element next to it (not the page's corner: in a dialog that click would
    land on the backdrop and close the dialog)."""
    dropdown.click()
    page.locator(".dash-dropdown-search").fill(label)
    page.get_by_role("option", name=re.compile("^" + re.escape(label))).first.click()
    if page.locator(".dash-dropdown-search").count():
        page.locator(outside).click()
    expect(page.locator(".dash-dropdown-search")).to_have_count(0)
