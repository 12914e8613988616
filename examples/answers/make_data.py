"""Writes data/{train,validation,test}.jsonl: SQuAD-style rows (context, question, answers with text and start
character) about invented people; one question in five asks about a fact the context does not give (SQuAD 2.0).
Written for modelmill (no outside source); deterministic (seed 11). The test split's names, places and employers are
never seen in training.

    python examples/answers/make_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PEOPLE = ["anna kowalski", "omar haddad", "li wei", "maria garcia", "jon berg", "priya sharma", "kwame mensah",
          "sofia rossi", "diego lopez", "yuki tanaka", "fatima ali", "lukas schmidt", "amara okafor", "ivan petrov",
          "chloe martin", "tariq aziz", "elena novak", "mateo silva", "hana kim", "samuel cohen"]
PLACES = ["paris", "oslo", "lagos", "lima", "cairo", "kyoto", "berlin", "nairobi", "lisbon", "mumbai", "toronto",
          "warsaw", "accra", "seoul", "dublin", "hanoi", "quito", "vienna", "manila", "prague"]
EMPLOYERS = ["acme corp", "globex", "initech", "umbrella labs", "hooli", "vandelay imports", "cyberdyne systems",
             "soylent co", "wonka industries", "monarch bank", "blue sun", "massive dynamic"]
YEARS = [str(year) for year in range(1950, 2005)]
HOBBIES = ["chess", "sailing", "painting", "climbing", "the violin", "gardening", "running", "poetry"]
FACTS = {  # fact -> (sentence, questions)
    "born": ("{name} was born in {place} in {year} .", ["where was {name} born ?", "in which city was {name} born ?"]),
    "year": (None, ["when was {name} born ?", "in what year was {name} born ?"]),
    "works": ("today {first} works for {employer} as an engineer .", ["who does {name} work for ?",
                                                                        "which company employs {name} ?"]),
    "hobby": ("in the evenings {first} enjoys {hobby} with friends .", ["what does {name} enjoy in the evenings ?",
                                                                        "which hobby does {name} have ?"]),
}
UNGIVEN = ["what is the name of {name} 's dog ?", "how tall is {name} ?", "which school did {name} attend ?"]


def pools(split: str) -> dict[str, list[str]]:
    """Train and validation share the first three quarters of each list; test has the rest."""
    lists = {"people": PEOPLE, "places": PLACES, "employers": EMPLOYERS}
    return {name: values[len(values) * 3 // 4:] if split == "test" else values[:len(values) * 3 // 4]
            for name, values in lists.items()}


def row(rng: random.Random, pool: dict[str, list[str]], index: int, split: str) -> dict:
    name = rng.choice(pool["people"])
    values = {"name": name, "first": name.split()[0], "place": rng.choice(pool["places"]), "year": rng.choice(YEARS),
              "employer": rng.choice(pool["employers"]), "hobby": rng.choice(HOBBIES)}
    sentences = [FACTS["born"][0], FACTS["works"][0], FACTS["hobby"][0]]
    rng.shuffle(sentences)
    context = " ".join(sentence.format(**values) for sentence in sentences)
    if rng.random() < 0.2:
        question, answers = rng.choice(UNGIVEN).format(name=name), {"text": [], "answer_start": []}
    else:
        fact = rng.choice(sorted(FACTS))
        answer = values[{"born": "place", "year": "year", "works": "employer", "hobby": "hobby"}[fact]]
        question = rng.choice(FACTS[fact][1]).format(name=name)
        answers = {"text": [answer], "answer_start": [context.index(f" {answer} ") + 1]}
    return {"id": f"{split}-{index}", "context": context, "question": question, "answers": answers}


def main() -> None:
    rng = random.Random(11)
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    for split, count in (("train", 600), ("validation", 100), ("test", 120)):
        rows = [row(rng, pools(split), index, split) for index in range(count)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(item) + "\n" for item in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
