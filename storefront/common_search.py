"""Relevance pages of common searches, found without ranking every match (PostgreSQL).

A word in 5 % of a million products matches ~50 000 of them. Ranking them all means reading
every one from the table (a 128 MB buffer cache holds few of them): 300 ms and more per page.
But for a common word nearly every match ties in the best tier (every query word found as a
word of the name), and within a tier the order is by id. So a page that lies wholly inside the
best tier is the first `offset + limit` best-tier products by id, found by walking the
products in id order until that many turn up: a few hundred rows for a common word.

The walk is bounded (`WALK_ROWS`); when it does not fill the page, the caller ranks as usual.
Whether a search is common depends on its words, not on its filters (a price bound or a
category is applied inside the walk), so what is learned is keyed on the folded words only:
  - from the database: ANALYZE keeps the most common words of `search_words` with their
    frequencies in `pg_stats` (the seed runs it; autovacuum keeps it current), which every
    process reads (`CatalogStats`, re-read every VOCABULARY_SECONDS): a fresh worker's first
    filtered search of a common word already walks;
  - per process, from the count of an unfiltered search (rarer words that ANALYZE does not
    list: ~1 000 of a million products).
A walk that came up short is not tried that deep again for the same words and categories (a
price bound only makes a walk shorter; a category can make it far shorter).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, select, text
from sqlalchemy.sql.util import ClauseAdapter

from . import search
from .extensions import db
from .models import Product

# At least this many matches make a search worth walking for (0.1 % of a million products:
# ~20 000 rows walked for a page of 20 in the worst case, when all of them are best-tier).
COMMON_MATCHES = 1000
WALK_ROWS = 20_000
MAX_ENTRIES = 4096
# How long a process keeps the common words read from `pg_stats`.
VOCABULARY_SECONDS = 60.0

_products = Product.__table__


class Hints:
    """Per-process memory of which searches are common, least recently used forgotten first.

    By the search's folded words: what counting them without filters found (capped). By words
    and categories: how far a walk can go, once one came up short (the end of that page: a
    walk over the same rows cannot fill a page that ends further on).
    """

    def __init__(self) -> None:
        self._common: OrderedDict[Hashable, int] = OrderedDict()
        self._reach: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()

    def matches(self, words: Hashable) -> int | None:
        """What a count of `words` alone found (capped), or None (never counted)."""
        with self._lock:
            return self._common.get(words)

    def worth_walking(self, key: Hashable, end: int) -> bool:
        """False when a walk of `key` (words, categories) came up short before position `end`."""
        with self._lock:
            return end < self._reach.get(key, sys.maxsize)

    def counted(self, words: Hashable, total: int) -> None:
        """Learn from an unfiltered count whether `words` are common."""
        with self._lock:
            _put(self._common, words, total)

    def came_up_short(self, key: Hashable, end: int) -> None:
        """A walk of `key` did not reach position `end`: do not walk that far again."""
        with self._lock:
            _put(self._reach, key, min(self._reach.get(key, sys.maxsize), end))


def _put(entries: OrderedDict[Hashable, int], key: Hashable, value: int) -> None:
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > MAX_ENTRIES:
        entries.popitem(last=False)


# What ANALYZE saw (the seed runs it; autovacuum keeps it current): the most common lexemes of
# `search_words` with the share of products holding each, the bounds of equal-sized price
# buckets, the table's estimated size; and the categories' product counts.
_STATS = text(
    "SELECT (SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass), "
    "w.most_common_elems::text::text[], w.most_common_elem_freqs, "
    "p.histogram_bounds::text::numeric[], "
    "(SELECT array_agg(array[id, product_count]) FROM categories) "
    "FROM (SELECT 1) one "
    "LEFT JOIN pg_stats w ON w.schemaname = current_schema() AND w.tablename = 'products' "
    "AND w.attname = 'search_words' "
    "LEFT JOIN pg_stats p ON p.schemaname = current_schema() AND p.tablename = 'products' "
    "AND p.attname = 'price'"
)


class CatalogStats:
    """Estimates from the database's statistics, read by each process every VOCABULARY_SECONDS.

    Only ever a guess of what a walk or a count will find: a wrong one costs time, never a
    wrong answer (a walk that comes up short falls back; a subset count short of the cap is
    followed by the full count).
    """

    def __init__(self) -> None:
        self._rows = 0.0
        self._words: dict[str, float] = {}
        self._prices: list[float] = []
        self._categories: dict[int, float] = {}
        self._read_at = -VOCABULARY_SECONDS

    @property
    def rows(self) -> float:
        """The table's estimated size (0: unknown)."""
        self._fresh()
        return self._rows

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < VOCABULARY_SECONDS:
            return
        row = db.session.execute(_STATS).one()
        rows, lexemes, freqs, prices, categories = row
        self._rows = max(float(rows or 0), 0.0)
        self._words = {
            lexeme: float(freq) * self._rows
            for lexeme, freq in zip(lexemes or (), freqs or (), strict=False)
            if lexeme
        }
        self._prices = [float(bound) for bound in prices or ()]
        self._categories = {int(pair[0]): float(pair[1]) for pair in categories or ()}
        self._read_at = now

    def matches(self, words: tuple[str, ...]) -> float:
        """Estimated products holding every one of `words` (0 when one is not common)."""
        self._fresh()
        found = [self._words.get(word, 0.0) for word in words]
        if not found or not all(found):
            return 0.0
        estimate = found[0]
        for matches in found[1:]:  # independent words
            estimate *= matches / max(self._rows, 1.0)
        return estimate

    def share(self, category_ids: list[int], low: float | None, high: float | None) -> float:
        """Estimated share of products in these categories (all: none given) and prices."""
        self._fresh()
        share = 1.0
        if category_ids and self._rows > 0:
            share = sum(self._categories.get(cid, 0.0) for cid in category_ids) / self._rows
        if (low is not None or high is not None) and len(self._prices) > 1:
            share *= _price_share(self._prices, low, high)
        return min(share, 1.0)


