"""Catalog reads: one query path for the API and the pages, free of HTTP."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from . import (
    catalog_version,
    common_search,
    counts,
    fastsql,
    list_shapes,
    match_counts,
    search,
    textfold,
)
from .extensions import db
from .filters import ProductFilters
from .models import Category, Product

_p = Product.__table__.c
_c = Category.__table__.c
# From this offset on, a list's page is found by id first (see `list_shapes`).
DEFERRED_FROM = 200


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product as shoppers and clients see it (`category` is the category's name)."""

    id: int
    name: str
    description: str
    price: Decimal
    image: str | None
    category: str
    # Units on hand; None when the shop does not track this product's stock.
    stock: int | None


@dataclass(frozen=True)
class ProductPage:
    """One page of a filtered product list."""

    items: list[ProductView]
    total: int
    total_exact: bool
    limit: int
    offset: int
    # The catalog version the page was read at (None when no row came back to carry it).
    catalog_version: int | None = None


@dataclass(frozen=True)
class CategoryView:
    """A category with the number of its products."""

    name: str
    slug: str
    product_count: int


# The columns a `ProductView` needs, category joined. Built once: statements are immutable,
# and rebuilding this one (and its cache key) on every request was a third of a product
# detail's CPU time.
PRODUCT_COLUMNS: Select = select(
    _p.id, _p.name, _p.description, _p.price, _p.image, _c.name.label("category"), _p.stock
).join_from(Product.__table__, Category.__table__, _p.category_id == _c.id)
_PRODUCT_BY_ID = fastsql.Statement(PRODUCT_COLUMNS.where(_p.id == bindparam("product_id")))
# A list's page carries the catalog version in a last column: the total it may take from the
# cache is checked against it without a round trip of its own (see `catalog_version`).
_PAGE_COLUMNS = PRODUCT_COLUMNS.add_columns(catalog_version.CURRENT.label("catalog_version"))
_CATEGORIES = fastsql.Statement(
    select(_c.name, _c.slug, _c.product_count)
    .where(_c.product_count > 0)
    .order_by(_c.name_key, _c.id)
)


def _dialect() -> str:
    # The engine's, not the session's bind: asking the session makes one (and closes it at the
    # end of the request), ~30 µs of a read that otherwise never touches the ORM session.
    return db.engine.dialect.name


def category_ids() -> dict[tuple[str, str], int]:
    """This app's remembered category ids, by ("name", folded name) and by ("slug", slug)."""
    return current_app.extensions.setdefault("storefront.category_ids", {})


def resolve_categories(values: tuple[str, ...]) -> list[int]:
    """Ids of the categories named (case-insensitively) or slugged in `values`.

    A category's name and slug never change and categories are never deleted, so what was
    found once is remembered for the life of the process; only unknown values query.
    """
    known = category_ids()
    ids: set[int] = set()
    missing: list[str] = []
    for value in values:
        found = known.get(("name", textfold.fold(value))) or known.get(("slug", value))
        if found is None:
            missing.append(value)
        else:
            ids.add(found)
    if missing:
        keys = [textfold.fold(value) for value in missing]
        rows = db.session.execute(
            select(_c.id, _c.name_key, _c.slug).where(
                or_(_c.name_key.in_(keys), _c.slug.in_(missing))
            )
        )
        for row in rows:
            known[("name", row.name_key)] = known[("slug", row.slug)] = row.id
            ids.add(row.id)
    return sorted(ids)


# Built once: making these expressions was a tenth of a list's CPU time.
_ORDERS = {
    "price": [_p.price, _p.id],
    "-price": [_p.price.desc(), _p.id],
    "name": [_p.name_key, _p.id],
    "-name": [_p.name_key.desc(), _p.id],
    "newest": [_p.created_at.desc(), _p.id.desc()],
}


def _order(filters: ProductFilters, query: search.SearchQuery | None, dialect: str) -> list:
    if filters.sort == "relevance" and query is not None:
        return [*search.relevance(query, dialect), _p.id]
    return _ORDERS.get(filters.sort, _ORDERS["name"])


