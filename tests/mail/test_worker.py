"""`flask --app storefront mail worker` as a real process: wakes for new mail, stops cleanly."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

import pytest
from flask import Flask

from storefront.extensions import db
from storefront.mail import outbox
from tests.live_server import live_process
from tests.mail.conftest import SHOP_FROM, SmtpServer, app_on, make_order, placed_mails, wait_until

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]


def worker_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """A production-like environment: its own key, the test database, the test SMTP server."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "STOREFRONT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "MAIL_FROM": SHOP_FROM,
        **extra,
    }


@contextmanager
def running_worker(env: dict[str, str], log: Path, poll: float) -> Iterator[Popen[bytes]]:
    """The worker process, once it says it has started."""
    command = [sys.executable, "-m", "flask", "--app", "storefront", "mail", "worker"]
    with live_process(
        [*command, "--poll", str(poll)],
        env,
        log,
        is_ready=lambda: "Mail worker started" in log.read_text(),
        name="mail worker",
    ) as process:
        yield process


def stop(process: Popen[bytes], log: Path) -> None:
    """SIGTERM, then the worker must exit 0 on its own, saying so."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0, log.read_text()
    assert "Mail worker stopped." in log.read_text()


def test_worker_delivers_new_mail_at_once_and_stops_on_sigterm(
    smtp_app: Flask, smtp: SmtpServer, database_url: str, backend: str, tmp_path: Path
) -> None:
    """A mail queued after the worker started arrives: on PostgreSQL within a second or two
    (NOTIFY), well before the 30 s poll; on SQLite at the next poll. SIGTERM: exit 0."""
    poll = 30.0 if backend == "postgresql" else 0.5
    log = tmp_path / "worker.log"
    env = worker_env(tmp_path, database_url, MAIL_URL=smtp.url)
    with running_worker(env, log, poll) as process:
        started = f"Mail worker started: mail sent through smtp://127.0.0.1:{smtp.port}; "
        expected = "woken by NOTIFY outbox" if backend == "postgresql" else "polling"
        assert f"{started}{expected}, at most every {poll:g} s." in log.read_text()
        for number in ("FIRST-1", "SECOND-2"):
            with smtp_app.app_context():
                outbox.enqueue(placed_mails(make_order(number=number)))
                db.session.commit()
            queued = time.monotonic()
            arrived = wait_until(
                lambda n=number: any(n in r.message["Subject"] for r in smtp.received), 10
            )
            took = time.monotonic() - queued
            assert arrived, log.read_text()
            assert took < (3.0 if backend == "postgresql" else 5.0), took
        stop(process, log)
    assert len(smtp.received) == 2
    with smtp_app.app_context():
        assert outbox.unsent_count() == 0


def test_worker_retries_when_the_server_comes_back(
    smtp_app: Flask, smtp: SmtpServer, database_url: str, backend: str, tmp_path: Path
) -> None:
    """With the SMTP server down the mail waits; the worker wakes for the retry it scheduled
    (15 s, before its 30 s poll) and delivers it once the server is back."""
    if backend != "postgresql":
        pytest.skip("the same loop on both; PostgreSQL's NOTIFY makes the first attempt prompt")
    smtp.stop()
    log = tmp_path / "worker.log"
    env = worker_env(tmp_path, database_url, MAIL_URL=smtp.url)
    with running_worker(env, log, 30.0) as process:
        with smtp_app.app_context():
            outbox.enqueue(placed_mails(make_order()))
            db.session.commit()
        assert wait_until(lambda: "1 failed" in log.read_text(), 10), log.read_text()
        smtp.start()
        assert wait_until(lambda: len(smtp.received) == 1, 25), log.read_text()
        stop(process, log)
    assert len(smtp.received) == 1


def test_worker_refuses_a_bad_mail_url(database_url: str, tmp_path: Path) -> None:
    """A bad MAIL_URL stops the worker at once with the reason, never echoing the password."""
    import subprocess

    env = worker_env(tmp_path, database_url, MAIL_URL="smtp://user:hunter2-secret@mail:abc")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "storefront", "mail", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "MAIL_URL" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr


def test_worker_waits_for_the_database_to_be_migrated(
    smtp: SmtpServer, backend: str, tmp_path: Path
) -> None:
    """Started before the migrations (compose starts it beside backend), the worker logs and
    waits; once the schema is there, it delivers."""
    if backend != "sqlite":
        pytest.skip("the same loop on both; an empty SQLite file is the cheapest new database")
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    log = tmp_path / "worker.log"
    with running_worker(worker_env(tmp_path, url, MAIL_URL=smtp.url), log, 0.2) as process:
        assert wait_until(lambda: "the database failed" in log.read_text(), 10), log.read_text()
        migrate(url)
        with app_on(url) as app, app.app_context():
            outbox.enqueue(placed_mails(make_order()))
            db.session.commit()
            assert wait_until(lambda: len(smtp.received) == 1, 10), log.read_text()
        stop(process, log)
