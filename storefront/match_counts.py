"""Totals and pages of common searches under any filter, from every match kept in the database.

A common word matches ~40 000 of a million products. Counting them under a shopper's filter
(a price window, a category) means finding them all again, and ranking those a category keeps
means reading each: 20–60 ms a request, and every new filter combination is new work. But
whether a match passes those filters depends on two of its values only, its category and its
price, and where it ranks on its relevance and id. So the first search of common words at a
catalog version finds every match once (PostgreSQL) and keeps, in `search_matches`, each one's
`category_id << 40 | price in cents`, sorted, with its id, relevance and place in relevance
order: 21 bytes a match, ~880 KB for 40 000. Any process then counts that search under any
categories and price window by binary search over the keys, and finds the ids of a page among
the matches the filters keep (a category's slices ranked, or the relevance order read until a
price window has filled the page); the page's rows are then read by id: exact, the same answer
as ranking in full.

- Keyed on the search's words only, never on its filters or the request. Kept at the catalog
  version read by the same statement that found the matches, and used only at that version
  (a page read by id carries the version too): a catalog write anywhere makes the next search
  find them again. Stock changes bump no version, so `in_stock` searches go on as before.
- Shared through the database: other workers and instances read the row instead of finding
  the matches; a process keeps what it read while the version holds (MAX_KEYS_IN_MEMORY).
- Only for searches the statistics call common (the caller decides), of up to MAX_KEPT
  matches and MAX_WORDS words: otherwise the row says so (NULL keys), and those searches go
  on as before.
- Found again after KEPT_SECONDS however the version stands, for changes made around the app
  in SQL; COUNT_CACHE_SECONDS = 0 (keep no totals) keeps nothing here either.
"""

from __future__ import annotations

import heapq
import math
import sys
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice

from flask import current_app
from sqlalchemy import BigInteger, Integer, LargeBinary, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from . import catalog_version, search
from .extensions import db
from .models import Product, SearchMatches

MAX_KEPT = 200_000
# Relevance is at most 9 a word: one byte holds it for up to 28 words.
MAX_WORDS = 28
# Only for changes made in SQL around the app without bumping the version (docs/deploying.md):
# every expiry makes a request of each common word find its matches again (~0.4 s idle,
# seconds under load, 2026-12-03 bench), so it is long.
KEPT_SECONDS = 3600.0
MAX_KEYS_IN_MEMORY = 2_000_000
# A key is `category_id << PRICE_BITS | cents`: prices up to 10^10 (Numeric(12, 2)) fit in
# 40 bits of cents, and category ids below 2^23 keep the key a positive 64-bit integer.
PRICE_BITS = 40
MAX_CENTS = (1 << PRICE_BITS) - 1
MAX_CATEGORY_ID = (1 << (63 - PRICE_BITS)) - 1

_p = Product.__table__.c
_m = SearchMatches.__table__.c


def _ints(blob: bytes, typecode: str = "q") -> array:
    """PostgreSQL's int8send (`q`) or int4send (`i`) values, joined."""
    values = array(typecode)
    values.frombytes(blob)
    if sys.byteorder == "little":
        values.byteswap()  # PostgreSQL's int8send is big-endian
    return values


