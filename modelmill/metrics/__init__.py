"""Metric modules for `evaluate.load(<folder>)`, shipped so that evaluation works offline.

Each module is a standalone script with the same name and compute arguments as its Hub counterpart:
`evaluate` copies the single script into its module cache, so they cannot share a helper module.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

LOCAL_METRICS = Path(__file__).parent


def local_metric_path(name: str) -> Path | None:
    """The folder of the shipped module for `name`, if there is one."""
    folder = LOCAL_METRICS / name
    return folder if (folder / f"{name}.py").is_file() else None


@lru_cache(maxsize=None)
def load_metric(name: str) -> Any:
    """A shipped module for the name if there is one, else a local module folder, else a Hub id (loaded once per
    process: slices and sets score many times)."""
    import evaluate

    local = local_metric_path(name) or (Path(name) if Path(name).is_dir() else None)
    return evaluate.load(str(local) if local else name)
