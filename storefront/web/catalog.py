"""Catalog pages: the filtered product list and one product's page."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..catalog import get_product, list_categories, list_products
from ..schemas import MAX_ID
from . import bp
from .filter_form import (
    FIELD_ANCHORS,
    FIELD_LABELS,
    SORT_CHOICES,
    FilterForm,
    read_filter_form,
    safe_catalog_query,
)
from .htmx import is_htmx_for
from .paging import make_pager

RESULTS_ID = "catalog-results"


def catalog_url(query: str) -> str:
    """The catalog's URL with a query string (already encoded)."""
    base = url_for("web.catalog")
    return f"{base}?{query}" if query else base


def page_url_maker(form: FilterForm) -> Callable[[int], str]:
    """The URL of each page of the form's list: `catalog_url(form.query(page=n))`, built once.

    `query` puts `page` last and leaves it out for page 1, so the other pages only append it.
    """
    query = form.query(page=1)
    first = catalog_url(query)
    joiner = "&" if query else "?"
    return lambda page: first if page == 1 else f"{first}{joiner}page={page}"


def product_url_parts(back: str) -> tuple[str, str]:
    """What comes before and after the id in every product link of a list found by `back`.

    `url_for` per card cost more than the rest of the card; the parts come from `url_for`
    itself, so `head + str(id) + tail` is exactly its answer for any id.
    """
    path = url_for("web.product", product_id=MAX_ID)
    link = url_for("web.product", product_id=MAX_ID, back=back or None)
    return path.removesuffix(str(MAX_ID)), link.removeprefix(path)


@bp.get("/")
def catalog() -> ResponseReturnValue:
    """The product list; an htmx request aimed at the results gets the results alone."""
    count_cap = current_app.config["COUNT_CAP"]
    form = read_filter_form(request.args, count_cap)
    result = list_products(form.filters, count_cap)
    product_url_head, product_url_tail = product_url_parts(form.query())
    context = {
        "form": form,
        "result": result,
        "pager": make_pager(form.page, result, count_cap),
        "catalog_url": catalog_url,
        "page_url": page_url_maker(form),
        "results_id": RESULTS_ID,
        "product_url_head": product_url_head,
        "product_url_tail": product_url_tail,
        "field_labels": FIELD_LABELS,
        "field_anchors": FIELD_ANCHORS,
    }
    if is_htmx_for(RESULTS_ID):
        response = make_response(render_template("catalog/_results.html", fragment=True, **context))
        # Push the tidy URL (no empty fields) rather than what the form happened to send.
        response.headers["HX-Push-Url"] = catalog_url(form.query())
        return response
    return render_template(
        "catalog/index.html",
        fragment=False,
        categories=form.category_choices(list_categories(result.catalog_version)),
        sort_choices=SORT_CHOICES,
        **context,
    )


@bp.get("/products/<id:product_id>")
def product(product_id: int) -> ResponseReturnValue:
    """One product with an add-to-cart form and a link back to the list it was found in."""
    item = get_product(product_id)
    if item is None:
        abort(404)
    back = safe_catalog_query(request.args.get("back"))
    return render_template(
        "catalog/product.html",
        product=item,
        back_url=catalog_url(back),
        self_url=url_for("web.product", product_id=product_id, back=back or None),
        max_quantity=current_app.config["MAX_LINE_QUANTITY"],
    )
