"""Writes the small synthetic sample files of this folder, one per public layout the Data page and the CLI must
read (made up here from a seeded generator — no row comes from a real dataset):

* ``train-item-views.csv`` — Diginetica: ``;``-separated, header ``sessionId;userId;itemId;timeframe;eventdate``;
* ``groceries.csv`` — one comma-separated basket per line, ragged, no header;
* ``u.data`` — MovieLens 100k: tab-separated ``user item rating timestamp``, no header, no extension;
* ``u.item`` — MovieLens 100k: ``|``-separated, Latin-1, no header: ``id|title|date|video date|url|19 genre flags``;
* ``otto.jsonl`` — OTTO: one session per line, ``{"session": 12, "events": [{"aid": 3, "ts": …, "type": "clicks"}]}``;
* ``yoochoose-clicks.dat`` — YOOCHOOSE: comma-separated ``session,ISO timestamp,item,category``, no header.

Run ``python tests/data/layouts/make_layouts.py`` to write them again (the output is the same for the same code).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = ["milk", "bread", "butter", "yogurt", "citrus fruit", "tropical fruit", "coffee", "sugar", "rolls/buns",
         "soda", "beer", "pastry", "sausage", "root vegetables", "whole milk", "bottled water", "newspapers",
         "shopping bags", "frankfurter", "curd", "cream cheese", "pip fruit", "margarine", "napkins", "chocolate"]
TITLES = ["Café au lait", "Amélie's Garden", "Señor Nobody", "Über den Wolken", "Crème brûlée", "Naïve Hearts",
          "The Long Road", "Night Train", "Blue Harbour", "Zoë and the Sea", "Año Nuevo", "Fjörd Tales"]


def _popular(rng: random.Random, n: int) -> int:
    """An item id in 1..n with a long-tailed popularity (log-uniform: item k about as likely as 1/k)."""
    return min(n, int(n ** rng.random()))


def diginetica(rng: random.Random) -> None:
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(1, 121):
        user = "NA" if rng.random() < 0.6 else str(rng.randint(1, 60))
        day = datetime(2016, 5, 1) + timedelta(days=rng.randint(0, 30))
        t = rng.randint(0, 1_000_000)
        for _ in range(rng.randint(2, 5)):
            t += rng.randint(1_000, 200_000)
            lines.append(f"{s};{user};{_popular(rng, 80) * 7 + 1000};{t};{day:%Y-%m-%d}")
    (HERE / "train-item-views.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def groceries(rng: random.Random) -> None:
    lines = []
    for _ in range(300):
        k = rng.randint(1, 6)
        basket = list(dict.fromkeys(WORDS[_popular(rng, len(WORDS)) - 1] for _ in range(k)))
        lines.append(",".join(basket))
    (HERE / "groceries.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def movielens(rng: random.Random) -> None:
    rows = []
    t0 = 881_250_949
    for user in range(1, 31):
        t = t0 + rng.randint(0, 5_000_000)
        for item in rng.sample(range(1, 61), rng.randint(5, 12)):
            t += rng.randint(10, 3_000)
            rows.append(f"{user}\t{item}\t{rng.randint(1, 5)}\t{t}")
    (HERE / "u.data").write_text("\n".join(rows) + "\n", encoding="utf-8")
    items = []
    for item in range(1, 61):
        title = f"{TITLES[item % len(TITLES)]} {item} ({1950 + item})"
        genres = "|".join(str(int(rng.random() < 0.2)) for _ in range(19))
        items.append(f"{item}|{title}|01-Jan-{1950 + item}||http://example.invalid/{item}|{genres}")
    (HERE / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))


def otto(rng: random.Random) -> None:
    lines = []
    t = 1_659_304_800_025
    for session in range(300):
        events = []
        ts = t + session * 60_000
        for _ in range(rng.randint(1, 6)):
            ts += rng.randint(1_000, 600_000)
            kind = rng.choices(["clicks", "carts", "orders"], weights=[8, 2, 1])[0]
            events.append({"aid": _popular(rng, 150) * 13, "ts": ts, "type": kind})
        lines.append(json.dumps({"session": session, "events": events}))
    (HERE / "otto.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def yoochoose(rng: random.Random) -> None:
    rows = []
    for session in range(1, 101):
        t = datetime(2014, 4, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 40_000))
        for _ in range(rng.randint(2, 5)):
            t += timedelta(seconds=rng.randint(5, 600), milliseconds=rng.randint(0, 999))
            item = 214_500_000 + _popular(rng, 90)
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
            rows.append(f"{session},{stamp},{item},0")
    (HERE / "yoochoose-clicks.dat").write_text("\n".join(rows) + "\n", encoding="utf-8")


def main() -> None:
    for make in (diginetica, groceries, movielens, otto, yoochoose):
        make(random.Random(22))


if __name__ == "__main__":
    main()
