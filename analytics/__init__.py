"""Pure computations: profiles, statistics, models, the widget registry, report rendering.

Functions here receive DuckDB relations or frames, never ids, and know nothing of Flask,
Dash, users or storage; storage/ checks access and hands them the data.
"""
