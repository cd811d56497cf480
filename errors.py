"""The one error hierarchy, at the root so every room (storage, analytics, api, callbacks)
can raise and catch the same classes. Each error carries a message written for a person and a
stable code for scripts; the UI shows the message, the API returns both as JSON."""
from __future__ import annotations


class DataInsightError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DataInsightError):
    code = "invalid_input"
    status = 400


class Unauthenticated(DataInsightError):
    code = "unauthenticated"
    status = 401


class Forbidden(DataInsightError):
    code = "forbidden"
    status = 403


class NotFound(DataInsightError):
    code = "not_found"
    status = 404


class Conflict(DataInsightError):
    code = "conflict"
    status = 409


class PayloadTooLarge(DataInsightError):
    code = "payload_too_large"
    status = 413


class QuotaExceeded(PayloadTooLarge):
    """A person's uploads in progress or stored datasets would pass their quota."""

    code = "quota_exceeded"


class RateLimited(DataInsightError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, details: dict | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Unavailable(DataInsightError):
    """A service the app needs (the job queue) does not answer; trying again later may work."""

    code = "unavailable"
    status = 503


class IngestError(InvalidInput):
    """A file could not be turned into a dataset; the message says why and what to do."""

    code = "ingest_failed"
    status = 422


class InvalidSpec(InvalidInput):
    """A widget spec or analysis request names something that does not exist or is not
    allowed (an unknown column, aggregation or widget type)."""

    code = "invalid_spec"
    status = 400


class AnalysisError(InvalidInput):
    """The data cannot answer the question asked (a target with one value, fewer points
    than a season); the message says what is wrong with the data, not the request."""

    code = "analysis_failed"
    status = 422
