"""Common searches counted and paged from their kept matches (`storefront.match_counts`):
the same answers as counting and ranking every match, under any filter, shared by processes
through the database, and never older than the catalog (PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event, text
from werkzeug.datastructures import MultiDict

from storefront import catalog, inventory, match_counts
from storefront.extensions import db
from storefront.filters import parse_filters
from storefront.schemas import ProductIn
from tests.conftest import make_app
from tests.test_search import common_word_shop, pg_shop, shop

__all__ = ["common_word_shop", "pg_shop", "shop"]  # 60 products, "складной" common from 10

Answer = tuple[list[int], int, bool]


def answer(app: Flask, query: dict[str, str], count_cap: int = 10_000) -> Answer:
    """The ids of a page, its total and whether the total is exact (committed afterwards, as a
    request's autocommit would)."""
    with app.app_context():
        filters = parse_filters(MultiDict(query), 10_000)
        assert not filters.issues
        page = catalog.list_products(filters, count_cap)
        db.session.commit()
        return [item.id for item in page.items], page.total, page.total_exact


def full_answer(app: Flask, query: dict[str, str], count_cap: int = 10_000) -> Answer:
    """The same, from a process that keeps nothing: every match counted and ranked."""
    keeps_nothing = make_app(app.config["SQLALCHEMY_DATABASE_URI"], COUNT_CACHE_SECONDS=0)
    try:
        return answer(keeps_nothing, query, count_cap)
    finally:
        with keeps_nothing.app_context():
            db.engine.dispose()


@pytest.fixture
def sent(common_word_shop: Flask) -> Iterator[list[str]]:
    """The SQL the app sends from now on."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    with common_word_shop.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield statements
    event.remove(engine, "before_cursor_execute", record)


def finds_matches(statements: list[str]) -> bool:
    return any("string_agg" in sql for sql in statements)


FILTERS = [
    {},
    {"min_price": "101"},
    {"min_price": "110.5", "max_price": "139.99"},
    {"max_price": "104"},
    {"category": "Мебель"},
    {"category": "Мебель", "min_price": "120", "max_price": "150"},
    {"category": ["Мебель", "Дача"], "max_price": "140"},
    {"min_price": "500"},
]


@pytest.mark.parametrize("count_cap", [5, 40, 10_000])
@pytest.mark.parametrize("params", FILTERS)
def test_kept_totals_and_pages_equal_full_ones(
    common_word_shop: Flask, sent: list[str], params: dict[str, str], count_cap: int
) -> None:
    """Every page of a common word under each filter, and its total, as a full ranking and
    count give them; the matches are found once and then only read."""
    inventory_has_substring_match(common_word_shop)
    answer(common_word_shop, {"search": "складной"})  # the word is counted: it is common
    for offset in (0, 7, 14, 35):
        query = {"search": "складной", "limit": "7", "offset": str(offset), **params}
        assert answer(common_word_shop, query, count_cap) == full_answer(
            common_word_shop, query, count_cap
        )
    found = [sql for sql in sent if "string_agg" in sql]
    assert len(found) == 1, found
    if "category" in params:  # a category keeps too few to walk for: read by id
        assert any("string_to_array(" in sql for sql in sent)


def inventory_has_substring_match(app: Flask) -> None:
    """A product that matches by substring only: ranked last, counted all the same."""
    with app.app_context():
        inventory.create_products([ProductIn(name="Нескладнойстул", price=120, category="Мебель")])
        db.session.commit()


def test_another_process_reads_the_kept_matches(common_word_shop: Flask, sent: list[str]) -> None:
    """What one worker found, another uses: its filtered searches find no match again."""
    answer(common_word_shop, {"search": "складной"})
    answer(common_word_shop, {"search": "складной", "category": "Мебель", "limit": "5"})
    assert finds_matches(sent)

    other = make_app(common_word_shop.config["SQLALCHEMY_DATABASE_URI"])
    other_sent: list[str] = []
    with other.app_context():
        event.listen(
            db.engine,
            "before_cursor_execute",
            lambda _c, _cu, statement, *_a: other_sent.append(statement),
        )
    query = {"search": "складной", "category": "Дача", "max_price": "140", "limit": "5"}
    assert (
        answer(other, {"search": "складной"})[1:] == full_answer(other, {"search": "складной"})[1:]
    )
    assert answer(other, query) == full_answer(common_word_shop, query)
    assert not finds_matches(other_sent), other_sent
    assert any("FROM search_matches" in sql for sql in other_sent)
    with other.app_context():
        db.engine.dispose()


def test_matches_read_from_the_table_age_from_when_they_were_found(
    common_word_shop: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that reads matches found a while ago keeps them for what is left of
    KEPT_SECONDS, not for KEPT_SECONDS more: a change made in SQL around the app shows
    within KEPT_SECONDS whichever process answers."""
    monkeypatch.setattr(match_counts, "KEPT_SECONDS", 5.0)
    # The first process finds the matches (a category's count needs them) and keeps them.
    answer(common_word_shop, {"search": "складной"})
    answer(common_word_shop, {"search": "складной", "category": "Мебель", "limit": "5"})
    with common_word_shop.app_context():
        db.session.execute(
            text("UPDATE search_matches SET counted_at = counted_at - interval '4 seconds'")
        )
        db.session.commit()
        (words,) = db.session.execute(text("SELECT words FROM search_matches")).scalars()
    other = make_app(common_word_shop.config["SQLALCHEMY_DATABASE_URI"])
    # As in test_another_process_reads_the_kept_matches: this process reads the row.
    narrow = {"search": "складной", "category": "Дача", "max_price": "140", "limit": "5"}
    assert (
        answer(other, {"search": "складной"})[1:] == full_answer(other, {"search": "складной"})[1:]
    )
    assert answer(other, narrow) == full_answer(common_word_shop, narrow)
    with other.app_context():
        assert match_counts._kept().get(words) is not None, "the row was 4 s old: kept"
        time.sleep(1.5)
        assert match_counts._kept().get(words) is None, "found 5.5 s ago: past KEPT_SECONDS"
        db.engine.dispose()


def test_a_catalog_write_is_seen_at_once(common_word_shop: Flask) -> None:
    """Kept matches belong to one catalog version: a new matching product counts and ranks
    in the next search, in this process and in one that read the matches before."""
    other = make_app(common_word_shop.config["SQLALCHEMY_DATABASE_URI"])
    query = {"search": "складной", "category": "Мебель", "limit": "5"}
    before = answer(common_word_shop, query)
    assert answer(other, query) == before
    with common_word_shop.app_context():
        (made,) = inventory.create_products(
            [ProductIn(name="Складной табурет", price=1, category="Мебель")]
        )
        db.session.commit()
    for app in (common_word_shop, other):
        ids, total, _ = answer(app, query)
        assert total == before[1] + 1
        assert made.id in ids or made.id > max(ids)  # ties go to the lower id
        assert (ids, total) == full_answer(app, query)[:2]
    with other.app_context():
        db.engine.dispose()


def test_too_many_matches_are_not_kept(
    common_word_shop: Flask, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_KEPT the row only says so; the search counts and ranks as before, correctly."""
    monkeypatch.setattr(match_counts, "MAX_KEPT", 5)
    answer(common_word_shop, {"search": "складной"})
    query = {"search": "складной", "category": "Мебель", "limit": "5", "offset": "5"}
    assert answer(common_word_shop, query) == full_answer(common_word_shop, query)
    with common_word_shop.app_context():
        kept = db.session.execute(text("SELECT keys FROM search_matches")).scalars().all()
    assert kept == [None]


def test_in_stock_searches_count_afresh(common_word_shop: Flask) -> None:
    """Stock changes bump no catalog version, so a search of what is in stock never uses kept
    matches: a product sold out since is gone from its total at once."""
    query = {"search": "складной", "category": "Мебель", "in_stock": "true", "limit": "5"}
    answer(common_word_shop, {"search": "складной"})
    _, before, _ = answer(common_word_shop, query)
    with common_word_shop.app_context():
        db.session.execute(
            text(
                "UPDATE products SET stock = 0 WHERE id = (SELECT min(p.id) FROM products p "
                "JOIN categories c ON c.id = p.category_id WHERE c.name = 'Мебель' "
                "AND p.name_key LIKE 'складной%')"
            )
        )
        db.session.commit()
    assert answer(common_word_shop, query)[1] == before - 1