def _price_share(bounds: list[float], low: float | None, high: float | None) -> float:
    """Share of prices in [low, high] by a histogram of equal-frequency buckets."""

    def below(price: float) -> float:
        if price <= bounds[0]:
            return 0.0
        if price >= bounds[-1]:
            return 1.0
        for i in range(1, len(bounds)):
            if price <= bounds[i]:
                width = bounds[i] - bounds[i - 1]
                part = (price - bounds[i - 1]) / width if width > 0 else 1.0
                return (i - 1 + part) / (len(bounds) - 1)
        return 1.0

    top = 1.0 if high is None else below(high)
    bottom = 0.0 if low is None else below(low)
    return max(top - bottom, 0.0)


def hints() -> Hints:
    """This app's hints."""
    return current_app.extensions.setdefault("storefront.common_search", Hints())


def stats() -> CatalogStats:
    """This app's catalog statistics."""
    return current_app.extensions.setdefault("storefront.catalog_stats", CatalogStats())


def estimated_matches(query: search.SearchQuery) -> float:
    """How many products `query`'s words match: what a count of the words alone taught this
    process, else the database's statistics (0: neither knows them as common)."""
    learned = hints().matches(query.text)
    if learned is not None and learned < COMMON_MATCHES:
        return 0.0
    # A count is capped: a lower bound, which the statistics may better.
    return max(float(learned or 0), stats().matches(query.words))


def is_common(query: search.SearchQuery) -> bool:
    """Whether `query`'s words are common: worth walking for, and worth keeping the matches of
    (see `match_counts`)."""
    return estimated_matches(query) >= COMMON_MATCHES


@dataclass(frozen=True)
class Outlook:
    """What a filtered search of common words is expected to find."""

    walk: bool  # worth walking: the walk should fill the page
    many: bool  # its filtered matches likely pass the count's cap


def outlook(
    query: search.SearchQuery,
    category_ids: list[int],
    low: Decimal | None,
    high: Decimal | None,
    end: int,
    count_cap: int,
) -> Outlook:
    """Whether to walk for the page ending at `end`, and whether the count likely passes
    `count_cap`: the words' matches (what a count of the words alone taught this process,
    else the database's statistics) times the share of products the filters keep."""
    words = estimated_matches(query)
    if words < COMMON_MATCHES:
        return Outlook(False, False)
    table = stats()
    expected = words * table.share(
        category_ids, None if low is None else float(low), None if high is None else float(high)
    )
    rows = table.rows
    # Without statistics (a table never analyzed) only the words' count decides.
    walk = rows <= 0 or expected / rows * WALK_ROWS >= end
    return Outlook(walk, expected >= 2 * count_cap)


def best_tier_page(
    query: search.SearchQuery,
    conditions: list,
    columns: Select,
    limit: int | ColumnElement[int],
    offset: int | ColumnElement[int],
) -> Select:
    """SELECT of the page among the first WALK_ROWS products that match every word best.

    `conditions` are the other filters (category, prices); `columns` the product SELECT the
    page is joined to. Fewer than `limit` rows back means: rank as usual.
    """
    walk = select(_products).order_by(_products.c.id).limit(WALK_ROWS).subquery("walk")
    best = [search.word_tiers(query, word)[0] for word in query.words]
    wanted = [*conditions, search.match(query, "postgresql"), *best]
    # The filters are written against `products`; point them at the walked rows instead.
    adapter = ClauseAdapter(walk)
    page = (
        select(walk.c.id)
        .where(and_(*(adapter.traverse(clause) for clause in wanted)))
        .order_by(walk.c.id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    id_column = _products.c.id
    return columns.join(page, page.c.id == id_column).order_by(id_column)


def subset_conditions(query: search.SearchQuery, conditions: list) -> list:
    """`conditions` (the filters) and `query`'s match, narrowed to products holding every query
    word as a word: some of the matches, found through the `search_words` index alone.

    Counting the matches of a common word under a filter that keeps most of them reads ~10 000
    rows either way, but the full match also builds the trigram index's bitmap for the
    substring (`IS TRUE` keeps the planner from using it here: the match is only re-checked on
    the rows found): ~45 ms against ~30 on a million products.
    """
    whole_words = [search.has_word(word) for word in query.words]
    # The filters are re-checked the same way: a generic plan (psycopg prepares a statement
    # after 5 runs) does not know the price bound keeps every row, and ANDs in a bitmap of the
    # whole price index (270 ms).
    return [*whole_words, and_(*conditions, search.match(query, "postgresql")).is_(True)]