@dataclass(eq=False)
class Matches:
    """The kept matches of one search at one catalog version (`keys` None: not kept)."""

    version: int
    keys: array | None
    ids: array | None
    scores: bytes | None
    # Positions in `keys` by relevance, then id: the matches' order on a page.
    ranks: array | None = None
    # When they were found, on this process's monotonic clock (a row read from the table is
    # as old as the row, not as the read).
    found_at: float = field(default_factory=time.monotonic)
    # The matches' prices in cents, sorted: made when a price window without categories first
    # needs them.
    _cents: array | None = None

    @property
    def size(self) -> int:
        return 0 if self.keys is None else len(self.keys)

    def _bounds(self, low: int | None, high: int | None) -> tuple[int, int]:
        return (0 if low is None else max(low, 0)), (MAX_CENTS if high is None else high)

    def _ranges(
        self, category_ids: Sequence[int], low: int | None, high: int | None
    ) -> list[range]:
        """Positions of the matches in these categories and prices (`keys` is sorted by
        category, then price)."""
        assert self.keys is not None and category_ids
        bottom, top = self._bounds(low, high)
        ranges = []
        for category_id in category_ids:
            base = category_id << PRICE_BITS
            start = bisect_left(self.keys, base | bottom)
            ranges.append(
                range(start, bisect_right(self.keys, base | min(top, MAX_CENTS), lo=start))
            )
        return ranges

    def count(self, category_ids: Sequence[int], low: int | None, high: int | None) -> int:
        """Matches in these categories (all: none given) priced from `low` to `high` cents."""
        assert self.keys is not None
        if category_ids:
            return sum(len(part) for part in self._ranges(category_ids, low, high))
        if low is None and high is None:
            return len(self.keys)
        if self._cents is None:
            self._cents = array("q", sorted(key & MAX_CENTS for key in self.keys))
        bottom, top = self._bounds(low, high)
        return max(bisect_right(self._cents, top) - bisect_left(self._cents, bottom), 0)

    def page(
        self,
        category_ids: Sequence[int],
        low: int | None,
        high: int | None,
        offset: int,
        limit: int,
    ) -> list[int]:
        """Ids of that page of those matches, by relevance, then id."""
        assert self.keys is not None and self.ids is not None and self.scores is not None
        keys, ids, scores = self.keys, self.ids, self.scores
        wanted = offset + limit
        if category_ids:
            # A category's matches are a few slices of `keys`: rank those.
            positions = (i for part in self._ranges(category_ids, low, high) for i in part)
            best = heapq.nsmallest(wanted, positions, key=lambda i: (-scores[i], ids[i]))
            return [ids[i] for i in best[offset:]]
        assert self.ranks is not None
        if low is None and high is None:
            return [ids[i] for i in self.ranks[offset:wanted]]
        # A price window: the matches in rank order until the page is full (a window keeping
        # a share s of them reads about `wanted / s`).
        bottom, top = self._bounds(low, high)
        found = list(
            islice((i for i in self.ranks if bottom <= keys[i] & MAX_CENTS <= top), wanted)
        )
        return [ids[i] for i in found[offset:]]


