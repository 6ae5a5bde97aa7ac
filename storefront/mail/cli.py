"""`flask mail send | worker | status | purge | where`: deliver and look after the outbox."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..cli import parse_age
from ..config import ConfigError
from . import outbox, sender, transport, worker


def _where() -> str:
    """Where mail goes; a bad MAIL_URL stops the command with its reason."""
    try:
        return transport.describe(current_app)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("mail")
def mail_group() -> None:
    """Deliver the mails in the outbox."""


@mail_group.command("where")
@with_appcontext
def where_command() -> None:
    """Say where mail goes (MAIL_URL's server, never its password, or the .eml directory)."""
    click.echo(f"Mail: {_where()}")


@mail_group.command("send")
@with_appcontext
def send_command() -> None:
    """Deliver the mails that are due now, once (for cron); failed ones wait for a retry."""
    where = _where()
    result = sender.deliver_due()
    left = outbox.unsent_count()
    click.echo(f"Mail {where}: {result.sent} sent, {result.failed} failed, {left} waiting.")


@mail_group.command("worker")
@click.option(
    "--poll",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Longest wait between two looks at the outbox, in seconds.",
)
@with_appcontext
def worker_command(poll: float) -> None:
    """Keep delivering mail until SIGTERM or SIGINT (then finish the mail being sent, exit 0)."""
    worker.run(poll, _where(), click.echo)


@mail_group.command("status")
@with_appcontext
def status_command() -> None:
    """List the mails that are waiting, with their attempts and last error."""
    click.echo(f"{outbox.unsent_count()} mails waiting.")
    for row in outbox.waiting():
        error = f" — {row.last_error}" if row.last_error else ""
        click.echo(
            f"#{row.id} {row.kind} to {row.recipient}: {row.attempts} attempts, "
            f"next {outbox.as_utc(row.next_attempt_at):%Y-%m-%d %H:%M:%S} UTC{error}"
        )


@mail_group.command("purge")
@with_appcontext
@click.option(
    "--older-than",
    "older_than",
    default="30d",
    show_default=True,
    help="How long ago they were sent, such as 30d, 12h or 45m.",
)
def purge_command(older_than: str) -> None:
    """Delete mails sent more than --older-than ago (unsent ones are always kept)."""
    removed = outbox.purge_sent(parse_age(older_than))
    click.echo(f"Deleted {removed} mails sent more than {older_than} ago.")
