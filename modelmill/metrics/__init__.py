"""Metric modules for `evaluate.load(<folder>)`, shipped so that evaluation works offline.

Each module is a standalone script with the same name and compute arguments as its Hub counterpart:
`evaluate` copies the single script into its module cache, so they cannot share a helper module.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

LOCAL_METRICS = Path(__file__).parent
SHIPPED_METRICS = ("accuracy", "precision", "recall", "f1")
TASK_METRICS = ("seqeval", "squad", "rouge")  # modules a task type loads itself (entity scores, EM and F1, ROUGE)
# what evaluate.metrics may name besides the shipped modules: question answering's, summarization's and
# text generation's (in [0, 1]), fill-mask's and text generation's perplexity (unbounded)
TASK_METRIC_NAMES = ("exact_match", "rouge1", "rouge2", "rougeL", "rougeLsum", "token_f1", "json_valid",
                     "preference_accuracy")
UNBOUNDED_TASK_METRICS = ("perplexity", "mlm_loss", "reward_margin")
LOWER_IS_BETTER = ("perplexity", "mlm_loss")  # losses and perplexity: a better model has less


def local_metric_path(name: str) -> Path | None:
    """The folder of the shipped module for `name`: only the shipped names themselves, matched exactly (a path
    that merely ends in one, or climbs out with `..`, is someone else's code)."""
    return LOCAL_METRICS / name if name in SHIPPED_METRICS + TASK_METRICS else None


def custom_metric_refusal(name: str) -> str:
    return (
        f"metric '{name}' is not shipped with modelmill (shipped: {', '.join(SHIPPED_METRICS)}); loading it runs its "
        "Python code: set evaluate.trust_remote_code: true to allow it"
    )


@lru_cache(maxsize=None)
def load_metric(name: str, trust_remote_code: bool = False) -> Any:
    """A shipped module by its name; any other metric (a local module folder, a Hub id) only with
    `trust_remote_code`, since loading it imports and runs its code. Loaded once per process."""
    from modelmill.runtime.errors import ConfigError

    shipped = local_metric_path(name)
    if shipped is None and not trust_remote_code:
        raise ConfigError(custom_metric_refusal(name))
    import evaluate

    local = shipped or (Path(name) if Path(name).is_dir() else None)
    if local is None and hub_offline():
        raise ConfigError(f"metric '{name}' is not a local module folder, and the Hub is off here (HF_HUB_OFFLINE): "
                          f"use a shipped metric ({', '.join(SHIPPED_METRICS)}), or a folder holding {name}.py")
    loaded = evaluate.load(str(local) if local else name)
    release_absl_stream()
    return loaded


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def release_absl_stream() -> None:
    """`rouge_score` (the `rouge` module) imports absl's logging, whose handler keeps the `sys.stderr` of that
    moment, and closes it when logging is configured again (Prefect does, per flow run) unless it is the process's
    own: where stderr was swapped at import (pytest's capture, a notebook), a later run closed the swapped stream.
    The handler is not attached to any logger: pointing it at the process's own stderr changes no output."""
    import sys

    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__
