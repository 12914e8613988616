"""Expected failures (bad data, a failed gate, a refusal) are logged as outcomes, not as Prefect's unexpected
exceptions with a traceback and a whole report in one line; unexpected errors keep everything."""

from __future__ import annotations

import logging
import sys

from modelmill.observe.readable_failures import OutcomesWithoutTracebacks
from modelmill.runtime.errors import ThresholdsNotMet


def record(logger: str, message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, message, (), exc_info)


def test_a_modelmill_error_ends_a_run_as_an_outcome_and_an_unexpected_one_keeps_its_traceback():
    keep = OutcomesWithoutTracebacks()
    gate = ThresholdsNotMet("Model is below its thresholds; nothing will be pushed.\n| metric |",
                            reason="below 1 gate(s): accuracy 0.5750 (test, needs >= 0.8)")
    ended = record("prefect.flow_runs", "Engine execution exited with unexpected exception", gate)
    assert keep.filter(ended) and ended.exc_info is None
    assert ended.getMessage() == "Run ended: ThresholdsNotMet: below 1 gate(s): accuracy 0.5750 (test, needs >= 0.8)"
    try:
        raise ValueError("a bug")
    except ValueError:
        crash = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1,
                                  "Engine execution exited with unexpected exception", (), sys.exc_info())
    assert keep.filter(crash) and crash.exc_info is not None
    assert crash.getMessage() == "Engine execution exited with unexpected exception"


def test_a_task_that_failed_a_gate_logs_the_first_line_of_its_report_not_the_report():
    keep = OutcomesWithoutTracebacks()
    report = "Model is below its thresholds; nothing will be pushed.\\n| metric | value |\\n| accuracy | 0.57 |"
    failed = record("prefect.task_runs", f"Finished in state Failed('Task run encountered an exception "
                                         f"ThresholdsNotMet: {report}')")
    assert keep.filter(failed)
    assert failed.getMessage() == ("Finished in state Failed('Task run encountered an exception ThresholdsNotMet: "
                                   "Model is below its thresholds; nothing will be pushed. …')")
    bug = "Finished in state Failed('Task run encountered an exception KeyError: 'x'\\n  in line 3')"
    unexpected = record("prefect.task_runs", bug)
    assert keep.filter(unexpected) and unexpected.getMessage() == bug
