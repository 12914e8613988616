"""Generate the example product-review sentiment data (written for modelmill; no third-party text).

Run from the repository root: `python data/sentiment/make_data.py`. Deterministic (fixed seed).
Sentences combine a product with a positive or negative remark and an optional closing; some remarks
carry the sentiment through negation ("not bad at all") or contrast ("looked nice, but ...").
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

PRODUCTS = [
    "the blender", "this kettle", "the headset", "my new phone case", "the desk lamp", "this backpack",
    "the running shoe", "the coffee grinder", "this keyboard", "the vacuum cleaner", "the rain jacket",
    "the camping tent", "this water bottle", "the office chair", "the air fryer", "the bike light",
    "this phone charger", "the bluetooth speaker", "the kitchen scale", "the toaster", "this mattress",
    "the hair dryer", "the electric toothbrush", "the garden hose", "this smartwatch", "the frying pan",
    "the baby monitor", "this printer", "the wireless mouse", "the yoga mat",
]

POSITIVE = [
    "works perfectly", "exceeded my expectations", "is worth every penny", "feels really sturdy",
    "arrived early and works great", "is a joy to use every day", "was easy to set up", "is excellent quality",
    "does exactly what it promises", "has held up well for months", "is quiet and efficient",
    "is the best purchase I made this year", "looks great and performs even better", "is comfortable and well made",
    "is not bad at all, actually quite good", "never lets me down", "has a battery that lasts for days",
    "was a lovely surprise", "is simple, reliable and fast", "makes my mornings easier",
    "is much better than my old one", "impressed the whole family", "was packaged carefully and works fine",
    "is great value for the money", "I could not be happier with",
]

NEGATIVE = [
    "stopped working after a week", "is a complete waste of money", "feels cheap and flimsy",
    "arrived broken", "is far too loud", "broke the second time I used it", "was a nightmare to set up",
    "is poor quality", "does not do what it promises", "fell apart within a month", "overheats constantly",
    "is the worst purchase I made this year", "looked nice, but it failed after two days",
    "is uncomfortable and badly made", "is not good at all", "keeps letting me down",
    "has a battery that dies in an hour", "was a big disappointment", "is slow, buggy and unreliable",
    "makes my mornings harder", "is much worse than my old one", "annoyed the whole family",
    "arrived with parts missing", "is overpriced for what you get", "I regret buying",
]

POSITIVE_ENDINGS = ["", "", " I would buy it again.", " Highly recommended!", " Five stars.", " Love it."]
NEGATIVE_ENDINGS = ["", "", " I want a refund.", " Do not buy.", " One star.", " Returning it."]


def sentence(product: str, remark: str, ending: str) -> str:
    if remark.startswith("I "):  # remarks written as "I ... <product>"
        text = f"{remark} {product}."
    else:
        text = f"{product[0].upper()}{product[1:]} {remark}."
    return text + ending


def build(remarks_by_label: dict[str, list[str]], endings_by_label: dict[str, list[str]], rng: random.Random, per_product: int) -> list[tuple[str, str]]:
    rows = set()
    for label, remarks in remarks_by_label.items():
        for product in PRODUCTS:
            for remark in rng.sample(remarks, min(per_product, len(remarks))):
                rows.add((sentence(product, remark, rng.choice(endings_by_label[label])), label))
    ordered = sorted(rows)
    rng.shuffle(ordered)
    return ordered


def main(seed: int = 13, held_out: int = 6) -> None:
    """Test rows use remarks that train and validation never see, so the test score measures generalisation."""
    rng = random.Random(seed)
    remarks = {"positive": rng.sample(POSITIVE, len(POSITIVE)), "negative": rng.sample(NEGATIVE, len(NEGATIVE))}
    endings = {"positive": POSITIVE_ENDINGS, "negative": NEGATIVE_ENDINGS}
    seen = build({label: r[held_out:] for label, r in remarks.items()}, endings, rng, per_product=9)
    test = build({label: r[:held_out] for label, r in remarks.items()}, endings, rng, per_product=2)
    cut = len(seen) // 6
    splits = {"train": seen[cut:], "validation": seen[:cut], "test": test}
    folder = Path(__file__).parent
    for split, part in splits.items():
        with (folder / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(part)
        print(f"{split}: {len(part)} rows")


if __name__ == "__main__":
    main()