def list_products(filters: ProductFilters, count_cap: int) -> ProductPage:
    """The page of products `filters` asks for, with a total capped at `count_cap`."""
    category_ids: list[int] = []
    if filters.categories:
        category_ids = resolve_categories(filters.categories)
        if not category_ids:
            return ProductPage([], 0, True, filters.limit, filters.offset)
    if not filters.search:
        return _list_without_words(filters, category_ids, count_cap)
    return _search(filters, category_ids, count_cap)


def _list_without_words(
    filters: ProductFilters, category_ids: list[int], count_cap: int
) -> ProductPage:
    """A list without search words: its shape's statements (see `list_shapes`)."""
    shape = list_shapes.shape_of(filters, len(category_ids), DEFERRED_FROM)
    statements = list_shapes.statements(shape, _PAGE_COLUMNS, _order(filters, None, ""))
    rows = statements.page.rows(list_shapes.page_parameters(filters, category_ids))
    items, version = _page_of(rows)
    key = (tuple(category_ids), filters.min_price, filters.max_price, None, filters.in_stock)
    count = {**list_shapes.count_parameters(filters, category_ids), "cap": count_cap + 1}
    total, version = _total(
        filters, items, version, (*key, count_cap), lambda _version: statements.count.scalar(count)
    )
    return ProductPage(
        items, min(total, count_cap), total <= count_cap, filters.limit, filters.offset, version
    )


def _total(
    filters: ProductFilters,
    items: list[ProductView],
    version: int | None,
    key: tuple,
    count: Callable[[int | None], int],
) -> tuple[int, int | None]:
    """The list's total (capped by `count`), and the catalog version it was taken at.

    On the last page the total is known without counting; otherwise it comes from the counts
    cache at the page's version, or from `count` (given that version).
    """
    if (items and len(items) < filters.limit) or (not items and filters.offset == 0):
        return filters.offset + len(items), version
    if filters.in_stock:
        # Every checkout changes stock without bumping the catalog version: count afresh.
        version = None
    elif version is None:
        # An empty page past the end brought no version back; it must precede the count.
        version = catalog_version.read_catalog_version()
    return counts.cache().get(key, version, lambda: count(version)), version


def _search(filters: ProductFilters, category_ids: list[int], count_cap: int) -> ProductPage:
    """A list with search words: ranked, walked when common (see `common_search`), and a
    common search counted from its kept matches (see `match_counts`)."""
    conditions = []
    if category_ids:
        conditions.append(_p.category_id.in_(category_ids))
    if filters.min_price is not None:
        conditions.append(_p.price >= _price_bound(filters.min_price))
    if filters.max_price is not None:
        conditions.append(_p.price <= _price_bound(filters.max_price))
    if filters.in_stock:
        conditions.append(or_(_p.stock.is_(None), _p.stock > 0))
    dialect = _dialect()
    query = search.SearchQuery.parse(filters.search or "")
    with_typos: list[search.SearchQuery] = []

    def prepared() -> search.SearchQuery:
        """The query with its typo variants: a vocabulary lookup (~1.5 ms for a long word),
        made only when a statement matches rows by the words (a walk's best-tier rows match
        by themselves, and a kept count needs none)."""
        if not with_typos:
            with_typos.append(search.prepare(query, dialect))
        return with_typos[0]

    words = query.text
    key = (tuple(category_ids), filters.min_price, filters.max_price, words, filters.in_stock)
    postgresql_words = dialect == "postgresql" and bool(query.words)
    walkable = postgresql_words and filters.sort == "relevance"
    common = postgresql_words and common_search.is_common(query)

    items = None
    walked = False
    version: int | None = None
    end = filters.offset + filters.limit
    # Walks are remembered by words and categories: a price bound only shortens a walk.
    walk_key = (words, tuple(category_ids))
    outlook = common_search.Outlook(False, False)
    if walkable and common and common_search.hints().worth_walking(walk_key, end):
        outlook = common_search.outlook(
            query, category_ids, filters.min_price, filters.max_price, end, count_cap
        )
    if outlook.walk:
        # The best-tier rows a walk keeps match by themselves: the query needs no typos.
        items, version = _walk_page(query, filters, category_ids)
        walked = len(items) == filters.limit
        if not walked:
            common_search.hints().came_up_short(walk_key, end)
            items = None
    keeps = common and not filters.in_stock
    if items is None and keeps and filters.sort == "relevance":
        items, version = _kept_page(query, prepared, category_ids, filters)
    if items is None:
        items, version = _search_page(filters, category_ids, conditions, prepared(), dialect)
    filtered = bool(conditions)

    def count(at_version: int | None) -> int:
        if keeps and at_version is not None:
            kept = match_counts.kept_matches(query, prepared, category_ids, at_version)
            if kept is not None:
                return kept.count(category_ids, *_cents(filters))
        full = prepared()
        # When the filters likely keep more than the cap of a common search's matches, count
        # first those holding every query word as a word: a subset found without the trigram
        # index.
        subset = None
        if walked and filtered and outlook.many:
            subset = common_search.subset_conditions(full, conditions)
        return _count([*conditions, search.match(full, dialect)], count_cap, subset)

    total, version = _total(filters, items, version, (*key, count_cap), count)
    if walkable and not filtered:
        common_search.hints().counted(words, total)
    exact = total <= count_cap
    return ProductPage(items, min(total, count_cap), exact, filters.limit, filters.offset, version)


