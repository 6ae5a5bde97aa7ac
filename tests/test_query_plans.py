"""Every list and search query of the benchmark (issue 5) is served by its index (PostgreSQL).

The statements are built by the app's own code (`parse_filters` -> `list_products`), caught as
they reach the driver, then EXPLAINed with their parameters. The test catalog is small, so
sequential scans are switched off: the question is which index the planner uses when it must
use one. A query that no index can serve still gets a Seq Scan on products, and fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text
from werkzeug.datastructures import MultiDict

from storefront.catalog import DEFERRED_FROM, list_products
from storefront.extensions import db
from storefront.filters import parse_filters

GENERATED = 2000  # 40 products per category: enough for full pages, so totals are counted
COUNT_CAP = 10_000
CATEGORY = "mebel"


@dataclass(frozen=True)
class Expected:
    """Indexes a statement must use: all of `all_of`, and at least one of `one_of`."""

    all_of: frozenset[str] = field(default_factory=frozenset)
    one_of: frozenset[str] = field(default_factory=frozenset)


def _all(*names: str) -> Expected:
    return Expected(all_of=frozenset(names))


SEARCH = _all("ix_products_search_trgm", "ix_products_stems")
# Scenario: (query string, page number for the HTML catalog or None, page query, count query).
SCENARIOS: dict[str, tuple[dict[str, str], int | None, Expected, Expected]] = {
    "list-category": (
        {"category": CATEGORY, "min_price": "1000", "max_price": "190000", "sort": "price"},
        None,
        _all("ix_products_category_price"),
        _all("ix_products_category_price"),
    ),
    "list-broad": (
        {"min_price": "50000", "max_price": "150000", "sort": "-price"},
        None,
        _all("ix_products_price"),
        _all("ix_products_price"),
    ),
    "search-common": ({"search": "складная"}, None, SEARCH, SEARCH),
    "search-rare": ({"search": "{code}"}, None, SEARCH, SEARCH),
    "search-typo": (
        {"search": "{typo}"},
        None,
        _all("ix_products_search_trgm", "ix_products_stems", "ix_products_words"),
        _all("ix_products_search_trgm", "ix_products_stems", "ix_products_words"),
    ),
    "deep-page": (
        {"category": CATEGORY, "offset": "20"},
        None,
        _all("ix_products_category_name"),
        Expected(one_of=frozenset({"ix_products_category_name", "ix_products_category_price"})),
    ),
    "page-catalog": (
        {"category": CATEGORY},
        2,
        _all("ix_products_category_name"),
        Expected(one_of=frozenset({"ix_products_category_name", "ix_products_category_price"})),
    ),
}


@pytest.fixture
def catalog(app: Flask, backend: str) -> Iterator[dict[str, str]]:
    """A generated catalog on PostgreSQL; yields a model code and a one-letter typo of it."""
    if backend != "postgresql":
        pytest.skip("query plans and their indexes are PostgreSQL's")
    result = app.test_cli_runner().invoke(args=["seed", "--generate", str(GENERATED)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        name = db.session.execute(text("SELECT name FROM products ORDER BY id LIMIT 1")).scalar()
    code = re.search(r"[A-Z]\d{7}", name).group(0)
    # Codes never start with J: the typo matches its product through the one-edit path only.
    yield {"code": code, "typo": "J" + code[1:]}


def products_statements(app: Flask, args: dict[str, str], page: int | None) -> list[tuple]:
    """EXPLAIN (FORMAT JSON) of each statement on products that `list_products` sends."""
    sent: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        sent.append((statement, parameters))

    with app.app_context():
        filters = parse_filters(MultiDict(args), COUNT_CAP, page=page)
        assert not filters.issues
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            result = list_products(filters, COUNT_CAP)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert result.items, f"the test catalog has nothing for {args}"
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        if "search" in args:
            # On a small table the planner may walk a whole b-tree (sorted output for free)
            # instead of the text indexes; without plain index scans it must show whether
            # the search conditions can use their indexes (bitmap scans).
            connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
        plans = []
        for statement, parameters in sent:
            if "FROM products" not in statement:
                continue  # the category and vocabulary lookups
            kind = "count" if statement.lstrip().startswith("SELECT count(") else "page"
            explained = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            ).scalar_one()
            plans.append((kind, explained[0]["Plan"]))
        db.session.rollback()
    return plans


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a JSON plan."""
    yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


