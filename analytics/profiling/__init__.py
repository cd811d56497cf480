"""The dataset profile, computed in DuckDB SQL: see compute.py for the passes and
docs/profile.md for the statistical definitions."""
from analytics.profiling.columns import infer_schema
from analytics.profiling.compute import compute_profile

__all__ = ["compute_profile", "infer_schema"]
