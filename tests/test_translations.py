"""Translations: every string the interface marks is in messages.pot and translated into English.

The interface text is written in Russian and marked with `_()`, `gettext`, `_l` and
`lazy_gettext`. This extracts it afresh, as `make translations` does, and compares: a string added
without `make translations`, an English msgstr left empty or fuzzy, a placeholder the English
drops, or a `.mo` older than its `.po` each fail here, naming the strings.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "storefront" / "translations"
LANGUAGES = ("en",)
# The keywords beyond pybabel's defaults (`_`, `gettext`, `ngettext`, …): as the Makefile's
# `translations` target passes them.
EXTRA_KEYWORDS = ("_l", "lazy_gettext")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The marked strings of the code and templates as they are now (a fresh extraction)."""
    pot = tmp_path_factory.mktemp("extract") / "messages.pot"
    keywords = [arg for keyword in EXTRA_KEYWORDS for arg in ("-k", keyword)]
    options = ["--no-location", "--sort-output", "-o", str(pot)]
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), *keywords, *options, str(ROOT)]
    )
    with pot.open("rb") as file:
        return read_po(file)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale)


def _ids(catalog: Catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


def test_extraction_covers_the_mails_and_the_lazy_strings(extracted: Catalog) -> None:
    """babel.cfg reaches the mail templates (.txt and .html) and the `_l` strings of modules."""
    ids = _ids(extracted)
    assert "Здравствуйте, %(name)s!" in ids  # templates/mail/*.txt and *.html
    assert "Заказ:" in ids  # only in templates/mail/*.txt
    assert "Самовывоз из магазина" in ids  # _l() in storefront/orders.py
    assert "Страница не найдена" in ids  # _l() in storefront/errors.py


def test_the_template_is_up_to_date(extracted: Catalog) -> None:
    """messages.pot holds exactly what the code marks now (else: `make translations`)."""
    committed = _ids(_read(TRANSLATIONS / "messages.pot"))
    fresh = _ids(extracted)
    if fresh != committed:
        pytest.fail(
            "messages.pot is stale: run `make translations`; "
            f"new: {sorted(fresh - committed)}, gone: {sorted(committed - fresh)}"
        )


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_string_is_translated(extracted: Catalog, locale: str) -> None:
    """Every marked string has a translation: present, not empty, not fuzzy, same placeholders."""
    catalog = _read(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", locale)
    missing, empty, fuzzy = [], [], []
    for message in extracted:
        if not message.id:
            continue
        translated = catalog.get(message.id, message.context)
        if translated is None:
            missing.append(message.id)
            continue
        strings = (
            translated.string if isinstance(translated.string, tuple) else (translated.string,)
        )
        if not all(strings):
            empty.append(message.id)
        if translated.fuzzy:
            fuzzy.append(message.id)
    if missing:
        pytest.fail(
            f"{locale}: {len(missing)} strings not in the .po (`make translations`): {missing}"
        )
    if empty:
        pytest.fail(f"{locale}: {len(empty)} strings without a translation: {empty}")
    if fuzzy:
        pytest.fail(f"{locale}: fuzzy translations to check and unmark: {fuzzy}")
    # Babel's checkers: the same %(name)s placeholders on both sides, plural forms complete.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    if problems:
        pytest.fail(f"{locale}: {problems}")


@pytest.mark.parametrize("locale", LANGUAGES)
def test_compiled_catalog_matches_the_po(locale: str) -> None:
    """The committed .mo says what its .po says (else: `make translations` compiles it)."""
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    buffer = io.BytesIO()
    write_mo(buffer, _read(folder / "messages.po", locale))
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)._catalog  # type: ignore[attr-defined]
    with (folder / "messages.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    stale = sorted(str(k) for k in expected.keys() ^ compiled.keys())
    stale += sorted(str(k) for k in expected.keys() & compiled.keys() if expected[k] != compiled[k])
    if stale:
        pytest.fail(f"{locale}: messages.mo is stale (run `make translations`): {stale}")
