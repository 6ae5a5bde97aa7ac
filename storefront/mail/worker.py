"""`flask mail worker`: deliver what is due, wait for new mail, repeat until SIGTERM or SIGINT.

On PostgreSQL the worker LISTENs on the outbox channel, which `enqueue` NOTIFYs in the
transaction that queues a mail, so a mail goes out as soon as its transaction commits. On
SQLite, and through PgBouncer's transaction pooling (which cannot LISTEN), it polls. Either way
it waits at most the poll interval, and never past the next retry that falls due. A database
that is down or not migrated yet is waited out, not fatal. A stop request lets the mail being
sent finish, hands the rest of the batch back, and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import psycopg
from flask import current_app
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..extensions import db
from . import outbox, sender

log = logging.getLogger(__name__)

# How soon a stop request ends a wait for NOTIFY (seconds).
WAIT_SLICE = 1.0


class Sleeper:
    """Waits by the clock (polling)."""

    description = "polling"

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Sleep `seconds`, or less when asked to stop."""
        stop.wait(seconds)

    def close(self) -> None:
        """Nothing to close."""


class Listener:
    """Waits for a NOTIFY on its own autocommit connection (PostgreSQL, psycopg)."""

    description = f"woken by NOTIFY {outbox.CHANNEL}"

    def __init__(self) -> None:
        self.engine = create_engine(
            db.engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 5},
        )
        self.connection: Connection | None = None

    def listen(self) -> None:
        """Start listening; a failure is logged and tried again at the next wait."""
        try:
            self.connection = self.engine.connect()
            self.connection.exec_driver_sql(f"LISTEN {outbox.CHANNEL}")
        except (DBAPIError, psycopg.Error) as exc:
            self._broken(exc)

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Return at the first NOTIFY, after `seconds`, or soon after `stop` is set."""
        deadline = time.monotonic() + seconds
        if self.connection is None:
            # Mail queued while nobody listened sent no wake-up: return to look at once.
            self.listen()
            if self.connection is None:
                stop.wait(seconds)
            return
        driver = self.connection.connection.driver_connection
        try:
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                for _ in driver.notifies(timeout=min(left, WAIT_SLICE), stop_after=1):  # type: ignore[union-attr]
                    return
        except psycopg.Error as exc:
            self._broken(exc)
            stop.wait(max(0.0, deadline - time.monotonic()))

    def _broken(self, exc: Exception) -> None:
        log.warning("mail worker: cannot listen for new mail (%s); polling until it can", exc)
        self.close()

    def close(self) -> None:
        """Drop the connection."""
        if self.connection is not None:
            with contextlib.suppress(DBAPIError, psycopg.Error):
                self.connection.close()
            self.connection = None


def can_listen() -> bool:
    """PostgreSQL through a direct connection (PgBouncer's transaction mode drops LISTEN)."""
    return (
        db.engine.dialect.name == "postgresql"
        and current_app.config.get("DATABASE_POOLER") != "pgbouncer"
    )


def seconds_to_wait(poll: float) -> float:
    """Until the next retry falls due, at most `poll`."""
    due = outbox.next_attempt()
    if due is None:
        return poll
    return min(poll, max(0.0, (due - outbox.utcnow()).total_seconds()))


def run(poll: float, where: str, say: Callable[[str], None]) -> None:
    """Deliver and wait until SIGTERM or SIGINT (needs an app context); `where` mail goes."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    waiter: Listener | Sleeper = Listener() if can_listen() else Sleeper()
    if isinstance(waiter, Listener):
        waiter.listen()  # before the first pass, so no mail slips between the two
    say(f"Mail worker started: mail {where}; {waiter.description}, at most every {poll:g} s.")
    while not stop.is_set():
        wait = poll
        try:
            done = sender.deliver_due(stop.is_set)
            if done.sent or done.failed:
                say(f"Mail: {done.sent} sent, {done.failed} failed.")
            wait = seconds_to_wait(poll)
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            log.warning("mail worker: the database failed (%s); trying again in %g s", reason, poll)
        finally:
            # No transaction stays open (nor SQLite's read snapshot) while the worker waits.
            db.session.close()
        waiter.wait(wait, stop)
    waiter.close()
    say("Mail worker stopped.")
