"""Command line: `flask --app storefront seed`, `carts purge`, `orders purge-keys`, `mail …`."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from . import cart, idempotency, seeding, synthetic
from .extensions import db
from .load_report import LoadReport


class SeedProgress(LoadReport):
    """`seed --generate` as it goes: a bar for the rows, a line per phase when it ends, and while
    phases run, which and for how long: every second in place on a terminal, a line every 15 s
    elsewhere (a CI log gets a few lines, not one per tick)."""

    def __init__(self, total: int) -> None:
        self._tty = sys.stderr.isatty()
        self._every = 1.0 if self._tty else 15.0
        self._bar = tqdm(
            total=total, unit="products", unit_scale=True, desc="rows", mininterval=self._every
        )
        self._status: tqdm | None = None
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> SeedProgress:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._ticker.join()
        self._bar.close()
        if self._status is not None:
            self._status.close()

    def rows(self, count: int) -> None:
        self._bar.update(count)

    def started(self, name: str) -> None:
        with self._lock:
            self._running[name] = time.monotonic()

    def finished(self, name: str, seconds: float) -> None:
        with self._lock:
            del self._running[name]
        if name == "rows":
            self._bar.close()
        tqdm.write(f"{name} … {seconds:.1f} s")
        if self._status is not None:
            self._status.set_description_str(self._running_line())

    def _running_line(self) -> str:
        """Which phases run and for how long; empty while none does or the rows bar moves."""
        with self._lock:
            if "rows" in self._running:
                return ""
            now = time.monotonic()
            running = [f"{name} {now - began:.0f} s" for name, began in self._running.items()]
        return "running: " + ", ".join(running) if running else ""

    def _tick(self) -> None:
        while not self._done.wait(self._every):
            line = self._running_line()
            if not line:
                continue
            if not self._tty:
                tqdm.write(line)
            elif self._status is None:
                self._status = tqdm(bar_format="{desc}", desc=line, leave=False)
            else:
                self._status.set_description_str(line)


@click.command("seed")
@with_appcontext
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--generate",
    "generate",
    type=click.IntRange(1, 10_000_000),
    metavar="N",
    help="Make N synthetic products (a load-test catalog) instead.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the catalog has products.")
@click.option(
    "--seed", "rng_seed", default=42, show_default=True, help="Random seed for --generate."
)
def seed_command(file: Path | None, generate: int | None, if_empty: bool, rng_seed: int) -> None:
    """Load the demo catalog, a bulk-format FILE, or --generate N synthetic products.

    A product with the same name in the same category as an existing one is skipped,
    so running a seed twice adds nothing the second time. A file loads all or nothing.
    """
    if file and generate:
        raise click.UsageError("give either FILE or --generate, not both")
    restored = seeding.restore_dropped()
    if restored:
        click.echo(f"Re-created what an interrupted load had dropped: {', '.join(restored)}")
    if if_empty and seeding.product_count() > 0:
        click.echo("The catalog already has products; nothing to do.")
        return
    started = time.monotonic()
    if generate:
        with SeedProgress(generate) as progress:
            added = seeding.load_generated(synthetic.generate(generate, rng_seed), progress)
    else:
        try:
            raw = json.loads(file.read_text("utf-8")) if file else seeding.demo_catalog()
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.ClickException(f"{file} is not a JSON file: {exc}") from exc
        try:
            items = seeding.validate_items(raw)
        except seeding.SeedError as exc:
            raise click.ClickException(f"nothing loaded, {exc}") from exc
        try:
            added = seeding.load_items(items)
        except DBAPIError as exc:
            # One transaction, rolled back: say so and why, without a traceback.
            reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
            raise click.ClickException(f"nothing loaded, the database failed: {reason}") from exc
    took = time.monotonic() - started
    click.echo(
        f"Added {added} products in {took:.1f} s; the catalog has "
        f"{seeding.product_count()} products."
    )


def parse_age(text: str) -> timedelta:
    """`30d`, `12h` or `45m` as a timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise click.BadParameter("use a number with d, h or m, such as 30d")
    return timedelta(**{units[unit]: int(number)})


@click.group("carts")
def carts_group() -> None:
    """Maintain shoppers' carts."""


@carts_group.command("purge")
@with_appcontext
@click.option(
    "--older-than",
    "older_than",
    default="30d",
    show_default=True,
    help="Age of the last change, such as 30d, 12h or 45m.",
)
def purge_command(older_than: str) -> None:
    """Delete carts not changed for --older-than (abandoned carts) and their lines."""
    age = parse_age(older_than)
    removed = cart.purge_carts(age)
    db.session.commit()
    click.echo(f"Deleted {removed} carts unchanged for {older_than}.")


@click.group("orders")
def orders_group() -> None:
    """Maintain orders and checkout."""


@orders_group.command("purge-keys")
@with_appcontext
def purge_keys_command() -> None:
    """Delete checkout idempotency keys older than 24 hours (their repeats are no longer kept)."""
    removed = idempotency.purge()
    db.session.commit()
    click.echo(f"Deleted {removed} idempotency keys older than 24 hours.")


def register(app: Flask) -> None:
    """Attach the commands to `app.cli`."""
    from .mail.cli import mail_group

    app.cli.add_command(seed_command)
    app.cli.add_command(carts_group)
    app.cli.add_command(orders_group)
    app.cli.add_command(mail_group)
