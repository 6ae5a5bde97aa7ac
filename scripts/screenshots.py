"""Save desktop and phone screenshots of the storefront pages to docs/screenshots/.

Serves the app over a throwaway SQLite database with the demo catalog and one customer on a free
port of 127.0.0.1, fills a cart, orders and signs in through the pages, and drives Debian's
Chromium with Playwright (never `playwright install`). Run it with `make screenshots`.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from flask_migrate import upgrade
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storefront import accounts, create_app  # noqa: E402
from storefront.extensions import db  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 375, "height": 812},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


CUSTOMER = {"email": "anna@example.ru", "password": "screenshots-only"}


def serve(database: Path) -> tuple[str, object]:
    """Migrate and seed a fresh database, then serve the app on 127.0.0.1 in a thread."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "SECRET_KEY": "screenshots-only",
            "STOREFRONT_ENV": "development",
            "SHOP_PAYMENT_DETAILS": "ООО «Сторфронт», ИНН 7700000000, р/с 40702810000000000001, "
            "АО «Банк», БИК 044525000",
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    result = app.test_cli_runner().invoke(args=["seed"])
    if result.exit_code:
        raise SystemExit(result.output)
    with app.app_context():
        customer = accounts.register(CUSTOMER["email"], CUSTOMER["password"], "Анна Смирнова")
        accounts.update_profile(
            customer.id,
            {"phone": "+7 912 345-67-89", "address": "Казань, ул. Баумана, д. 10, кв. 5"},
        )
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def shoot(page: Page, name: str) -> None:
    """Save the whole page as docs/screenshots/NAME.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"saved {OUT.relative_to(ROOT) / name}.png")


def tour(page: Page, size: str) -> None:
    """Catalog, product, cart, checkout and order pages as a guest; then signing in, which
    brings the guest's order to the account page."""
    page.goto("/?category=elektronika&category=sport")
    shoot(page, f"catalog-{size}")
    for word in ("наушники", "коврик"):
        page.goto(f"/?search={word}")
        page.get_by_role("button", name=re.compile("В корзину")).first.click()
        page.locator("#notice .flash").wait_for()
    page.goto("/?search=мышь")
    page.locator("#catalog-results .card-title a").first.click()
    page.get_by_label("Количество").fill("2")
    page.get_by_role("button", name="Добавить в корзину").click()
    page.locator("#notice .flash").wait_for()
    shoot(page, f"product-{size}")
    page.goto("/cart")
    shoot(page, f"cart-{size}")
    page.get_by_role("link", name="Оформить заказ").click()
    page.get_by_label("Электронная почта").fill("anna@example.ru")
    page.get_by_label("Имя").fill("Анна Смирнова")
    page.get_by_label("Телефон").fill("+7 912 345-67-89")
    page.get_by_label(re.compile("Доставка курьером")).check()
    page.get_by_label("Адрес для курьера").fill("Казань, ул. Баумана, д. 10, кв. 5")
    page.get_by_label("Адрес для курьера").blur()  # no focus ring in the picture
    page.locator(".summary-fee").wait_for()
    shoot(page, f"checkout-{size}")
    page.get_by_label(re.compile("Счёт на оплату")).check()
    page.get_by_role("button", name="Подтвердить заказ").click()
    page.locator(".order-status").wait_for()
    shoot(page, f"order-{size}")
    page.goto("/account/login")
    shoot(page, f"login-{size}")
    page.get_by_label("Электронная почта").fill(CUSTOMER["email"])
    page.get_by_label("Пароль").fill(CUSTOMER["password"])
    page.get_by_role("button", name="Войти", exact=True).click()
    page.locator(".account-orders").wait_for()
    page.goto("/account")  # without the sign-in notice
    shoot(page, f"account-{size}")


def main() -> None:
    """Serve, then photograph each page at each size."""
    chromium = shutil.which("chromium")
    if not chromium:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        base_url, server = serve(Path(tmp) / "screenshots.sqlite3")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
                for size, options in VIEWPORTS.items():
                    context = browser.new_context(base_url=base_url, locale="ru-RU", **options)
                    context.route(
                        "**/*",
                        lambda route: (
                            route.continue_()
                            if "//127.0.0.1:" in route.request.url
                            else route.abort()
                        ),
                    )
                    tour(context.new_page(), size)
                    context.close()
                browser.close()
        finally:
            server.shutdown()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
