"""The catalog pages: filters as the API's, fragments for htmx, messages for bad values."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_app
from tests.factories import create_product
from tests.web.conftest import htmx

NBSP = "\u00a0"


def names(html: str) -> list[str]:
    """The product names of a results list, in order."""
    return re.findall(r'class="card-title"><a href="[^"]*">([^<]+)</a>', html)


def tag(html: str, element_id: str) -> str:
    """The opening tag of the element with id `element_id`."""
    match = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', html)
    assert match, element_id
    return match.group(0)


def test_catalog_page_lists_products_with_prices_for_people(client: FlaskClient, demo) -> None:
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<html" in html and 'id="catalog-results"' in html
    assert "Беспроводная мышь" in html
    assert f"2{NBSP}599{NBSP}₽" in html
    assert "Найдено товаров: 20" in html
    assert len(names(html)) == 20


def test_html_answers_are_private_and_vary_on_htmx(client: FlaskClient, demo) -> None:
    for path in ("/", "/products/1", "/cart"):
        response = client.get(path)
        assert "private" in response.headers["Cache-Control"], path
        assert "HX-Request" in response.headers.get_all("Vary")[0], path


def test_htmx_request_aimed_at_results_gets_the_fragment(client: FlaskClient, demo) -> None:
    response = client.get("/?search=мышь&sort=&min_price=", headers=htmx("catalog-results"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "<header" not in html
    assert re.search(r'<section id="catalog-results"', html)
    assert names(html) == ["Беспроводная мышь"]
    # The pushed URL leaves out the empty fields the form sent.
    assert response.headers["HX-Push-Url"] == "/?search=%D0%BC%D1%8B%D1%88%D1%8C"
    assert "HX-Request" in response.headers["Vary"]
    assert "private" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HX-Request": "true"},
        htmx("something-else"),
        htmx("catalog-results", **{"HX-Boosted": "true"}),
        htmx("catalog-results", **{"HX-History-Restore-Request": "true"}),
    ],
    ids=["plain", "htmx-no-target", "other-target", "boosted", "history-restore"],
)
def test_other_requests_get_the_full_page(client: FlaskClient, demo, headers) -> None:
    html = client.get("/?search=мышь", headers=headers).get_data(as_text=True)
    assert html.lstrip().startswith("<!doctype html>")
    assert 'id="catalog-results"' in html


def test_the_full_page_includes_the_fragment(client: FlaskClient, demo) -> None:
    page = client.get("/?category=sport").get_data(as_text=True)
    fragment = client.get("/?category=sport", headers=htmx("catalog-results")).get_data(
        as_text=True
    )
    section = fragment[fragment.index("<section") :]
    # Apart from the CSRF token (one per request is fine), the page holds the fragment verbatim.
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", section.strip()) in strip.sub("", page)


def test_filters_combine_like_the_api(client: FlaskClient, demo) -> None:
    query = "category=elektronika&min_price=2000&max_price=20000&sort=-price"
    html = client.get(f"/?{query}").get_data(as_text=True)
    api = client.get(f"/api/products/?{query}&limit=100").get_json()
    assert names(html) == [item["name"] for item in api["items"]]
    assert 'value="elektronika" checked' in html
    assert 'value="2000"' in html and 'value="20000"' in html
    assert '<option value="-price" selected>' in html


def test_spaces_typed_around_filters_are_forgiven(client: FlaskClient, demo) -> None:
    """The page trims what people type; the API reads values as sent (and answers 422)."""
    query = "category=+elektronika+&min_price=+2000+&max_price=20000%09&sort=-price+"
    html = client.get(f"/?{query}").get_data(as_text=True)
    api = client.get("/api/products/?category=elektronika&min_price=2000&max_price=20000")
    assert 'class="form-errors"' not in html
    assert sorted(names(html)) == sorted(item["name"] for item in api.get_json()["items"])
    assert client.get(f"/api/products/?{query}").status_code == 422


def test_category_by_name_checks_its_box(client: FlaskClient, demo) -> None:
    html = client.get("/?category=ЭЛЕКТРОНИКА").get_data(as_text=True)
    api = client.get("/api/products/?category=elektronika&limit=100").get_json()["items"]
    assert 'value="elektronika" checked' in html
    assert names(html) == [item["name"] for item in api]


def test_unknown_category_is_kept_checked_and_finds_nothing(client: FlaskClient, demo) -> None:
    html = client.get("/?category=Нет+такой").get_data(as_text=True)
    assert 'value="Нет такой" checked' in html
    assert "Ничего не нашлось" in html


@pytest.mark.parametrize(
    ("query", "field", "kept"),
    [
        ("min_price=abc", "min_price", 'value="abc"'),
        ("max_price=-5", "max_price", 'value="-5"'),
        ("min_price=500&max_price=100", "max_price", 'value="100"'),
        ("sort=cheapest", "sort", None),
        ("search=" + "я" * 201, "search", 'value="' + "я" * 201 + '"'),
        ("limit=1000", "limit", 'name="limit" value="1000"'),
        ("page=0", "page", None),
        ("page=abc", "page", None),
    ],
)
def test_bad_filter_values_answer_200_with_what_to_fix(
    client: FlaskClient, demo, query: str, field: str, kept: str | None
) -> None:
    for headers in ({}, htmx("catalog-results")):
        response = client.get(f"/?{query}", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'class="form-errors" role="alert"' in html
        assert "Часть фильтров не применена" in html
    page = client.get(f"/?{query}").get_data(as_text=True)
    if kept:
        assert kept in page
    if field in {"min_price", "max_price", "sort"}:
        assert 'aria-invalid="true"' in tag(page, field)
        assert re.search(rf'<p id="{field}-error" class="field-error">[^<]+</p>', page)
    # The other filters still apply: the products are listed.
    assert names(page)


def test_fragment_updates_field_messages_out_of_band(client: FlaskClient, demo) -> None:
    html = client.get("/?min_price=abc", headers=htmx("catalog-results")).get_data(as_text=True)
    assert re.search(r'<p id="min_price-error" hx-swap-oob="innerHTML">[^<]+</p>', html)
    assert '<p id="max_price-error" hx-swap-oob="innerHTML"></p>' in html
    assert '<p id="results-status" hx-swap-oob="innerHTML">Найдено товаров: 20</p>' in html


@pytest.mark.parametrize("headers", [{}, htmx("catalog-results")])
def test_the_search_words_in_the_title_are_escaped(client: FlaskClient, demo, headers) -> None:
    html = client.get("/?search=<b>x</b>", headers=headers).get_data(as_text=True)
    assert "<b>" not in html
    assert "<title>«&lt;b&gt;x&lt;/b&gt;» — поиск — Storefront</title>" in html
    assert '<h1 id="results-title">«&lt;b&gt;x&lt;/b&gt;» — поиск</h1>' in html


def test_empty_result_says_what_to_try(client: FlaskClient, demo) -> None:
    html = client.get("/?search=несуществующийтовар").get_data(as_text=True)
    assert "Ничего не нашлось" in html
    assert "Найдено товаров: 0" in html


def test_pages_count_from_one(client: FlaskClient, demo) -> None:
    api = client.get("/api/products/?limit=100").get_json()["items"]
    first = names(client.get("/?limit=5").get_data(as_text=True))
    second_page = client.get("/?limit=5&page=2").get_data(as_text=True)
    assert first == [item["name"] for item in api[:5]]
    assert names(second_page) == [item["name"] for item in api[5:10]]
    assert 'aria-current="page"' in second_page
    assert 'href="/?limit=5&amp;page=4"' in second_page
    assert 'href="/?limit=5&amp;page=5"' not in second_page
    assert 'rel="prev"' in second_page and 'rel="next"' in second_page


def test_a_page_past_the_end_offers_the_first(client: FlaskClient, demo) -> None:
    html = client.get("/?limit=5&page=9").get_data(as_text=True)
    assert names(html) == []
    assert "На этой странице товаров нет" in html
    assert 'href="/?limit=5"' in html


@pytest.fixture
def capped(database_url: str, app: Flask) -> FlaskClient:
    """A client of an app that counts only up to 5 (the demo catalog has 20 products)."""
    small = make_app(database_url, COUNT_CAP=5)
    client = small.test_client()
    assert small.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    return client


def test_capped_count_reads_at_least_and_pages_stop_at_the_cap(capped: FlaskClient) -> None:
    html = capped.get("/?limit=2").get_data(as_text=True)
    assert "Найдено товаров: 5+" in html
    # COUNT_CAP ÷ limit = 2 pages of links, though more products match.
    assert 'href="/?limit=2&amp;page=2"' in html
    assert "page=3" not in html


def test_ten_thousand_plus_is_written_for_people(app: Flask) -> None:
    from storefront.web.layout import format_count

    with app.test_request_context("/"):
        assert format_count(10_000, exact=False) == f"10{NBSP}000+"
        assert format_count(10_000) == f"10{NBSP}000"


@pytest.mark.parametrize("price", ["2599", "2599.5", "1234567.25", "0.99", "1000000000"])
def test_prices_are_formatted_by_babel(app: Flask, price: str) -> None:
    from storefront.web.layout import format_money

    value = Decimal(price)
    expected = format_currency(
        value,
        "RUB",
        format="#,##0\u00a0¤" if value == value.to_integral_value() else "#,##0.00\u00a0¤",
        currency_digits=False,
        locale="ru",
    )
    with app.test_request_context("/"):
        assert format_money(value) == expected
    assert ",00" not in format_currency(
        Decimal(2599), "RUB", format="#,##0\u00a0¤", currency_digits=False, locale="ru"
    )


def test_kopecks_are_shown_and_whole_amounts_are_not(client: FlaskClient) -> None:
    create_product(client, name="Термос", price="2599.50")
    create_product(client, name="Кружка", price=490)
    html = client.get("/").get_data(as_text=True)
    assert f"2{NBSP}599,50{NBSP}₽" in html
    assert f"490{NBSP}₽" in html and "490,00" not in html


def test_store_currency_comes_from_config(database_url: str, app: Flask) -> None:
    euro = make_app(database_url, STORE_CURRENCY="EUR").test_client()
    create_product(euro, name="Кружка", price=490)
    assert f"490{NBSP}€" in euro.get("/").get_data(as_text=True)


def test_names_are_escaped(client: FlaskClient) -> None:
    product = create_product(
        client, name="<script>alert(1)</script>", description='"><img src=x onerror=alert(1)>'
    )
    for path in ("/", f"/products/{product['id']}", "/?search=script"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<img src=x" not in html, path


def test_product_page_has_an_add_form_and_a_way_back(client: FlaskClient, demo) -> None:
    product_id = demo["Беспроводная мышь"]
    back = "search=%D0%BC%D1%8B%D1%88%D1%8C&page=1&evil=1"
    html = client.get(f"/products/{product_id}?back={back.replace('&', '%26')}").get_data(
        as_text=True
    )
    assert '<h1 class="product-title">Беспроводная мышь</h1>' in html
    assert f"2{NBSP}599{NBSP}₽" in html
    assert 'name="quantity"' in html and 'max="99"' in html
    assert 'action="/cart/add"' in html
    # Back to the list it came from, with unknown parameters dropped.
    assert 'href="/?search=%D0%BC%D1%8B%D1%88%D1%8C&amp;page=1"' in html


def test_catalog_links_carry_the_filters_to_the_product_page(client: FlaskClient, demo) -> None:
    html = client.get("/?category=sport&sort=price").get_data(as_text=True)
    assert re.search(r'href="/products/\d+\?back=category%3Dsport%26sort%3Dprice"', html)


@pytest.mark.parametrize(
    "path",
    [
        "/products/999999",
        "/products/0",
        "/products/abc",
        "/products/99999999999999999999",
        "/no-such-page",
    ],
)
def test_missing_pages_are_themed_404s(client: FlaskClient, demo, path: str) -> None:
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Страница не найдена" in html
    assert 'class="site-header"' in html and "storefront.css" in html


def test_interface_is_russian_and_marked_for_translation(database_url: str, app: Flask) -> None:
    assert 'lang="ru"' in app.test_client().get("/").get_data(as_text=True)
    english = make_app(database_url, BABEL_DEFAULT_LOCALE="en").test_client()
    html = english.get("/cart").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Your cart is empty." in html
