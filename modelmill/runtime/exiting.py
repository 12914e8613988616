"""Leaving a process that loaded torch, transformers and Great Expectations: the interpreter's own teardown of their
modules takes about 2 s here after the work is done; exit handlers and buffered output still run first."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

HEAVY = ("torch", "transformers", "great_expectations")


def exit_promptly(code: int) -> NoReturn:
    """`sys.exit(code)`, without the module teardown when heavy libraries are loaded and no other thread is left
    to finish its work."""
    others = [thread for thread in threading.enumerate() if thread is not threading.main_thread() and not thread.daemon]
    if others or not any(name in sys.modules for name in HEAVY):
        sys.exit(code)
    atexit._run_exitfuncs()  # logging's flush, Prefect's, temporary folders' finalizers: as at a normal exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)
