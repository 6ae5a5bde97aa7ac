"""Query-string filters, parsed once for the API and the pages (no database needed)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict

from storefront.filters import parse_filters


def parse(**params: str | list[str]):
    """Parse `params` as a query string would deliver them."""
    return parse_filters(MultiDict(params), count_cap=10_000)


def test_defaults() -> None:
    """No parameters: name order, 20 items from the start."""
    filters = parse()
    assert (filters.sort, filters.limit, filters.offset, filters.issues) == ("name", 20, 0, ())


def test_search_defaults_to_relevance_and_relevance_without_search_is_name() -> None:
    """`relevance` is the default with a search and means `name` without one."""
    assert parse(search="мышь").sort == "relevance"
    assert parse(sort="relevance").sort == "name"


def test_empty_values_count_as_absent() -> None:
    """An HTML form sends every field; empty ones change nothing."""
    assert parse(search="", min_price="", max_price="", sort="", limit="", category="") == parse()


def test_repeated_categories_keep_order_without_duplicates() -> None:
    """`category` repeats; duplicates are dropped."""
    assert parse(category=["Мебель", "sport", "Мебель"]).categories == ("Мебель", "sport")


@pytest.mark.parametrize(("raw", "value"), [("0", "0"), ("99.90", "99.90"), ("1500,5", "1500.5")])
def test_price_bounds_accept_decimals_and_a_decimal_comma(raw: str, value: str) -> None:
    """Prices are exact decimals; a Russian decimal comma is accepted."""
    assert parse(min_price=raw).min_price == Decimal(value)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "abc"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"max_price": "1e3"}, "max_price"),
        ({"min_price": "10", "max_price": "5"}, "max_price"),
        ({"search": "я" * 201}, "search"),
        ({"sort": "cheapest"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": "١٠"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "10001"}, "offset"),
        ({"category": "я" * 101}, "category"),
    ],
)
def test_bad_values_are_named(params: dict[str, str], field: str) -> None:
    """Each bad value is reported at ("query", field) and left at its default."""
    filters = parse(**params)
    assert [issue.loc[:2] for issue in filters.issues] == [("query", field)]
    assert filters.limit == 20 and filters.offset == 0


def test_page_numbers_become_offsets_capped_at_count_cap() -> None:
    """Pages count from 1; a page past COUNT_CAP stops at the cap."""
    args = MultiDict({"limit": "10"})
    assert parse_filters(args, 10_000, page=3).offset == 20
    assert parse_filters(args, 100, page=50).offset == 100
