"""Loopback only, in every Python process of the test suite: this folder is on the PYTHONPATH of the suite and of
every process it starts (servers, workers, the CLI), so Python imports this module at start-up. An audit hook
refuses any name lookup, connection or listening socket that is not loopback, and records it in the file
MODELMILL_TEST_NETWORK_LOG names; the suite fails on every line found there."""

from __future__ import annotations

import ipaddress
import os
import sys

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def own_name(host: object) -> bool:
    """This machine's own name: torchrun's agent looks it up (`socket.getfqdn(socket.gethostname())`) whatever
    its options; /etc/hosts answers it. Only the lookup is allowed: a connection is judged by its address."""
    import socket

    return isinstance(host, (str, bytes)) and (host.decode() if isinstance(host, bytes) else host) == socket.gethostname()


def _host(event: str, args: tuple) -> tuple[bool, object]:
    """(whether the event reaches the network, and the host it names)."""
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host = args[0]
        return host not in (None, b"", "") and not own_name(host), host
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        address = args[1] if event != "socket.sendmsg" else (args[2] if len(args) > 2 else None)
        if isinstance(address, tuple) and address:
            return True, address[0]
    return False, None


def _audit(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    reaches, host = _host(event, args)
    if not reaches or is_loopback(host):
        return
    what = f"{event} {host!r} (pid {os.getpid()}: {' '.join(sys.argv)[:200]})"
    log = os.environ.get("MODELMILL_TEST_NETWORK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(what + "\n")
    raise PermissionError(f"the test suite allows loopback only: {what}")


def install() -> None:
    if not getattr(sys, "_modelmill_network_guard", False):
        sys.addaudithook(_audit)
        sys._modelmill_network_guard = True  # type: ignore[attr-defined]


install()
