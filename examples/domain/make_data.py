"""Writes data/{train,validation,test}.jsonl: the company news of ../summaries/data labelled with what happened
(profit, loss, hire, cut, buy), read off each item's reference summary. Few labels on purpose: 8 news items per
event for training (the case domain adaptation is for), 50 for validation, the 100 test items. Written for modelmill
(no outside source); deterministic. Run ../summaries/make_data.py first if its data is missing.

    python examples/domain/make_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

NEWS = Path(__file__).parent.parent / "summaries" / "data"
EVENTS = {"rose": "profit", "fell": "loss", "hire": "hire", "cut": "cut", "buy": "buy"}  # summary word -> event
PER_EVENT = {"train": 8, "validation": 10}  # the test split keeps all its items


def labelled(split: str) -> list[dict[str, str]]:
    """The split's news items, each with the event its summary names."""
    rows = [json.loads(line) for line in (NEWS / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{"text": row["text"], "event": next(event for word, event in EVENTS.items() if word in row["summary"].split())}
            for row in rows]


def main() -> None:
    folder = Path(__file__).parent / "data"
    folder.mkdir(exist_ok=True)
    for split in ("train", "validation", "test"):
        rows = labelled(split)
        if split in PER_EVENT:  # the first items of each event, in file order
            rows = [row for event in EVENTS.values() for row in [r for r in rows if r["event"] == event][:PER_EVENT[split]]]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
