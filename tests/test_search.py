"""Search as shoppers meet it: the contract's "Search" section, on both databases."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from storefront import catalog, common_search, inventory
from storefront.extensions import db
from storefront.filters import parse_filters
from storefront.schemas import ProductIn
from storefront.search import SearchQuery, one_edit_variants

CATALOG = [
    ("Беспроводная мышь", "Эргономичная мышь с регулируемым DPI"),
    ("Коврик для мыши", "Большой коврик"),
    ("Механическая клавиатура", "Клавиатура с подсветкой"),
    ("Ёлочная гирлянда", "Светодиодная гирлянда на ёлку"),
    ("Running shoes", "Lightweight shoes for daily runs"),
    ("Скидка 50% на всё", 'Акция_до_пятницы "кавычки" и обратный слэш \\ тоже'),
    ("Чехол", "Подходит для мыши любой модели"),
]


def _load(app: Flask) -> None:
    with app.app_context():
        items = [
            ProductIn(name=name, description=description, price=100, category="Разное")
            for name, description in CATALOG
        ]
        inventory.create_products(items)
        db.session.commit()


def names(app: Flask, search: str, **params: str) -> list[str]:
    """Names of the products a search finds, in the order it returns them."""
    with app.app_context():
        filters = parse_filters(MultiDict({"search": search, "limit": "100", **params}), 10_000)
        assert not filters.issues
        return [item.name for item in catalog.list_products(filters, 10_000).items]


@pytest.fixture
def shop(app: Flask) -> Flask:
    """The app with a small catalog made for searching."""
    _load(app)
    return app


@pytest.mark.parametrize("query", ["мышь", "МЫШЬ", "Мышь", "мЫшЬ"])
def test_case_does_not_matter(shop: Flask, query: str) -> None:
    """Мышь = мышь = МЫШЬ."""
    assert "Беспроводная мышь" in names(shop, query)


def test_substring_of_a_word_matches(shop: Flask) -> None:
    """A word matches inside a longer word: `клав` finds the keyboard."""
    assert names(shop, "клав") == ["Механическая клавиатура"]


def test_every_word_must_match(shop: Flask) -> None:
    """All words must match: `мышь беспроводная` finds one, `мышь клавиатура` none."""
    assert names(shop, "беспроводная мышь") == ["Беспроводная мышь"]
    assert names(shop, "мышь клавиатура") == []


def test_yo_and_ye_are_the_same(shop: Flask) -> None:
    """ё matches е and the other way round."""
    assert names(shop, "елочная") == ["Ёлочная гирлянда"]
    assert names(shop, "ёлку") == ["Ёлочная гирлянда"]


def test_latin_words(shop: Flask) -> None:
    """English text is searchable too."""
    assert names(shop, "SHOES") == ["Running shoes"]


@pytest.mark.parametrize("query", ["%", "_", "'", '"', "\\", "' OR 1=1 --", "%%%", "😀" * 200])
def test_special_characters_are_plain_text(shop: Flask, query: str) -> None:
    """Wildcards, quotes and SQL are plain text: they never match everything."""
    found = names(shop, query)
    assert len(found) <= 1


def test_percent_and_underscore_match_literally(shop: Flask) -> None:
    """`50%` and `_до_` find the product that contains them."""
    assert names(shop, "50%") == ["Скидка 50% на всё"]
    assert names(shop, "%") == ["Скидка 50% на всё"]
    assert names(shop, "_") == ["Скидка 50% на всё"]


def test_name_matches_come_before_description_matches(shop: Flask) -> None:
    """Products named by the word rank above those that only describe it."""
    found = names(shop, "мыши")
    assert found.index("Коврик для мыши") < found.index("Чехол")


def test_search_combines_with_filters(shop: Flask) -> None:
    """Search and price filters narrow together."""
    assert names(shop, "мышь", max_price="50") == []
    assert "Беспроводная мышь" in names(shop, "мышь", min_price="100", max_price="100")


def test_explicit_sort_overrides_relevance(shop: Flask) -> None:
    """`sort=name` orders search results by name."""
    found = names(shop, "мыш", sort="name")
    assert found == sorted(found, key=str.lower)


def test_sqlite_relevance_name_first(shop: Flask, backend: str) -> None:
    """On SQLite, products matching in the name come first, then by name."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL ranks by match kind first; see the test below")
    assert names(shop, "мыш") == ["Беспроводная мышь", "Коврик для мыши", "Чехол"]


# PostgreSQL adds stems and one-edit matches.


@pytest.fixture
def pg_shop(shop: Flask, backend: str) -> Flask:
    """The search catalog, on PostgreSQL only."""
    if backend != "postgresql":
        pytest.skip("stems and typo matching are PostgreSQL features")
    return shop


