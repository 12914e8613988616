"""Run names that say what ran: `<pipeline>-<UTC date and time>-<spec hash>`, unless a person typed one."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cache
from pathlib import Path


@cache
def _slug_words() -> frozenset[str]:
    """The words Prefect draws its random run names from (coolname's word lists)."""
    import coolname

    folder = Path(coolname.__file__).parent / "data"
    words: set[str] = set()
    for path in folder.glob("*.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                words.update(re.findall(r"[a-z]+", line.lower()))
    return frozenset(words)


def is_generated_name(name: str) -> bool:
    """True for Prefect's random two-word names (`crafty-lemur`); False for a name a person chose."""
    parts = name.split("-")
    return len(parts) == 2 and all(part in _slug_words() for part in parts)


def run_name(pipeline: str, spec_hash: str, when: datetime | None = None) -> str:
    """`sentiment-20261122-0300-3fa9c2`: pipeline, start time (UTC, to the minute) and the spec's hash."""
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{pipeline}-{when:%Y%m%d-%H%M}-{spec_hash[:6]}"
