"""Writes data/{train,validation,test}.jsonl: short company news (three sentences) and a one-sentence summary of
each (who, what happened, how much). Written for modelmill (no outside source); deterministic (seed 5). The test
split's companies are never seen in training.

    python examples/summaries/make_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

COMPANIES = ["northwind", "contoso", "fabrikam", "tailspin", "litware", "proseware", "woodgrove", "lucerne",
             "wingtip", "alpine", "globex", "initech", "hooli", "acme", "umbrella", "cyberdyne", "soylent", "wonka",
             "tyrell", "monarch"]
EVENTS = {  # what happened -> (sentence, summary)
    "profit": ("{company} said on {day} that its profit rose by {n} percent.", "{company} profit rose {n} percent."),
    "loss": ("{company} said on {day} that its profit fell by {n} percent.", "{company} profit fell {n} percent."),
    "hire": ("{company} announced on {day} that it will hire {n} hundred people.",
             "{company} will hire {n} hundred people."),
    "cut": ("{company} announced on {day} that it will cut {n} hundred jobs.", "{company} will cut {n} hundred jobs."),
    "buy": ("{company} agreed on {day} to buy {other} for {n} million dollars.", "{company} will buy {other}."),
}
OPENINGS = ["markets were calm this week.", "it was a busy week for business news.", "investors waited for news.",
            "the city saw strong trading this week."]
CLOSINGS = ["analysts had expected less.", "the shares moved little after the news.",
            "a spokesperson gave no further details.", "the news surprised many workers."]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def row(rng: random.Random, companies: list[str]) -> dict[str, str]:
    company, other = rng.sample(companies, 2)
    sentence, summary = EVENTS[rng.choice(sorted(EVENTS))]
    values = {"company": company, "other": other, "day": rng.choice(DAYS), "n": rng.randint(2, 40)}
    text = " ".join([rng.choice(OPENINGS), sentence.format(**values), rng.choice(CLOSINGS)])
    return {"text": text, "summary": summary.format(**values)}


def main() -> None:
    rng = random.Random(5)
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    cut = len(COMPANIES) * 3 // 4
    for split, count in (("train", 800), ("validation", 100), ("test", 100)):
        companies = COMPANIES[cut:] if split == "test" else COMPANIES[:cut]
        rows = [row(rng, companies) for _ in range(count)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(item) + "\n" for item in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