def _cents(filters: ProductFilters) -> tuple[int | None, int | None]:
    return (
        match_counts.cents(filters.min_price, up=True),
        match_counts.cents(filters.max_price, up=False),
    )


# A page's rows by id (a comma-separated text: one plain parameter).
_PAGE_BY_IDS = fastsql.Statement(
    _PAGE_COLUMNS.where(
        _p.id
        == any_(cast(func.string_to_array(bindparam("ids", type_=Text), ","), ARRAY(BigInteger)))
    )
)


def _kept_page(
    query: search.SearchQuery,
    prepared: Callable[[], search.SearchQuery],
    category_ids: list[int],
    filters: ProductFilters,
) -> tuple[list[ProductView] | None, int | None]:
    """A common search's page found among its kept matches (see `match_counts`), its rows
    read by id; (None, None) when none are kept or the catalog has changed since."""
    kept = match_counts.kept_matches(query, prepared, category_ids, None)
    if kept is None:
        return None, None
    ids = kept.page(category_ids, *_cents(filters), filters.offset, filters.limit)
    if not ids:
        version = catalog_version.read_catalog_version()
        return ([], version) if version == kept.version else (None, None)
    items, version = _page_of(_PAGE_BY_IDS.rows({"ids": ",".join(map(str, ids))}))
    if version != kept.version or len(items) != len(ids):
        return None, None
    position = {product_id: index for index, product_id in enumerate(ids)}
    items.sort(key=lambda item: position[item.id])
    return items, version


def _price_bound(price: Decimal) -> Any:
    """A search's price bound, written into its statements as a number literal.

    A search's statements with a price bound are planned for each bound: psycopg prepares a
    statement after 5 runs, and PostgreSQL's generic plan then cannot see how much of the
    price index the bound keeps; for a search it ANDed in a bitmap of the whole range (a
    count of a common word in a price window: ~45 ms with its own plan, 150–200 ms generic).
    The value is a validated Decimal. (A list without words binds it: `list_shapes`.)
    """
    return literal(price, Numeric(12, 2), literal_execute=True)


def _read_page(statement: Select) -> tuple[list[ProductView], int | None]:
    """The products of a page statement, and the catalog version read with them (if any row)."""
    return _page_of(db.session.execute(statement).all())


def _page_of(rows: Sequence[Sequence[Any]]) -> tuple[list[ProductView], int | None]:
    """A page's products, and the catalog version in the rows' last column (if any row)."""
    return [ProductView(*row[:-1]) for row in rows], (rows[0][-1] if rows else None)


def _count(conditions: list, count_cap: int, subset: list | None = None) -> int:
    """Matches of `conditions`, counted up to `count_cap` + 1.

    `subset`, when given, is conditions true for some of those matches only, cheaper to find:
    when those alone pass the cap, so do all (see `common_search.subset_conditions`);
    otherwise all are counted.
    """
    if subset is not None:
        found = _capped_count(subset, count_cap)
        if found > count_cap:
            return found
    return _capped_count(conditions, count_cap)


