"""Where mail goes: MAIL_URL parsed strictly, `.eml` files without it, the message as built."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storefront.config import ConfigError
from storefront.extensions import db
from storefront.mail import messages, outbox
from storefront.mail.outbox import Claimed
from storefront.mail.transport import SmtpSettings, build_message, parse_mail_url
from storefront.models import OutboxMessage
from tests.mail.conftest import SHOP_FROM, app_on, make_order, placed_mails


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpSettings("mail.example", 25)),
        ("smtp://mail.example:2525", SmtpSettings("mail.example", 2525)),
        (
            "smtp://user:pass@mail.example?starttls=true",
            SmtpSettings("mail.example", 587, starttls=True, username="user", password="pass"),
        ),
        (
            "SMTPS://u%40shop.example:p%40ss%3Aw%2F@mail.example",
            SmtpSettings(
                "mail.example",
                465,
                implicit_tls=True,
                username="u@shop.example",
                password="p@ss:w/",
            ),
        ),
        ("smtp://mailpit:1025/?starttls=false", SmtpSettings("mailpit", 1025)),
        ("smtp://[::1]:1025", SmtpSettings("::1", 1025)),
    ],
)
def test_mail_url_is_parsed(url: str, expected: SmtpSettings) -> None:
    """Schemes, default ports (25, 587 with STARTTLS, 465), percent-decoded credentials."""
    assert parse_mail_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example", "smtp:// or smtps://"),
        ("mail.example:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://user:hunter2@mail.example:notaport", "not a valid URL"),
        ("smtp://user:hunter2@mail.example:99999", "not a valid URL"),
        ("smtp://user:hunter2@mail.example?tls=true", "unknown parameter 'tls'"),
        ("smtp://user:hunter2@mail.example?starttls=maybe", "true or false"),
        ("smtps://user:hunter2@mail.example?starttls=true", "TLS already"),
        ("smtp://user:hunter2@mail.example/inbox", "path"),
    ],
)
def test_a_bad_mail_url_is_refused_clearly(url: str, reason: str) -> None:
    """A ConfigError that says what is wrong and never repeats the password."""
    with pytest.raises(ConfigError) as refused:
        parse_mail_url(url)
    assert reason in str(refused.value)
    assert "MAIL_URL" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_settings_never_show_the_password() -> None:
    """Neither the description nor the repr of the settings holds the password."""
    settings = parse_mail_url("smtp://user:hunter2@mail.example?starttls=true")
    assert settings.describe() == "sent through smtp://mail.example:587 with STARTTLS"
    assert "hunter2" not in repr(settings)


def test_commands_refuse_a_bad_mail_url(database_url: str) -> None:
    """`mail send` and `mail where` stop with the reason (exit 1) and send nothing."""
    with app_on(database_url, MAIL_URL="smtp://user:hunter2@mail.example:x") as app:
        for command in (["mail", "send"], ["mail", "where"]):
            result = app.test_cli_runner().invoke(args=command)
            assert result.exit_code == 1
            assert "MAIL_URL is not a valid URL" in result.output
            assert "hunter2" not in result.output


def claimed(**changes: object) -> Claimed:
    """A claimed row holding a rendered confirmation."""
    fields: dict[str, object] = {
        "id": 7,
        "created_at": datetime(2026, 12, 3, 10, 15, 30, tzinfo=UTC),
        "kind": "order_placed",
        "recipient": "ivan@example.com",
        "subject": "Заказ K7M-4XQ2 принят",
        "body_text": "Здравствуйте, Иван!\n",
        "body_html": "<p>Здравствуйте, Иван!</p>\n",
        "message_id": "<1.2.3@storefront.test>",
        "attempts": 0,
        "order_id": None,
    }
    fields.update(changes)
    return Claimed(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("eight_bit", [True, False])
def test_message_has_both_parts_and_fixed_headers(eight_bit: bool) -> None:
    """multipart/alternative, text then HTML; Date and Message-ID from the row; base64 parts
    for a server without 8BITMIME, the same content either way."""
    message = build_message(claimed(), SHOP_FROM, eight_bit=eight_bit)
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert parsed["Subject"] == "Заказ K7M-4XQ2 принят"
    assert parsed["Date"] == "Thu, 03 Dec 2026 10:15:30 +0000"
    assert parsed["Message-ID"] == "<1.2.3@storefront.test>"
    assert parsed.get_body(("plain",)).get_content() == "Здравствуйте, Иван!\n"
    assert parsed.get_body(("html",)).get_content() == "<p>Здравствуйте, Иван!</p>\n"
    encodings = {part["Content-Transfer-Encoding"] for part in parsed.iter_parts()}
    assert encodings == ({"8bit"} if eight_bit else {"base64"})
    assert bytes(message).isascii() != eight_bit


def test_without_mail_url_mails_become_eml_files(database_url: str, tmp_path: Path) -> None:
    """instance/mail/<created>-<id>-<kind>.eml, the same message as SMTP would get, marked sent."""
    with app_on(database_url) as app:
        app.instance_path = str(tmp_path)
        with app.app_context():
            order = make_order(status="cancelled")
            added = outbox.enqueue(
                placed_mails(order) + messages.order_status_changed(order), order_id=None
            )
            db.session.commit()
            ids = added
            where = app.test_cli_runner().invoke(args=["mail", "where"]).output
        result = app.test_cli_runner().invoke(args=["mail", "send"])
        assert result.exit_code == 0 and "2 sent, 0 failed, 0 waiting" in result.output
        with app.app_context():
            stored = [db.session.get(OutboxMessage, row_id) for row_id in ids]
    assert where == f"Mail: written to {tmp_path / 'mail'}/ (MAIL_URL is unset)\n"
    files = sorted((tmp_path / "mail").iterdir())
    assert [path.name.split("-", 2)[2] for path in files] == [
        f"{ids[0]}-order_placed.eml",
        f"{ids[1]}-order_status.eml",
    ]
    for path, row in zip(files, stored, strict=True):
        assert row is not None and row.sent_at is not None
        assert re.fullmatch(r"\d{8}-\d{6}-\d+-\w+\.eml", path.name)
        assert path.name.startswith(f"{outbox.as_utc(row.created_at):%Y%m%d-%H%M%S}-")
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parsed["To"] == "ivan@example.com" and parsed["From"] == SHOP_FROM
        assert parsed["Subject"] == row.subject and parsed["Message-ID"] == row.message_id
        assert parsed.get_body(("plain",)).get_content() == row.body_text
        assert parsed.get_body(("html",)).get_content().rstrip() == row.body_html.rstrip()
    assert "отменён" in parsed.get_body(("plain",)).get_content()
    assert not list((tmp_path / "mail").glob(".*")), "no temporary file is left behind"
