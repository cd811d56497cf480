"""Workspaces and memberships, and the one place that decides who may do what in one.

``require_role`` is the check every later service (datasets, dashboards, shares,
schedules) calls before it reads or writes anything that belongs to a workspace.
Someone who is not a member gets NotFound, not Forbidden: we do not confirm that a
workspace they cannot see exists.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from analytics.names import check_name
from storage.audit import NO_AUDIT
from storage.database import as_utc, utcnow
from storage.errors import Conflict, Forbidden, InvalidInput, NotFound
from storage.principal import Principal, Role
from storage.tables import memberships, users, workspaces
from storage.users import normalize_email


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    is_personal: bool
    role: Role  # the acting principal's effective role here
    created_at: datetime
    allowed_recipient_domains: tuple[str, ...] = ()

    def public_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "is_personal": self.is_personal,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "allowed_recipient_domains": list(self.allowed_recipient_domains),
        }


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    role: Role

    def public_dict(self) -> dict:
        return {"user_id": self.user_id, "email": self.email, "name": self.name, "role": self.role.value}


def clean_workspace_name(name: str) -> str:
    if not (name or "").strip():
        raise InvalidInput("Give the workspace a name", details={"field": "name"})
    return check_name(name, "workspace name", field="name")


# A host name of letters, digits and hyphens in labels (IDNs in their xn-- form).
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
MAX_DOMAINS = 50
DOMAINS_FIELD = "allowed_recipient_domains"


def clean_domains(domains) -> list[str]:
    """Email domains as an owner types them ("Partner.org", "@example.net"): lower case,
    without "@", sorted, each checked."""
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise InvalidInput('allowed_recipient_domains must be a list of email domains, such as ["example.com"]',
                           details={"field": DOMAINS_FIELD})
    out = {d.strip().lower().lstrip("@") for d in domains if d.strip()}
    for domain in sorted(out):
        if not _DOMAIN.match(domain):
            raise InvalidInput(f"{domain!r} is not an email domain (such as example.com)",
                               details={"field": DOMAINS_FIELD})
    if len(out) > MAX_DOMAINS:
        raise InvalidInput(f"A workspace allows at most {MAX_DOMAINS} recipient domains",
                           details={"field": DOMAINS_FIELD})
    return sorted(out)


def outside_message(addresses: list[str]) -> str:
    """Why mail to ``addresses`` is not allowed, and who can change that, and where."""
    listed = ", ".join(addresses[:10]) + (f" and {len(addresses) - 10} more" if len(addresses) > 10 else "")
    return (f"{listed}: report mail goes only to members of this workspace and to its allowed recipient domains. "
            "An owner of the workspace can add a domain under “Allowed recipient domains” in Settings › "
            "Workspaces (API: PATCH /api/v1/workspaces/<id> with allowed_recipient_domains).")


class WorkspaceService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine: Engine):
        self.engine = engine

    # --- the access check ------------------------------------------------------------

    @staticmethod
    def member_role(workspace_id_column):
        """The stored role of the user bound as ``acting_user_id`` in the workspace of
        ``workspace_id_column`` (NULL when not an active member), as a column a caller adds
        to its own query: a dataset's or a dashboard's row and the right to read it come in
        one round trip. Pass what it gives to checked_role.

        Callers build their statement once (bound parameters, not values): building a
        SQLAlchemy select costs ~200 us of Python, executing a built one ~25 us, and these
        run on every widget a dashboard draws."""
        return (select(memberships.c.role)
                .join(users, users.c.id == memberships.c.user_id)
                .where(memberships.c.workspace_id == workspace_id_column,
                       memberships.c.user_id == bindparam("acting_user_id"),
                       users.c.is_active.is_(True))
                .scalar_subquery())

    def role_of(self, conn: Connection, principal: Principal, workspace_id: int) -> Role | None:
        role = conn.execute(_ROLE_IN_WORKSPACE, {"acting_user_id": principal.user_id,
                                                 "workspace_id": workspace_id}).scalar()
        return principal.effective_role(Role(role)) if role else None

    def require_role(self, conn: Connection, principal: Principal, workspace_id, minimum: Role) -> Role:
        """The principal's role in the workspace, or NotFound/Forbidden."""
        try:
            workspace_id = int(workspace_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no workspace {workspace_id!r}") from None
        return self.checked_role(principal, workspace_id, self.role_of(conn, principal, workspace_id), minimum)

    @staticmethod
    def checked_role(principal: Principal, workspace_id: int, role: Role | str | None, minimum: Role) -> Role:
        """``role`` (as role_of gives it, or the stored value member_role read) when it is
        at least ``minimum``; else NotFound (no member) or Forbidden."""
        if role and not isinstance(role, Role):
            role = principal.effective_role(Role(role))
        if not role:
            raise NotFound(f"There is no workspace {workspace_id} that you can see")
        if not role.at_least(minimum):
            if not principal.can_write:
                raise Forbidden("This API token is read-only")
            raise Forbidden(
                f"You are {role.with_article} in this workspace; this needs the {minimum.value} role or higher"
            )
        return role

    # --- reading ---------------------------------------------------------------------

    def list_for(self, principal: Principal) -> list[Workspace]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(workspaces, memberships.c.role)
                .join(memberships, memberships.c.workspace_id == workspaces.c.id)
                .where(memberships.c.user_id == principal.user_id)
                .order_by(workspaces.c.is_personal.desc(), workspaces.c.name)
            ).all()
        return [
            Workspace(r.id, r.name, bool(r.is_personal), principal.effective_role(Role(r.role)), as_utc(r.created_at),
                      tuple(json.loads(r.allowed_recipient_domains or "[]")))
            for r in rows
        ]

    def get(self, principal: Principal, workspace_id) -> Workspace:
        with self.engine.connect() as conn:
            role = self.require_role(conn, principal, workspace_id, Role.VIEWER)
            row = conn.execute(select(workspaces).where(workspaces.c.id == int(workspace_id))).one()
        return Workspace(row.id, row.name, bool(row.is_personal), role, as_utc(row.created_at),
                         tuple(json.loads(row.allowed_recipient_domains or "[]")))

    def personal_workspace(self, principal: Principal) -> Workspace:
        for workspace in self.list_for(principal):
            if workspace.is_personal:
                return workspace
        raise NotFound("Your personal workspace is missing")

    def members(self, principal: Principal, workspace_id) -> list[Member]:
        with self.engine.connect() as conn:
            self.require_role(conn, principal, workspace_id, Role.VIEWER)
            rows = conn.execute(
                select(users.c.id, users.c.email, users.c.name, memberships.c.role)
                .join(memberships, memberships.c.user_id == users.c.id)
                .where(memberships.c.workspace_id == int(workspace_id))
                .order_by(users.c.email)
            ).all()
        return [Member(r.id, r.email, r.name, Role(r.role)) for r in rows]

    # --- changing --------------------------------------------------------------------

    def create(self, principal: Principal, name: str) -> Workspace:
        if not principal.can_write:
            raise Forbidden("This API token is read-only")
        name = clean_workspace_name(name)
        now = utcnow()
        with self.engine.begin() as conn:
            workspace_id = conn.execute(
                insert(workspaces)
                .values(name=name, is_personal=False, created_by=principal.user_id, created_at=now)
                .returning(workspaces.c.id)
            ).scalar_one()
            conn.execute(
                insert(memberships).values(
                    workspace_id=workspace_id, user_id=principal.user_id, role=Role.OWNER.value, created_at=now
                )
            )
        self.audit.record(principal, "workspace.created", target_type="workspace", target_id=workspace_id,
                          target_name=name, workspace_id=workspace_id)
        return self.get(principal, workspace_id)

    def rename(self, principal: Principal, workspace_id, name: str) -> Workspace:
        name = clean_workspace_name(name)
        with self.engine.begin() as conn:
            self.require_role(conn, principal, workspace_id, Role.OWNER)
            conn.execute(update(workspaces).where(workspaces.c.id == int(workspace_id)).values(name=name))
        self.audit.record(principal, "workspace.renamed", target_type="workspace", target_id=workspace_id,
                          target_name=name, workspace_id=workspace_id)
        return self.get(principal, workspace_id)

    def add_member(self, principal: Principal, workspace_id, email: str, role) -> Member:
        role = Role.parse(role)
        email = normalize_email(email)
        with self.engine.begin() as conn:
            self.require_role(conn, principal, workspace_id, Role.OWNER)
            target = conn.execute(select(users).where(users.c.email == email)).first()
            if target is None or not target.is_active:
                raise NotFound(f"No active account uses {email}; ask an administrator to invite them first")
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(memberships).values(
                            workspace_id=int(workspace_id), user_id=target.id, role=role.value, created_at=utcnow()
                        )
                    )
            except IntegrityError:
                raise Conflict(f"{email} is already a member of this workspace") from None
        self.audit.record(principal, "member.added", target_type="user", target_id=target.id, target_name=target.email,
                          workspace_id=workspace_id, role=role.value)
        return Member(target.id, target.email, target.name, role)

    def _owner_count(self, conn: Connection, workspace_id: int) -> int:
        return conn.execute(
            select(func.count())
            .select_from(memberships)
            .where(memberships.c.workspace_id == workspace_id, memberships.c.role == Role.OWNER.value)
        ).scalar_one()

    def _member_role(self, conn: Connection, workspace_id: int, user_id) -> Role:
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no member {user_id!r} in this workspace") from None
        role = conn.execute(
            select(memberships.c.role).where(
                memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
            )
        ).scalar()
        if role is None:
            raise NotFound(f"There is no member {user_id} in this workspace")
        return Role(role)

    def change_role(self, principal: Principal, workspace_id, user_id, role) -> Member:
        role = Role.parse(role)
        with self.engine.begin() as conn:
            self.require_role(conn, principal, workspace_id, Role.OWNER)
            workspace_id = int(workspace_id)
            current = self._member_role(conn, workspace_id, user_id)
            if current is Role.OWNER and role is not Role.OWNER and self._owner_count(conn, workspace_id) <= 1:
                raise InvalidInput("A workspace needs at least one owner; make someone else owner first")
            conn.execute(
                update(memberships)
                .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == int(user_id))
                .values(role=role.value)
            )
            row = conn.execute(select(users).where(users.c.id == int(user_id))).one()
        self.audit.record(principal, "member.role_changed", target_type="user", target_id=row.id, target_name=row.email,
                          workspace_id=workspace_id, role=role.value, previous_role=current.value)
        return Member(row.id, row.email, row.name, role)

    def remove_member(self, principal: Principal, workspace_id, user_id) -> None:
        # Anyone may leave a workspace; removing someone else needs the owner role.
        is_self = str(user_id) == str(principal.user_id)
        with self.engine.begin() as conn:
            self.require_role(conn, principal, workspace_id, Role.VIEWER if is_self else Role.OWNER)
            if not principal.can_write:
                raise Forbidden("This API token is read-only")
            workspace_id = int(workspace_id)
            current = self._member_role(conn, workspace_id, user_id)
            if current is Role.OWNER and self._owner_count(conn, workspace_id) <= 1:
                raise InvalidInput("A workspace needs at least one owner; make someone else owner first")
            conn.execute(
                delete(memberships).where(
                    memberships.c.workspace_id == workspace_id, memberships.c.user_id == int(user_id)
                )
            )
        self.audit.record(principal, "member.left" if is_self else "member.removed", target_type="user",
                          target_id=user_id, workspace_id=workspace_id, role=current.value)

    # --- where report mail may go -----------------------------------------------------

    def set_allowed_domains(self, principal: Principal, workspace_id, domains) -> list[str]:
        """Owners decide which email domains, besides the members, report mail may go to."""
        domains = clean_domains(domains)
        with self.engine.begin() as conn:
            self.require_role(conn, principal, workspace_id, Role.OWNER)
            conn.execute(update(workspaces).where(workspaces.c.id == int(workspace_id))
                         .values(allowed_recipient_domains=json.dumps(domains)))
        self.audit.record(principal, "workspace.recipient_domains_changed", target_type="workspace",
                          target_id=workspace_id, workspace_id=workspace_id, domains=domains)
        return domains

    def allowed_domains(self, workspace_id: int) -> list[str]:
        """The workspace's allowed recipient domains (no access check: for the checks below)."""
        with self.engine.connect() as conn:
            raw = conn.execute(select(workspaces.c.allowed_recipient_domains)
                               .where(workspaces.c.id == int(workspace_id))).scalar()
        return json.loads(raw or "[]")

    def recipients_outside(self, workspace_id: int, addresses: list[str]) -> list[str]:
        """The addresses that are neither an active member's email nor in an allowed
        domain, as given. Read afresh at every check: a member removed or a domain taken
        back later counts from then on."""
        with self.engine.connect() as conn:
            members = {e.lower() for e in conn.execute(
                select(users.c.email).join(memberships, memberships.c.user_id == users.c.id)
                .where(memberships.c.workspace_id == int(workspace_id), users.c.is_active.is_(True))).scalars()}
        domains = set(self.allowed_domains(workspace_id))
        return [a for a in addresses
                if a.lower() not in members and a.rpartition("@")[2].lower() not in domains]


_ROLE_IN_WORKSPACE = select(WorkspaceService.member_role(bindparam("workspace_id")))
