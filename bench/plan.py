"""From the app's captured SQL to what the limits run: the bare baseline's plan, pgbench scripts.

Read requests are replayed statement for statement (keyed by URL). Cart requests depend on the
session and the body, so one captured request becomes a template: the values of its token,
product and cart id are replaced by symbols that the bare app (or a pgbench variant) fills in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask
from werkzeug.test import TestResponse

from bench.capture import Recorder, Statement, decode, encode, literal_sql, pgbench_script
from bench.workload import Request
from storefront import counts
from storefront.extensions import db

EXECUTION_TIME = re.compile(r"Execution Time: ([\d.]+) ms")
# The session settings the app sets on its connections (storefront/__init__.py).
APP_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"


@dataclass
class Captured:
    """What the app did for each distinct request of a pool."""

    statements: dict[Request, list[Statement]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def capture(app: Flask, requests: list[Request], cookies: dict[str, str]) -> Captured:
    """Send each distinct request through the app in-process and keep the SQL it sent.

    The SQL is what a warmed-up worker sends: reads go through once first, so what a worker
    learns and keeps (category ids, which searches are common) is known; the cached counts are
    then dropped, since under load most filter combinations are new.
    """
    captured = Captured()
    client = app.test_client(use_cookies=False)
    with app.app_context():
        engine = db.engine

    def send(request: Request) -> TestResponse:
        headers = {"Cookie": cookies[request.session]} if request.session else {}
        if request.body:
            headers["Content-Type"] = "application/json"
        return client.open(request.path, method=request.method, headers=headers, data=request.body)

    distinct = list(dict.fromkeys(requests))
    for request in distinct:
        if request.method == "GET":
            send(request)
    with app.app_context():
        counts.cache().clear()
    recorder = Recorder(keep_rows=True)
    with recorder.attached(engine):
        for request in distinct:
            response = send(request)
            captured.statuses[response.status_code] = (
                captured.statuses.get(response.status_code, 0) + 1
            )
            captured.statements[request] = recorder.take()
    return captured


def request_template(
    first: list[Statement],
    first_symbols: dict[str, Any],
    second: list[Statement],
    second_symbols: dict[str, Any],
) -> list[dict[str, Any]]:
    """Two captures of the same statements for two requests -> one template for any such.

    A parameter is a symbol (a URL value, the cart token, the product to add) when it carries
    that symbol's value in both captures, a
    value returned by an earlier statement (a category's id) when it carries that statement's
    first value in both, a constant when it is the same in both; anything else is an error.
    A count statement is marked to run only after a full page, as the app does.
    """
    steps: list[dict[str, Any]] = []
    for a, b in zip(first, second, strict=True):
        if a.sql != b.sql:
            raise ValueError("the two captures sent different statements")
        params = {}
        for key, value in a.params.items():
            other = b.params[key]
            name = next(
                (
                    symbol
                    for symbol, known in first_symbols.items()
                    if type(known) is type(value)
                    and known == value
                    and second_symbols.get(symbol) == other
                ),
                None,
            )
            earlier = next(
                (
                    number
                    for number, (x, y) in enumerate(zip(first, second, strict=False))
                    if x is not a
                    and x.first_row
                    and y.first_row
                    and x.first_row[0] == value
                    and y.first_row[0] == other
                    and first.index(x) < first.index(a)
                ),
                None,
            )
            if name:
                params[key] = {"$symbol": name}
            elif earlier is not None:
                params[key] = {"$symbol": f"row{earlier}"}
                steps[earlier].update(binds=f"row{earlier}", bind_column=first[earlier].columns[0])
            elif value == other:
                params[key] = encode(value)
            else:
                raise ValueError(f"parameter {key} varies with nothing in the URL")
        steps.append(
            {
                "sql": a.sql,
                "params": params,
                "binds": None,
                "bind_column": None,
                "after_full_page": a.sql.lstrip().startswith("SELECT count("),
            }
        )
    return steps


def _symbol(value: Any) -> str | None:
    return value["$symbol"] if isinstance(value, dict) and "$symbol" in value else None


def instantiate(steps: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    """A template's statements as literal SQL for one request (`values` by symbol name)."""
    sqls = []
    for step in steps:
        params = {
            key: values[name] if (name := _symbol(value)) else decode(value)
            for key, value in step["params"].items()
        }
        sqls.append(literal_sql(step["sql"], params))
    return sqls


def template_script(steps: list[dict[str, Any]], setup: list[str], *, transaction: bool) -> str:
    """A pgbench script running a cart template with its symbols as pgbench variables.

    `setup` sets `token` and `product_id` (`\\set` lines); a value a statement returns for later
    ones (the cart id) comes back with `\\gset`, as the app reads it, under its column's name.
    """
    names = {"token": "token", "product_id": "product_id"}
    names.update({s["binds"]: s["bind_column"] for s in steps if s["binds"]})
    lines = ["-- Generated by bench/harness.py from the SQL the app sent.", *setup]
    if transaction:
        lines.append("BEGIN;")
    for step in steps:
        variables = {k: names[n] for k, v in step["params"].items() if (n := _symbol(v))}
        params = {k: decode(v) for k, v in step["params"].items() if k not in variables}
        sql = literal_sql(step["sql"], params, variables).strip().rstrip(";")
        lines.append(sql + (" \\gset" if step["binds"] else ";"))
    if transaction:
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def replay_entries(captured: Captured) -> dict[str, list[dict[str, Any]]]:
    """The bare app's replay table: URL -> the statements the app sent for it."""
    return {
        request.path: [
            {"sql": s.sql, "params": {k: encode(v) for k, v in s.params.items()}}
            for s in statements
        ]
        for request, statements in captured.statements.items()
    }


def read_script(captured: Captured, variants: int) -> str:
    """pgbench script: one branch per captured request (up to `variants` of them)."""
    chosen = list(captured.statements.values())[:variants]
    return pgbench_script([[s.literal() for s in ss] for ss in chosen], transaction=False)


def cart_ids(dsn: str, tokens: list[str]) -> dict[str, int]:
    """Cart id of each token."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT token, id FROM carts WHERE token = ANY(%s)", (tokens,))
        return dict(rows.fetchall())


def explain(
    dsn: str, statements: list[str], *, write: bool, setup: list[str] | None = None
) -> tuple[str, list[float]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement, after `setup` (run as it is, not
    explained, in the same transaction); writes are rolled back."""
    texts, times = [], []
    with psycopg.connect(dsn, options=APP_OPTIONS) as conn:
        for sql in setup or []:
            conn.execute(sql)
        for sql in statements:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
            text = "\n".join(row[0] for row in plan)
            match = EXECUTION_TIME.search(text)
            times.append(float(match.group(1)) if match else 0.0)
            texts.append(f"-- {sql}\n{text}")
        if write:
            conn.rollback()
        else:
            conn.commit()
    return "\n\n".join(texts), times
