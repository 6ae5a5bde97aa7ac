"""What a bulk load tells whoever watches it: rows as they stream, then each phase and its time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class LoadReport:
    """Says nothing; `flask seed` shows a bar for the rows and a line per phase as it ends.

    Phases may run side by side on worker threads, so a subclass must be thread-safe.
    """

    def rows(self, count: int) -> None:
        """`count` more rows went to the database."""

    def started(self, name: str) -> None:
        """Phase `name` began."""

    def finished(self, name: str, seconds: float) -> None:
        """Phase `name` ended after `seconds`."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase `name`; a block that raises is not reported as finished."""
        self.started(name)
        began = time.monotonic()
        yield
        self.finished(name, time.monotonic() - began)
