"""The error hierarchy lives in the root module ``errors`` so analytics/ can raise the
same classes without importing storage; this module keeps the storage-side imports."""
from errors import (  # noqa: F401
    AnalysisError,
    Conflict,
    DataInsightError,
    Forbidden,
    IngestError,
    InvalidInput,
    InvalidSpec,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
