"""Catalog filters from a query string: parsed once, shared by the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from .money import parse_bound

SORTS = ("relevance", "name", "-name", "price", "-price", "newest")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_SEARCH = 200
MAX_CATEGORY = 100
DEFAULT_COUNT_CAP = 10_000


class QueryArgs(Protocol):
    """What a werkzeug MultiDict offers (and a plain dict, for single values)."""

    def get(self, key: str, default: str | None = None) -> str | None: ...
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class Issue:
    """One bad query value: where it came from and what to fix."""

    loc: tuple[str | int, ...]
    msg: str


@dataclass(frozen=True)
class ProductFilters:
    """Validated catalog filters; `sort` is always resolved to a concrete order."""

    categories: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    search: str | None = None
    sort: str = "name"
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    # Only products in stock (or whose stock is not tracked).
    in_stock: bool = False
    issues: tuple[Issue, ...] = field(default=(), compare=False)


def _int_in(raw: str, low: int, high: int) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ValueError(f"must be a whole number from {low} to {high}")
    number = int(raw)
    if not low <= number <= high:
        raise ValueError(f"must be from {low} to {high}")
    return number


def _clean(raw: str | None) -> str | None:
    """An empty value, as an HTML form sends it, counts as absent; others are read as sent."""
    return raw or None


def parse_filters(args: QueryArgs, count_cap: int, *, page: int | None = None) -> ProductFilters:
    """Read filters from `args`; bad values are left at their defaults and listed in `issues`."""
    issues: list[Issue] = []
    values: dict[str, object] = {}

    kept = []
    for index, raw in enumerate(args.getlist("category")):
        # Lengths count the value as sent (the OpenAPI document's maxLength); blank is no choice.
        if len(raw) > MAX_CATEGORY or "\x00" in raw:
            issues.append(
                Issue(("query", "category", index), "must be at most 100 characters, without NUL")
            )
        elif raw.strip():
            kept.append(raw.strip())
    values["categories"] = tuple(dict.fromkeys(kept))

    for key in ("min_price", "max_price"):
        raw = _clean(args.get(key))
        if raw is not None:
            try:
                values[key] = parse_bound(raw)
            except ValueError as exc:
                issues.append(Issue(("query", key), str(exc)))
    low, high = values.get("min_price"), values.get("max_price")
    if low is not None and high is not None and low > high:
        issues.append(Issue(("query", "max_price"), "must not be less than min_price"))
        values.pop("max_price")

    search = _clean(args.get("search"))
    if search is not None:
        if len(search) > MAX_SEARCH:
            issues.append(Issue(("query", "search"), f"must be at most {MAX_SEARCH} characters"))
        elif "\x00" in search:
            issues.append(Issue(("query", "search"), "must not contain NUL characters"))
        elif search.strip():
            # A search for nothing but spaces is no search.
            values["search"] = search.strip()

    sort = _clean(args.get("sort"))
    if sort is not None and sort not in SORTS:
        issues.append(Issue(("query", "sort"), "must be one of: " + ", ".join(SORTS)))
        sort = None
    if sort is None or (sort == "relevance" and "search" not in values):
        sort = "relevance" if "search" in values and sort is None else "name"
    values["sort"] = sort

    in_stock = _clean(args.get("in_stock"))
    if in_stock == "true":
        values["in_stock"] = True
    elif in_stock not in (None, "false"):
        issues.append(Issue(("query", "in_stock"), "must be true or false"))

    values["limit"], values["offset"], paging_issues = read_limit_offset(args, count_cap)
    if page is not None:
        values["offset"] = min((page - 1) * int(values["limit"]), count_cap)
        paging_issues = [issue for issue in paging_issues if issue.loc[1] != "offset"]
    issues += paging_issues

    return ProductFilters(**values, issues=tuple(issues))  # type: ignore[arg-type]


def read_limit_offset(args: QueryArgs, count_cap: int) -> tuple[int, int, list[Issue]]:
    """`limit` (1–100, default 20) and `offset` (0–count_cap, default 0) of a list request."""
    limit, offset, issues = DEFAULT_LIMIT, 0, []
    for key, low, high in (("limit", 1, MAX_LIMIT), ("offset", 0, count_cap)):
        raw = _clean(args.get(key))
        if raw is None:
            continue
        try:
            number = _int_in(raw, low, high)
        except ValueError as exc:
            issues.append(Issue(("query", key), str(exc)))
            continue
        if key == "limit":
            limit = number
        else:
            offset = number
    return limit, offset, issues
