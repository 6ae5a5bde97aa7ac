"""A small per-process cache of capped match counts, so paging through a search counts once.

Counting up to COUNT_CAP matches of a common word reads ~10 000 rows (40-60 ms on a million
products) while the page itself takes a few milliseconds. A total is kept with the catalog
version it was counted at (`storefront.catalog_version`) and used only while the catalog is
still at that version: a catalog write through any process of any instance makes the next
read count again. COUNT_CACHE_SECONDS (default 30) bounds how long a total is kept even so,
for changes made around the app (SQL typed into psql bumps no version).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, TypeVar

from flask import current_app

MAX_ENTRIES = 4096
T = TypeVar("T")


class _Entry(NamedTuple):
    version: int
    expires: float
    value: Any


class CountCache:
    """Least-recently-used counts, each valid at one catalog version for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int | None, compute: Callable[[], T]) -> T:
        """The value for `key` kept at catalog `version`, or `compute()` (outside the lock).

        `version` must have been read before `compute()` runs; None caches nothing.
        """
        if self.ttl <= 0 or version is None:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit.version == version and hit.expires > now:
                self._entries.move_to_end(key)
                return hit.value
        value = compute()
        with self._lock:
            kept = self._entries.get(key)
            # A request that read an older version and finished late keeps the newer entry.
            if kept is None or kept.version <= version:
                self._entries[key] = _Entry(version, now + self.ttl, value)
                self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._entries.clear()


def cache() -> CountCache:
    """This app's count cache."""
    extensions = current_app.extensions
    if "storefront.counts" not in extensions:
        extensions["storefront.counts"] = CountCache(current_app.config["COUNT_CACHE_SECONDS"])
    return extensions["storefront.counts"]
