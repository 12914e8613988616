"""Find a secret wherever a run could have left it on disk: raw bytes, and base64 blobs (Prefect's result files
and database hold pickles that way) decoded, and decompressed when they are compressed."""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

BLOB = re.compile(rb"(?:[A-Za-z0-9+/_-]|\n|\\n){32,}={0,2}")  # base64 lines may be broken, raw or JSON-escaped
BREAKS = re.compile(rb"\n|\\n")
MAX_DECODED_FILE = 64 << 20


def decoded_blobs(data: bytes) -> Iterator[bytes]:
    """Every base64 run in `data`, decoded (standard and URL-safe alphabets), and decompressed when it is."""
    for match in BLOB.finditer(data):
        chunk = BREAKS.sub(b"", match.group()).rstrip(b"=")
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(chunk + b"=" * (-len(chunk) % 4))
            except (binascii.Error, ValueError):
                continue
            yield raw
            for decompress in (zlib.decompress, lzma.decompress, bz2.decompress):
                try:
                    yield decompress(raw)
                except Exception:  # not compressed that way
                    pass


def holds(data: bytes, secret: str) -> bool:
    needle = secret.encode()
    return needle in data or (len(data) <= MAX_DECODED_FILE and any(needle in raw for raw in decoded_blobs(data)))


def files_holding(secret: str, *roots: Path) -> list[Path]:
    """The files under `roots` that hold `secret`, as is or encoded."""
    return [
        path for root in roots if root.exists() for path in sorted(root.rglob("*"))
        if path.is_file() and holds(path.read_bytes(), secret)
    ]
