"""Where a client's images come from: the multicast session (read in order from udp-receiver)
or the server's HTTP store (fetched at the client's pace, resumed after a cut). Either way
every file's checksum is checked as it arrives."""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from oscar.backups import checksums
from oscar.core import safetext
from oscar.core.errors import BackupInvalid, OscarError
from oscar.core.i18n import _
from oscar.net.deploy import stream

if TYPE_CHECKING:
    from oscar.ops.restore.restorer import Restorer

log = logging.getLogger("oscar.deploy")
HTTP_RETRIES = 8
HTTP_TIMEOUT = 30


class Members(Protocol):
    def open(self, name: str, size: int) -> Iterator[bytes]: ...


class MulticastMembers:
    def __init__(self, reader: stream.Reader) -> None:
        self.reader = reader

    def open(self, name: str, size: int) -> Iterator[bytes]:
        member = self.reader.next_member()
        if member is None or member.name != name or member.size != size:
            got = member.name if member else _("the end")
            raise stream.broken(_("expected {file}, got {got}").format(file=name, got=got))
        return self.reader.chunks()


class HttpMembers:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/"

    def open(self, name: str, size: int) -> Iterator[bytes]:
        done = 0
        failures = 0
        while done < size:
            request = urllib.request.Request(self.base + urllib.parse.quote(name))
            if done:
                request.add_header("Range", f"bytes={done}-")  # resume where the cut was
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                    if done and response.status != 206:
                        raise OscarError(_("The server cannot resume {file}.").format(
                            file=name), _("Start the client again."))
                    while block := response.read(stream.CHUNK):
                        block = block[:size - done]
                        done += len(block)
                        failures = 0
                        yield block
                        if done >= size:
                            break
                if done < size:
                    raise ConnectionError("short transfer")
            except (urllib.error.URLError, OSError, ConnectionError) as exc:
                failures += 1
                if failures > HTTP_RETRIES:
                    raise OscarError(_("{file} could not be fetched from the server: "
                                       "{why}").format(file=name, why=exc),
                                     _("Check the network, then start the client again.")
                                     ) from exc
                log.warning("fetching %s: %s; resuming at byte %d", name, exc, done)
                time.sleep(min(2 * failures, 10))


class Counter:
    """Bytes received so far, read by the reporter thread."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.started: float | None = None  # the first byte: waiting for the room is not speed
        self._lock = threading.Lock()

    def add(self, size: int) -> None:
        with self._lock:
            if self.started is None:
                self.started = time.monotonic()
            self.done += size

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total)

    @property
    def rate(self) -> float:
        if self.started is None:
            return 0.0
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


MAX_SMALL_FILES = 64

def write_small_files(header: dict[str, Any], folder: Path) -> dict[str, str]:
    """The manifest, B2SUMS and table files carried by the header, written and checked."""
    folder.mkdir(parents=True, exist_ok=True)
    small = header.get("small")
    if not isinstance(small, dict) or not 0 < len(small) <= MAX_SMALL_FILES:
        raise stream.broken(_("no backup files in the header"))
    for name, data in small.items():
        if not safetext.is_file_name(name) or name.startswith(".") or not isinstance(data, str):
            raise stream.broken(_("unexpected file name {file}").format(
                file=safetext.shown(str(name))))
        try:
            content = base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise stream.broken(_("unexpected file name {file}").format(file=name)) from exc
        (folder / name).write_bytes(content)
    sums = checksums.read(folder)
    for name in small:
        if name != checksums.FILE and checksums.hash_file(folder / name) != sums.get(name):
            raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=name),
                                _("The backup on the server is damaged."))
    return sums


class StreamSource:
    """The images of a deployment, for the Restorer (oscar.restore.ImageSource)."""

    def __init__(self, folder: Path, sums: dict[str, str], sizes: dict[str, int],
                 members: Members, counter: Counter) -> None:
        self.folder = folder
        self.sums = sums
        self.sizes = sizes
        self.members = members
        self.counter = counter

    def verify(self, restorer: Restorer) -> dict[str, str]:
        for name in restorer.man.table_files:
            if checksums.hash_file(self.folder / name) != self.sums.get(name):
                raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=name),
                                    _("The backup on the server is damaged."))
        return self.sums

    def size(self, files: list[str]) -> int:
        return sum(self.sizes[f] for f in files)

    def chunks(self, files: list[str]) -> Iterator[bytes]:
        for name in files:
            digest = checksums.new_hash()
            for block in self.members.open(name, self.sizes[name]):
                digest.update(block)
                self.counter.add(len(block))
                yield block
            if digest.hexdigest() != self.sums.get(name):
                raise BackupInvalid(
                    _("{file} arrived damaged: what was written from it is not "
                      "trustworthy.").format(file=name),
                    _("Deploy this client again (it can catch up by unicast)."))

    def local_file(self, name: str) -> Path:
        path = self.folder / name
        with path.open("wb") as fh:
            for block in self.chunks([name]):
                fh.write(block)
        return path
