"""What checking the catalog version costs a read, in-process: the same requests, interleaved.

    BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python -m bench.version_check [PAIRS]

The database must be migrated and seeded (`flask seed --generate 100000`). Each request goes
through the WSGI app (Flask's test client, no server), alternating between variants, with its
wall time (`time.perf_counter`) and its thread's CPU time (`time.thread_time`, which leaves
out the database and is steadier on a shared machine); medians are printed.

- List requests: the page query's version column read from `catalog_version` (as shipped) or
  written in as a constant (the same cache hits, nothing read): the cost of the check.
- The category list: as shipped (version read, list kept), read every time, and kept with no
  check at all (as before the version existed, when other processes' writes showed late).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import literal_column

from storefront import catalog, create_app
from storefront.catalog_version import read_catalog_version
from storefront.extensions import db
from storefront.web import catalog as web_catalog

LISTS = [
    "/api/products/?category=mebel&sort=price",
    "/api/products/?category=mebel&limit=1",
    "/api/products/?search=складная",
    "/api/products/?min_price=1000&max_price=5000&offset=300",
    "/?category=mebel",
]
CATEGORY_LISTS = ["/api/categories/", "/?category=mebel"]
WARM_UP = 50


def compare(
    client: FlaskClient, path: str, variants: dict[str, Callable[[], None]], pairs: int
) -> None:
    """Print the median wall and CPU time of `path` under each variant (a setter)."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for switch in variants.values():
        switch()
        for _ in range(WARM_UP):
            assert client.get(path).status_code == 200, path
    order = list(variants.items())
    for turn in range(pairs):
        # Alternate which variant goes first, so neither always follows the other.
        for name, switch in order if turn % 2 else order[::-1]:
            switch()
            started, cpu_started = time.perf_counter(), time.thread_time()
            client.get(path)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.thread_time() - cpu_started)
    order[0][1]()  # back to as shipped
    for label, times in (("wall", wall), ("cpu", cpu)):
        medians = {name: statistics.median(values) * 1e6 for name, values in times.items()}
        shown = ", ".join(f"{name} {value:.0f} µs" for name, value in medians.items())
        print(f"{path} [{label}]: {shown}", flush=True)


def main() -> None:
    """Measure against BENCH_DATABASE_URL."""
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE_URL"],
            "STOREFRONT_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench-version-check-0123456789-abcdefghij",
            "RATE_LIMITS": "off",
        }
    )
    client = app.test_client()
    with app.app_context():
        version = read_catalog_version()
        kept = catalog.list_categories()
    shipped_columns = catalog._PAGE_COLUMNS
    constant_columns = catalog.PRODUCT_COLUMNS.add_columns(
        literal_column(str(version)).label("catalog_version")
    )
    shipped_categories = catalog.list_categories

    def read_every_time(version: int | None = None) -> list[catalog.CategoryView]:
        return [catalog.CategoryView(*row) for row in db.session.execute(catalog._CATEGORIES)]

    def columns(value: object) -> Callable[[], None]:
        return lambda: setattr(catalog, "_PAGE_COLUMNS", value)

    def categories(function: Callable[..., list[catalog.CategoryView]]) -> Callable[[], None]:
        def switch() -> None:
            catalog.list_categories = function
            web_catalog.list_categories = function

        return switch

    # No app context around the requests: each pushes its own, as under gunicorn, so each
    # checks a connection out of the pool and back in.
    for path in LISTS:
        compare(
            client,
            path,
            {"checked": columns(shipped_columns), "constant": columns(constant_columns)},
            pairs,
        )
    for path in CATEGORY_LISTS:
        variants = {
            "checked": categories(shipped_categories),
            "read every time": categories(read_every_time),
            "kept unchecked": categories(lambda version=None: kept),
        }
        compare(client, path, variants, pairs)


if __name__ == "__main__":
    main()