def test_stems_match_other_forms(pg_shop: Flask) -> None:
    """`мыши` finds `мышь` (Russian stem), `runs` finds `running`."""
    assert "Беспроводная мышь" in names(pg_shop, "мыши")
    assert names(pg_shop, "run") == ["Running shoes"]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("клавиатра", "Механическая клавиатура"),  # a letter missing
        ("клавиатурра", "Механическая клавиатура"),  # a letter too many
        ("клавиатуга", "Механическая клавиатура"),  # a letter wrong
        ("клавиатруа", "Механическая клавиатура"),  # two neighbours swapped
        ("gerlyanda", None),  # another script entirely
    ],
)
def test_one_edit_finds_words_of_five_letters_or_more(
    pg_shop: Flask, typo: str, expected: str | None
) -> None:
    """One insert, delete, substitution or swap is forgiven in words of 5+ letters."""
    found = names(pg_shop, typo)
    assert found == ([expected] if expected else [])


def test_short_words_need_an_exact_or_stem_match(pg_shop: Flask) -> None:
    """`мышт` (4 letters, one edit from `мышь`) finds nothing."""
    assert names(pg_shop, "мышт") == []


def test_relevance_exact_before_stem_before_typo(pg_shop: Flask) -> None:
    """Exact word > stem > substring > one edit, name above description, then id."""
    # `мыши` is an exact word of the mat's name and of the case's description,
    # and a stem match in the mouse's name.
    assert names(pg_shop, "мыши") == ["Коврик для мыши", "Чехол", "Беспроводная мышь"]
    # `мыш` is a substring of all three; the two with it in the name come first.
    assert names(pg_shop, "мыш")[-1] == "Чехол"
    # A typo match ranks last: `клавиатуры` is a stem match, `клавиатра` one edit away.
    assert names(pg_shop, "клавиатра") == ["Механическая клавиатура"]


def test_one_edit_variants() -> None:
    """The variant generator makes exactly the strings one edit away."""
    variants = one_edit_variants("кот")
    assert {"от", "окт", "кит", "кота", "ккот"} <= variants
    assert "кот" not in variants
    assert "тко" not in variants


def test_query_words_are_folded_and_split() -> None:
    """Words split on anything that is not a letter or digit, folded, repeats dropped."""
    query = SearchQuery.parse("  Ёлка, USB-C; ёлка! 50%  ")
    assert query.words == ("елка", "usb", "c", "50")


def test_typos_find_renamed_products(pg_shop: Flask) -> None:
    """The typo vocabulary follows product writes: a renamed product is found by a typo."""
    from storefront.schemas import ProductPatch

    with pg_shop.app_context():
        chair = inventory.create_products([ProductIn(name="Табурет", price=1, category="Мебель")])[
            0
        ]
        db.session.commit()
        inventory.update_product(chair.id, ProductPatch(name="Табуретка складная"))
        db.session.commit()
    assert names(pg_shop, "складнея") == ["Табуретка складная"]


def test_a_mistyped_digit_is_a_typo(pg_shop: Flask) -> None:
    """Model codes forgive one wrong digit as words forgive one wrong letter."""
    with pg_shop.app_context():
        inventory.create_products([ProductIn(name="Фонарь X0000777", price=1, category="Свет")])
        db.session.commit()
    assert names(pg_shop, "X0000778") == ["Фонарь X0000777"]


