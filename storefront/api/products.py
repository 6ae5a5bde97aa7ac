"""Products and categories: public reads, admin writes."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.http import generate_etag

from .. import catalog, inventory
from ..errors import ApiError, validation_error
from ..extensions import db
from ..filters import parse_filters
from ..ratelimit import ADMIN, rate_limited
from ..schemas import BulkIn, ProductIn, ProductPatch
from . import bp
from .auth import admin_required
from .body import parse_body
from .views import category_json, page_json, product_json

PRODUCT = "/products/<id:product_id>/"
# Catalog reads may sit in a shared cache briefly; a client revalidates with the ETag.
PUBLIC_CACHE = "public, max-age=30"


def _cached(response: Response) -> Response:
    """`response` (a fresh JSON answer) as a public, revalidatable catalog read."""
    headers = response.headers
    # Added, not set: a fresh answer has none of these yet, and `set` scans for one (~1 µs each).
    headers.add("Cache-Control", PUBLIC_CACHE)
    # The CORS headers depend on the request's Origin (an unlisted one gets none), and
    # flask-cors says `Vary: Origin` only on some answers: a shared cache could store the
    # answer to an unlisted Origin and hand it to the real frontend, whose browser blocks it.
    # (Written directly when it is the first: `response.vary` parses and rebuilds the header.)
    if "Vary" in headers:
        response.vary.add("Origin")
    else:
        headers.add("Vary", "Origin")
    # werkzeug's strong ETag (`add_etag`: the body's SHA-1, quoted), without its lookups.
    headers.add("ETag", f'"{generate_etag(response.get_data())}"')
    # Only a revalidation can change the answer (to a 304); without one, werkzeug's conditional
    # step would only add a Date header, which the server (gunicorn, werkzeug) sends anyway.
    if "HTTP_IF_NONE_MATCH" in request.environ:
        return response.make_conditional(request)
    return response


def _not_found(product_id: int) -> ApiError:
    return ApiError(404, f"There is no product {product_id}.")


@bp.get("/products/", strict_slashes=False)
def list_products() -> Response:
    """A filtered, sorted page of products."""
    filters = parse_filters(request.args, current_app.config["COUNT_CAP"])
    if filters.issues:
        raise validation_error([{"loc": list(i.loc), "msg": i.msg} for i in filters.issues])
    page = catalog.list_products(filters, current_app.config["COUNT_CAP"])
    return _cached(jsonify(page_json(page)))


@bp.get(PRODUCT, strict_slashes=False)
def get_product(product_id: int) -> Response:
    """One product."""
    product = catalog.get_product(product_id)
    if product is None:
        raise _not_found(product_id)
    return _cached(jsonify(product_json(product)))


@bp.get("/categories/", strict_slashes=False)
def list_categories() -> Response:
    """Categories with products, sorted by name."""
    return _cached(jsonify([category_json(c) for c in catalog.list_categories()]))


@bp.post("/products/", strict_slashes=False)
@rate_limited(ADMIN)
@admin_required
def create_product() -> tuple[Response, int, dict[str, str]]:
    """Create one product."""
    item = parse_body(ProductIn)
    (product,) = inventory.create_products([item])
    db.session.commit()
    location = url_for("api.get_product", product_id=product.id)
    return jsonify(product_json(product)), 201, {"Location": location}


@bp.post("/products/bulk/", strict_slashes=False)
@rate_limited(ADMIN)
@admin_required
def bulk_create() -> tuple[Response, int]:
    """Create up to 1000 products at once: all of them or none."""
    request.max_content_length = current_app.config["MAX_BULK_BYTES"]
    items = parse_body(BulkIn)
    products = inventory.create_products(items)
    db.session.commit()
    return jsonify([product_json(p) for p in products]), 201


@bp.patch(PRODUCT, strict_slashes=False)
@rate_limited(ADMIN)
@admin_required
def update_product(product_id: int) -> Response:
    """Change some fields of a product."""
    patch = parse_body(ProductPatch)
    product = inventory.update_product(product_id, patch)
    if product is None:
        raise _not_found(product_id)
    db.session.commit()
    return jsonify(product_json(product))


@bp.delete(PRODUCT, strict_slashes=False)
@rate_limited(ADMIN)
@admin_required
def delete_product(product_id: int) -> Response:
    """Delete a product; it leaves every cart."""
    if not inventory.delete_product(product_id):
        raise _not_found(product_id)
    db.session.commit()
    return Response(status=204, mimetype=None, content_type=None)
