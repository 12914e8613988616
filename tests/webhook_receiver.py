"""A loopback webhook receiver for notification tests: records every POST body; 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.patience import patient


class WebhookReceiver:
    """`with WebhookReceiver() as hook:` → POST to `hook.url`; `hook.wait_for(n)` returns the bodies."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                try:
                    receiver.received.append(json.loads(body))
                except ValueError:
                    receiver.received.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def wait_for(self, count: int = 1, timeout: float = 60.0) -> list[Any]:
        deadline = time.monotonic() + patient(timeout)
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
