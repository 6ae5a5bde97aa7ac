"""How text is folded for matching and sorting, the same in Python and in SQL."""

from __future__ import annotations

import re

# Letters and digits of any script; everything else separates words.
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower-case `text` and read `ё` as `е` (what PostgreSQL's `lower` + `translate` do).

    `İ` is the one letter whose Python lower case is two characters; PostgreSQL makes it `i`,
    and so do we, so a folded name never outgrows its column.
    """
    return text.replace("İ", "i").lower().replace("ё", "е")


def words(text: str) -> list[str]:
    """Split folded `text` into its words, dropping repeats but keeping their order."""
    return list(dict.fromkeys(_WORD.findall(fold(text))))


def search_text(name: str, description: str) -> str:
    """The stored haystack for substring search: folded name, newline, folded description."""
    return f"{fold(name)}\n{fold(description)}"