class _Kept:
    """This process's copies of kept matches, least recently used dropped first."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, Matches] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, words: str) -> Matches | None:
        with self._lock:
            found = self._entries.get(words)
            if found is None or time.monotonic() - found.found_at >= KEPT_SECONDS:
                return None
            self._entries.move_to_end(words)
            return found

    def put(self, words: str, matches: Matches) -> None:
        with self._lock:
            old = self._entries.pop(words, None)
            self._size -= old.size if old else 0
            self._entries[words] = matches
            self._size += matches.size
            while self._size > MAX_KEYS_IN_MEMORY and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._size -= dropped.size


def _kept() -> _Kept:
    return current_app.extensions.setdefault("storefront.match_counts", _Kept())


_READ = select(
    _m.catalog_version,
    _m["keys"],
    _m.ids,
    _m.scores,
    _m.ranks,
    func.extract("epoch", func.now() - _m.counted_at),
).where(_m.words == bindparam("words"))


def _read(words: str, version: int | None) -> Matches | None:
    """The row kept for `words`, when it is not too old (and at `version`, when given)."""
    row = db.session.execute(_READ, {"words": words}).first()
    if row is None:
        return None
    age = float(row[5])
    if age >= KEPT_SECONDS:
        return None
    if version is not None and row[0] != version:
        return None
    return _matches(row[0], row[1], row[2], row[3], row[4], age)


def _matches(
    version: int,
    keys: bytes | None,
    ids: bytes | None,
    scores: bytes | None,
    ranks: bytes | None,
    age: float = 0.0,
) -> Matches:
    """Kept matches from a row's columns; `age`: seconds since they were found (the copy in
    memory ages from then, so KEPT_SECONDS bounds their age, not the time since this read)."""
    found_at = time.monotonic() - max(age, 0.0)
    if keys is None or ids is None or scores is None or ranks is None:
        return Matches(version, None, None, None, found_at=found_at)
    return Matches(version, _ints(keys), _ints(ids), scores, _ints(ranks, "i"), found_at=found_at)


def _find(query: search.SearchQuery, words: str) -> Matches:
    """Find every match of `query` once, keep them in `search_matches`, and return them."""
    key = (_p.category_id.cast(BigInteger).op("<<")(literal(PRICE_BITS, Integer))).op("|")(
        (_p.price * 100).cast(BigInteger)
    )
    score = search.relevance(query, "postgresql")[0].element  # the score, not its DESC
    matches = (
        select(key.label("key"), _p.id, score.label("score"), _p.category_id, _p.price)
        .where(search.match(query, "postgresql"))
        .limit(MAX_KEPT + 1)
        .subquery("matches")
    )
    # Each match's position in key order, for the rank order's positions.
    position = func.row_number().over(order_by=(matches.c.key, matches.c.id)) - 1
    found = select(matches, position.cast(Integer).label("position")).subquery("found")
    empty = literal(b"", LargeBinary)

    def joined(column: object) -> object:
        return func.string_agg(column, aggregate_order_by(empty, found.c.key, found.c.id))

    # One statement: the matches and the version they belong to come from one snapshot.
    version, count, top_category, low_price, keys, ids, scores, ranks = db.session.execute(
        select(
            catalog_version.CURRENT,
            func.count(),
            func.max(found.c.category_id),
            func.min(found.c.price),
            joined(func.int8send(found.c.key)),
            joined(func.int8send(found.c.id.cast(BigInteger))),
            joined(func.set_byte(literal(b"\x00", LargeBinary), 0, found.c.score)),
            func.string_agg(
                func.int4send(found.c.position),
                aggregate_order_by(empty, found.c.score.desc(), found.c.id),
            ),
        )
    ).one()
    keepable = (
        count <= MAX_KEPT
        and len(query.words) <= MAX_WORDS
        and (count == 0 or (top_category <= MAX_CATEGORY_ID and low_price >= 0))
    )
    if keepable:
        keys, ids, scores, ranks = keys or b"", ids or b"", scores or b"", ranks or b""
    else:
        keys = ids = scores = ranks = None
    upsert = insert(SearchMatches.__table__).values(
        words=words, catalog_version=version, keys=keys, ids=ids, scores=scores, ranks=ranks
    )
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[_m.words],
            set_={
                "catalog_version": upsert.excluded.catalog_version,
                "keys": upsert.excluded["keys"],
                "ids": upsert.excluded.ids,
                "scores": upsert.excluded.scores,
                "ranks": upsert.excluded.ranks,
                "counted_at": func.now(),
            },
            # A request that read an older catalog finished late: keep the newer row.
            where=_m.catalog_version <= upsert.excluded.catalog_version,
        )
    )
    return _matches(version, keys, ids, scores, ranks)


def kept_matches(
    query: search.SearchQuery,
    prepared: Callable[[], search.SearchQuery],
    category_ids: Sequence[int],
    version: int | None,
) -> Matches | None:
    """The kept matches of `query` (read, or found and kept now); None when there are none
    to use. At `version` when given; otherwise the newest known, which the caller checks
    against the version its page is read at.

    `prepared` gives the query with its typo variants, needed only to find the matches.
    """
    if current_app.config["COUNT_CACHE_SECONDS"] <= 0 or not query.words:
        return None
    if any(category_id > MAX_CATEGORY_ID for category_id in category_ids):
        return None
    words = " ".join(query.words)
    kept = _kept()
    found = kept.get(words)
    if found is None or (version is not None and found.version != version):
        found = _read(words, version) or _find(prepared(), words)
        if version is not None and found.version != version:
            return None  # the catalog changed since the page was read
        kept.put(words, found)
    return found if found.keys is not None else None


def cents(price: Decimal | None, up: bool) -> int | None:
    """A price bound in cents: rounded up for a lower bound, down for an upper one."""
    if price is None:
        return None
    return math.ceil(price * 100) if up else math.floor(price * 100)
