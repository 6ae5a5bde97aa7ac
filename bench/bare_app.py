"""The bare baseline: the same URLs and the same SQL as the app, with nothing else in between.

A minimal Flask app, served by gunicorn with the app's own gunicorn.conf.py. For each URL of a
benchmark pool it runs the statements the app sent for that URL (captured by bench/harness.py
into the plan file) through a psycopg connection pool, and answers the rows as JSON (or as a
bare HTML list for pages). No validation, no ORM, no session, no middleware: the difference
between the app and this is what the app's own code costs.

Reads run in autocommit (no BEGIN/ROLLBACK round trips); a cart change runs in one transaction,
as it must. Most URLs are served from templates: their values (category, prices, offset or
page, product id) come from the URL, a category's id from the statement that looked it up, a
cart's token from the plain `bench_cart` cookie, the product to add from the JSON body; a count
runs only after a full page, as in the app. Search URLs replay what the app sent for them.

    BENCH_BARE_PLAN=plan.json BENCH_BARE_DSN=postgresql://... \
        gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8001 bench.bare_app:app
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from psycopg import Connection
from psycopg_pool import ConnectionPool

from bench.capture import PAGE_LIMIT, decode, url_shape, url_symbols


@dataclass(frozen=True)
class Symbol:
    """A parameter filled in per request: `token`, `product_id` or `cart_id`."""

    name: str


@dataclass(frozen=True)
class Step:
    """One statement; `binds` names the symbol its first returned value becomes;
    `after_full_page`: a count, run only when the page before it does not tell the total."""

    sql: str
    params: dict[str, Any]
    binds: str | None = None
    after_full_page: bool = False


def _step(raw: dict[str, Any]) -> Step:
    params = {
        name: Symbol(value["$symbol"]) if isinstance(value, dict) and "$symbol" in value else value
        for name, value in ((k, decode(v)) for k, v in raw["params"].items())
    }
    return Step(raw["sql"], params, raw.get("binds"), raw.get("after_full_page", False))


def _load(path: str) -> tuple[dict[str, list[Step]], dict[str, dict[str, Any]]]:
    with open(path, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    replay = {url: [_step(s) for s in steps] for url, steps in plan["replay"].items()}
    templates = {
        t["shape"]: {**t, "steps": [_step(s) for s in t["statements"]]}
        for t in plan["templates"].values()
    }
    return replay, templates


REPLAY, TEMPLATES = _load(os.environ["BENCH_BARE_PLAN"])
# As many connections as the worker has threads; the same session settings as the app.
POOL = ConnectionPool(
    os.environ["BENCH_BARE_DSN"],
    min_size=int(os.environ.get("BENCH_BARE_POOL", "4")),
    max_size=int(os.environ.get("BENCH_BARE_POOL", "4")),
    kwargs={
        "autocommit": True,
        "options": "-c statement_timeout=5000 -c lock_timeout=5000 -c jit=off"
        " -c max_parallel_workers_per_gather=0",
    },
    open=True,
)
# Slug -> id once at start, as the app remembers category ids after its first lookup.
with POOL.connection() as _conn:
    CATEGORY_IDS = dict(_conn.execute("SELECT slug, id FROM categories").fetchall())
app = Flask(__name__)


def run(conn: Connection, steps: list[Step], symbols: dict[str, Any]) -> list[list[dict]] | None:
    """Execute `steps` in order; None when a statement that binds a symbol returned nothing."""
    results: list[list[dict]] = []
    for step in steps:
        if step.after_full_page:
            # The app's last-page shortcut: a short page (or an empty first one) is its own count.
            rows = len(results[-1])
            if 0 < rows < PAGE_LIMIT or (rows == 0 and symbols.get("offset", 0) == 0):
                continue
        params = {
            name: symbols[value.name] if isinstance(value, Symbol) else value
            for name, value in step.params.items()
        }
        cursor = conn.execute(step.sql, params)
        if cursor.description is None:
            results.append([])
            continue
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
        if step.binds:
            if not rows:
                return None
            symbols[step.binds] = rows[0][0]
        results.append([dict(zip(columns, row, strict=True)) for row in rows])
    return results


def answer(results: list[list[dict]], status: int = 200, page: bool = False) -> Response:
    """Rows as JSON, or for a page as the barest HTML list of names and prices."""
    if page:
        items = "".join(
            f"<li>{html.escape(str(row.get('name')))} {row.get('price', '')}</li>"
            for rows in results
            for row in rows
            if "name" in row
        )
        return Response(f"<!doctype html><ul>{items}</ul>", status, mimetype="text/html")
    body = json.dumps(results, default=str, ensure_ascii=False)
    return Response(body, status, mimetype="application/json")


@app.route("/healthz")
def healthz() -> Response:
    """Up."""
    return Response("ok")


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def serve(path: str) -> Response:
    """Fill in the template of this kind of URL, or replay the statements of this very URL."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    page = not path.startswith("api/")
    template = TEMPLATES.get(url_shape(request.method, environ["PATH_INFO"], request.args))
    if template is not None:
        symbols = url_symbols(environ["PATH_INFO"], request.args, CATEGORY_IDS)
        symbols["token"] = request.cookies.get("bench_cart", "")
        if request.method == "POST":
            symbols["product_id"] = json.loads(request.get_data())["product_id"]
        with POOL.connection() as conn:
            if template["transaction"]:
                with conn.transaction():
                    results = run(conn, template["steps"], symbols)
            else:
                results = run(conn, template["steps"], symbols)
        if results is None:
            return answer([], 422)
        return answer(results, template["status"], page=page)
    steps = REPLAY.get(environ["PATH_INFO"] + ("?" + query if query else ""))
    if steps is None:
        return answer([], 404)
    with POOL.connection() as conn:
        results = run(conn, steps, {})
    return answer(results or [], page=page)
