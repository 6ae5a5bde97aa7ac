"""Where mail goes: an SMTP server (MAIL_URL), or without one `.eml` files under instance/mail/.

MAIL_URL is `smtp://[user:pass@]host[:port][?starttls=true]` or `smtps://…` (TLS from the first
byte); user and password are percent-decoded (`p%40ss` is `p@ss`); the port defaults to 25,
587 with STARTTLS, 465 for smtps. Anything else is refused with a ConfigError that never
repeats the password.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask

from ..config import ConfigError
from .outbox import Claimed, as_utc

# Seconds any one step with the SMTP server may take (connect, each command, the data).
SMTP_TIMEOUT = 10.0
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server; `repr` leaves the password out."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT

    def describe(self) -> str:
        """Where mail goes, for people and logs: the server, never a credential."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        tls = " with STARTTLS" if self.starttls else ""
        return f"sent through {scheme}://{self.host}:{self.port}{tls}"


def parse_mail_url(url: str) -> SmtpSettings:
    """MAIL_URL's parts, or a ConfigError that says what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"MAIL_URL is not a valid URL ({exc}); {_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        raise ConfigError(f"MAIL_URL must start with smtp:// or smtps://; {_EXAMPLE}")
    if not parts.hostname:
        raise ConfigError(f"MAIL_URL names no host; {_EXAMPLE}")
    if parts.path not in {"", "/"} or parts.fragment:
        raise ConfigError(f"MAIL_URL has a path or fragment; {_EXAMPLE}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise ConfigError(f"MAIL_URL: unknown parameter {unknown[0]!r} (only starttls)")
    starttls = _flag(query.get("starttls", ["false"])[-1])
    if scheme == "smtps" and starttls:
        raise ConfigError("MAIL_URL: smtps:// is TLS already; starttls=true is for smtp://")
    default_port = 465 if scheme == "smtps" else 587 if starttls else 25
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpSettings(
        host=parts.hostname,
        port=port or default_port,
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=username or None,
        password=password,
    )


_EXAMPLE = "for example smtp://user:pass@smtp.example:587?starttls=true"


def _flag(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"MAIL_URL: starttls must be true or false, not {value!r}")


def build_message(row: Claimed, mail_from: str, *, eight_bit: bool = True) -> EmailMessage:
    """The mail as sent: text and HTML alternatives, headers fixed when it was queued.

    `eight_bit=False` is for a server without 8BITMIME: the parts go as base64.
    """
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    # The time it was written, so a mail sent again after a crash is byte for byte the same.
    message["Date"] = format_datetime(as_utc(row.created_at))
    message["Message-ID"] = row.message_id
    # RFC 3834: a machine wrote it; auto-responders should not answer.
    message["Auto-Submitted"] = "auto-generated"
    cte = None if eight_bit else "base64"
    message.set_content(row.body_text, cte=cte)
    message.add_alternative(row.body_html, subtype="html", cte=cte)
    return message


class SmtpTransport:
    """One SMTP connection for a pass, opened at the first mail.

    Once the server fails the session itself (unreachable, a timeout, a dropped connection,
    refused credentials), the rest of the pass fails at once with that error instead of
    waiting out a timeout for every mail: a pass takes at most one timeout, well inside the
    lease of its rows. A refusal of one mail (MAIL, RCPT, DATA) leaves the session usable.
    """

    def __init__(self, settings: SmtpSettings, mail_from: str) -> None:
        self.settings = settings
        self.mail_from = mail_from
        self.smtp: smtplib.SMTP | None = None
        self.unreachable: str | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()
            self._drop()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username is not None:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def send(self, row: Claimed) -> None:
        """Hand the mail to the server; returns once the server accepted it."""
        if self.unreachable is not None:
            raise ConnectionError(f"not tried, the server failed this pass: {self.unreachable}")
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            eight_bit = self.smtp.has_extn("8bitmime")
            message = build_message(row, self.mail_from, eight_bit=eight_bit)
            self.smtp.send_message(message, mail_options=["BODY=8BITMIME"] if eight_bit else [])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            # Refusals of this one mail: smtplib has reset the session, the connection serves on.
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.unreachable = f"{type(exc).__name__}: {exc}"
            self._drop()
            raise


class FileTransport:
    """Writes each mail to DIRECTORY/<created, UTC>-<id>-<kind>.eml, atomically (development)."""

    def __init__(self, directory: Path, mail_from: str) -> None:
        self.directory = directory
        self.mail_from = mail_from

    def __enter__(self) -> FileTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, row: Claimed) -> None:
        """Write the file under a temporary name, then rename it: readers never see half."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / file_name(row)
        data = bytes(build_message(row, self.mail_from))
        with tempfile.NamedTemporaryFile(
            dir=self.directory, prefix=".", suffix=".tmp", delete=False
        ) as temporary:
            try:
                temporary.write(data)
                temporary.flush()
                os.fsync(temporary.fileno())
            except BaseException:
                os.unlink(temporary.name)
                raise
        os.replace(temporary.name, target)


def file_name(row: Claimed) -> str:
    """`20261203-101500-42-order_placed.eml`: sorts by time, and names the row it came from."""
    return f"{as_utc(row.created_at):%Y%m%d-%H%M%S}-{row.id}-{row.kind}.eml"


def mail_directory(app: Flask) -> Path:
    """Where mails are written without MAIL_URL."""
    return Path(app.instance_path) / "mail"


def smtp_settings(app: Flask) -> SmtpSettings | None:
    """MAIL_URL parsed (a ConfigError when it is bad), or None when mail goes to files."""
    url = app.config.get("MAIL_URL")
    return parse_mail_url(url) if url else None


def describe(app: Flask) -> str:
    """Where mail goes, one line for people (never a credential)."""
    settings = smtp_settings(app)
    if settings is None:
        return f"written to {mail_directory(app)}/ (MAIL_URL is unset)"
    return settings.describe()


def open_transport(app: Flask) -> SmtpTransport | FileTransport:
    """The transport MAIL_URL asks for."""
    settings = smtp_settings(app)
    mail_from = app.config["MAIL_FROM"]
    if settings is None:
        return FileTransport(mail_directory(app), mail_from)
    return SmtpTransport(settings, mail_from)
