"""The one multicast session of a deployment: a header, then the files in a fixed order, each
named in-band. A client checks every name against the order it expects, so it can never write
one partition's data onto another or a file of another backup.

    magic  b"OSCAR-DEPLOY/1\\n"
    record kind (1 byte: H header, F file, E end), length (4 bytes, big endian), JSON
    F is followed by exactly "size" bytes of the file.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from oscar.core.errors import BackupInvalid
from oscar.core.i18n import _

MAGIC = b"OSCAR-DEPLOY/1\n"
MAX_RECORD = 8 << 20  # a header (manifest and checksums) is a few kB; refuse a crafted length
CHUNK = 1 << 20
_LEN = struct.Struct(">I")


def _record(kind: bytes, payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, sort_keys=True).encode()
    return kind + _LEN.pack(len(data)) + data


def write(header: dict[str, Any], folder: Path, files: list[str]) -> Iterator[bytes]:
    """The session's bytes, read from the backup folder as they are sent."""
    yield MAGIC
    yield _record(b"H", header)
    for name in files:
        path = folder / name
        size = path.stat().st_size
        yield _record(b"F", {"name": name, "size": size})
        sent = 0
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                sent += len(block)
                yield block
        if sent != size:
            raise BackupInvalid(_("{file} changed while it was being sent.").format(file=name),
                                _("Do not change the backup during a deployment."))
    yield _record(b"E", {})


def broken(why: str) -> BackupInvalid:
    return BackupInvalid(_("The deployment stream is broken: {why}").format(why=why),
                         _("The network or the server failed; the client can catch up by "
                           "unicast."))


@dataclass
class Member:
    name: str
    size: int


class Reader:
    """Reads a session from a pipe (udp-receiver's output)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.left = 0  # bytes of the current member not yet read
        self.done = 0  # bytes of the session read so far

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            block = self.stream.read(size - len(data))
            if not block:
                raise broken(_("it ended early"))
            data += block
        self.done += size
        return data

    def _next_record(self) -> tuple[bytes, dict[str, Any]]:
        kind = self._exact(1)
        (length,) = _LEN.unpack(self._exact(4))
        if kind not in (b"H", b"F", b"E") or length > MAX_RECORD:
            raise broken(_("unexpected record"))
        try:
            payload = json.loads(self._exact(length))
        except ValueError as exc:
            raise broken(str(exc)) from exc
        if not isinstance(payload, dict):
            raise broken(_("unexpected record"))
        return kind, payload

    def header(self) -> dict[str, Any]:
        if self._exact(len(MAGIC)) != MAGIC:
            raise broken(_("not an OSCAR deployment"))
        kind, payload = self._next_record()
        if kind != b"H":
            raise broken(_("no header"))
        return payload

    def next_member(self) -> Member | None:
        """The next file, or None at the end of the session."""
        if self.left:
            raise broken(_("a file was not read to its end"))
        kind, payload = self._next_record()
        if kind == b"E":
            return None
        if kind != b"F":
            raise broken(_("unexpected record"))
        name, size = payload.get("name"), payload.get("size")
        if not isinstance(name, str) or not isinstance(size, int) or size < 0:
            raise broken(_("unexpected record"))
        self.left = size
        return Member(name, size)

    def chunks(self) -> Iterator[bytes]:
        while self.left:
            block = self.stream.read(min(CHUNK, self.left))
            if not block:
                raise broken(_("it ended early"))
            self.left -= len(block)
            self.done += len(block)
            yield block
