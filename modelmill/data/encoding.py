"""Where bytes stop being UTF-8 text, said the way a person can find it in an editor, read as a stream."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from pathlib import Path

BYTE_ORDER_MARKS = (  # longest first: the UTF-32 marks begin like the UTF-16 ones
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)
CHUNK = 1 << 20
NEWLINE = b"\n"


def text_problem(chunks: Iterable[bytes]) -> str | None:
    """None for UTF-8 text, else why it is not, and where: a UTF-16/32 byte-order mark, the first byte that is not
    UTF-8 ('byte 0xe9 at offset 14, line 2'), or a NUL byte (binary data, or UTF-16 without a mark)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line, first = 0, 1, True
    for chunk in chunks:
        if first:
            first = False
            for mark, name in BYTE_ORDER_MARKS:
                if chunk.startswith(mark):
                    return f"it is {name} (it starts with a {name} byte-order mark)"
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:  # exc.object: bytes held back from the last chunk, then this one
            start = offset - (len(exc.object) - len(chunk)) + exc.start
            where = line + exc.object.count(NEWLINE, len(exc.object) - len(chunk), max(exc.start, 0))
            return f"byte 0x{exc.object[exc.start]:02x} at offset {start}, line {where}"
        nul = chunk.find(b"\0")
        if nul >= 0:
            where = line + chunk.count(NEWLINE, 0, nul)
            return f"a NUL byte at offset {offset + nul}, line {where} (binary data, or UTF-16 without a byte-order mark)"
        offset += len(chunk)
        line += chunk.count(NEWLINE)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"the file ends inside a UTF-8 character (offset {offset})"
    return None


def utf8_error(data: bytes) -> str | None:
    """`text_problem` of bytes in memory."""
    return text_problem([data])


def file_chunks(path: Path, size: int = CHUNK) -> Iterable[bytes]:
    """The bytes of `path`, a chunk at a time: bounded memory, whatever the file's size."""
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(size), b"")
