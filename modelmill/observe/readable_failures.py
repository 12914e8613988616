"""Failures said once, as outcomes. In the terminal `modelmill` prints the error itself (with one traceback when it
is not a modelmill error), so Prefect's run loggers drop their tracebacks and the flow's repeat of the task's error.
In any process that runs a flow (a worker's, `serve`'s), an expected outcome (bad data, a failed gate, a refusal:
a modelmill error) is logged without a traceback; an unexpected error keeps its traceback."""

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


class OutcomesWithoutTracebacks(logging.Filter):
    """Strip the traceback of a record whose exception is a modelmill error: it says what to fix on its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        from modelmill.runtime.errors import ModelmillError

        if record.exc_info and isinstance(record.exc_info[1], ModelmillError):
            record.exc_info, record.exc_text = None, None
        return True


def _attach(kind: type[logging.Filter]) -> None:
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def install() -> None:
    """The terminal of `modelmill run`: no tracebacks from the run loggers of this process (idempotent)."""
    _attach(ReadableFailures)


def install_for_runs() -> None:
    """Any process a flow runs in: outcomes without tracebacks, errors with theirs (idempotent)."""
    _attach(OutcomesWithoutTracebacks)