def products_access(plan: dict[str, Any]) -> tuple[list[str], set[str]]:
    """(scans that read all of products, indexes of products used).

    A whole-index scan (no Index Cond) reads every row too: with sequential scans switched off
    the planner falls back to one when no index fits, so it counts as sequential here.
    """
    nodes = list(scans(plan))
    sequential = [
        f"{node['Node Type']} {node.get('Index Name', '')}".strip()
        for node in nodes
        if node.get("Relation Name") == "products"
        and (
            node["Node Type"] == "Seq Scan"
            or (node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node)
        )
    ]
    indexes = {
        node["Index Name"]
        for node in nodes
        if node.get("Index Name", "").startswith(("ix_products_", "pk_products"))
    }
    return sequential, indexes


def assert_uses(plan: dict[str, Any], expected: Expected) -> None:
    """No sequential scan of products, and the intended indexes used."""
    sequential, indexes = products_access(plan)
    assert not sequential, f"products scanned sequentially ({sequential}): {plan}"
    assert expected.all_of <= indexes, f"expected {set(expected.all_of)}, used {indexes}"
    if expected.one_of:
        assert expected.one_of & indexes, f"expected one of {set(expected.one_of)}, used {indexes}"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_queries_use_their_indexes(
    app: Flask, catalog: dict[str, str], scenario: str
) -> None:
    """The page query and the capped count of each scenario go through the intended index."""
    args, page, page_index, count_index = SCENARIOS[scenario]
    args = {key: value.format(**catalog) for key, value in args.items()}
    plans = products_statements(app, args, page)
    kinds = [kind for kind, _ in plans]
    assert kinds.count("page") == 1, kinds
    for kind, plan in plans:
        assert_uses(plan, page_index if kind == "page" else count_index)
    if not scenario.startswith("search-rare") and not scenario.startswith("search-typo"):
        assert "count" in kinds, "a full page must count its total (the capped count query)"


def test_a_query_no_index_serves_is_caught(app: Flask, catalog: dict[str, str]) -> None:
    """The check itself: a filter on an unindexed column is a Seq Scan, and fails it."""
    with app.app_context():
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) SELECT id FROM products WHERE description = 'x'"
        ).scalar_one()[0]["Plan"]
        db.session.rollback()
    with pytest.raises(AssertionError, match="sequentially"):
        assert_uses(plan, _all("ix_products_price"))


def test_deep_pages_skip_their_offset_inside_an_index(app: Flask, catalog: dict[str, str]) -> None:
    """Past DEFERRED_FROM the offset is walked in an index-only scan; only the page's rows
    are read from the table (by primary key)."""
    args = {"min_price": "1000", "sort": "price", "offset": str(DEFERRED_FROM + 100)}
    plans = products_statements(app, args, None)
    [page] = [plan for kind, plan in plans if kind == "page"]
    nodes = [(node["Node Type"], node.get("Index Name")) for node in scans(page)]
    assert ("Index Only Scan", "ix_products_price") in nodes, nodes
    assert ("Index Scan", "pk_products") in nodes, nodes


def test_app_connections_start_no_parallel_workers(app: Flask, catalog: dict[str, str]) -> None:
    """Even where a parallel plan looks cheapest, the app's connections plan none (starting
    workers cost ~8 ms per query, more than a shop query takes); the control shows that this
    statement would otherwise run in parallel."""

    def node_types(parallel_workers: int | None) -> set[str]:
        with app.app_context():
            connection = db.session.connection()
            for setting in (
                "parallel_setup_cost = 0",
                "parallel_tuple_cost = 0",
                "min_parallel_table_scan_size = 0",
            ):
                connection.exec_driver_sql(f"SET LOCAL {setting}")
            if parallel_workers is not None:
                connection.exec_driver_sql(
                    f"SET LOCAL max_parallel_workers_per_gather = {parallel_workers}"
                )
            plan = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) SELECT count(*) FROM products WHERE description LIKE '%%a%%'"
            ).scalar_one()[0]["Plan"]
            db.session.rollback()
        return {node["Node Type"] for node in scans(plan)}

    assert "Gather" in node_types(parallel_workers=2)
    assert not {"Gather", "Gather Merge"} & node_types(parallel_workers=None)
