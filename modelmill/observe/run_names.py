"""Run names that say what ran: `<pipeline>-<UTC date and time to the second>-<spec hash>`, unless a person typed
one; never the name of another run."""

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


# The adjectives the Prefect UI's run form draws the name it pre-fills from ("Sleek-Jaguar": one of these, then an
# animal of at most six letters), read from its bundle (prefect/server/ui-v2, deployment run page).
UI_ADJECTIVES = (
    "Awesome", "Rustic", "Small", "Gorgeous", "Fantastic", "Sleek", "Intelligent", "Unbranded", "Refined", "Licensed",
    "Generic", "Practical", "Ergonomic", "Handcrafted", "Tasty", "Handmade", "Incredible",
)
UI_PREFILL = re.compile(rf"^(?:{'|'.join(UI_ADJECTIVES)})-[A-Z][a-z]{{1,5}}$")


# The classic UI's name generator, minified: [pick(A).replace(`RANDOM`, n), pick(B), coin(.6) ? pick(C) : ``]
CLASSIC_GENERATOR = re.compile(r"\[\w+\((\w+)\)\.replace\(`RANDOM`,\w+\(\)\.toString\(\)\),\w+\((\w+)\),"
                               r"\w+\([\d.]+\)\?\w+\((\w+)\):``\]\.join\(`-`\)")


@cache
def _classic_ui_prefill() -> re.Pattern[str] | None:
    """The names the classic Prefect UI's run form pre-fills (`rho-argana`, `delta2-wezn`, `tau-andromedae-band`:
    a Greek letter, with a number in some, a star, and sometimes a third word), as a pattern read from its bundle;
    None without the classic UI (or where its generator changed: a test says so)."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assets = Path(spec.origin).parent / "server" / "ui" / "assets" if spec and spec.origin else None
    for bundle in sorted(assets.glob("index-*.js")) if assets and assets.is_dir() else []:
        text = bundle.read_text(encoding="utf-8", errors="replace")
        generator = CLASSIC_GENERATOR.search(text)
        if generator is None:
            continue
        lists = []
        for name in generator.groups():
            literal = re.search(rf"\b{re.escape(name)}=`([^`]*)`", text)
            if literal is None:
                return None
            words = [word for word in literal.group(1).split(".") if word]
            lists.append("|".join(re.escape(word).replace("RANDOM", r"\d+") for word in words))
        first, second, third = lists
        return re.compile(rf"^(?:{first})-(?:{second})(?:-(?:{third}))?$")
    return None


def is_generated_name(name: str) -> bool:
    """True for Prefect's random names: the server's (`crafty-lemur`), the one the UI's run form pre-fills
    (`Sleek-Jaguar`) and the one the classic UI's form pre-fills (`rho-argana`, `delta2-wezn-tau`); False for a
    name a person chose."""
    parts = name.split("-")
    if UI_PREFILL.match(name) or (len(parts) == 2 and all(part in _slug_words() for part in parts)):
        return True
    classic = _classic_ui_prefill()
    return classic is not None and bool(classic.match(name))


def is_own_name(name: str, pipeline: str, spec_hash: str) -> bool:
    """True for a name `run_name` gave this pipeline and spec (the CLI names its run so from the start)."""
    return re.fullmatch(rf"{re.escape(pipeline)}-\d{{8}}-\d{{6}}-{re.escape(spec_hash[:6])}", name) is not None


def run_name(pipeline: str, spec_hash: str, when: datetime | None = None) -> str:
    """`sentiment-20261122-030000-3fa9c2`: pipeline, start time (UTC, to the second) and the spec's hash."""
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{pipeline}-{when:%Y%m%d-%H%M%S}-{spec_hash[:6]}"


def unique_name(name: str, run_id: object, taken: set[str]) -> str:
    """`name`, or, when another run has it (a scheduled and a manual run in the same second), `name` and the
    start of this run's id."""
    return name if name not in taken else f"{name}-{str(run_id).replace('-', '')[:6]}"
