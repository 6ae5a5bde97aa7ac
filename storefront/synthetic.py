"""A synthetic Russian/English catalog for load tests: deterministic, ~50 categories.

Word frequencies are known, so benchmarks can pick a common word (in ~5% of products,
e.g. "беспроводной"/"wireless" style adjectives) or a rare one (the model codes). Stock comes
from a random stream of its own, so adding it left every other column as it was.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

CATEGORIES = [
    "Электроника",
    "Смартфоны",
    "Ноутбуки",
    "Планшеты",
    "Наушники",
    "Телевизоры",
    "Фототехника",
    "Игровые консоли",
    "Умный дом",
    "Сетевое оборудование",
    "Мебель",
    "Освещение",
    "Текстиль",
    "Посуда",
    "Кухонная техника",
    "Бытовая техника",
    "Климатическая техника",
    "Инструменты",
    "Сад и огород",
    "Автотовары",
    "Спорт",
    "Туризм",
    "Велосипеды",
    "Фитнес",
    "Зимний спорт",
    "Одежда",
    "Обувь",
    "Аксессуары",
    "Сумки",
    "Часы",
    "Украшения",
    "Канцелярия",
    "Книги",
    "Игрушки",
    "Детские товары",
    "Красота",
    "Здоровье",
    "Зоотовары",
    "Продукты",
    "Напитки",
    "Хобби",
    "Музыкальные инструменты",
    "Office",
    "Gaming",
    "Outdoor",
    "Kitchen",
    "Audio",
    "Computers",
    "Garden",
    "Travel",
]
NOUNS = [
    "мышь",
    "клавиатура",
    "лампа",
    "кресло",
    "рюкзак",
    "бутылка",
    "коврик",
    "чайник",
    "наушники",
    "колонка",
    "часы",
    "куртка",
    "ботинки",
    "палатка",
    "фонарь",
    "сковорода",
    "кружка",
    "блокнот",
    "ручка",
    "зонт",
    "термос",
    "камера",
    "монитор",
    "роутер",
    "mouse",
    "keyboard",
    "lamp",
    "chair",
    "backpack",
    "bottle",
    "kettle",
    "speaker",
    "jacket",
    "tent",
    "flashlight",
    "monitor",
    "router",
    "notebook",
    "headphones",
    "camera",
]
ADJECTIVES = [
    "беспроводная",
    "механическая",
    "складная",
    "компактная",
    "прочная",
    "лёгкая",
    "профессиональная",
    "детская",
    "классическая",
    "умная",
    "водонепроницаемая",
    "эргономичная",
    "портативная",
    "металлическая",
    "деревянная",
    "универсальная",
    "wireless",
    "compact",
    "portable",
    "premium",
    "classic",
    "smart",
    "ergonomic",
    "waterproof",
]
BRANDS = [
    "Север",
    "Вектор",
    "Орбита",
    "Комфорт",
    "Таймыр",
    "Acme",
    "Nordic",
    "Zenith",
    "Polar",
    "Vertex",
    "Aurora",
    "Tundra",
]
FEATURES = [
    "с подсветкой",
    "с регулировкой высоты",
    "из нержавеющей стали",
    "с защитой от влаги",
    "для ежедневного использования",
    "с длительной гарантией",
    "с быстрой зарядкой",
    "для дома и офиса",
    "with USB-C charging",
    "for travel and outdoor use",
    "with a two-year warranty",
    "made of recycled materials",
]


@dataclass(frozen=True, slots=True)
class SyntheticProduct:
    """One generated product."""

    name: str
    description: str
    price: Decimal
    category: str
    stock: int | None


def _stock(rng: random.Random) -> int | None:
    """Units on hand: 10 % untracked (None), 3 % sold out, 7 % running low (1–5), else 6–500."""
    roll = rng.random()
    if roll < 0.10:
        return None
    if roll < 0.13:
        return 0
    if roll < 0.20:
        return rng.randint(1, 5)
    return rng.randint(6, 500)


def generate(count: int, seed: int = 42) -> Iterator[SyntheticProduct]:
    """Yield `count` products; the same `count` and `seed` give the same catalog."""
    rng = random.Random(seed)
    stock_rng = random.Random(f"stock {seed}")
    for number in range(1, count + 1):
        noun = rng.choice(NOUNS)
        adjective = rng.choice(ADJECTIVES)
        brand = rng.choice(BRANDS)
        model = f"{rng.choice('ABCDEFGHKMNPRSTXZ')}{number:07d}"
        features = rng.sample(FEATURES, 2)
        cents = rng.choice((0, 0, 0, 50, 90, 99))
        yield SyntheticProduct(
            name=f"{adjective.capitalize()} {noun} {brand} {model}",
            description=f"{adjective.capitalize()} {noun} {features[0]}, {features[1]}. "
            f"Модель {model} от {brand}.",
            price=Decimal(rng.randint(99, 199_999)) + Decimal(cents) / 100,
            category=CATEGORIES[number % len(CATEGORIES)],
            stock=_stock(stock_rng),
        )
