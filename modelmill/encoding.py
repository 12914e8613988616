"""Where a byte string stops being UTF-8, said the way a person can find it in an editor."""

from __future__ import annotations


def utf8_error(data: bytes) -> str | None:
    """None for valid UTF-8, else 'byte 0xe9 at offset 14, line 2' for the first bad byte."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return f"byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line}"
    return None
