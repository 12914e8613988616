"""The libraries' own progress bars and chatter, silenced (dataset saving, weight loading, shard writing, GX docs):
a run shows one bar per long stage, drawn by modelmill, and its log lines."""

from __future__ import annotations

import logging
import os

QUIET = {
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
GX_LOGGERS = ("great_expectations", "great_expectations.data_context.types.base")


def quiet_by_environment() -> None:
    """Before the libraries are imported: their settings (unless set), and GX's loggers. Imports nothing."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    quiet_gx()


def quiet_gx() -> None:
    """GX's loggers, once GX is imported: its import sets one of them to INFO again (which says where each ephemeral
    context puts its temporary Data Docs)."""
    for name in GX_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def quiet_library_progress() -> None:
    """The same once the libraries may have read their settings already (a flow run in a worker or `serve`)."""
    import datasets
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    quiet_by_environment()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    disable_progress_bars()
