"""Relevance pages of common searches, found without ranking every match (PostgreSQL).

A word in 5 % of a million products matches ~50 000 of them. Ranking them all means reading
every one from the table (a 128 MB buffer cache holds few of them): 300 ms and more per page.
But for a common word nearly every match ties in the best tier (every query word found as a
word of the name), and within a tier the order is by id. So a page that lies wholly inside the
best tier is the first `offset + limit` best-tier products by id, found by walking the
products in id order until that many turn up: a few hundred rows for a common word.

The walk is bounded (`WALK_ROWS`); when it does not fill the page, the caller ranks as usual.
Which searches are common is learned from their counts, per process (`Hints`); a search whose
walk came up short is not walked that far again.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import current_app
from sqlalchemy import Select, and_, select
from sqlalchemy.sql.util import ClauseAdapter

from . import search
from .models import Product

# At least this many matches make a search worth walking for (0.1 % of a million products:
# ~20 000 rows walked for a page of 20 in the worst case, when all of them are best-tier).
COMMON_MATCHES = 1000
WALK_ROWS = 20_000
MAX_ENTRIES = 4096

_products = Product.__table__


class Hints:
    """Per-process memory of which searches are common, least recently used forgotten first.

    For each search: how far into its results a walk can go. Unknown or rare searches: 0;
    common ones: unlimited until a walk comes up short, then the end of that page (a walk
    over the same rows cannot fill a page that ends further on).
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()

    def worth_walking(self, key: Hashable, end: int) -> bool:
        """True when a walk may fill the results up to position `end` of search `key`."""
        with self._lock:
            return end < self._entries.get(key, 0)

    def counted(self, key: Hashable, total: int) -> None:
        """Learn from a count whether `key` is common."""
        with self._lock:
            if total < COMMON_MATCHES:
                self._set(key, 0)
            elif key not in self._entries or self._entries[key] == 0:
                self._set(key, sys.maxsize)

    def came_up_short(self, key: Hashable, end: int) -> None:
        """A walk of `key` did not reach position `end`: do not walk that far again."""
        with self._lock:
            self._set(key, min(self._entries.get(key, 0), end))

    def _set(self, key: Hashable, reach: int) -> None:
        self._entries[key] = reach
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)


def hints() -> Hints:
    """This app's hints."""
    return current_app.extensions.setdefault("storefront.common_search", Hints())


def best_tier_page(
    query: search.SearchQuery, conditions: list, columns: Select, limit: int, offset: int
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
