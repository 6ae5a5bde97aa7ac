"""A small per-process cache of capped match counts, so paging through a search counts once.

It also keeps the category list with its product counts, which every catalog page shows.

Counting up to COUNT_CAP matches of a common word reads ~10 000 rows (40-60 ms on a million
products) while the page itself takes a few milliseconds. A total may therefore lag catalog
writes made by other processes by up to COUNT_CACHE_SECONDS (default 30, the same as the
API's `Cache-Control: max-age`); this process's own writes clear it at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app

MAX_ENTRIES = 4096
T = TypeVar("T")


class CountCache:
    """Least-recently-used counts that expire after `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for `key`, or `compute()` (outside the lock) stored for later."""
        if self.ttl <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every count (after a catalog write)."""
        with self._lock:
            self._entries.clear()


def cache() -> CountCache:
    """This app's count cache."""
    extensions = current_app.extensions
    if "storefront.counts" not in extensions:
        extensions["storefront.counts"] = CountCache(current_app.config["COUNT_CACHE_SECONDS"])
    return extensions["storefront.counts"]
