"""The catalog's filter form: what the shopper typed, the filters it means, and what to fix.

Parsing is `filters.parse_filters`, the API's own; this module only adds the page number,
keeps the typed text for redisplay and words the problems for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from .. import textfold
from ..catalog import CategoryView
from ..filters import DEFAULT_LIMIT, Issue, ProductFilters, parse_filters

# The query parameters the pages understand: the API's (without offset) plus `page`.
SINGLE_KEYS = ("search", "min_price", "max_price", "sort", "limit")
MAX_PAGE_DIGITS = 9

SORT_CHOICES = (
    ("", _l("Сначала подходящие")),
    ("name", _l("По названию, А–Я")),
    ("-name", _l("По названию, Я–А")),
    ("price", _l("Сначала дешевле")),
    ("-price", _l("Сначала дороже")),
    ("newest", _l("Сначала новые")),
)

# How the form's messages name each field, and the element each message links to.
FIELD_LABELS = {
    "search": _l("Поиск"),
    "category": _l("Категории"),
    "min_price": _l("Цена от"),
    "max_price": _l("Цена до"),
    "sort": _l("Порядок"),
    "limit": _l("Товаров на странице"),
    "page": _l("Страница"),
}
FIELD_ANCHORS = {
    "search": "search",
    "category": "category-error",
    "min_price": "min_price",
    "max_price": "max_price",
    "sort": "sort",
}


@dataclass(frozen=True)
class CategoryChoice:
    """One category checkbox."""

    value: str
    label: str
    product_count: int | None
    checked: bool


@dataclass(frozen=True)
class FilterForm:
    """The form as typed, the filters it means, and a message per field to fix."""

    typed: dict[str, str]
    categories: tuple[str, ...]
    filters: ProductFilters
    page: int
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, page: int | None = None) -> str:
        """The canonical query string of this form (empty values left out), at `page`."""
        pairs: list[tuple[str, str]] = [("search", self.typed["search"])]
        pairs += [("category", value) for value in self.categories]
        pairs += [(key, self.typed[key]) for key in SINGLE_KEYS if key != "search"]
        page = self.page if page is None else page
        if page > 1:
            pairs.append(("page", str(page)))
        return urlencode([(key, value) for key, value in pairs if value])

    def category_choices(self, known: Iterable[CategoryView]) -> list[CategoryChoice]:
        """A checkbox per category; a typed category that matches none is kept, checked."""
        wanted = {textfold.fold(value): value for value in self.categories}
        choices = []
        for category in known:
            hit = wanted.pop(textfold.fold(category.name), None)
            hit = wanted.pop(category.slug, None) or hit
            choices.append(
                CategoryChoice(category.slug, category.name, category.product_count, bool(hit))
            )
        choices += [CategoryChoice(value, value, None, True) for value in wanted.values()]
        return choices


def _message(issue: Issue) -> tuple[str, str]:
    """The form field an issue belongs to, and what to fix, in the interface's language."""
    key = str(issue.loc[1])
    if key == "max_price" and "min_price" in issue.msg:
        return key, str(_l("Цена «до» не может быть меньше цены «от»."))
    messages = {
        "min_price": _l("Введите число не меньше 0, например 1500 или 99,90."),
        "max_price": _l("Введите число не меньше 0, например 1500 или 99,90."),
        "search": _l("Запрос должен быть не длиннее 200 символов, без нулевых символов."),
        "category": _l("Название категории — не длиннее 100 символов."),
        "sort": _l("Выберите порядок из списка."),
        "limit": _l("На странице может быть от 1 до 100 товаров."),
    }
    return key, str(messages.get(key, _l("Проверьте это значение.")))


def _page_number(raw: str, limit: int, count_cap: int) -> int | None:
    """The typed page, or None when it is not a page the catalog can show."""
    text = raw.strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_PAGE_DIGITS:
        return None
    page = int(text)
    # The API's offset stops at COUNT_CAP: a page past it does not exist.
    return page if page >= 1 and (page - 1) * limit <= count_cap else None


def read_filter_form(args: MultiDict[str, str], count_cap: int) -> FilterForm:
    """Parse the catalog's query string; bad values become messages, never an error page."""
    # People type spaces around a price; the API reads values as sent, the form trims them first.
    args = MultiDict([(key, value.strip()) for key, value in args.items(multi=True)])
    typed = {key: args.get(key) or "" for key in SINGLE_KEYS}
    categories = tuple(value for value in args.getlist("category") if value)
    limit = parse_filters(args, count_cap).limit if typed["limit"] else DEFAULT_LIMIT
    page = _page_number(args.get("page") or "", limit, count_cap)
    filters = parse_filters(args, count_cap, page=page or 1)
    errors = dict(_message(issue) for issue in filters.issues)
    if page is None:
        last = max(1, count_cap // limit)
        errors["page"] = str(_l("Нет такой страницы: номер — от 1 до %(last)d.", last=last))
    return FilterForm(typed, categories, filters, page or 1, errors)


def safe_catalog_query(raw: str | None) -> str:
    """A catalog query string from an untrusted `back` parameter, reduced to known filters."""
    pairs = parse_qsl(raw or "", keep_blank_values=False)[:50]
    allowed = {*SINGLE_KEYS, "category", "page"}
    return urlencode([(key, value[:200]) for key, value in pairs if key in allowed])