def _capped_count(conditions: list, count_cap: int) -> int:
    capped = select(_p.id).where(*conditions).limit(count_cap + 1).subquery()
    return db.session.execute(select(func.count()).select_from(capped)).scalar_one()


# A common search's walk statements by shape (see `_walk_page`).
_WALKS: fastsql.Shapes[fastsql.Statement] = fastsql.Shapes()


def _walk_page(
    query: search.SearchQuery, filters: ProductFilters, category_ids: list[int]
) -> tuple[list[ProductView], int | None]:
    """A common search's page walked for (see `common_search.best_tier_page`), built once per
    shape. Its price bounds are parameters: the walk reads the first rows by id whatever they
    are, so a generic plan is the same plan."""
    shape = list_shapes.shape_of(filters, len(category_ids), DEFERRED_FROM)

    def build() -> fastsql.Statement:
        return fastsql.Statement(
            common_search.best_tier_page(
                query,
                list_shapes.conditions(shape),
                _PAGE_COLUMNS,
                bindparam("limit", type_=Integer),
                bindparam("offset", type_=Integer),
            )
        )

    statement = _WALKS.get((common_search.WALK_ROWS, search.shape(query), shape), build)
    values = {**list_shapes.page_parameters(filters, category_ids), **search.parameters(query)}
    return _page_of(statement.rows(values))


# A search's page statements by shape (see `_search_page`).
_SEARCH_PAGES: fastsql.Shapes[fastsql.Statement] = fastsql.Shapes()


def _search_page(
    filters: ProductFilters,
    category_ids: list[int],
    conditions: list,
    query: search.SearchQuery,
    dialect: str,
) -> tuple[list[ProductView], int | None]:
    """A search's ranked page, and the catalog version read with it.

    Building a search's statement (a few dozen expressions) and having SQLAlchemy find it in
    its cache cost ~2 ms of a rare word's ~6. Without price bounds (which are written into the
    statement, see `_price_bound`) the statement is built once per shape: the words and which
    have typo variants, how many categories, in stock, the order; each search runs it with its
    own values (`search.parameters`).
    """
    if filters.min_price is not None or filters.max_price is not None:
        return _read_page(_page_statement(filters, conditions, query, dialect))
    key = (dialect, search.shape(query), len(category_ids), filters.in_stock, filters.sort)

    def build() -> fastsql.Statement:
        shape = list_shapes.shape_of(filters, len(category_ids), DEFERRED_FROM)
        return fastsql.Statement(
            _PAGE_COLUMNS.where(*list_shapes.conditions(shape), search.match(query, dialect))
            .order_by(*_order(filters, query, dialect))
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )

    values = {**list_shapes.page_parameters(filters, category_ids), **search.parameters(query)}
    return _page_of(_SEARCH_PAGES.get(key, build).rows(values))


def _page_statement(
    filters: ProductFilters, conditions: list, query: search.SearchQuery, dialect: str
) -> Select:
    """SELECT of one page of a search, the catalog version in its last column."""
    return (
        _PAGE_COLUMNS.where(*conditions, search.match(query, dialect))
        .order_by(*_order(filters, query, dialect))
        .limit(filters.limit)
        .offset(filters.offset)
    )


def get_product(product_id: int) -> ProductView | None:
    """One product by id, or None."""
    row = _PRODUCT_BY_ID.first({"product_id": product_id})
    return ProductView(*row) if row else None


def list_categories(version: int | None = None) -> list[CategoryView]:
    """Categories that have products, sorted by name, with their product counts.

    Kept like a total (see `counts`), at `version` when an earlier statement of the request
    read it (a product page's), else at the version read first: that read costs the round trip
    the list would, and saves making its few dozen rows (~0.2 ms of 1.5).
    """
    if version is None:
        version = catalog_version.read_catalog_version()
    return counts.cache().get(
        "categories",
        version,
        lambda: [CategoryView(*row) for row in _CATEGORIES.rows()],
    )
