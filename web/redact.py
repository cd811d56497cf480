"""Secrets that travel in URLs stay out of the logs (issue 18, point 12).

A public dashboard's share token and an invitation's code are the only key to what they
open, and both are in the address: ``/public/dashboards/<token>``,
``/public/exports/dashboards/<token>``, ``/invite?code=...``. The access log writes the
request line and the Referer (every asset a public page loads names the page), so whoever
reads the logs could open the dashboard or take the invitation. The log keeps the route
and drops the secret: ``/public/dashboards/[redacted]``.
"""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

REDACTED = "[redacted]"

_SECRET_IN_PATH = re.compile(r"(/public/(?:exports/)?dashboards/)[^/?#\s\"']+")
# Any query parameter that carries a key: the invitation's code, a token, a password-reset key.
_SECRET_IN_QUERY = re.compile(r"([?&](?:code|token|key|access_token)=)[^&#\s\"']+", re.IGNORECASE)
# The same, percent-encoded inside another URL (a ?next= that points at a public page).
_SECRET_IN_ENCODED_PATH = re.compile(r"(%2Fpublic%2F(?:exports%2F)?dashboards%2F)[^%&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL secret replaced by [redacted]."""
    text = _SECRET_IN_PATH.sub(r"\1" + REDACTED, text)
    text = _SECRET_IN_ENCODED_PATH.sub(r"\1" + REDACTED, text)
    return _SECRET_IN_QUERY.sub(r"\1" + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's final message; works whatever the format string is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RedactingLogger(GunicornLogger):
    """gunicorn's logger (``logger_class``) with the access and error logs redacted."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactSecrets) for f in log.filters):
                log.addFilter(RedactSecrets())
