"""The one error hierarchy. Each error carries a message written for a person and a
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


class RateLimited(DataInsightError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, details: dict | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class IngestError(InvalidInput):
    """A file could not be turned into a dataset; the message says why and what to do."""

    code = "ingest_failed"
    status = 422
