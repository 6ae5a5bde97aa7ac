"""Text search over products: one interface, a PostgreSQL and an SQLite implementation.

PostgreSQL (see the migration for the columns and indexes):
  - `search_text`  folded "name\\ndescription", trigram-indexed: substring matches;
  - `search_stems` tsvector, Russian config (English stems for Latin words), name weighted A;
  - `search_words` tsvector, `simple` config: the exact folded words, for exact and one-edit
    matches;
  - `search_terms`, every word of `search_words`: a query word of 5+ letters is expanded into
    every string one edit away, and the vocabulary says which of those really occur, so the
    query itself only ever names a few existing words (the planner estimates a tsquery of
    hundreds of alternatives as unselective and scans the table).
SQLite: casefolded substring of name + description, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
)

from . import fastsql, textfold
from .extensions import db
from .models import Product, SearchTerm

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
    # For each word of 5+ letters: the catalog's words one edit away from it.
    typos: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SearchQuery:
        """Fold and split `text`; punctuation-only text keeps its folded form as one phrase."""
        return cls(text=textfold.fold(text.strip()), words=tuple(textfold.words(text)))


def prepare(query: SearchQuery, dialect: str) -> SearchQuery:
    """Look up which one-edit variants of the query's long words the catalog has (PostgreSQL)."""
    if dialect != "postgresql":
        return query
    variants = {
        word: one_edit_variants(word)
        for word in query.words
        if MIN_TYPO_LENGTH <= len(word) <= MAX_TYPO_LENGTH
    }
    if not variants:
        return query
    wanted = set().union(*variants.values())
    # One text parameter split by PostgreSQL: not ~600 bound values (SQLAlchemy would render
    # and psycopg re-parse them), nor an array psycopg dumps element by element (~1 ms).
    # Words never hold a space: the query is split on everything that is not a letter or digit.
    known = {row[0] for row in _KNOWN_TERMS.rows({"wanted": " ".join(wanted)})}
    typos = {word: tuple(sorted(found & known)) for word, found in variants.items()}
    return replace(query, typos={word: terms for word, terms in typos.items() if terms})


_KNOWN_TERMS = fastsql.Statement(
    select(SearchTerm.__table__.c.term).where(
        SearchTerm.__table__.c.term
        == any_(func.string_to_array(bindparam("wanted", type_=Text), " "))
    )
)


def remember_terms(product_ids: Iterable[int]) -> None:
    """Add the words of these products to the vocabulary (PostgreSQL; SQLite has none)."""
    ids = list(product_ids)
    if ids and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(TERMS_FROM_PRODUCTS.bindparams(ids=ids))


TERMS_FROM_PRODUCTS = text(
    "INSERT INTO search_terms (term) "
    "SELECT DISTINCT unnest(tsvector_to_array(search_words)) FROM products "
    "WHERE id = ANY(:ids) ON CONFLICT DO NOTHING"
)


def one_edit_variants(word: str) -> set[str]:
    """Every string one insert, delete, substitution or neighbour swap away from `word`."""
    alphabet = CYRILLIC if any(ch in CYRILLIC for ch in word) else LATIN
    if any(ch.isdigit() for ch in word):
        # Model codes and sizes: a mistyped digit is a typo too.
        alphabet += "0123456789"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {a + b[1:] for a, b in splits if b}
    variants |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    variants |= {a + c + b[1:] for a, b in splits if b for c in alphabet}
    variants |= {a + c + b for a, b in splits for c in alphabet}
    variants.discard(word)
    return variants


def _tsquery(config: str, expression: ColumnElement[str]) -> ColumnElement:
    return func.to_tsquery(literal_column(f"'{config}'::regconfig"), expression)


def _value(name: str, value: str) -> ColumnElement[str]:
    """A search value as a named parameter holding it.

    Named by the word's position and role (`w0_like`), not anonymously: a statement built for
    one search can run for another of the same shape with that search's `parameters` (see
    `catalog._search_page`); built and run at once, it sends the value it holds.
    """
    return bindparam(name, value, type_=Text)


def _typo_expression(query: SearchQuery, word: str, weight: str = "") -> str | None:
    terms = query.typos.get(word)
    if not terms:
        return None
    suffix = f":{weight}" if weight else ""
    return " | ".join(term + suffix for term in terms)


