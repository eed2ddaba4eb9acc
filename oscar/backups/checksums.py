"""B2SUMS: BLAKE2b-512 in ``b2sum -c`` format (Clonezilla writes the same file)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from oscar.core import cancel
from oscar.core.errors import BackupInvalid
from oscar.core.i18n import _

FILE = "B2SUMS"
CHUNK = 4 << 20
_LINE = re.compile(r"^([0-9a-f]{128})  (\*?)(.+)$")


def new_hash() -> hashlib.blake2b:
    return hashlib.blake2b()


def digest(data: bytes) -> str:
    return hashlib.blake2b(data).hexdigest()


def hash_file(path: Path, *, drop_cache: bool = False) -> str:
    """Hash a file. ``drop_cache`` first evicts its pages so the bytes come from the disk, not
    from what we just wrote into memory."""
    digest = new_hash()
    fd = os.open(path, os.O_RDONLY)
    try:
        if drop_cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while True:
            cancel.check()
            block = os.read(fd, CHUNK)
            if not block:
                break
            digest.update(block)
    finally:
        os.close(fd)
    return digest.hexdigest()


def render(sums: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def parse(text: str, source: str = FILE) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise BackupInvalid(
                _("{file} line {n} is not a BLAKE2b checksum line.").format(file=source, n=number),
                _("The checksum file is damaged; the backup cannot be trusted."))
        name = match.group(3)
        if "/" in name or name in (".", ".."):
            raise BackupInvalid(_("{file} names a file outside the backup: {name}").format(
                file=source, name=name), _("The checksum file is damaged."))
        sums[name] = match.group(1)
    return sums


def read(folder: Path) -> dict[str, str]:
    path = folder / FILE
    if not path.is_file():
        raise BackupInvalid(_("The checksum file {file} is missing in {folder}.").format(
            file=FILE, folder=folder), _("Without checksums the backup cannot be verified."))
    if path.stat().st_size > 1 << 20:
        raise BackupInvalid(_("The checksum file {file} is too large.").format(file=FILE),
                            _("The checksum file is damaged."))
    sums = parse(path.read_text(errors="replace"))
    if not sums:
        raise BackupInvalid(_("The checksum file {file} is empty.").format(file=FILE),
                            _("Without checksums the backup cannot be verified."))
    return sums


class HashingReader:
    """Yields a file's chunks (split images: several files in order) while hashing each file,
    and raises BackupInvalid as soon as a file's hash differs from the expected one, so a
    consumer that writes a disk gets the error before its last chunk."""

    def __init__(self, files: list[Path], expected: dict[str, str]) -> None:
        self.files = files
        self.expected = expected
        self.done = 0

    def __iter__(self) -> Iterator[bytes]:
        for path in self.files:
            digest = new_hash()
            with path.open("rb") as fh:
                while block := fh.read(CHUNK):
                    cancel.check()
                    digest.update(block)
                    self.done += len(block)
                    yield block
            if digest.hexdigest() != self.expected.get(path.name):
                raise BackupInvalid(_("Checksum mismatch in {file}.").format(file=path.name),
                                    _("The backup is damaged; use another copy."))
