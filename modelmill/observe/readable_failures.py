"""In the terminal, a failure is said once: `modelmill` prints the error (with one traceback when it is not a
modelmill error), so Prefect's run loggers drop their tracebacks and the flow's repeat of the task's error."""

from __future__ import annotations

import logging

RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class ReadableFailures(logging.Filter):
    """Strip tracebacks from Prefect's run-log records; drop the flow's 'Encountered exception' repeat."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        if record.name == "prefect.flow_runs" and record.getMessage().startswith("Encountered exception"):
            return False
        record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Attach the filter to Prefect's run loggers of this process (idempotent); workers and servers keep theirs."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ReadableFailures) for f in logger.filters):
            logger.addFilter(ReadableFailures())
