"""`modelmill` leaves without the heavy libraries' teardown, yet loses no exit handler, output or thread's work."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.patience import patient

SCRIPT = """
import atexit, sys, threading, time, types
from pathlib import Path
sys.modules["torch"] = types.ModuleType("torch")  # as if a stage had loaded it
atexit.register(lambda: Path({marker!r}).write_text("handler ran"))
if {thread}:
    threading.Thread(target=lambda: (time.sleep(0.5), Path({marker!r} + ".thread").write_text("done"))).start()
print("a summary without a newline", end="")
print("a warning", file=sys.stderr, end="")
from modelmill.runtime.exiting import exit_promptly
exit_promptly(3)
"""


def run(tmp_path: Path, thread: bool) -> subprocess.CompletedProcess:
    code = textwrap.dedent(SCRIPT).format(marker=str(tmp_path / "marker"), thread=thread)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=patient(60))


def test_the_exit_code_output_and_exit_handlers_survive_the_prompt_exit(tmp_path):
    done = run(tmp_path, thread=False)
    assert (done.returncode, done.stdout, done.stderr) == (3, "a summary without a newline", "a warning")
    assert (tmp_path / "marker").read_text() == "handler ran"


def test_a_thread_still_working_is_waited_for(tmp_path):
    done = run(tmp_path, thread=True)
    assert done.returncode == 3 and (tmp_path / "marker.thread").read_text() == "done"
    assert (tmp_path / "marker").read_text() == "handler ran"
