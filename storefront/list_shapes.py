"""A product list without search words: its statements, built once per shape of filters.

The filters of a list without search words vary in their values (a price window, which
categories, the offset), but only in a few ways in their form: how many categories, which
price bounds, in stock or not, the order, a deferred join or not. Each form gets its page and
count statements once, with every value a bound parameter, run through `fastsql`: a list then
costs its two round trips and little else (building and caching a Core statement per request
was ~150 µs of a list's CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Numeric, Select, bindparam, func, or_, select

from .fastsql import Shapes, Statement
from .filters import ProductFilters
from .models import Product

_p = Product.__table__.c
_PRICE = Numeric(12, 2)


@dataclass(frozen=True)
class Shape:
    """The form of a list's filters: what its statements depend on besides values."""

    categories: int
    min_price: bool
    max_price: bool
    in_stock: bool
    sort: str
    deferred: bool


@dataclass(frozen=True)
class ListStatements:
    """A shape's page (`rows`) and capped count (`scalar`) statements."""

    page: Statement
    count: Statement


_BUILT: Shapes[ListStatements] = Shapes()


def shape_of(filters: ProductFilters, categories: int, deferred_from: int) -> Shape:
    """The shape of `filters` (already resolved to `categories` category ids)."""
    return Shape(
        categories,
        filters.min_price is not None,
        filters.max_price is not None,
        filters.in_stock,
        filters.sort,
        filters.offset >= deferred_from,
    )


def page_parameters(filters: ProductFilters, category_ids: list[int]) -> dict[str, Any]:
    """The values bound into a shape's page statement for `filters`."""
    values = count_parameters(filters, category_ids)
    values["limit"] = filters.limit
    values["offset"] = filters.offset
    return values


def count_parameters(filters: ProductFilters, category_ids: list[int]) -> dict[str, Any]:
    """The values bound into a shape's count statement, but for its cap."""
    values: dict[str, Any] = {
        f"category_{number}": category_id for number, category_id in enumerate(category_ids)
    }
    if filters.min_price is not None:
        values["min_price"] = filters.min_price
    if filters.max_price is not None:
        values["max_price"] = filters.max_price
    return values


def statements(
    shape: Shape, page_columns: Select, order: list[ColumnElement[Any]]
) -> ListStatements:
    """The statements of `shape`, built the first time it is asked for.

    `page_columns` and `order` are the catalog's (`catalog._PAGE_COLUMNS`, the sort's order):
    the page is theirs, filtered, limited and offset by parameters.
    """
    return _BUILT.get(shape, lambda: _build(shape, page_columns, order))


def conditions(shape: Shape) -> list[ColumnElement[bool]]:
    """The filters of `shape` with their values as named parameters (see `count_parameters`)."""
    conditions: list[ColumnElement[bool]] = []
    if shape.categories:
        names = [bindparam(f"category_{n}", type_=Integer) for n in range(shape.categories)]
        conditions.append(_p.category_id.in_(names))
    if shape.min_price:
        conditions.append(_p.price >= bindparam("min_price", type_=_PRICE))
    if shape.max_price:
        conditions.append(_p.price <= bindparam("max_price", type_=_PRICE))
    if shape.in_stock:
        conditions.append(or_(_p.stock.is_(None), _p.stock > 0))
    return conditions


def _build(shape: Shape, page_columns: Select, order: list[ColumnElement[Any]]) -> ListStatements:
    where = conditions(shape)
    limit = bindparam("limit", type_=Integer)
    offset = bindparam("offset", type_=Integer)
    if shape.deferred:
        # A deferred join: OFFSET skips rows inside an index-only scan of ids, and only the
        # page's own rows are read from the table (OFFSET 10 000 read 10 020 rows: 45 ms,
        # cold cache 2.6 s, against 2.5 ms).
        ids = (
            select(_p.id)
            .where(*where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        page = page_columns.join(ids, ids.c.id == _p.id).order_by(*order)
    else:
        page = page_columns.where(*where).order_by(*order).limit(limit).offset(offset)
    capped = select(_p.id).where(*where).limit(bindparam("cap", type_=Integer)).subquery()
    count = select(func.count()).select_from(capped)
    return ListStatements(Statement(page), Statement(count))