@pytest.fixture
def common_word_shop(pg_shop: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """PostgreSQL, 60 products with "складной" in the name or only in the description; walks
    of 40 rows and "common" from 10 matches, so both the walk and its fallback happen."""
    monkeypatch.setattr(common_search, "COMMON_MATCHES", 10)
    monkeypatch.setattr(common_search, "WALK_ROWS", 40)
    with pg_shop.app_context():
        items = [
            ProductIn(
                name=f"Складной стул {n}" if n % 3 else f"Стул {n}",
                description="Прочный" if n % 3 else "Складной и прочный",
                price=100 + n,
                category=("Мебель", "Дача")[n % 2],
            )
            for n in range(60)
        ]
        inventory.create_products(items)
        db.session.commit()
    return pg_shop


def _pages(app: Flask, search: str, limit: int, **params: str) -> list[str]:
    with app.app_context():
        seen: list[str] = []
        for offset in range(0, 100, limit):
            query = {"search": search, "limit": str(limit), "offset": str(offset), **params}
            filters = parse_filters(MultiDict(query), 10_000)
            seen += [item.name for item in catalog.list_products(filters, 10_000).items]
        return seen


@pytest.mark.parametrize("params", [{}, {"category": "Мебель"}, {"min_price": "130"}])
def test_common_searches_page_as_fully_ranked_ones(
    common_word_shop: Flask, monkeypatch: pytest.MonkeyPatch, params: dict[str, str]
) -> None:
    """Pages of a common word found by walking ids equal the pages of a full ranking."""
    with common_word_shop.app_context():
        hints = common_search.hints()
    ranked = _pages(common_word_shop, "складной", 100, **params)
    assert ranked[0].startswith("Складной") and ranked[-1].startswith("Стул"), ranked
    # The first walk learns the word is common; later pages walk (and fall back past the
    # name matches, or past 40 rows).
    assert _pages(common_word_shop, "складной", 7, **params) == ranked
    assert _pages(common_word_shop, "складной", 7, **params) == ranked
    monkeypatch.setattr(hints, "worth_walking", lambda _key, _end: False)
    assert _pages(common_word_shop, "складной", 7, **params) == ranked


def test_a_common_search_stops_ranking_every_match(
    common_word_shop: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once known to be common, a word's first page no longer orders all its matches."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    _pages(common_word_shop, "складной", 5)
    with common_word_shop.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            filters = parse_filters(MultiDict({"search": "складной", "limit": "5"}), 10_000)
            catalog.list_products(filters, 10_000)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    pages = [sql for sql in sent if "FROM products" in sql and "count(" not in sql]
    assert pages and all("CASE WHEN" not in sql for sql in pages), pages
    assert any("walk" in sql for sql in pages), pages


def _statements(app: Flask, query: dict[str, str], count_cap: int = 10_000) -> list[str]:
    """The SQL a list request sends."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            catalog.list_products(parse_filters(MultiDict(query), count_cap), count_cap)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    return sent


def _analyze(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE products")
        connection.commit()


@pytest.mark.parametrize(
    "params", [{"min_price": "101"}, {"min_price": "110", "max_price": "159"}, {}]
)
def test_a_fresh_process_walks_a_filtered_common_search(
    common_word_shop: Flask, params: dict[str, str]
) -> None:
    """Which words are common is read from the database's statistics (ANALYZE, as the seed
    runs it) and holds whatever the filters: the first filtered search of a common word in a
    process that has counted nothing walks instead of ranking every match."""
    _analyze(common_word_shop)
    sent = _statements(common_word_shop, {"search": "складной", "limit": "5", **params})
    pages = [sql for sql in sent if "FROM products" in sql and "count(" not in sql]
    assert pages and all("CASE WHEN" not in sql for sql in pages), pages
    assert any("walk" in sql for sql in pages), pages


def test_a_filter_that_keeps_few_matches_does_not_walk(common_word_shop: Flask) -> None:
    """The statistics say a price window keeps few of the word's matches: no walk is tried."""
    _analyze(common_word_shop)
    query = {"search": "складной", "limit": "5", "min_price": "157"}
    sent = _statements(common_word_shop, query)
    assert not any("walk" in sql for sql in sent), sent


@pytest.mark.parametrize("count_cap", [3, 20, 39, 40, 41, 100])
@pytest.mark.parametrize("params", [{"min_price": "101"}, {"max_price": "150"}])
def test_filtered_common_totals_equal_full_counts(
    common_word_shop: Flask,
    monkeypatch: pytest.MonkeyPatch,
    count_cap: int,
    params: dict[str, str],
) -> None:
    """Totals counted through the whole-word subset first equal those counted in full."""
    _analyze(common_word_shop)
    with common_word_shop.app_context():
        # A product matching by substring only: in the full count, never in the subset.
        inventory.create_products([ProductIn(name="Нескладнойстул", price=120, category="Мебель")])
        db.session.commit()
        filters = parse_filters(MultiDict({"search": "складной", "limit": "5", **params}), 100)
        fast = catalog.list_products(filters, count_cap)
        monkeypatch.setattr(common_search, "subset_conditions", lambda *_args: None)
        common_search.hints().__init__()
        full = catalog.list_products(filters, count_cap)
    assert (fast.total, fast.total_exact) == (full.total, full.total_exact)
    assert [item.id for item in fast.items] == [item.id for item in full.items]


def test_a_searchs_price_bounds_are_written_into_its_statements(common_word_shop: Flask) -> None:
    """Each price bound of a search gets its own plan (a generic one ANDs in a bitmap of the
    whole price index); a plain list keeps its bounds as parameters."""
    query = {"search": "складной", "min_price": "101.5", "max_price": "150"}
    sent = [sql for sql in _statements(common_word_shop, query) if "FROM products" in sql]
    assert sent and all("price >= 101.5" in sql and "price <= 150" in sql for sql in sent)
    listed = _statements(common_word_shop, {"min_price": "101.5"})
    assert not any("101.5" in sql for sql in listed), listed
