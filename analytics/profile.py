"""The dataset profile (issue 4). The work is split by column kind under
analytics/profiling/; this module is the one entry point the rest of the app uses."""
from analytics.profiling import compute_profile, infer_schema

__all__ = ["compute_profile", "infer_schema"]
