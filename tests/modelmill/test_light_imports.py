"""The flow modules load without the training libraries: `modelmill deploy`, `serve`, a Prefect worker and every
flow-run process load them first, and torch with transformers cost seconds of CPU each time; a stage that trains
imports them itself."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "trl", "great_expectations", "datasets", "evaluate", "matplotlib")


def test_the_flow_modules_import_no_training_library():
    code = ("import sys, flows.finetune, flows.watch, flows.validate; "
            f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported when the flow module loads: {done.stdout.strip()}"
