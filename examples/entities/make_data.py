"""Writes data/{train,validation,test}.jsonl: short English sentences with people (PER), places (LOC) and
organisations (ORG), tagged IOB2 per word. Written for modelmill (no outside source); deterministic (seed 7).
The test split's names are never seen in training, so a model must read the context, not memorise names.

    python examples/entities/make_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FIRST = ["anna", "omar", "li", "maria", "jon", "priya", "kwame", "sofia", "diego", "yuki", "fatima", "lukas",
         "amara", "ivan", "chloe", "tariq", "elena", "mateo", "hana", "samuel", "nadia", "felix", "zara", "emeka",
         "ingrid", "rafael", "mei", "olga", "kofi", "lucia"]
LAST = ["kowalski", "haddad", "wei", "garcia", "berg", "sharma", "mensah", "rossi", "lopez", "tanaka", "ali",
        "schmidt", "okafor", "petrov", "martin", "aziz", "novak", "silva", "kim", "cohen", "ionescu", "meyer",
        "diallo", "andersen", "moreau", "costa", "nguyen", "horvat", "boateng", "ruiz"]
PLACES = ["paris", "oslo", "new york", "lagos", "lima", "cairo", "kyoto", "berlin", "nairobi", "lisbon",
          "mumbai", "toronto", "buenos aires", "warsaw", "accra", "seoul", "dublin", "hanoi", "quito", "vienna",
          "cape town", "manila", "prague", "santiago", "tunis", "helsinki", "bogota", "osaka", "kampala", "zagreb"]
ORG_NAMES = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "hooli", "vandelay", "cyberdyne", "soylent",
             "wonka", "tyrell", "nakatomi", "oceanic", "monarch", "blue sun", "massive", "aperture", "gringotts",
             "pied piper", "northwind", "contoso", "fabrikam", "tailspin", "litware", "adventure works", "proseware",
             "woodgrove", "lucerne", "wingtip", "alpine", "fourth coffee"]
ORG_KINDS = ["corp", "labs", "industries", "bank", "airlines", "systems", "group", "foods", "trading", "media"]
ORGS = [f"{name} {kind}" for name in ORG_NAMES for kind in ORG_KINDS]  # the test split's names are held out
TEMPLATES = [
    "{PER} moved to {LOC} last year", "{PER} works for {ORG} in {LOC}", "{ORG} opened an office in {LOC}",
    "yesterday {PER} met {PER} at {ORG}", "{PER} was born in {LOC}", "the mayor of {LOC} thanked {ORG}",
    "{ORG} hired {PER} as its new director", "{PER} and {PER} travelled from {LOC} to {LOC}",
    "a spokesperson for {ORG} said {PER} will visit {LOC}", "{PER} left {ORG} after ten years",
    "shares of {ORG} rose after the news from {LOC}", "{PER} gave a talk in {LOC} on monday",
    "according to {PER} , {ORG} will close its {LOC} branch", "{LOC} welcomed {PER} on friday",
    "{ORG} and {ORG} signed a deal in {LOC}",
]


def entity(kind: str, rng: random.Random, pool: dict[str, list[str]]) -> list[str]:
    if kind == "PER":
        full = rng.random() < 0.6
        return [rng.choice(pool["first"]), rng.choice(pool["last"])] if full else [rng.choice(pool["first"])]
    return rng.choice(pool[kind]).split()


def sentence(rng: random.Random, pool: dict[str, list[str]]) -> dict[str, list[str]]:
    tokens, tags = [], []
    for piece in rng.choice(TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            words = entity(piece[1:-1], rng, pool)
            tokens += words
            tags += [f"B-{piece[1:-1]}"] + [f"I-{piece[1:-1]}"] * (len(words) - 1)
        else:
            tokens.append(piece)
            tags.append("O")
    return {"tokens": tokens, "tags": tags}


def pools(split: str) -> dict[str, list[str]]:
    """Train and validation share the first three quarters of each list (organisations: of their names, each with
    every kind); test has the rest."""
    lists = {"first": FIRST, "last": LAST, "LOC": PLACES}
    cut = {name: len(values) * 3 // 4 for name, values in lists.items()}
    chosen = {name: values[cut[name]:] if split == "test" else values[:cut[name]] for name, values in lists.items()}
    names = ORG_NAMES[len(ORG_NAMES) * 3 // 4:] if split == "test" else ORG_NAMES[:len(ORG_NAMES) * 3 // 4]
    return {**chosen, "ORG": [org for org in ORGS if org.rsplit(" ", 1)[0] in names]}


def main() -> None:
    rng = random.Random(7)
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    for split, count in (("train", 400), ("validation", 80), ("test", 100)):
        rows = [sentence(rng, pools(split)) for _ in range(count)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
