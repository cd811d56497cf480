"""Who is acting, and what a role may do. Every storage call takes a Principal."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from errors import Forbidden


class Role(str, Enum):
    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def with_article(self) -> str:
        """'a viewer', 'an editor', 'an owner': for messages."""
        return ("an " if self.value[0] in "aeiou" else "a ") + self.value

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str) -> "Role":
        from storage.errors import InvalidInput

        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise InvalidInput(f"Unknown role {value!r}; choose one of {names}") from None


_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}

SCOPE_READ = "read"
SCOPE_WRITE = "write"
SCOPES = (SCOPE_READ, SCOPE_WRITE)


@dataclass(frozen=True)
class Principal:
    """The acting user, with how they came in. A read-scoped API token acts as the user
    but can never change anything, whatever the user's role."""

    user_id: int
    email: str
    name: str
    is_admin: bool
    via: str = "session"  # session | token | cli
    scope: str = SCOPE_WRITE
    token_id: int | None = None

    @property
    def can_write(self) -> bool:
        return self.scope == SCOPE_WRITE

    def require_write(self, what: str = "change anything") -> None:
        """Refuse a read-scoped token before a write. Every storage method that changes
        state calls this (or checks a role through effective_role), so no route or
        callback can forget it."""
        if not self.can_write:
            raise Forbidden(f"This API token is read-only; it cannot {what}")

    def effective_role(self, role: Role) -> Role:
        """The role this principal really has where the user holds ``role``."""
        return role if self.can_write else Role.VIEWER
