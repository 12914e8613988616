"""Writes data/{train,validation,test}.jsonl: chat rows in which a customer writes to a shop's support and the
assistant answers with the ticket as one line of JSON (category, product, order, urgent). Written for modelmill (no
outside source); deterministic (seed 13). The test split's products are never seen in training.

And data/pairs/{train,validation,test}.jsonl (seed 17): preference pairs for the DPO pipeline that follows it, each a
new message with the right ticket chosen over a flawed answer of the kinds a small model gives (a wrong category or
urgency, a dropped order number, a chatty reply instead of JSON, a product copied wrong).

    python examples/assistant/make_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SYSTEM = ("You turn a customer's message into a support ticket: one line of JSON with the keys category "
          "(damaged, late, refund or wrong_item), product, order (null when not given) and urgent (true or false).")
PRODUCTS = ["kettle", "desk lamp", "backpack", "coffee grinder", "headphones", "rain jacket", "water bottle",
            "phone case", "yoga mat", "toaster", "hiking boots", "wall clock", "blender", "umbrella", "keyboard",
            "teapot", "bike helmet", "sleeping bag", "camera strap", "alarm clock"]
COLOURS = ["blue", "black", "red", "green", "white", "grey"]
PROBLEMS = {  # category -> how customers put it
    "damaged": ["the {product} I got is broken", "my {product} arrived cracked", "the {product} stopped working "
                "after one day", "the {product} came damaged in the box"],
    "late": ["my {product} has still not arrived", "where is my {product}? it is two weeks late",
             "the {product} was due last week and never came", "I am still waiting for the {product}"],
    "refund": ["I want my money back for the {product}", "please refund the {product}, I do not want it",
               "how do I return the {product} for a refund", "I would like a refund for the {product}"],
    "wrong_item": ["you sent me a {other} instead of the {product}", "I ordered a {product} but got a {other}",
                   "the box had a {other} in it, not my {product}", "wrong item: a {other} came, not the {product}"],
}
GREETINGS = ["Hi,", "Hello,", "Good morning,", "Hey,", "Dear support,", ""]
ORDERS = ["Order {order}.", "My order number is {order}.", "(order {order})", "Order no. {order}."]
URGENT = ["I need it before Friday, please hurry.", "This is urgent!", "Please help today.",
          "I need this fixed as soon as possible."]
CALM = ["Thanks.", "No rush.", "Thank you for your help.", "Kind regards."]


def conversation(rng: random.Random, products: list[str]) -> dict[str, list[dict[str, str]]]:
    category = rng.choice(sorted(PROBLEMS))
    product, other = (f"{rng.choice(COLOURS)} {name}" for name in rng.sample(products, 2))
    order = f"A{rng.randint(1000, 9999)}" if rng.random() < 0.7 else None
    urgent = rng.random() < 0.4
    parts = [rng.choice(GREETINGS), rng.choice(PROBLEMS[category]).format(product=product, other=other) + "."]
    if order is not None:
        parts.insert(rng.randint(1, 2), rng.choice(ORDERS).format(order=order))
    parts.append(rng.choice(URGENT if urgent else CALM))
    message = " ".join(part for part in parts if part)
    ticket = {"category": category, "product": product, "order": order, "urgent": urgent}
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message},
                         {"role": "assistant", "content": json.dumps(ticket)}]}


FLAWS = ("category", "urgent", "order", "chatty", "product")


def flawed(ticket: dict, rng: random.Random) -> str:
    """A plausible wrong answer to a message whose right ticket is `ticket`."""
    flaw = rng.choice(FLAWS)
    if flaw == "chatty":
        return (f"I'm sorry to hear about your {ticket['product']}! I have created a ticket for you and our team "
                "will get back to you soon.")
    wrong = dict(ticket)
    if flaw == "category":
        wrong["category"] = rng.choice(sorted(set(PROBLEMS) - {ticket["category"]}))
    elif flaw == "urgent":
        wrong["urgent"] = not ticket["urgent"]
    elif flaw == "order" and ticket["order"] is not None:
        wrong["order"] = None
    else:
        wrong["product"] = ticket["product"].split(" ", 1)[1]  # the colour dropped
    return json.dumps(wrong)


def pair(rng: random.Random, products: list[str]) -> dict[str, list[dict[str, str]]]:
    """A new support message (prompt: system and user turns), its right ticket chosen over a flawed answer."""
    system, user, answer = conversation(rng, products)["messages"]
    return {"prompt": [system, user], "chosen": [answer],
            "rejected": [{"role": "assistant", "content": flawed(json.loads(answer["content"]), rng)}]}


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def main() -> None:
    rng = random.Random(13)
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    cut = len(PRODUCTS) * 3 // 4
    for split, count in (("train", 160), ("validation", 32), ("test", 48)):
        products = PRODUCTS[cut:] if split == "test" else PRODUCTS[:cut]
        write_rows(folder / f"{split}.jsonl", [conversation(rng, products) for _ in range(count)])
    rng = random.Random(17)
    (folder / "pairs").mkdir(exist_ok=True)
    for split, count in (("train", 120), ("validation", 24), ("test", 40)):
        products = PRODUCTS[cut:] if split == "test" else PRODUCTS[:cut]
        write_rows(folder / "pairs" / f"{split}.jsonl", [pair(rng, products) for _ in range(count)])


if __name__ == "__main__":
    main()
