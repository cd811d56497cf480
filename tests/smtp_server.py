"""A local SMTP server (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives,
or refuses every message with a temporary failure."""
from __future__ import annotations

import email
import socket
import threading
from email import policy


class Inbox:
    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.messages: list = []
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            with self.lock:
                self.refused += 1
            return "451 4.3.0 Mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"to": list(envelope.rcpt_tos), "message": message, "raw": envelope.content})
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, refuse: bool = False):
        from aiosmtpd.controller import Controller

        self.inbox = Inbox(refuse)
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class RecordingMailer:
    """A mailer that keeps what it would send, as if email were set up (no SMTP at all):
    {"html", "text", "attachment": (filename, mimetype, bytes)} per message."""

    def __init__(self):
        self.sent: list[dict] = []

    def problem(self):
        return None

    def send(self, recipients, subject, html_body, text_body, attachment=None, inline_png=None):
        self.sent.append({"html": html_body, "text": text_body, "attachment": attachment, "subject": subject,
                          "to": recipients, "inline_png": inline_png})
