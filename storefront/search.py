"""Text search over products: one interface, a PostgreSQL and an SQLite implementation.

PostgreSQL (see the migration for the columns and indexes):
  - `search_text`  folded "name\\ndescription", trigram-indexed: substring matches;
  - `search_stems` tsvector, Russian config (English stems for Latin words), name weighted A;
  - `search_words` tsvector, `simple` config: the exact folded words, for exact and one-edit
    matches (a query word of 5+ letters is expanded into every string one edit away).
SQLite: casefolded substring of name + description, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_

from . import textfold
from .models import Product

MIN_TYPO_LENGTH = 5
# Words longer than this are not expanded into typo variants (thousands of them, no gain).
MAX_TYPO_LENGTH = 30
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
LATIN = "abcdefghijklmnopqrstuvwxyz"

_t = Product.__table__.c


@dataclass(frozen=True)
class SearchQuery:
    """A shopper's search text, folded and split into the words that must all match."""

    text: str
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> SearchQuery:
        """Fold and split `text`; punctuation-only text keeps its folded form as one phrase."""
        return cls(text=textfold.fold(text.strip()), words=tuple(textfold.words(text)))


def one_edit_variants(word: str) -> set[str]:
    """Every string one insert, delete, substitution or neighbour swap away from `word`."""
    alphabet = CYRILLIC if any(ch in CYRILLIC for ch in word) else LATIN
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {a + b[1:] for a, b in splits if b}
    variants |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    variants |= {a + c + b[1:] for a, b in splits if b for c in alphabet}
    variants |= {a + c + b for a, b in splits for c in alphabet}
    variants.discard(word)
    return variants


def _tsquery(config: str, expression: str) -> ColumnElement:
    return func.to_tsquery(literal_column(f"'{config}'::regconfig"), expression)


def _typo_expression(word: str, weight: str = "") -> str | None:
    if not MIN_TYPO_LENGTH <= len(word) <= MAX_TYPO_LENGTH:
        return None
    suffix = f":{weight}" if weight else ""
    return " | ".join(sorted(v + suffix for v in one_edit_variants(word)))


def _contains(word: str, dialect: str) -> ColumnElement[bool]:
    position = func.strpos if dialect == "postgresql" else func.instr
    return position(_t.search_text, word) > 0


def match(query: SearchQuery, dialect: str) -> ColumnElement[bool]:
    """A WHERE clause true for products that match every word of `query`."""
    if not query.words:
        return _contains(query.text, dialect)
    if dialect != "postgresql":
        return and_(*(_contains(word, dialect) for word in query.words))
    clauses = []
    for word in query.words:
        alternatives = [
            _t.search_text.like(f"%{word}%"),
            _t.search_stems.op("@@")(func.plainto_tsquery(literal_column("'russian'"), word)),
        ]
        typos = _typo_expression(word)
        if typos:
            alternatives.append(_t.search_words.op("@@")(_tsquery("simple", typos)))
        clauses.append(or_(*alternatives))
    return and_(*clauses)


def _in_name(word: str, dialect: str) -> ColumnElement[bool]:
    position = func.strpos if dialect == "postgresql" else func.instr
    return position(_t.search_text, word).between(1, func.length(_t.name_key))


def relevance(query: SearchQuery, dialect: str) -> list[ColumnElement]:
    """ORDER BY terms for relevance (the caller appends `id`)."""
    if dialect != "postgresql" or not query.words:
        # SQLite, and punctuation-only phrases: name matches first, then by name.
        phrases = query.words or (query.text,)
        in_name = and_(*(_in_name(word, dialect) for word in phrases))
        return [case((in_name, 0), else_=1), _t.name_key]
    scores = []
    for word in query.words:
        tiers = [
            (_t.search_words.op("@@")(_tsquery("simple", f"{word}:A")), 9),
            (_t.search_words.op("@@")(_tsquery("simple", f"{word}:B")), 8),
            (_t.search_stems.op("@@")(_tsquery("russian", f"{word}:A")), 7),
            (_t.search_stems.op("@@")(_tsquery("russian", f"{word}:B")), 6),
            (_in_name(word, dialect), 5),
            (_contains(word, dialect), 4),
        ]
        typos = _typo_expression(word, "A")
        if typos:
            tiers.append((_t.search_words.op("@@")(_tsquery("simple", typos)), 3))
        scores.append(case(*tiers, else_=2))
    any_word = _tsquery("russian", " | ".join(query.words))
    return [sum(scores[1:], scores[0]).desc(), func.ts_rank_cd(_t.search_stems, any_word).desc()]
