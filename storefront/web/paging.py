"""Page numbers for a product list: where they stop, and which to show around the current one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..catalog import ProductPage

# Pages shown on each side of the current one; the first and the last are always shown.
WINDOW = 2


@dataclass(frozen=True)
class Pager:
    """The current page and the last page a link may point to."""

    page: int
    last: int

    @property
    def previous(self) -> int | None:
        """The page before this one, if any."""
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        """The page after this one, if any."""
        return self.page + 1 if self.page < self.last else None

    def numbers(self) -> list[int | None]:
        """Page numbers to link, with None where a run of pages is left out."""
        shown = {1, self.last, *range(self.page - WINDOW, self.page + WINDOW + 1)}
        numbers: list[int | None] = []
        for number in sorted(n for n in shown if 1 <= n <= self.last):
            if numbers and number - (numbers[-1] or 0) > 1:
                numbers.append(None)
            numbers.append(number)
        return numbers


def make_pager(page: int, result: ProductPage, count_cap: int) -> Pager:
    """Pages up to the last match; when the count stopped at the cap, up to COUNT_CAP ÷ limit."""
    if result.total_exact:
        last = math.ceil(result.total / result.limit)
    else:
        last = count_cap // result.limit
    return Pager(page, max(1, last))
