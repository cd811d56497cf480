"""Open sign-up with email verification, and the forgotten-password flow (issue 15, point 5).

``DATAINSIGHT_SIGNUP=open`` lets anyone (optionally only at ``DATAINSIGHT_SIGNUP_DOMAINS``)
make an account: it starts unverified, an email carries a single-use link valid for a
day, and until it is opened the account cannot sign in (the sign-in says why, to
whoever knows the password). ``invite`` (the default) keeps accounts to administrators
and invitations.

A forgotten password works for every account: a single-use link valid for an hour, sent
to the address; the answer is the same whether or not an account uses it, so the form
cannot be used to find out who has one. Choosing the new password ends every session of
the account and counts as verifying its address.

Links are 256 random bits, stored as SHA-256 hashes like API tokens. Each address may
ask for a link at most once a minute and five times an hour (counted in the database,
every worker agrees), whether or not an account uses it, so the limit says nothing
either.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets

from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import insert, select, update

from storage.audit import NO_AUDIT
from storage.database import as_utc, utcnow
from storage.errors import DataInsightError, Forbidden, InvalidInput, RateLimited
from storage.passwords import check_password_rules, hash_password
from storage.rate_limits import counter_storage
from storage.schedules import MailError, Mailer
from storage.tables import account_links, users
from storage.tokens import hash_token
from storage.users import User, UserService, end_sessions_of, normalize_email, text_input

log = logging.getLogger(__name__)

VERIFY_LIFETIME = dt.timedelta(days=1)
RESET_LIFETIME = dt.timedelta(hours=1)
LINK_LIMITS = ("1/minute", "5/hour")  # links asked for one address
MODES = ("invite", "open")


class SignupService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, users_service: UserService, mailer: Mailer | None = None, clock=utcnow,
                 redis_url: str | None = None):
        self.engine = engine
        self.users = users_service
        self.mailer = mailer or Mailer()
        self.clock = clock
        self.mode = "invite"  # DATAINSIGHT_SIGNUP
        self.domains: tuple[str, ...] = ()  # DATAINSIGHT_SIGNUP_DOMAINS; empty: any
        self.public_url: str | None = None  # DATAINSIGHT_PUBLIC_URL, else the address the request came to
        self._limiter = FixedWindowRateLimiter(counter_storage(engine, redis_url))
        self._limits = [parse(text) for text in LINK_LIMITS]

    # --- helpers --------------------------------------------------------------------------

    def _link(self, link_base: str | None, path: str, token: str | None = None) -> str:
        return f"{(self.public_url or link_base or '').rstrip('/')}{path}" + (f"?token={token}" if token else "")

    def _count_link_request(self, email: str, purpose: str) -> None:
        """RateLimited past the per-address limits of one kind of link (the same for every
        address, with or without an account)."""
        key = f"account-link:{purpose}:{hash_token(email)[:32]}"
        for item in self._limits:
            if not self._limiter.test(item, key):
                stats = self._limiter.get_window_stats(item, key)
                wait = max(1, int(stats.reset_time - self._limiter.storage.clock()) + 1)
                raise RateLimited(f"A link was sent to this address a moment ago; ask again in {wait} s "
                                  "(at most one a minute and five an hour)", retry_after=wait)
        for item in self._limits:
            self._limiter.hit(item, key)

    def _new_link(self, conn, user_id: int, purpose: str, lifetime: dt.timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        # A new link replaces the older unused ones of the same purpose.
        conn.execute(update(account_links).where(
            account_links.c.user_id == user_id, account_links.c.purpose == purpose,
            account_links.c.used_at.is_(None)).values(used_at=now))
        conn.execute(insert(account_links).values(user_id=user_id, purpose=purpose, token_hash=hash_token(token),
                                                  created_at=now, expires_at=now + lifetime, used_at=None))
        return token

    def _use_link(self, conn, token, purpose: str):
        """The link's row, claimed (used) in this transaction, or InvalidInput saying why not."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise InvalidInput("This link is not complete: open it from the email again", details={"field": "token"})
        row = conn.execute(select(account_links).where(account_links.c.token_hash == hash_token(token),
                                                       account_links.c.purpose == purpose)).first()
        if row is None:
            raise InvalidInput("This link is not valid: open it from the latest email, or ask for a new one",
                               details={"field": "token"})
        if row.used_at is not None:
            raise InvalidInput("This link was already used (or a newer one replaced it): sign in, or ask for a "
                               "new link", details={"field": "token"})
        if as_utc(row.expires_at) <= self.clock():
            raise InvalidInput("This link has expired: ask for a new one", details={"field": "token"})
        # Single use even when two requests race: only one UPDATE finds it unused.
        won = conn.execute(update(account_links).where(account_links.c.id == row.id,
                                                       account_links.c.used_at.is_(None))
                           .values(used_at=self.clock())).rowcount
        if won != 1:
            raise InvalidInput("This link was already used: sign in, or ask for a new link",
                               details={"field": "token"})
        return row

    def _send(self, to: str, subject: str, lines: list[str], link: str, button: str) -> None:
        from html import escape

        text = "\n\n".join(lines) + f"\n\n{link}\n"
        html = ("<div style='font-family:sans-serif;color:#212529;max-width:560px'>"
                + "".join(f"<p>{escape(line)}</p>" for line in lines)
                + f"<p><a href='{escape(link, quote=True)}' style='display:inline-block;padding:8px 16px;"
                  f"background:#0d6efd;color:white;border-radius:4px;text-decoration:none'>{escape(button)}</a></p>"
                  f"<p style='font-size:12px;color:#888'>Or paste this address into your browser: "
                  f"{escape(link)}</p></div>")
        self.mailer.send([to], subject, html, text)

    def _mail_ready(self) -> None:
        if self.mailer.problem():
            raise MailError("This server cannot send email yet, so it cannot send the link: ask an administrator "
                            "(who sets DATAINSIGHT_SMTP_HOST)", permanent=True)

    # --- sign-up ---------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.mode != "open":
            raise Forbidden("Accounts on this server are made by invitation: ask an administrator to invite you")

    def signup(self, email, password, name, link_base: str | None = None) -> dict:
        """Make an unverified account and mail its link. The answer does not say whether
        the address already had an account (its owner gets a note instead)."""
        self.check_open()
        email = normalize_email(text_input(email, "email"))
        password = text_input(password, "password")
        if name is not None and not isinstance(name, str):
            raise InvalidInput("The name must be text", details={"field": "name"})
        domain = email.rpartition("@")[2]
        if self.domains and domain not in self.domains:
            raise InvalidInput(f"Sign-up here is for addresses at {', '.join(self.domains)}",
                               details={"field": "email"})
        check_password_rules(password, email)
        self._mail_ready()
        self._count_link_request(email, "verify")
        existing = self.users.get_by_email(email)
        answer = {"status": "verification_sent", "email": email,
                  "message": f"Check your inbox: a link to confirm {email} is on its way (valid for 24 hours)."}
        if existing is not None:
            if existing.email_verified:
                self._send(email, "Someone tried to sign up with your address",
                           ["Someone (perhaps you) tried to make a DataInsight account with this address, which "
                            "already has one. If it was you, sign in, or choose a new password."],
                           self._link(link_base, "/forgot-password"), "Choose a new password")
            else:
                with self.engine.begin() as conn:
                    token = self._new_link(conn, existing.id, "verify", VERIFY_LIFETIME)
                self._send_verification(existing.email, token, link_base)
            return answer
        with self.engine.begin() as conn:
            user = self.users.create_invited_user(conn, email, password, name, is_admin=False)
            conn.execute(update(users).where(users.c.id == user.id).values(email_verified=False))
            token = self._new_link(conn, user.id, "verify", VERIFY_LIFETIME)
        self.audit.record(None, "account.signed_up", actor=email, target_type="user", target_id=user.id,
                          target_name=email)
        try:
            self._send_verification(email, token, link_base)
        except MailError as exc:  # the account stays; "send the link again" retries
            raise MailError(f"Your account is made, but the email with its link could not be sent: {exc.message} "
                            "Ask for the link again in a few minutes.") from None
        return answer

    def _send_verification(self, email: str, token: str, link_base: str | None) -> None:
        self._send(email, "Confirm your email address for DataInsight",
                   ["Welcome to DataInsight. Confirm that this address is yours to finish making your account.",
                    "The link works once, for 24 hours. If you did not sign up, ignore this email."],
                   self._link(link_base, "/verify", token), "Confirm my address")

    def verify(self, token) -> User:
        with self.engine.begin() as conn:
            link = self._use_link(conn, token, "verify")
            conn.execute(update(users).where(users.c.id == link.user_id).values(email_verified=True))
        user = self.users.get(link.user_id)
        self.audit.record(user.principal(), "account.email_verified", target_type="user", target_id=user.id,
                          target_name=user.email)
        return user

    def resend(self, email, link_base: str | None = None) -> dict:
        """A new verification link, when an unverified account uses ``email``. The same
        answer either way."""
        self.check_open()
        email = normalize_email(text_input(email, "email"))
        self._mail_ready()
        self._count_link_request(email, "verify")
        user = self.users.get_by_email(email)
        if user is not None and not user.email_verified and user.is_active:
            with self.engine.begin() as conn:
                token = self._new_link(conn, user.id, "verify", VERIFY_LIFETIME)
            self._send_verification(email, token, link_base)
        return {"status": "sent_if_unverified",
                "message": f"If {email} is waiting to be confirmed, a new link is on its way."}

    # --- forgotten passwords ------------------------------------------------------------------

    def forgot(self, email, link_base: str | None = None) -> dict:
        email = normalize_email(text_input(email, "email"))
        self._mail_ready()
        self._count_link_request(email, "reset")
        user = self.users.get_by_email(email)
        if user is not None and user.is_active:
            with self.engine.begin() as conn:
                token = self._new_link(conn, user.id, "reset", RESET_LIFETIME)
            try:
                self._send(email, "Choose a new DataInsight password",
                           ["Someone (perhaps you) asked to choose a new password for the DataInsight account "
                            "of this address.",
                            "The link works once, for one hour. If it was not you, ignore this email: your "
                            "password stays as it is."],
                           self._link(link_base, "/reset-password", token), "Choose a new password")
            except DataInsightError:  # the same answer as for an unknown address; the log keeps why
                log.warning("the password link for user %s could not be mailed", user.id, exc_info=True)
            self.audit.record(None, "account.password_reset_requested", actor=email, target_type="user",
                              target_id=user.id, target_name=email)
        return {"status": "sent_if_exists",
                "message": f"If an account uses {email}, a link to choose a new password is on its way "
                           "(valid for one hour)."}

    def reset(self, token, new_password) -> User:
        new_password = text_input(new_password, "new_password")
        with self.engine.begin() as conn:
            link = self._use_link(conn, token, "reset")
            email = conn.execute(select(users.c.email).where(users.c.id == link.user_id)).scalar_one()
            check_password_rules(new_password, email)  # raises before anything is kept (the link too)
            conn.execute(update(users).where(users.c.id == link.user_id).values(
                password_hash=hash_password(new_password), session_stamp=secrets.token_hex(8), email_verified=True))
            end_sessions_of(conn, link.user_id)
        user = self.users.get(link.user_id)
        self.audit.record(user.principal(), "account.password_reset", target_type="user", target_id=user.id,
                          target_name=user.email)
        return user
