"""No library phones home: a run talks to its Prefect server, its Hub endpoint and its storage, nothing else.

huggingface_hub 2.x fetches an "agent harness" registry from the public Hub with every client's first request and
adds telemetry; Great Expectations and Prefect send usage analytics. Each is switched off through its own setting,
before the library reads it (a value the user set explicitly wins, except the Hub client's, which modelmill never
lets contact another host than `push.endpoint`).
"""

from __future__ import annotations

import os
import sys

QUIET = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def switch_off_telemetry() -> None:
    """Set the libraries' telemetry switches to off (unless set), and turn the Hub client's off in place."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    if "huggingface_hub.constants" in sys.modules:  # imported already: it read its settings at import
        sys.modules["huggingface_hub.constants"].HF_HUB_DISABLE_TELEMETRY = True
