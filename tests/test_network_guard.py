"""The suite's loopback guard can fail: a process the suite starts that looks up or connects to another host is
refused and recorded (and the test during which it happened would fail)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import socket
for attempt in (lambda: socket.getaddrinfo("huggingface.co", 443), lambda: socket.create_connection(("10.1.2.3", 80))):
    try:
        attempt()
        print("reached")
    except PermissionError as refused:
        print("refused", refused)
with socket.create_server(("127.0.0.1", 0)) as server:
    socket.create_connection(server.getsockname()).close()
    print("loopback ok")
"""


def test_a_subprocess_that_leaves_loopback_is_refused_and_recorded():
    log = Path(os.environ["MODELMILL_TEST_NETWORK_LOG"])
    before = log.stat().st_size if log.exists() else 0
    try:
        done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
        with log.open("rb") as handle:
            handle.seek(before)
            recorded = handle.read().decode()
    finally:
        if log.exists():
            os.truncate(log, before)  # these attempts were made on purpose
    assert done.stdout.count("refused") == 2 and "loopback ok" in done.stdout, done.stdout + done.stderr
    assert "'huggingface.co'" in recorded and "'10.1.2.3'" in recorded