def parameters(query: SearchQuery) -> dict[str, str]:
    """Every named value the statements of `query` hold (see `_value`)."""
    values = {"phrase": query.text}
    for index, word in enumerate(query.words):
        values[f"w{index}"] = word
        values[f"w{index}_like"] = f"%{word}%"
        for weight in "AB":
            values[f"w{index}_{weight}"] = f"{word}:{weight}"
        for weight in ("", "A", "B"):
            typos = _typo_expression(query, word, weight)
            if typos:
                values[f"w{index}_typos{weight}"] = typos
    return values


def shape(query: SearchQuery) -> tuple[int, tuple[bool, ...]]:
    """What the structure of `query`'s statements depends on: its words, which have typos."""
    return len(query.words), tuple(bool(query.typos.get(word)) for word in query.words)


def _contains(name: str, word: str, dialect: str) -> ColumnElement[bool]:
    position = func.strpos if dialect == "postgresql" else func.instr
    return position(_t.search_text, _value(name, word)) > 0


def match(query: SearchQuery, dialect: str) -> ColumnElement[bool]:
    """A WHERE clause true for products that match every word of `query`."""
    if not query.words:
        return _contains("phrase", query.text, dialect)
    if dialect != "postgresql":
        return and_(*(_contains(f"w{i}", word, dialect) for i, word in enumerate(query.words)))
    clauses = []
    for index, word in enumerate(query.words):
        alternatives = [
            _t.search_text.like(_value(f"w{index}_like", f"%{word}%")),
            _t.search_stems.op("@@")(
                func.plainto_tsquery(literal_column("'russian'"), _value(f"w{index}", word))
            ),
        ]
        typos = _typo_expression(query, word)
        if typos:
            typo_query = _tsquery("simple", _value(f"w{index}_typos", typos))
            alternatives.append(_t.search_words.op("@@")(typo_query))
        clauses.append(or_(*alternatives))
    return and_(*clauses)


def _in_name(name: str, word: str, dialect: str) -> ColumnElement[bool]:
    position = func.strpos if dialect == "postgresql" else func.instr
    return position(_t.search_text, _value(name, word)).between(1, func.length(_t.name_key))


def has_word(word: str) -> ColumnElement[bool]:
    """True for products holding `word` itself as a word, in the name or the description."""
    return _t.search_words.op("@@")(_tsquery("simple", bindparam(None, word, type_=Text)))


def word_tiers(query: SearchQuery, word: str) -> list[ColumnElement[bool]]:
    """How `word` can match on PostgreSQL, best first; together they are exactly `match`.

    Exact word in the name, in the description; same stem in the name, in the description;
    substring in the name, anywhere; one edit away in the name, in the description.
    """
    index = query.words.index(word)
    weighted = {weight: _value(f"w{index}_{weight}", f"{word}:{weight}") for weight in "AB"}
    tiers = [
        _t.search_words.op("@@")(_tsquery("simple", weighted["A"])),
        _t.search_words.op("@@")(_tsquery("simple", weighted["B"])),
        _t.search_stems.op("@@")(_tsquery("russian", weighted["A"])),
        _t.search_stems.op("@@")(_tsquery("russian", weighted["B"])),
        _in_name(f"w{index}", word, "postgresql"),
        _contains(f"w{index}", word, "postgresql"),
    ]
    for weight in "AB":
        typos = _typo_expression(query, word, weight)
        if typos:
            typo_query = _tsquery("simple", _value(f"w{index}_typos{weight}", typos))
            tiers.append(_t.search_words.op("@@")(typo_query))
    return tiers


def relevance(query: SearchQuery, dialect: str) -> list[ColumnElement]:
    """ORDER BY terms for relevance (the caller appends `id`): summed word tiers, best first."""
    if dialect != "postgresql" or not query.words:
        # SQLite, and punctuation-only phrases: name matches first, then by name.
        names = [f"w{i}" for i in range(len(query.words))] if query.words else ["phrase"]
        phrases = query.words or (query.text,)
        in_name = and_(
            *(_in_name(name, word, dialect) for name, word in zip(names, phrases, strict=True))
        )
        return [case((in_name, 0), else_=1), _t.name_key]
    scores = []
    for word in query.words:
        tiers = word_tiers(query, word)
        scores.append(case(*((tier, 9 - rank) for rank, tier in enumerate(tiers)), else_=0))
    return [sum(scores[1:], scores[0]).desc()]
