"""Names people give things are one line of plain text.

A dashboard's name becomes an email's Subject and a download's file name; a widget's
title, a tab's, a schedule's, a workspace's and a token's are shown and exported the
same way. ``check_name`` is the one check every service runs when a name is saved (and
so every face: the API, the callbacks); ``header_text`` is the one way any stored text
becomes a header (Subject, Content-Disposition), so that rows saved before the check,
which may still hold a line break, cannot break or inject a header either.

Here in ``analytics`` (pure, no storage) because widget specs are checked here too.
"""
from __future__ import annotations

import re
import unicodedata

from errors import InvalidInput

# Characters that change the direction text is shown in: a name could make a file
# called "report‮fdp.exe" look like "reportexe.pdf".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _problem(ch: str) -> str | None:
    """What is wrong with ``ch`` in a name, in words, or None."""
    if ch in _LINE_BREAKS:
        return "a line break (CR/LF)"
    if ch in _BIDI:
        return "a character that changes the text direction"
    if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
        return f"a control character (U+{ord(ch):04X})"
    return None


def check_name(value, label: str, *, field: str | None = None, max_length: int = 200, required: bool = True,
               error=InvalidInput) -> str:
    """``value`` trimmed, or ``error`` (InvalidInput by default) with a message naming
    ``label`` (\"dashboard name\") and ``details={\"field\": field}`` for the API."""
    details = {"field": field} if field else None
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise error(f"The {label} must be text", details=details)
    value = value.strip()
    if not value and required:
        raise error(f"The {label} cannot be empty", details=details)
    for ch in value:
        problem = _problem(ch)
        if problem:
            raise error(f"The {label} must be one line of plain text; it contains {problem}. Remove it and save "
                        "again.", details=details)
    if len(value) > max_length:
        raise error(f"The {label} must be at most {max_length} characters long", details=details)
    return value


_SPACES = re.compile(r"\s+")


def header_text(value, max_length: int = 200) -> str:
    """Any text as one clean line for a header: line breaks, tabs and other control
    characters become one space, direction and other invisible format characters go."""
    text = "" if value is None else str(value)
    text = "".join(" " if _problem(ch) and ch not in _BIDI else ch for ch in text
                   if ch not in _BIDI and unicodedata.category(ch) != "Cf")
    return _SPACES.sub(" ", text).strip()[:max_length]
