"""Failures said once, as outcomes. In the terminal `modelmill` prints the error itself (with one traceback when it
is not a modelmill error), so Prefect's run loggers drop their tracebacks and the flow's repeat of the task's error.
In any process that runs a flow (a worker's, `serve`'s), an expected outcome (bad data, a failed gate, a refusal:
a modelmill error) is logged without a traceback; an unexpected error keeps its traceback."""

from __future__ import annotations

import logging
import re

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
    """A record about a modelmill error says it as an outcome: no traceback (the error says what to fix on its
    own), not as Prefect's "Engine execution exited with unexpected exception", and a task's "Finished in state
    Failed(...)" line without the whole report the error carries (the flow's end and the terminal say it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from modelmill.runtime.errors import ModelmillError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ModelmillError):
            record.exc_info, record.exc_text = None, None
            if record.getMessage() == UNEXPECTED:
                record.msg, record.args = f"Run ended: {error.outcome()}", ()
        elif record.name == "prefect.task_runs" and (short := first_line_of_outcome(record.getMessage())):
            record.msg, record.args = short, ()
        return True


UNEXPECTED = "Engine execution exited with unexpected exception"
FAILED_WITH = re.compile(
    r"^(?P<head>Finished in state Failed\((?P<quote>['\"])Task run encountered an exception (?P<kind>\w+): )"
    r"(?P<first>.*?)(?P<rest>\\n.*)?(?P=quote)\)$", re.DOTALL)


def first_line_of_outcome(message: str) -> str | None:
    """`Finished in state Failed('Task run encountered an exception ThresholdsNotMet: <a report>')` cut to the
    report's first line when the exception is a modelmill error; None for any other message."""
    match = FAILED_WITH.match(message)
    if match is None or match["kind"] not in modelmill_error_names():
        return None
    return f"{match['head']}{match['first']}{' …' if match['rest'] else ''}{match['quote']})"


def modelmill_error_names() -> set[str]:
    from modelmill.runtime.errors import ModelmillError

    names, pending = set(), [ModelmillError]
    while pending:
        kind = pending.pop()
        names.add(kind.__name__)
        pending += kind.__subclasses__()
    return names


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
